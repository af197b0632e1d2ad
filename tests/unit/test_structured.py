"""Structured replies: the skills file, its JSON schema, grammar-constrained decoding and the streamed `say`."""
import json

import jsonschema
import numpy as np
import pytest

from robot_brain.brain.structured import JsonConstraint, SayStream, parse_response
from robot_brain.brain.vlm import TIMEOUT_APOLOGY, VLMBrain
from robot_brain.frames import ImageFrame, IntentProposal, ReplyDelta, ReplyDone, ReplySentence, Turn
from robot_brain.intents.skills import SkillError, load_skills, response_schema, skills_prompt
from robot_brain.testing import run_stage


def test_bundled_skills_validate_and_generate_a_valid_schema():
    skills = load_skills()
    assert {"look_at", "point_at", "wave", "nod", "navigate_to", "pick_up", "place", "hand_over", "follow", "stop",
            "set_expression"} <= set(skills)
    assert skills["pick_up"].risky and not skills["wave"].risky
    schema = response_schema(skills)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {"say": "Sure.", "intents": [{"verb": "point_at", "target": "red cup"},
                                        {"verb": "navigate_to", "target": "door", "params": {"speed": 0.3}}]}
    jsonschema.validate(good, schema)
    for bad in [{"say": "x", "intents": [{"verb": "self_destruct"}]},
                {"say": "x", "intents": [{"verb": "navigate_to", "target": "door", "params": {"speed": 3.0}}]},
                {"say": "x", "intents": [{"verb": "point_at"}]},                        # target required
                {"say": "x" * 500, "intents": []}]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    prompt = skills_prompt(skills)
    assert "- navigate_to: drive to a place or object [target: what or whom] (speed: number 0.05..0.5 m/s)" in prompt


@pytest.mark.parametrize("text, problem", [
    ("skills: []", "expected a mapping 'skills:'"),
    ("skills: {fly: {target: sometimes}}", "skills.fly.target = 'sometimes'"),
    ("skills: {fly: {params: {height: {type: float}}}}", "skills.fly.params.height.type = 'float'"),
    ("skills: {fly: {params: {height: {type: number, min: 3, max: 1}}}}", "min 3 is above max 1"),
    ("skills: {fly: {colour: red}}", "unknown keys ['colour']"),
    ("skills: [unclosed", "not valid YAML"),
])
def test_bad_skills_files_are_clear_errors(tmp_path, text, problem):
    path = tmp_path / "skills.yaml"
    path.write_text(text)
    with pytest.raises(SkillError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_skills(path)


def test_say_stream_decodes_the_say_string_from_any_prefix():
    reply = json.dumps({"say": 'The "red" cup\nis here. Ça va? \u00e9', "intents": [{"verb": "wave"}]})
    for step in (1, 2, 3, 7):
        stream = SayStream()
        got = "".join(stream.feed(reply[i:i + step]) for i in range(0, len(reply), step))
        assert got == 'The "red" cup is here. Ça va? é'          # control characters become spaces
        assert stream.done


def test_parse_response_takes_intents_only_from_valid_json():
    ok = parse_response('{"say": "On it.", "intents": [{"verb": "point_at", "target": "blue ball"}]}', turn=4,
                        source="voice")
    assert ok.valid and ok.say == "On it."
    assert [(p.verb, p.target, p.turn, p.source) for p in ok.intents] == [("point_at", "blue ball", 4, "voice")]
    cut = parse_response('{"say": "I will point at the', turn=4)
    assert not cut.valid and cut.intents == [] and cut.say == "I will point at the"


@pytest.mark.slow
def test_constrained_decoding_gives_schema_valid_json_for_random_seeds_and_prompts(tiny_vlm_dir):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    schema = response_schema(load_skills(), max_say_chars=80)
    constraint = JsonConstraint(processor.tokenizer, model.config.text_config.vocab_size, schema)
    prompts = ["what do you see", "point at the blue ball", "pick up the green cube and bring it", "停", "hello"]
    for seed in range(12):
        prompt = prompts[seed % len(prompts)]
        ids = processor.tokenizer(f"<|im_start|>User: {prompt}<end_of_utterance>\nAssistant:", return_tensors="pt").input_ids
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, max_new_tokens=400, do_sample=True, temperature=1.5,
                                 logits_processor=[constraint.processor()])
        text = processor.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        data = json.loads(text, strict=False)               # raw control characters are allowed inside strings
        jsonschema.validate(data, schema)
        assert parse_response(text).valid


