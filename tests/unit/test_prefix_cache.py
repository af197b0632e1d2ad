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
    assert brain.prefix_stats["hits"] >= 2                 # later turns reused it
    assert brain.prefix_stats["builds"] >= 2               # the German turn has another system message: rebuilt


def test_a_prompt_that_does_not_start_with_the_cached_tokens_is_prefilled_whole(tiny_vlm_dir):
    import torch

    from robot_brain.brain.prefix_cache import PrefixCache
    from robot_brain.brain.processors import load_processor
    from transformers import AutoModelForImageTextToText
    processor = load_processor(tiny_vlm_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    cache = PrefixCache(model, processor)
    system = "You are a robot on a table. Answer briefly."
    prompt = processor.apply_chat_template(
        [{"role": "system", "content": [{"type": "text", "text": system}]},
         {"role": "user", "content": [{"type": "text", "text": "hello"}]}], add_generation_prompt=True)
    ids = processor(text=prompt, return_tensors="pt")["input_ids"]
    state = cache.state_for(system, ids)
    assert state is not None and state.get_seq_length() < ids.shape[-1]
    assert cache.state_for(system, ids).get_seq_length() == state.get_seq_length()   # a fresh copy each time
    other = ids.clone()
    other[0, 3] = (other[0, 3] + 1) % 50                    # the same system text, other tokens: not reused
    assert cache.state_for(system, other) is None
    assert cache.state_for(system, ids[:, :4]) is None       # a prompt no longer than the prefix
    assert (cache.hits, cache.misses, cache.builds) == (2, 2, 1)
    with torch.inference_mode():                            # the cached state is the prefix's own prefill
        n = state.get_seq_length()
        direct = model(input_ids=ids[:, :n], use_cache=True).past_key_values
    torch.testing.assert_close(state.layers[0].keys, direct.layers[0].keys)
