import threading

import numpy as np
import pytest

from robot_brain.brain.sentences import SentenceChunker
from robot_brain.brain.vlm import VLMBrain
from robot_brain.frames import ImageFrame, ReplyDelta, ReplyDone, ReplySentence, StageError, Stop, Turn
from robot_brain.pipeline import Pipeline
from robot_brain.testing import Collector, run_stage


def test_sentence_chunker_emits_each_sentence_once_complete():
    chunker = SentenceChunker()
    assert chunker.feed("I see a red") == []
    assert chunker.feed(" cup. It is on the") == ["I see a red cup."]
    assert chunker.feed(" left! Shall I point? ") == ["It is on the left!", "Shall I point?"]
    assert chunker.feed("Yes") == []
    assert chunker.flush() == "Yes" and chunker.flush() == ""
    assert SentenceChunker().feed("Version 2.5 is out. ") == ["Version 2.5 is out."]


def test_the_first_words_go_to_the_voice_before_the_first_sentence_ends():
    chunker = SentenceChunker()
    assert chunker.feed("The red cup is on the left of") == []               # the eighth word may go on
    assert chunker.feed(" the") == ["The red cup is on the left of"]
    assert chunker.feed(" blue ball and the green cube.") == []
    assert chunker.flush() == "the blue ball and the green cube."
    assert SentenceChunker(first_words=0).feed("one two three four five six seven eight nine ten") == []
    assert SentenceChunker().feed("我看到桌子上有一个红色的杯子和一个绿色的方块") == []    # no spaces: waits
    later = SentenceChunker()
    assert later.feed("Yes. The red cup is on the left of the") == ["Yes."]   # only the first piece is cut early


@pytest.mark.slow
def test_vlm_brain_streams_a_free_text_reply_about_the_latest_frame(tiny_vlm_dir):
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=12, structured=False)
    image = ImageFrame(image=np.zeros((240, 320, 3), np.uint8), stamp=1.0)
    out = run_stage(brain, [image, Turn(text="what do you see", turn=1, source="typed")])
    assert isinstance(out[0], Turn)
    deltas = [f for f in out if isinstance(f, ReplyDelta)]
    done = [f for f in out if isinstance(f, ReplyDone)]
    sentences = [f.text for f in out if isinstance(f, ReplySentence)]
    assert deltas and len(done) == 1 and sentences
    assert "".join(d.text for d in deltas).strip() == done[0].text
    assert " ".join(sentences).split() == done[0].text.split()
    assert all(f.turn == 1 for f in out)
    assert brain.latest_image is image


@pytest.mark.slow
def test_stop_cuts_generation_at_the_next_token(tiny_vlm_dir):
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=4000, structured=False)
    out = Collector()
    first = threading.Event()
    with Pipeline([brain]) as pipeline:
        pipeline.add_sink(out)
        pipeline.add_sink(lambda f: first.set() if isinstance(f, ReplyDelta) else None)
        pipeline.push(Turn(text="what do you see", turn=pipeline.turns.begin()))
        assert first.wait(30)
        pipeline.push(Stop(source="voice"))
        assert pipeline.wait_idle(30)
        timeline = pipeline.timelines.get(1)
    assert not out.of(ReplyDone)
    assert len(out.of(ReplyDelta)) < 400
    assert "first_token" in timeline.marks


def test_missing_model_folder_takes_the_brain_out_of_service(tmp_path):
    out = run_stage(VLMBrain(tmp_path / "no-model"), [Turn(text="hello", turn=1)])
    errors = [f for f in out if isinstance(f, StageError)]
    assert errors and errors[0].fatal and "no model folder" in errors[0].error
    assert [f.kind for f in out if not isinstance(f, StageError)] == ["Turn"]     # passes around it


@pytest.mark.slow
def test_vlm_brain_answers_without_a_camera_frame(tiny_vlm_dir):
    out = run_stage(VLMBrain(tiny_vlm_dir, max_new_tokens=6), [Turn(text="hello", turn=3)])
    assert [f.kind for f in out][0] == "Turn"
    assert [f for f in out if isinstance(f, ReplyDone)][0].turn == 3


