"""Replay of the committed sample bag, end to end."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from robot_brain.bags import BagError, make_typestore
from robot_brain.config import Config
from robot_brain.events import read_events
from robot_brain.frames import ActionIntent, ImageFrame, ReplySentence, SpeechAudio, Turn
from robot_brain.pipeline import Stage
from robot_brain.replay import account, replay
from robot_brain.turns import TurnTaker

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_bag"


class SceneReporter(Stage):
    """A stand-in brain at the seam: answers each turn with the size of the latest camera frame."""
    accepts = (Turn, ImageFrame)

    def __init__(self):
        super().__init__("brain")
        self.image = None

    def process(self, frame):
        if isinstance(frame, ImageFrame):
            self.image = frame
            return
        h, w = self.image.image.shape[:2]
        yield ReplySentence(text=f"I see a {w}x{h} picture taken at {self.image.stamp:.1f} s.", turn=frame.turn)
        yield SpeechAudio(samples=np.full(1600, 0.1, np.float32), sample_rate=16000, turn=frame.turn)
        yield ActionIntent(verb="point_at", target={"label": frame.text.split()[-1]}, turn=frame.turn,
                           source=frame.source)


def test_sample_bag_replays_with_the_available_stages(tmp_path):
    """`make demo`: the shipped demo ear hears the bag's three spoken questions; the brain is the default (random)."""
    config = Config()
    config.asr.model = "demo-ear"
    result = replay(SAMPLE, tmp_path / "out", config, progress=False)
    events = read_events(tmp_path / "out" / "events.jsonl")
    assert result.stages == ["stop_path", "hearing", "asr", "turns", "brain", "intent_gate", "speech_out"]
    assert not result.missing
    # the spoken "stop" (said at 9.0 s) is caught by the spotter: one Stop, one stop intent
    stops = [e for e in events if e["type"] == "stop"]
    assert len(stops) == 1 and stops[0]["source"] == "voice" and 9.0 < stops[0]["stamp"] < 9.9
    intents = [e for e in events if e["type"] == "intent"]
    assert [i["intent"] for i in intents] == ["stop"]      # the random brain's proposals do not pass the gate
    audit = [json.loads(line) for line in (tmp_path / "out" / "audit.jsonl").read_text().splitlines()]
    assert {"verb": "stop", "decision": "accepted"}.items() <= audit[0].items()
    decisions = [e for e in events if e["type"] == "gate"]
    assert [(e["verb"], e["decision"]) for e in decisions] == [(a["verb"], a["decision"]) for a in audit]
    # three spoken utterances were heard and transcribed by the demo ear, word for word ...
    heard = [e for e in events if e["type"] == "speech_ended"]
    assert len(heard) == 3
    for said_at, event in zip((1.0, 5.0, 9.0), heard):               # when the bag's speech starts
        assert said_at + 0.4 < event["stamp"] < said_at + 2.5
    transcripts = [(e["text"], e["language"]) for e in events if e["type"] == "transcript" and e["final"]]
    assert transcripts == [("what do you see", "en"), ("where is the red cup", "en"), ("stop", "en")]
    timelines = [e for e in events if e["type"] == "timeline" and "speech_end" in e["marks"]]
    assert len(timelines) == 3
    # ... the two questions and the typed one became turns ("stop" stopped the robot instead), each answered
    turns = [e for e in events if e["type"] == "turn"]
    assert [(e["text"], e["source"]) for e in turns] == [
        ("what do you see", "voice"), ("where is the red cup", "voice"), ("point at the blue ball", "typed")]
    assert turns[2]["stamp"] == 11.0 and turns[2]["turn"] == 4
    numbers = [e["turn"] for e in turns]
    done = {e["turn"]: e["text"] for e in events if e["type"] == "reply_done"}
    assert sorted(done) == numbers
    for number in numbers:
        replies = [e["text"] for e in events if e["type"] == "reply" and e["turn"] == number]
        assert " ".join(replies).split() == done[number].split()
    assert [e["active"] for e in events if e["type"] == "speaking"] == [True, False] * 3
    marks = next(e["marks"] for e in events if e["type"] == "timeline" and e["turn"] == 4)
    assert marks["first_sentence"] <= marks["first_audio"] <= marks["first_audio_out"]   # spoken after it was said
    voice, rate = soundfile.read(result.wav_path)
    assert rate == 22050 and len(voice) > rate * 0.5 and np.abs(voice).max() > 0.05
    assert result.report.read["/audio"] == 130 and result.report.read["/camera/image_raw/compressed"] == 65
    assert result.report.skipped_total == 0
    text = account(result)
    assert "turn 1 [voice] heard: 'what do you see'" in text and "turn 2 [voice] heard: 'where is the red cup'" in text
    assert "turn 4 [typed] heard: 'point at the blue ball'" in text
    assert "STOP (voice: heard 'stop')" in text and "no transcript (" not in text
    assert "not in this version" not in text and "gate: stop accepted" in text
    assert "answers are noise" in text and "the demo ear" in text and "hears noise" not in text


