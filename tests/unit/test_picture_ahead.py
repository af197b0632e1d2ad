"""The camera frame is encoded while the user speaks; the turn uses it when the scene has not changed."""
import numpy as np
import pytest

from robot_brain.brain.picture_ahead import thumbnail
from robot_brain.brain.vlm import VLMBrain
from robot_brain.frames import ImageFrame, ReplyDone, SpeechStarted, StageError, Turn
from robot_brain.testing import run_stage


def scene(level, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(level, 20, (240, 320, 3)), 0, 255).astype(np.uint8)


def run(folder, frames, ahead):
    brain = VLMBrain(folder, max_new_tokens=8, structured=False, picture_ahead=ahead, warmup=False)
    out = run_stage(brain, frames)
    assert not [f for f in out if isinstance(f, StageError)]
    return [f.text for f in out if isinstance(f, ReplyDone)], brain, out


@pytest.mark.parametrize("family", ["tiny_vlm_dir", "tiny_llava_dir", "tiny_qwen_dir"])
def test_a_picture_encoded_ahead_gives_the_same_reply(family, request):
    folder = request.getfixturevalue(family)
    frames = [ImageFrame(image=scene(90)), SpeechStarted(stamp=1.0), ImageFrame(image=scene(90, seed=1)),
              Turn(text="what do you see", turn=1)]
    plain, _, _ = run(folder, frames, ahead=False)
    fast, brain, out = run(folder, frames, ahead=True)
    assert fast == plain and len(fast) == 1
    assert (brain.ahead_stats["encoded"], brain.ahead_stats["used"]) == (1, 1)   # same scene, another frame
    assert any(isinstance(f, SpeechStarted) for f in out)                        # passed on, not swallowed


def test_a_changed_scene_is_encoded_at_the_turn(tiny_vlm_dir):
    frames = [ImageFrame(image=scene(40)), SpeechStarted(stamp=1.0), ImageFrame(image=scene(200)),
              Turn(text="what do you see", turn=1)]
    plain, _, _ = run(tiny_vlm_dir, frames, ahead=False)
    fast, brain, _ = run(tiny_vlm_dir, frames, ahead=True)
    assert fast == plain
    assert brain.ahead_stats == {"encoded": 1, "used": 0, "changed": 1}


def test_thumbnails_tell_a_new_scene_from_sensor_noise():
    a, b, c = scene(90, seed=0), scene(90, seed=1), scene(90, seed=0)
    c[:, :160] = 250                                                    # something now fills half the view
    assert np.abs(thumbnail(a) - thumbnail(b)).mean() < 6 < np.abs(thumbnail(a) - thumbnail(c)).mean()
    assert thumbnail(np.zeros((3, 5), np.uint8)).shape == (24, 32)      # tiny and grey frames too