def test_frames_are_made_fit_for_the_model():
    from robot_brain.brain.images import to_model_rgb
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255                                                     # blue in OpenCV order
    assert to_model_rgb(bgr)[0, 0].tolist() == [0, 0, 255]
    assert to_model_rgb(np.full((4, 6), 9, np.uint8)).shape == (4, 6, 3)                   # grayscale
    assert to_model_rgb(np.zeros((4, 6, 4), np.uint8)).shape == (4, 6, 3)                  # BGRA
    assert to_model_rgb(np.full((4, 6), 4000, np.uint16)).dtype == np.uint8                 # 16-bit
    assert to_model_rgb(np.zeros((0, 0, 3), np.uint8)) is None                             # empty
    huge = np.zeros((10000, 10000, 3), np.uint8)                                           # 100 megapixels
    assert to_model_rgb(huge, max_edge=1024).shape == (1024, 1024, 3)


@pytest.mark.slow
def test_a_stale_or_broken_camera_is_answered_without_vision_and_said(tiny_vlm_dir):
    import time
    from robot_brain.brain.vlm import NO_VISION
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=6, structured=False, max_frame_age_s=0.2)
    old = ImageFrame(image=np.zeros((240, 320, 3), np.uint8), t=time.monotonic() - 5.0)
    empty = ImageFrame(image=np.zeros((0, 0, 3), np.uint8))
    for frame in (old, empty):
        out = run_stage(brain, [frame, Turn(text="what do you see", turn=1)])
        sentences = [f for f in out if isinstance(f, ReplySentence)]
        assert sentences[0].text == NO_VISION and sentences[0].index == 0
        done = [f for f in out if isinstance(f, ReplyDone)][0]
        assert done.text.startswith(NO_VISION)
        assert " ".join(s.text for s in sentences).split() == done.text.split()


def test_memory_keeps_the_newest_turns_that_fit_the_budget():
    from robot_brain.brain.memory import Memory, language_instruction
    memory = Memory(lambda text: len(text.split()), turns=3, budget=10)
    for i in range(5):
        memory.add(f"question {i}", f"answer number {i}")        # 5 tokens each
    assert [e.user for e in memory.recent()] == ["question 3", "question 4"]   # 3 kept, 2 fit
    assert [m["role"] for m in memory.messages()] == ["user", "assistant"] * 2
    memory.add("", "ignored")
    assert len(memory.recent()) == 2
    assert language_instruction("de") == "The user speaks German; reply in German."
    assert "language the user used" in language_instruction("")


@pytest.mark.slow
def test_the_brain_remembers_earlier_turns_and_the_users_language(tiny_vlm_dir):
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=8, structured=False)
    run_stage(brain, [Turn(text="where is the red cup", turn=1, language="en"),
                      Turn(text="und jetzt?", turn=2, language="de")])
    assert "where is the red cup" in brain.last_prompt and "und jetzt?" in brain.last_prompt
    assert "reply in German" in brain.last_prompt
    cold = VLMBrain(tiny_vlm_dir, max_new_tokens=8, structured=False, history_turns=0)
    run_stage(cold, [Turn(text="where is the red cup", turn=1), Turn(text="und jetzt?", turn=2)])
    assert "where is the red cup" not in cold.last_prompt


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["none", "bf16", "int8-dynamic", "int8-dynamic-all"])
def test_every_cpu_quantisation_answers_on_the_tiny_model(tiny_vlm_dir, scheme):
    from robot_brain.pipeline import Pipeline
    from robot_brain.testing import Collector
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=6, structured=False, quantisation=scheme)
    collected = Collector()
    pipeline = Pipeline([brain])
    pipeline.add_sink(collected)
    with pipeline:
        for frame in [ImageFrame(image=np.zeros((240, 320, 3), np.uint8)), Turn(text="hi", turn=1)]:
            pipeline.push(frame)
            assert pipeline.wait_idle(30)
        out = collected.frames
        assert not [f for f in out if isinstance(f, StageError)]
        assert [f for f in out if isinstance(f, ReplyDone)]
        assert brain.applied.scheme == scheme and brain.applied.weight_mb > 0
        if scheme.startswith("int8-dynamic"):
            import torch
            from torch import nn

            from robot_brain.brain.quantise import language_model
            int8 = torch.ao.nn.quantized.dynamic.Linear
            assert all(isinstance(m, int8) for m in language_model(brain.model).modules() if isinstance(m, nn.Linear))
            assert isinstance(brain.model.lm_head, int8)
            vision = brain.model.model.vision_model
            assert any(isinstance(m, int8) for m in vision.modules()) == (scheme == "int8-dynamic-all")
            assert all(p.dtype == torch.float32 for p in brain.model.parameters())
    assert brain.model is None and brain.processor is None          # closing frees the model


