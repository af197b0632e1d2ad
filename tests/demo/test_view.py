"""The live view's pieces without a window: state folding, drawing, the status line, push-to-talk, inputs."""
import io
import time

import cv2
import numpy as np
import pytest
import soundfile
from scenes import RED_CUP, table_picture

from robot_brain.demo.camera import CameraError, ImageFolder, resolve_camera
from robot_brain.demo.overlay import (ACCEPTED_COLOUR, REJECTED_COLOUR, SAID_COLOUR, STATE_COLOURS, ascii_text,
                                      display_size, render)
from robot_brain.demo.push_to_talk import PushToTalk
from robot_brain.demo.state import DemoState, View
from robot_brain.latency import segments_of
from robot_brain.demo.status import StatusPrinter, status_line
from robot_brain.demo.voice import TypedVoice, VoiceError, read_wav
from robot_brain.frames import (AudioChunk, GateDecision, ReplySentence, Speaking, SpeechStarted, Stop, TextInput,
                                Transcript, Turn)
from robot_brain.pipeline import Timelines
from robot_brain.testing import run_stage


def _accepted(verb="point_at", label="red cup", point=RED_CUP, decision="accepted", turn=1):
    target = {"label": label, "point_norm": list(point)} if point else None
    return GateDecision(verb=verb, decision=decision, reason="r", intent={"verb": verb, "target": target}, turn=turn)


def test_state_follows_a_turn_from_hearing_to_speaking_and_stop():
    timelines = Timelines()
    state = DemoState(timelines)
    assert state.snapshot().state == "listening"
    state(SpeechStarted())
    assert state.snapshot().state == "hearing"
    state(Transcript(text="point at the", final=False))
    view = state.snapshot()
    assert (view.heard, view.heard_final) == ("point at the", False)
    for name, t in (("speech_end", 10.0), ("endpoint", 10.5), ("asr_done", 10.7), ("turn_start", 10.71),
                    ("first_token", 11.2), ("first_sentence", 11.9), ("first_audio", 12.0), ("first_audio_out", 12.05)):
        timelines.mark(1, name, t)
    state(Turn(text="point at the red cup", turn=1))
    assert state.snapshot().state == "thinking"
    state(ReplySentence(text="The red cup is on the left.", turn=1))
    state(_accepted())
    state(Speaking(active=True, turn=1))
    view = state.snapshot()
    assert view.state == "speaking" and view.said == "The red cup is on the left."
    assert view.look_at == RED_CUP and view.intents[-1].point == RED_CUP
    assert [name for name, _ in view.segments] == ["endpoint", "asr", "turn", "prefill", "sentence", "tts", "play"]
    assert view.total_s == pytest.approx(2.05)
    state(Stop(source="keyboard"))
    assert state.snapshot().state == "stopped"


def test_a_first_sentence_that_arrives_before_its_turn_is_kept():
    state = DemoState()
    state(ReplySentence(text="On the left.", turn=2, index=0))
    state(Turn(text="where is the cup", turn=2))
    state(ReplySentence(text="Next to the ball.", turn=2, index=1))
    assert state.snapshot().said == "On the left. Next to the ball."
    state(Turn(text="and now?", turn=3))
    assert state.snapshot().said == ""


def test_only_accepted_targets_move_the_crosshair():
    state = DemoState()
    state(_accepted(decision="rejected", point=(0.9, 0.9)))
    state(_accepted(decision="awaiting_confirmation", point=(0.8, 0.1), verb="pick_up"))
    view = state.snapshot()
    assert view.look_at is None and [m.decision for m in view.intents] == ["rejected", "awaiting_confirmation"]
    state(GateDecision(verb="stop", decision="accepted", intent={"verb": "stop", "target": None}))
    assert state.snapshot().intents[-1].point is None


def test_segments_skip_missing_marks_and_typed_turns_start_at_the_turn():
    parts, total = segments_of({"turn_start": 1.0, "first_sentence": 2.0, "first_audio": 2.2, "first_audio_out": 2.3})
    assert [n for n, _ in parts] == ["tts", "play"] and total == pytest.approx(1.3)
    assert segments_of({"turn_start": 1.0}) == ((), None)


def _view(**changes):
    base = dict(state="speaking", heard="point at the red cup", heard_final=True, said="The red cup is on the left.",
                intents=(), look_at=None, segments=(("asr", 0.2), ("sentence", 1.3)), total_s=2.0, last_error="")
    base.update(changes)
    return View(**base)


def _near(picture, xy, colour, radius=30):
    """Pixels within `radius` of xy whose BGR colour is within 40 of `colour`."""
    x, y = xy
    patch = picture[max(0, y - radius):y + radius, max(0, x - radius):x + radius].astype(int)
    return int((np.abs(patch - np.array(colour)).max(axis=2) < 40).sum())


def test_render_draws_marker_subtitles_state_and_latency_bar():
    picture = table_picture()
    state = DemoState()
    state(_accepted())
    view = _view(intents=state.snapshot().intents, look_at=RED_CUP)
    out = render(picture, view)
    assert out.shape[:2] == (600, 800) and picture.shape == (240, 320, 3)   # scaled up; input untouched
    marker = (round(RED_CUP[0] * 799), round(RED_CUP[1] * 599))
    assert _near(out, marker, ACCEPTED_COLOUR) > 100
    assert _near(render(picture, _view()), marker, ACCEPTED_COLOUR) == 0
    band = out[-96:]
    assert band.mean() < 70                                                    # the dark subtitle band
    assert (np.abs(band.astype(int) - SAID_COLOUR).max(axis=2) < 40).sum() > 200   # the robot's words
    assert (band.min(axis=2) > 230).sum() > 200                                # the user's words in white
    assert _near(out, (40, 15), STATE_COLOURS["speaking"], 10) > 200
    stopped = render(picture, _view(state="stopped"))
    assert _near(stopped, (40, 15), STATE_COLOURS["stopped"], 10) > 200


