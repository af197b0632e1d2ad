"""`robot-brain demo` end to end with the real stages: files in, events and speech out; what is missing is survived."""
import io
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile
from scenes import write_clip, write_speech

from robot_brain.brain.vlm import NO_VISION
from robot_brain.cli import main
from robot_brain.config import load_config
from robot_brain.demo.session import Demo, DemoOptions
from robot_brain.events import read_events

EVENT_FIELDS = {"transcript": {"text", "final", "language", "confidence"}, "turn": {"text", "source", "language"},
                "reply": {"text", "index"}, "timeline": {"marks"},
                "intent": {"intent", "data", "source", "modality", "priority", "confidence", "input"}}


def test_demo_from_files_headless_writes_events_and_speech(tmp_path):
    clip = write_clip(tmp_path / "scene.avi")
    question = write_speech(tmp_path / "ask.wav", [(0.5, "what do you see"), (6.0, "stop")], seconds=8.0)
    out, voice = tmp_path / "run", tmp_path / "reply.wav"
    done = subprocess.run([sys.executable, "-m", "robot_brain", "--set", "asr.model=demo-ear", "demo",
                           "--video", str(clip), "--wav", str(question), "--no-window", "--wav-out", str(voice),
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ready: brain tiny-random on cpu" in done.stdout and "TINY RANDOM MODEL" in done.stdout
    assert "[listening] | cam live" in done.stdout                     # the status line, one line per change
    events = read_events(out / "events.jsonl")
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
        assert {"type", "turn", "t", "stamp"} <= e.keys()
    for kind, fields in EVENT_FIELDS.items():                          # the layout replay writes
        assert by_type.get(kind), f"no {kind} event"
        assert set(by_type[kind][0]) == {"type", "turn", "t", "stamp"} | fields
    first = by_type["turn"][0]                                         # heard by the demo ear, word for word
    assert (first["text"], first["source"]) == ("what do you see", "voice") and 0.5 < first["stamp"] < 6.0
    assert any(e["turn"] == first["turn"] for e in by_type["reply"])
    stop = [e for e in by_type["intent"] if e["intent"] == "stop"]
    assert len(stop) == 1 and stop[0]["priority"] == 100 and stop[0]["input"] == "voice"
    assert 6.0 < by_type["stop"][0]["stamp"] < 8.0 + 1                 # heard when it was said (real-time input)
    marks = next(e["marks"] for e in by_type["timeline"] if e["turn"] == first["turn"])
    assert list(marks)[:4] == ["speech_end", "endpoint", "asr_done", "turn_start"] and "first_audio_out" in marks
    audio, rate = soundfile.read(voice)
    assert rate == 22050 and len(audio) > 0.2 * rate and np.abs(audio).max() > 0.05
    assert (out / "reply.wav").is_file() and (out / "audit.jsonl").is_file()
    assert "wrote:" in done.stdout and str(voice) in done.stdout


@pytest.mark.parametrize("flags, message", [
    (["--video", "{tmp}/missing.avi", "--text"], "--video {tmp}/missing.avi: no such file"),
    (["--video", "{tmp}/garbage.avi", "--text"], "OpenCV cannot read a picture from it"),
    (["--images", "{tmp}", "--text"], "no pictures"),
    (["--wav", "{tmp}/garbage.avi"], "not a sound file"),
    (["--mic", "no-such-microphone"], "Ask with --wav FILE (a recording) or --text"),   # nothing typed either
])
def test_inputs_that_cannot_work_stop_the_demo_with_the_flag_to_use(tmp_path, capsys, monkeypatch, flags, message):
    (tmp_path / "garbage.avi").write_bytes(b"\x00garbage" * 100)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = main(["demo", "--no-window", *[f.format(tmp=tmp_path) for f in flags]])
    assert code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err


def test_without_camera_display_or_speaker_the_demo_answers_typed_questions(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("what do you see\n"))
    code = main(["demo", "--camera", "/dev/video99", "--text", "--speaker", "no-such-speaker", "--out",
                 str(tmp_path / "run")])
    said = capsys.readouterr().out
    assert code == 0
    assert "no display (DISPLAY is not set): showing a status line instead of the window" in said
    assert "no speaker:" in said and "subtitles only" in said
    assert "cam none" in said
    events = read_events(tmp_path / "run" / "events.jsonl")
    turn = next(e for e in events if e["type"] == "turn")
    assert (turn["text"], turn["source"]) == ("what do you see", "typed")
    assert [e for e in events if e["type"] == "reply" and e["turn"] == turn["turn"]]    # answered without a camera


def _wait(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_camera_unplugged_mid_run_is_survived_and_comes_back(tmp_path):
    """A clip opened as a live camera: its end is the camera going away; moving it aside keeps it away."""
    camera = write_clip(tmp_path / "webcam.avi", frames=15, fps=10)
    aside = tmp_path / "unplugged.avi"
    read_end, write_end = os.pipe()
    typed = os.fdopen(write_end, "w", buffering=1)
    options = DemoOptions(camera=str(camera), text=True, window=False, out=tmp_path / "run", max_fps=10,
                          linger_s=0.5)
    config = load_config(None, {"brain.max_new_tokens": 24})    # short (noise) replies, short to speak
    demo = Demo(config, options, stdin=os.fdopen(read_end), stdout=io.StringIO())
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("r", demo.run(progress=False)))
    runner.start()
    try:
        _wait(lambda: demo.feed.status.state == "live", what="the camera")
        camera.rename(aside)                                     # unplugged: it cannot be opened again
        _wait(lambda: demo.feed.status.state == "lost", what="the loss to be noticed")
        time.sleep(config.brain.max_frame_age_s)                 # the last picture is now too old to trust
        typed.write("what do you see\n")
        _wait(lambda: any(e["type"] == "reply_done" for e in demo.events.events), what="an answer without vision")
        aside.rename(camera)                                     # plugged back in
        _wait(lambda: demo.feed.status.state == "live" and demo.feed.status.frames > 15, what="the camera's return")
        typed.write("and now?\n")
        _wait(lambda: sum(e["type"] == "reply_done" for e in demo.events.events) == 2, what="an answer with vision")
    finally:
        typed.close()                                            # end of typed input: the demo ends once quiet
        runner.join(60)
    assert not runner.is_alive()
    r = result["r"]
    assert r.camera_losses >= 1 and not r.stuck
    replies = [e for e in r.events if e["type"] == "reply_done"]
    assert replies[0]["text"].startswith(NO_VISION)
    assert not replies[1]["text"].startswith(NO_VISION)
    assert not [e for e in r.events if e["type"] == "error"]


def test_push_to_talk_hears_only_the_stop_word_until_space_is_pressed(tmp_path):
    clip = write_clip(tmp_path / "scene.avi")
    speech = write_speech(tmp_path / "ask.wav", [(0.5, "what do you see"), (3.0, "stop")], seconds=4.5)
    options = DemoOptions(video=clip, wav=speech, window=False, out=tmp_path / "run", push_to_talk=True,
                          linger_s=0.5)
    demo = Demo(load_config(None, {}), options, stdout=io.StringIO())
    assert [s.name for s in demo.pipeline.stages][:3] == ["stop_path", "push_to_talk", "hearing"]
    result = demo.run(progress=False)
    kinds = [e["type"] for e in result.events]
    assert "speech_started" not in kinds and "turn" not in kinds        # the key was never pressed
    assert [e["intent"] for e in result.events if e["type"] == "intent"] == ["stop"]
    demo._key(ord(" "))
    assert demo.ptt.talking and demo.view().push_to_talk == "talking"
