"""The stop fast path: the bundled spotter fires on a real spoken stop word and not on other speech."""
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_brain.frames import ActionIntent, AudioChunk, Stop
from robot_brain.speech.audio import chunks_of
from robot_brain.speech.keyword_net import KeywordNet
from robot_brain.speech.stop_path import StopSpotter, bundled_spotter_path
from robot_brain.testing import run_stage, spoken

RATE = 16000


def in_noise(audio, seed=0, before=0.6, after=0.8):
    rng = np.random.default_rng(seed)
    pad = lambda s: rng.normal(0, 0.003, int(s * RATE)).astype(np.float32)
    return np.concatenate([pad(before), audio + rng.normal(0, 0.003, len(audio)).astype(np.float32), pad(after)])


def spot(audio, **kwargs):
    stage = StopSpotter(**kwargs)
    out = run_stage(stage, chunks_of(audio, RATE, block_s=0.032))
    return out, stage


@pytest.mark.parametrize("word, voice", [("stop", "en-us"), ("stop", "en-gb-x-rp+m3"), ("stop", "en-us+f2"),
                                         ("halt", "en-us"), ("停", "cmn"), ("멈춰", "ko")])
def test_a_spoken_stop_word_makes_one_stop_and_one_stop_intent(word, voice):
    audio = in_noise(spoken(word, voice=voice))
    out, stage = spot(audio)
    stops = [f for f in out if isinstance(f, Stop)]
    intents = [f for f in out if isinstance(f, ActionIntent)]
    assert len(stops) == 1 and stops[0].source == "voice"
    assert len(intents) == 1 and intents[0].verb == "stop" and intents[0].priority == 100
    assert len([f for f in out if isinstance(f, AudioChunk)]) > 0             # audio flows on to hearing
    stamp, heard, p = stage.fired[0]
    assert heard == word and p >= 0.9
    word_end = 0.6 + len(spoken(word, voice=voice)) / RATE
    assert 0.6 < stamp <= word_end + 0.3                                      # fired while or just after it was said


OTHER_PHRASES = ["what do you see", "where is the red cup", "point at the blue ball", "pick up the green cube",
                 "is anyone there", "how many cups", "look at me", "thank you", "go forward", "turn left",
                 "shop", "step", "top", "start", "hello", "good morning", "come here", "wave at me",
                 "point at the purple cup", "where is the purple cup", "pick up the purple bottle"]   # "purple" ~ 停


def test_other_speech_does_not_stop_the_robot():
    track = np.concatenate([in_noise(spoken(p, voice="en-us" if i % 2 else "en-gb-x-rp"), seed=i, before=0.3, after=0.3)
                            for i, p in enumerate(OTHER_PHRASES)])
    out, stage = spot(track)
    assert not [f for f in out if isinstance(f, Stop)], stage.fired


def test_only_the_configured_words_stop():
    out, stage = spot(in_noise(spoken("halt")), words=("stop",))
    assert not [f for f in out if isinstance(f, Stop)]


def test_a_word_the_model_does_not_know_is_a_clear_error_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match=r"'arrête'.*not in the spotter model.*train_stop_spotter"):
        StopSpotter(words=("stop", "arrête"))
    from robot_brain.cli import main
    bag = str(Path(__file__).resolve().parents[1] / "data" / "sample_bag")
    assert main(["--set", "stop.words=stop,arrête", "replay", bag, "--out", str(tmp_path)]) == 2
    assert main(["--set", f"stop.model={tmp_path}/none.npz", "replay", bag, "--out", str(tmp_path)]) == 2


def test_the_numpy_network_matches_the_torch_one_it_was_trained_as():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import train_stop_spotter as trainer
    net = KeywordNet.load(bundled_spotter_path())
    model = trainer.build_model(len(net.labels))
    with np.load(bundled_spotter_path()) as data:
        model.load_state_dict({k: torch.from_numpy(data[k]) for k in model.state_dict()})
    features = net.features(in_noise(spoken("stop"))[-RATE:])
    expected = trainer.forward(model, torch.from_numpy(features)[None]).detach().numpy()[0]
    np.testing.assert_allclose(net.logits(features), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_stop_works_while_the_brain_is_busy_and_the_robot_talks():
    """The benchmark's set-up at small scale: real-time audio, a CPU-bound brain, TTS playing."""
    from robot_brain.bench_speech import stop_latency
    result = stop_latency(trials=3, busy_s=1.5)
    assert result["stop_detected"] == 3
    assert result["tts_cuts"] >= 2                 # the robot was talking and was cut