def test_render_copes_with_no_picture_mono_pictures_odd_text_and_a_lost_camera():
    assert render(None, _view()).shape == (450, 800, 3)
    assert render(np.zeros((48, 64), np.uint8), _view(said="Grüße 你好 ✓")).shape == (600, 800, 3)
    assert ascii_text("Grüße 你好") == "Gruße ??".replace("ß", "?")
    live, lost = render(table_picture(), _view()), render(table_picture(), _view(camera="lost"))
    assert lost[200:300].mean() < live[200:300].mean() * 0.7                  # a lost camera's last picture, dimmed
    assert display_size(np.zeros((2000, 4000, 3), np.uint8)) == (1280, 640)
    state = DemoState()
    state(_accepted(decision="rejected", point=(2.0, 0.5)))                   # off-picture points are clamped
    out = render(table_picture(), _view(intents=state.snapshot().intents))
    assert _near(out, (799, 300), REJECTED_COLOUR, 25) > 20


def test_status_line_and_printer():
    state = DemoState()
    state(Turn(text="where is the red cup", turn=1))
    state(ReplySentence(text="On the left.", turn=1))
    state(_accepted())
    line = status_line(state.snapshot(camera="live", camera_fps=14.6))
    assert line.startswith("[thinking] | cam live 15fps")
    assert "heard: 'where is the red cup'" in line and "said: 'On the left.'" in line
    assert "intent: point_at red cup accepted" in line
    assert len(status_line(_view(said="word " * 200), width=80)) == 80
    piped = io.StringIO()
    printer = StatusPrinter(piped, in_place=False)
    printer.show(_view(camera_fps=14.0))
    printer.show(_view(camera_fps=15.0))          # only the frame rate changed: no new line
    printer.show(_view(state="stopped"))
    assert len(piped.getvalue().splitlines()) == 2
    tty = io.StringIO()
    StatusPrinter(tty, in_place=True).show(_view())
    assert tty.getvalue().startswith("\r[speaking]") and "\n" not in tty.getvalue()


def test_push_to_talk_silences_the_microphone_until_talk_is_on():
    ptt = PushToTalk()
    loud = AudioChunk(samples=np.full(512, 0.5, np.float32))
    assert not np.any(run_stage(ptt, [loud])[0].samples)
    ptt.toggle()
    out = run_stage(PushToTalk(), [loud])
    assert not np.any(out[0].samples)
    talking = PushToTalk()
    assert talking.toggle() is True
    assert np.all(run_stage(talking, [loud])[0].samples == 0.5)
    assert talking.toggle() is False


def test_wav_input_problems_are_clear(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file" * 10)
    with pytest.raises(VoiceError, match="not a sound file"):
        read_wav(garbage)
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(VoiceError, match="holds no audio"):
        read_wav(empty)
    with pytest.raises(VoiceError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    nan = tmp_path / "nan.wav"
    soundfile.write(nan, np.array([[np.nan, 0.5]] * 4410, np.float32), 44100, subtype="FLOAT")
    audio = read_wav(nan)                          # NaN repaired, stereo mixed down, 44.1 → 16 kHz
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and abs(len(audio) - 1600) <= 2


def test_piped_lines_wait_until_the_previous_question_was_answered():
    got, ready = [], {"now": False}
    typed = TypedVoice(io.StringIO("first\n\nsecond\n"), got.append, ready=lambda: ready["now"]).start()
    time.sleep(0.3)
    assert got == []
    ready["now"] = True
    assert typed.finished.wait(2.0)
    assert [f.text for f in got] == ["first", "second"] and all(isinstance(f, TextInput) for f in got)


def test_image_folder_cycles_and_skips_unreadable_pictures(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), table_picture())
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(tmp_path / "c.png"), np.zeros((10, 12, 3), np.uint8))
    folder = ImageFolder(tmp_path, period_s=0.0)
    sizes = [folder.read()[1].shape for _ in range(4)]
    assert sizes == [(240, 320, 3), (10, 12, 3), (240, 320, 3), (10, 12, 3)]
    assert folder.isOpened()
    with pytest.raises(CameraError, match="no pictures"):
        ImageFolder(tmp_path / "nothing-here")


def test_camera_names_resolve_or_fail_with_the_list():
    assert resolve_camera("2") == 2 and resolve_camera("/dev/video7") == "/dev/video7"
    with pytest.raises(CameraError, match="no camera named like 'no-such-webcam'"):
        resolve_camera("no-such-webcam")


def test_a_demo_closed_before_it_started_closes_cleanly(tmp_path):
    from scenes import write_clip

    from robot_brain.config import Config
    from robot_brain.demo.session import Demo, DemoOptions
    demo = Demo(Config(), DemoOptions(video=write_clip(tmp_path / "clip.avi"), text=True, window=False),
                stdin=io.StringIO(""), stdout=io.StringIO())
    result = demo.close()                        # e.g. Ctrl-C while the models were still loading
    assert result.events == [] and result.camera_losses == 0