@pytest.mark.slow
def test_the_brain_speaks_the_say_text_while_generating_and_proposes_intents(tiny_vlm_dir):
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=400)
    image = ImageFrame(image=np.zeros((240, 320, 3), np.uint8))
    out = run_stage(brain, [image, Turn(text="point at the blue ball", turn=2, source="voice")], timeout=120)
    raw = "".join(f.text for f in out if isinstance(f, ReplyDelta))
    data = json.loads(raw, strict=False)
    jsonschema.validate(data, response_schema(brain.skills))
    done = [f for f in out if isinstance(f, ReplyDone)]
    assert len(done) == 1 and done[0].text == parse_response(raw).say
    sentences = [f for f in out if isinstance(f, ReplySentence)]
    assert " ".join(s.text for s in sentences).split() == done[0].text.split()
    proposals = [f for f in out if isinstance(f, IntentProposal)]
    assert [p.verb for p in proposals] == [i["verb"] for i in data["intents"]]
    assert all(p.source == "voice" and p.turn == 2 for p in proposals)


def test_sentences_of_say_are_ready_before_the_intents_are_written():
    from robot_brain.brain.sentences import SentenceChunker
    reply = ('{"say": "Sure, I can see the blue ball. It is on the right.", '
             '"intents": [{"verb": "point_at", "target": "blue ball"}]}')
    stream, chunker, spoken_at = SayStream(), SentenceChunker(), []
    for i in range(0, len(reply), 3):                          # tokens of three characters
        for sentence in chunker.feed(stream.feed(reply[i:i + 3])):
            spoken_at.append((sentence, i + 3))
    intents_start = reply.index('"intents"')
    assert [s for s, _ in spoken_at] == ["Sure, I can see the blue ball.", "It is on the right."][:len(spoken_at)]
    assert spoken_at and spoken_at[0][1] < intents_start        # the first sentence was out before the intents
    assert chunker.flush() in ("", "It is on the right.")


@pytest.mark.slow
def test_a_generation_that_runs_too_long_ends_with_an_apology(tiny_vlm_dir):
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=4000, structured=False, timeout_s=0.3)
    out = run_stage(brain, [Turn(text="tell me a long story", turn=1)], timeout=60)
    sentences = [f.text for f in out if isinstance(f, ReplySentence)]
    assert sentences[-1] == TIMEOUT_APOLOGY
    done = [f for f in out if isinstance(f, ReplyDone)]
    assert done and done[0].text.endswith(TIMEOUT_APOLOGY)
    assert len([f for f in out if isinstance(f, ReplyDelta)]) < 4000


@pytest.mark.slow
@pytest.mark.parametrize("family", ["tiny_vlm_dir", "tiny_smolvlm2_dir", "tiny_llava_dir", "tiny_qwen_dir"])
def test_four_model_families_answer_an_image_and_a_question(family, request):
    brain = VLMBrain(request.getfixturevalue(family), max_new_tokens=1000)   # room for a 240-character say
    image = ImageFrame(image=np.full((240, 320, 3), 128, np.uint8))
    out = run_stage(brain, [image, Turn(text="what do you see", turn=1)], timeout=120)
    raw = "".join(f.text for f in out if isinstance(f, ReplyDelta))
    jsonschema.validate(json.loads(raw, strict=False), response_schema(brain.skills))
    assert len([f for f in out if isinstance(f, ReplyDone)]) == 1
