"""The live view in a real window on a virtual screen (Xvfb): a screenshot shows the overlays; keys work."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from scenes import RED_CUP, write_clip

from robot_brain.demo.overlay import ACCEPTED_COLOUR, SAID_COLOUR, STATE_COLOURS
from robot_brain.events import read_events

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                                reason="needs Xvfb and xdotool (apt-get install xvfb xdotool; make test installs them)")


@pytest.fixture
def screen():
    """A virtual X screen of its own; yields its DISPLAY name."""
    for number in range(91, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    display = f":{number}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield display
    server.terminate()
    server.wait(10)


def _screenshot(display):
    from PIL import ImageGrab
    return np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))[:, :, ::-1]    # BGR, like the view


def _count(picture, box, colour, tolerance=40):
    x0, y0, x1, y1 = box
    patch = picture[y0:y1, x0:x1].astype(int)
    return int((np.abs(patch - np.array(colour)).max(axis=2) < tolerance).sum())


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _events(path):
    return read_events(path) if path.exists() else []


def test_window_shows_overlays_and_obeys_stop_and_quit_keys(tmp_path, screen):
    clip = write_clip(tmp_path / "scene.avi", frames=30)
    out = tmp_path / "run"
    env = {**os.environ, "DISPLAY": screen, "PYTHONPATH": str(HERE)}
    demo = subprocess.Popen([sys.executable, str(HERE / "pointing_demo.py"), "--set", "tts.output=none", "demo",
                             "--video", str(clip), "--text", "--out", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for(lambda: subprocess.run(["xdotool", "search", "--name", "^robot_brain$"], env=env,
                                         capture_output=True).returncode == 0, 60, "the window")
        demo.stdin.write("point at the red cup\n")
        demo.stdin.flush()
        _wait_for(lambda: any(e["type"] == "intent" for e in _events(out / "events.jsonl")), 30, "the intent")
        time.sleep(0.5)                                                        # a few redraws
        shot = _screenshot(screen)
        cv2.imwrite(str(tmp_path / "view.png"), shot)                          # kept for a look when this fails
        width, height = 800, 600                                               # the 320x240 clip, scaled up
        assert shot[:height, :width].std() > 20 and shot[height + 5:, :].max() == 0 and shot[:, width + 5:].max() == 0
        x, y = round(RED_CUP[0] * (width - 1)), round(RED_CUP[1] * (height - 1))
        assert _count(shot, (x - 25, y - 25, x + 25, y + 25), ACCEPTED_COLOUR) > 100       # the target marker
        band = shot[height - 96:height, :width]
        assert band.mean() < 80                                                             # the subtitle band
        assert _count(band, (0, 0, width, 96), SAID_COLOUR) > 200                           # what the robot says
        assert (band.min(axis=2) > 230).sum() > 200                                         # what it heard
        intent = next(e for e in _events(out / "events.jsonl") if e["type"] == "intent")
        assert intent["intent"] == "point_at" and intent["data"]["target"]["label"] == "red cup"

        window = subprocess.run(["xdotool", "search", "--name", "^robot_brain$"], env=env, capture_output=True,
                                text=True).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "s"], env=env, check=True)
        _wait_for(lambda: any(e["type"] == "stop" for e in _events(out / "events.jsonl")), 10, "the stop")
        time.sleep(0.3)
        assert _count(_screenshot(screen), (0, 0, 120, 30), STATE_COLOURS["stopped"]) > 1000  # the state: STOPPED
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "q"], env=env, check=True)
        assert demo.wait(20) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    said = demo.stdout.read()
    events = read_events(out / "events.jsonl")
    stop = next(e for e in events if e["type"] == "stop")
    assert stop["source"] == "keyboard"
    assert [e["intent"] for e in events if e["type"] == "intent"] == ["point_at", "stop"]
    assert "ready:" in said and "wrote:" in said
