"""The stop word on voices the spotter never trained on, on real human speech, and `robot-brain bench stop`."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_brain.frames import Stop
from robot_brain.speech.audio import chunks_of
from robot_brain.speech.stop_path import StopSpotter
from robot_brain.testing import run_stage, spoken

RATE = 16000
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


@pytest.fixture(scope="module")
def voices():
    sys.path.insert(0, str(SCRIPTS))
    import train_stop_spotter
    return train_stop_spotter


def in_noise(audio, seed=0, before=0.5, after=0.8):
    rng = np.random.default_rng(seed)
    pad = lambda s: rng.normal(0, 0.002, int(s * RATE)).astype(np.float32)
    return np.concatenate([pad(before), audio + rng.normal(0, 0.002, len(audio)).astype(np.float32), pad(after)])


def stops_in(audio):
    stage = StopSpotter()
    out = run_stage(stage, chunks_of(audio, RATE, block_s=0.032))
    return [f for f in out if isinstance(f, Stop)], stage


def needs_festival():
    if not shutil.which("text2wave"):
        pytest.skip("festival is not installed: apt install festival festvox-kdlpc16k festvox-us-slt-hts "
                    "(scripts/bootstrap.sh does)")


NOT_YET = pytest.mark.xfail(reason="a lone 'stop' by a voice the network never heard is missed more often than "
                                   "not (held-out bench recall 67 %, target 95 %)", strict=False)


@pytest.mark.parametrize("voice, text, word", [
    ("festival:kal", "please stop", "stop"), ("festival:ked", "stop now", "stop"),
    ("festival:slt_hts", "stop now", "stop"), ("festival:kal", "halt", "halt"),
    pytest.param("festival:ked", "stop", "stop", marks=NOT_YET),
    pytest.param("festival:slt_hts", "stop", "stop", marks=NOT_YET)])
def test_a_voice_it_never_heard_stops_the_robot(voices, voice, text, word):
    needs_festival()
    assert voice in voices.HELD_OUT_VOICES                 # held out of training: this is a fresh voice
    speech = voices.synthesize(voice, text)
    stops, stage = stops_in(in_noise(speech))
    assert len(stops) == 1, stage.fired
    end = 0.5 + voices.speech_span(speech)[1] / RATE
    assert stage.fired[0][1] == word and stage.fired[0][0] <= end + 0.2     # at most 200 ms after the words


def test_that_voice_saying_other_words_does_not(voices):
    needs_festival()
    track = np.concatenate([in_noise(voices.synthesize(v, t), seed=i) for i, (v, t) in enumerate(
        [("festival:kal", "stay"), ("festival:kal", "top"), ("festival:slt_hts", "shop"), ("festival:ked", "go on"),
         ("festival:slt_hts", "what do you see"), ("festival:ked", "start")])])
    stops, stage = stops_in(track)
    assert not stops, stage.fired


def test_real_human_speech_never_stops_the_robot(voices):
    """The fifth of the Asterisk prompts that training leaves out (about 6 minutes of a real voice)."""
    if not ASTERISK.is_dir():
        pytest.skip(f"{ASTERISK} is missing: apt install asterisk-core-sounds-en-wav (scripts/bootstrap.sh does)")
    from robot_brain.bench_stop import load_wav
    files = voices.asterisk_files("held")
    assert len(files) > 80
    track = np.concatenate([in_noise(load_wav(f), seed=i, before=0.2, after=0.3) for i, f in enumerate(files)])
    stops, stage = stops_in(track)
    assert not stops, [(round(t, 1), w, round(p, 2)) for t, w, p in stage.fired]


def test_bench_stop_writes_the_documented_json(tmp_path):
    import soundfile
    from robot_brain.cli import main
    folder = tmp_path / "bench"
    folder.mkdir()
    soundfile.write(folder / "stop_pos.wav", 0.5 * spoken("stop", sample_rate=22050), 22050)    # any rate, any level
    soundfile.write(folder / "shop_neg.wav", 0.05 * spoken("what do you see", sample_rate=8000), 8000)
    out = tmp_path / "stop.json"
    assert main(["bench", "stop", str(folder), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"files", "recall", "false_fires", "positives", "hits", "negatives", "false_fire_count",
            "latency_p50_s", "latency_p99_s", "cost_per_hop_ms"} <= set(result)
    rows = {r["file"]: r for r in result["files"]}
    assert set(rows) == {"stop_pos.wav", "shop_neg.wav"}
    assert all({"file", "fired", "latency_s"} <= set(r) for r in rows.values())
    assert rows["stop_pos.wav"]["fired"] and -0.3 < rows["stop_pos.wav"]["latency_s"] <= 0.2
    assert not rows["shop_neg.wav"]["fired"] and rows["shop_neg.wav"]["latency_s"] is None
    assert result["recall"] == 1.0 and result["false_fires"] == 0.0 and result["false_fire_count"] == 0
    assert main(["bench", "stop", str(folder), "--all-negative", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["negatives"] == 2


def test_bench_stop_finds_the_end_of_speech_by_its_energy():
    from robot_brain.bench_stop import speech_span
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.0005, 2 * RATE).astype(np.float32)
    audio[RATE // 2:RATE] += 0.3 * np.sin(np.arange(RATE // 2) * 0.2).astype(np.float32)
    start, end = speech_span(audio)
    assert abs(start - 0.5) < 0.015 and abs(end - 1.0) < 0.015