@pytest.fixture(scope="module")
def demo_replay(tmp_path_factory):
    """`make demo`: the sample bag through the shipped demo ear and demo brain."""
    config = Config()
    config.asr.model, config.brain.model = "demo-ear", "demo-tabletop"
    return replay(SAMPLE, tmp_path_factory.mktemp("demo") / "out", config, progress=False)


def _said_per_question(result) -> dict[str, str]:
    turns = {e["text"]: e["turn"] for e in result.events if e["type"] == "turn"}
    return {text: " ".join(e["text"] for e in result.events if e["type"] == "reply" and e["turn"] == turn)
            for text, turn in turns.items()}


def test_make_demo_the_demo_brain_answers_each_question_in_kind(demo_replay):
    """The trained brain runs in the real pipeline: each question gets its kind of reply, and the only actions are
    the ones asked for, passed by the gate."""
    said = _said_per_question(demo_replay)
    assert list(said) == ["what do you see", "where is the red cup", "point at the blue ball"]
    assert said["what do you see"].startswith("I see a ") and "person" in said["what do you see"]
    assert said["where is the red cup"].startswith("The red cup is at the ")
    assert said["point at the blue ball"].startswith("Pointing at the blue ball at the ")
    proposals = [(e["verb"], e["target"]) for e in demo_replay.events if e["type"] == "proposal"]
    assert proposals == [("point_at", "blue ball")]         # words only for the two questions
    acted = [(e["verb"], e["decision"]) for e in demo_replay.events if e["type"] == "gate"]
    assert acted == [("stop", "accepted"), ("point_at", "accepted")]
    [pointing] = [e for e in demo_replay.events if e["type"] == "intent" and e["intent"] == "point_at"]
    assert pointing["data"]["target"]["label"] == "blue ball" and "ray_base" in pointing["data"]["target"]
    text = account(demo_replay)
    assert "the demo brain" in text and "answers are noise" not in text


def _sample_truth():
    """The sample scene and its objects and person as an episode's truth.json has them (what eval scores with)."""
    from dataclasses import asdict
    from robot_brain.samples import SAMPLE_SEED
    from robot_brain.sim import make_scene
    scene = make_scene(SAMPLE_SEED)
    return scene, [asdict(o) for o in scene.objects], asdict(scene.person)


def test_make_demo_the_demo_brain_finds_what_the_questions_name(demo_replay):
    from robot_brain.evaluate import answer_states_the_facts
    scene, objects, person = _sample_truth()
    said = _said_per_question(demo_replay)
    assert answer_states_the_facts("where is", "where is the red cup", said["where is the red cup"], objects,
                                   person), said["where is the red cup"]
    [pointing] = [e for e in demo_replay.events if e["type"] == "intent" and e["intent"] == "point_at"]
    ball = scene.find("blue", "ball")[0]
    assert max(abs(a - b) for a, b in zip(pointing["data"]["target"]["point_norm"], ball.point)) < 0.1