def test_cpu_default_and_cuda_only_schemes():
    from robot_brain.brain.quantise import choose, load_kwargs
    assert choose("auto", "cpu") == "int8-dynamic-all" and choose("auto", "cuda:0") == "fp16"
    with pytest.raises(ValueError, match="needs CUDA"):
        load_kwargs("4bit", "cpu")
    with pytest.raises(ValueError, match="unknown quantisation"):
        choose("int3", "cpu")


@pytest.mark.slow
def test_the_vlm_bench_measures_the_baseline_and_every_installed_engine_on_a_small_model(tiny_vlm_dir):
    from robot_brain.bench_vlm import _measure, available_engines
    assert "transformers" in available_engines()
    for variant in ("baseline", *available_engines()):
        r = _measure(str(tiny_vlm_dir), variant, repeats=1)
        assert r["ttft_s"] > 0 and r["decode_tok_s"] > 0 and r["lm_weight_mb_per_token"] > 0
        assert ("int8" in r["quantisation"]) == (variant == "transformers")
        assert ("gguf q8_0" in r["quantisation"]) == (variant == "llama.cpp")


def test_keyframes_keep_frames_apart_and_motion_questions_are_recognised():
    from robot_brain.brain.images import Keyframes, asks_about_motion
    keys = Keyframes(keep=3, interval_s=0.5)
    frames = [ImageFrame(image=np.zeros((4, 4, 3), np.uint8), t=t) for t in (0.0, 0.2, 0.6, 0.9, 1.2, 1.3)]
    for f in frames:
        keys.add(f)
    assert [f.t for f in keys.recent()] == [0.6, 1.2, 1.3]
    assert keys.latest is frames[-1]
    assert asks_about_motion("Is he waving at me?") and asks_about_motion("what is happening")
    assert not asks_about_motion("where is the red cup")


@pytest.mark.slow
def test_a_motion_question_shows_the_model_several_frames(tiny_vlm_dir):
    import time
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=4, structured=False, motion_keyframes=3)
    now = time.monotonic()
    frames = [ImageFrame(image=np.full((64, 64, 3), i * 60, np.uint8), t=now - 1.2 + 0.6 * i) for i in range(3)]
    run_stage(brain, frames + [Turn(text="is the ball moving?", turn=1)])
    assert brain.last_prompt.count("<image>") == 3
    run_stage(brain, [Turn(text="where is the ball", turn=2)])
    assert brain.last_prompt.count("<image>") == 1                 # the latest frame only


@pytest.mark.slow
def test_out_of_memory_at_load_falls_back_to_the_smaller_model_or_stops_clearly(tiny_vlm_dir, tiny_llava_dir,
                                                                               monkeypatch):
    import torch
    from transformers import AutoModelForImageTextToText
    real = AutoModelForImageTextToText.from_pretrained.__func__

    def tight(cls, path, *args, **kwargs):
        if str(path) == str(tiny_vlm_dir):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(cls, path, *args, **kwargs)

    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", classmethod(tight))
    brain = VLMBrain(tiny_vlm_dir, max_new_tokens=4, structured=False, fallbacks=[tiny_llava_dir])
    out = run_stage(brain, [Turn(text="hi", turn=1)])
    assert [f for f in out if isinstance(f, ReplyDone)] and brain.model_path == str(tiny_llava_dir)
    alone = run_stage(VLMBrain(tiny_vlm_dir, structured=False), [Turn(text="hi", turn=1)])
    errors = [f for f in alone if isinstance(f, StageError)]
    assert errors and errors[0].fatal and "not enough memory" in errors[0].error and "smaller" in errors[0].error
