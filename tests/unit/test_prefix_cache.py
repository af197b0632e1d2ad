"""The prompt's fixed start is prefilled once and reused: same replies, fewer tokens prefilled, never a stale cache."""
import numpy as np
import pytest

from robot_brain.brain.vlm import VLMBrain
from robot_brain.frames import ImageFrame, ReplyDone, StageError, Turn
from robot_brain.testing import run_stage

TURNS = [Turn(text="where is the red cup", turn=1, language="en"), Turn(text="and the ball?", turn=2, language="en"),
         Turn(text="und jetzt?", turn=3, language="de"), Turn(text="and now?", turn=4, language="en")]


def replies(folder, cached, structured=True):
    brain = VLMBrain(folder, max_new_tokens=10, structured=structured, prefix_cache=cached, warmup=False)
    image = ImageFrame(image=np.full((240, 320, 3), 90, np.uint8))
    out = run_stage(brain, [image, *TURNS])
    assert not [f for f in out if isinstance(f, StageError)]
    return [f.text for f in out if isinstance(f, ReplyDone)], brain


@pytest.mark.parametrize("family", ["tiny_vlm_dir", "tiny_llava_dir", "tiny_qwen_dir"])
def test_a_cached_prefix_gives_the_same_replies_as_prefilling_the_whole_prompt(family, request):
    folder = request.getfixturevalue(family)
    plain, _ = replies(folder, cached=False)
    fast, brain = replies(folder, cached=True)
    assert fast == plain and len(fast) == len(TURNS)
    assert brain.prefix_cache is None                      # freed with the model
    # built once at load; every turn, the German one too, reused it up to the language line
    assert brain.prefix_stats["hits"] == len(TURNS) and brain.prefix_stats["misses"] == 0
    # turns 2-4 went on from the last
    assert brain.prefix_stats["builds"] == 1 and brain.prefix_stats["continued"] >= 2


@pytest.fixture(scope="module")
def cache(tiny_vlm_dir):
    from transformers import AutoModelForImageTextToText

    from robot_brain.brain.prefix_cache import PrefixCache
    from robot_brain.brain.processors import load_processor
    processor = load_processor(tiny_vlm_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    return PrefixCache(model, processor)


def prompt_ids(cache, system, text="hello"):
    prompt = cache.processor.apply_chat_template(
        [{"role": "system", "content": [{"type": "text", "text": system}]},
         {"role": "user", "content": [{"type": "text", "text": text}]}], add_generation_prompt=True)
    return cache.processor(text=prompt, return_tensors="pt")["input_ids"]


def test_the_cache_is_cut_to_the_tokens_a_prompt_shares_and_rebuilt_for_another_system_prompt(cache):
    import torch
    base = "You are a robot on a table. You can point at things, pick them up and wave. Answer briefly."
    cache.build(base + " Reply in English.")
    full = cache.tokens
    ids = prompt_ids(cache, base + " Reply in German.")
    state = cache.state_for(base + " Reply in German.", ids)
    shared = state.get_seq_length()
    assert full // 2 <= shared < full and torch.equal(cache._ids[:shared], ids[0, :shared])
    assert cache.builds == 1                                           # reused, not rebuilt
    with torch.inference_mode():                                       # exactly the prefill of those tokens
        direct = cache.model(input_ids=ids[:, :shared], use_cache=True).past_key_values
    torch.testing.assert_close(state.layers[0].keys, direct.layers[0].keys)
    assert cache.state_for(base + " Reply in German.", ids).get_seq_length() == shared   # a fresh copy each time
    other = "Describe paintings in a museum, with their painters and years, in one long sentence each."
    state = cache.state_for(other, prompt_ids(cache, other))
    assert cache.builds == 2 and state is not None                     # another system prompt: its own cache
    assert cache.state_for(other, prompt_ids(cache, other)[:, :3]) is None   # too short to share anything


def test_a_model_that_cannot_prefill_text_alone_prefills_every_prompt_whole(cache):
    from robot_brain.brain.prefix_cache import PrefixCache

    class Broken:
        def __call__(self, **kwargs):
            raise ValueError("this model needs an image")

    broken = PrefixCache(Broken(), cache.processor)
    broken.build("You are a robot.")
    assert broken.broken and broken.state_for("You are a robot.", prompt_ids(cache, "You are a robot.")) is None


def test_the_last_turn_is_kept_up_to_its_picture_and_the_next_prompt_goes_on_from_it(cache):
    import torch
    system = "You are a robot on a table. You can point at things, pick them up and wave. Answer briefly."
    cache.build(system)
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]},
                {"role": "user", "content": [{"type": "text", "text": "what is the name of the red cup"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "It is the cup."}]},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "where is it"}]}]
    prompt = cache.processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = cache.processor(text=prompt, images=[np.full((64, 64, 3), 90, np.uint8)], return_tensors="pt")
    ids = inputs["input_ids"]
    first_picture = int((ids[0] == next(iter(cache.pictures))).nonzero()[0])
    state = cache.state_for(system, ids)
    with torch.inference_mode():
        sequence = cache.model.generate(**inputs, cache=state, max_new_tokens=4, do_sample=False)
    cache.keep(state, sequence)
    assert len(cache._last_ids) == first_picture                      # nothing from the picture on
    assert not set(cache._last_ids.tolist()) & cache.pictures
    again = cache.state_for(system, ids)                              # the same history, another picture
    assert again.get_seq_length() == first_picture and cache.continued == 1
    assert cache._last is None                                        # handed over, not copied