def test_make_demo_the_demo_brain_lists_the_sample_scene_right(demo_replay):
    from robot_brain.evaluate import answer_states_the_facts
    _, objects, person = _sample_truth()
    said = _said_per_question(demo_replay)["what do you see"]
    assert answer_states_the_facts("what do you see", "what do you see", said, objects, person), said


def test_the_default_tiny_random_ear_hears_noise_and_its_guard_drops_it(tmp_path):
    result = replay(SAMPLE, tmp_path / "out", progress=False)
    assert [e["text"] for e in result.events if e["type"] == "turn"] == ["point at the blue ball"]
    text = account(result)
    assert text.count("no transcript (nothing Whisper's guard kept)") == 3 and "hears noise" in text


def test_replay_writes_events_wav_and_output_bag(tmp_path):
    stages = [TurnTaker("turns"), SceneReporter()]
    result = replay(SAMPLE, tmp_path / "out", stages=stages, progress=False, storage="sqlite3")
    events = read_events(result.out_dir / "events.jsonl")
    replies = [e for e in events if e["type"] == "reply"]
    assert replies == [{"type": "reply", "turn": 1, "t": replies[0]["t"], "stamp": 11.0,
                        "text": "I see a 320x240 picture taken at 11.0 s.", "index": 0}]
    intents = [e for e in events if e["type"] == "intent"]
    assert intents[0]["intent"] == "point_at" and intents[0]["data"] == {"target": {"label": "ball"}}
    assert events[-1]["type"] == "timeline" and "turn_start" in events[-1]["marks"]
    audio, rate = soundfile.read(result.wav_path, dtype="float32")
    assert rate == 16000 and len(audio) == 1600
    from rosbags.rosbag2 import Reader
    store = make_typestore()
    with Reader(result.bag_path) as reader:
        got = {c.topic: store.deserialize_cdr(raw, c.msgtype).data for c, _, raw in reader.messages()}
    assert got["/robot_brain/reply"] == "I see a 320x240 picture taken at 11.0 s."
    assert json.loads(got["/robot_brain/intents"])["intent"] == "point_at"


def test_replay_is_deterministic_in_bag_pace(tmp_path):
    def run(name):
        stages = [TurnTaker("turns"), SceneReporter()]
        result = replay(SAMPLE, tmp_path / name, stages=stages, progress=False)
        return [(e["type"], e.get("text"), e.get("stamp")) for e in result.events if e["type"] != "timeline"]
    assert run("a") == run("b")


def test_missing_bag_is_a_clear_error(tmp_path):
    with pytest.raises(BagError, match="no such bag"):
        replay(tmp_path / "missing", tmp_path / "out", progress=False)


def test_cli_replay_prints_the_account_and_exits_zero(tmp_path):
    out = subprocess.run([sys.executable, "-m", "robot_brain.cli", "replay", str(SAMPLE), "--out",
                          str(tmp_path / "o"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o" / "events.jsonl").exists()
    loud = subprocess.run([sys.executable, "-m", "robot_brain.cli", "replay", str(SAMPLE), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert "heard: 'point at the blue ball'" in loud.stdout
    bad = subprocess.run([sys.executable, "-m", "robot_brain.cli", "replay", str(tmp_path / "nope"), "--out",
                          str(tmp_path / "o2")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "no such bag" in bad.stderr


def test_realtime_pace_feeds_at_the_bag_speed(tmp_path):
    config = Config()
    config.replay.pace, config.replay.speed = "realtime", 20.0
    result = replay(SAMPLE, tmp_path / "rt", config, progress=False)
    assert [e["text"] for e in result.events if e["type"] == "turn"] == ["point at the blue ball"]
