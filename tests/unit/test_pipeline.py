import threading
import time

import numpy as np
import pytest

from robot_brain.frames import (AudioChunk, ImageFrame, Interrupt, ReplySentence, StageError, Stop, TextInput,
                                Turn)
from robot_brain.pipeline import Pipeline, Stage, TurnCounter
from robot_brain.testing import Collector, run_stage


class Gate(Stage):
    """Holds every data frame until released: a stand-in for a slow model."""

    def __init__(self, name="gate"):
        super().__init__(name)
        self.release = threading.Event()
        self.entered = threading.Event()

    def process(self, frame):
        if not isinstance(frame, (Interrupt, Stop)):
            self.entered.set()
            self.release.wait(5)
        yield frame


class Recorder(Stage):
    def __init__(self, name="recorder"):
        super().__init__(name)
        self.seen = []

    def process(self, frame):
        self.seen.append(frame)
        yield frame


def text(i, turn=0):
    return TextInput(text=f"q{i}", turn=turn)


def test_interrupt_overtakes_queued_data():
    gate, rec = Gate(), Recorder()
    out = Collector()
    with Pipeline([gate, rec]) as p:
        p.add_sink(out)
        for i in range(5):
            p.push(text(i))
        assert gate.entered.wait(2)
        p.push(Interrupt(reason="barge-in"))
        deadline = time.monotonic() + 2
        while not rec.seen and time.monotonic() < deadline:
            time.sleep(0.005)
        gate.release.set()
        assert p.wait_idle(5)
    assert isinstance(rec.seen[0], Interrupt), rec.seen
    assert [f.text for f in rec.seen[1:]] == [f"q{i}" for i in range(5)]
    assert out.kinds()[0] == "Interrupt"


def test_cancelled_turn_output_never_reaches_the_output():
    class Streamer(Stage):
        accepts = (Turn,)

        def __init__(self):
            super().__init__("streamer")
            self.started = threading.Event()
            self.go_on = threading.Event()
            self.closed_early = False

        def process(self, frame):
            try:
                for i in range(100):
                    yield ReplySentence(text=f"{frame.text} part {i}", index=i, turn=frame.turn)
                    self.started.set()
                    self.go_on.wait(5)
            except GeneratorExit:
                self.closed_early = True
                raise

    streamer, out = Streamer(), Collector()
    with Pipeline([streamer, Recorder()]) as p:
        p.add_sink(out)
        turn1 = p.turns.begin()
        queued = p.turns.begin()
        p.push(Turn(text="one", turn=turn1))
        p.push(Turn(text="queued", turn=queued))
        assert streamer.started.wait(2)
        p.push(Interrupt(turn=queued))
        streamer.go_on.set()
        assert p.wait_idle(5)
        turn3 = p.turns.begin()
        streamer.go_on.clear()
        p.push(Turn(text="three", turn=turn3))
        time.sleep(0.05)
        p.push(Stop(turn=turn3, source="voice"))
        streamer.go_on.set()
        assert p.wait_idle(5)
    texts = [f.text for f in out.of(ReplySentence)]
    assert streamer.closed_early
    assert all(not t.startswith("queued") for t in texts)
    assert len([t for t in texts if t.startswith("one")]) <= 1      # only what left before the interrupt
    assert len([t for t in texts if t.startswith("three")]) <= 1
    assert out.kinds().count("Stop") == 1
    assert p.stats()["streamer"].dropped["cancelled"] >= 1


def test_raising_stage_yields_stage_error_and_next_turn_works():
    class Flaky(Stage):
        accepts = (TextInput,)

        def process(self, frame):
            if frame.text == "boom":
                raise RuntimeError("model exploded")
            yield ReplySentence(text=frame.text.upper(), turn=frame.turn)

    out = Collector()
    with Pipeline([Flaky("flaky")]) as p:
        p.add_sink(out)
        p.push(TextInput(text="boom", turn=p.turns.begin()))
        p.push(TextInput(text="fine", turn=p.turns.begin()))
        assert p.wait_idle(5)
    errors = out.of(StageError)
    assert len(errors) == 1 and errors[0].stage == "flaky" and "model exploded" in errors[0].error
    assert errors[0].turn == 1 and not errors[0].fatal
    assert [f.text for f in out.of(ReplySentence)] == ["FINE"]
    assert p.health() == {"flaky": True}


def test_stage_that_keeps_failing_is_reported_unhealthy_and_bypassed():
    class Broken(Stage):
        def process(self, frame):
            raise ValueError("always")

    out = Collector()
    with Pipeline([Broken("broken"), Recorder()], max_consecutive_errors=3) as p:
        p.add_sink(out)
        for i in range(6):
            p.push(text(i))
        assert p.wait_idle(5)
    errors = out.of(StageError)
    assert [e.fatal for e in errors] == [False, False, False, True]
    assert p.health() == {"broken": False, "recorder": True}
    assert p.stats()["broken"].processed == 3
    assert [f.text for f in out.of(TextInput)] == ["q3", "q4", "q5"]   # frames now pass around it


def test_shutdown_leaves_no_threads():
    before = set(threading.enumerate())
    p = Pipeline([Recorder(f"r{i}") for i in range(4)]).start()
    p.push(text(0))
    assert p.wait_idle(5)
    assert p.close() == []
    assert set(threading.enumerate()) - before == set()


def test_camera_frames_latest_wins_and_drops_are_counted():
    gate = Gate()
    out = Collector()
    with Pipeline([gate, Recorder()]) as p:
        p.add_sink(out)
        p.push(text(0))
        assert gate.entered.wait(2)
        for i in range(10):
            p.push(ImageFrame(image=np.full((4, 4, 3), i, np.uint8), stamp=float(i)))
        gate.release.set()
        assert p.wait_idle(5)
    images = out.of(ImageFrame)
    assert [im.stamp for im in images] == [9.0]
    assert p.stats()["gate"].dropped["latest_wins"] == 9


def test_a_queued_turn_is_taken_after_the_newest_picture():
    gate = Gate()
    out = Collector()
    with Pipeline([gate, Recorder()]) as p:
        p.add_sink(out)
        p.push(text(0))
        assert gate.entered.wait(2)
        p.push(text(1))                                   # queued while the stage is busy ...
        p.push(ImageFrame(image=np.zeros((4, 4, 3), np.uint8), stamp=5.0))   # ... then a new picture arrives
        gate.release.set()
        assert p.wait_idle(5)
    order = [getattr(f, "text", "picture") for f in out.frames]
    assert order.index("picture") < order.index("q1") and order.index("q0") < order.index("q1")


def test_a_fast_camera_cannot_starve_queued_turns():
    from robot_brain.pipeline import _Inbox
    inbox = _Inbox(16)
    for i in range(3):
        inbox.put(text(i))
    taken = []
    for i in range(6):                                   # a new picture arrives before every take
        inbox.put(ImageFrame(image=np.zeros((2, 2, 3), np.uint8), stamp=float(i)))
        taken.append(getattr(inbox.get(), "text", "picture"))
    assert taken == ["picture", "q0", "picture", "q1", "picture", "q2"]


def test_bounded_queue_counts_overflow():
    gate = Gate()
    with Pipeline([gate], queue_size=3) as p:
        p.push(text(0))
        assert gate.entered.wait(2)
        for i in range(1, 8):
            p.push(text(i))
        gate.release.set()
        assert p.wait_idle(5)
    assert p.stats()["gate"].dropped["overflow"] == 4


def test_frames_not_accepted_pass_around_a_busy_stage():
    class SlowBrain(Gate):
        accepts = (Turn,)

    brain, rec = SlowBrain("brain"), Recorder()
    with Pipeline([brain, rec]) as p:
        p.push(Turn(text="think", turn=p.turns.begin()))
        assert brain.entered.wait(2)
        p.push(AudioChunk(samples=np.zeros(512, np.float32)))
        deadline = time.monotonic() + 2
        while not rec.seen and time.monotonic() < deadline:
            time.sleep(0.005)
        assert [f.kind for f in rec.seen] == ["AudioChunk"]
        brain.release.set()
        assert p.wait_idle(5)


def test_turn_counter_cancels_through_a_watermark():
    turns = TurnCounter()
    a, b = turns.begin(), turns.begin()
    turns.cancel(a)
    assert turns.is_cancelled(a) and not turns.is_cancelled(b) and not turns.is_cancelled(0)
    turns.cancel()
    assert turns.is_cancelled(b)
    assert not turns.is_cancelled(turns.begin())


def test_timeline_marks_keep_the_first_time_and_give_segments():
    with Pipeline([]) as p:
        p.timelines.mark(1, "speech_end", 10.0)
        p.timelines.mark(1, "asr_done", 10.3)
        p.timelines.mark(1, "asr_done", 11.0)
        p.timelines.mark(1, "first_token", 10.5)
    tl = p.timelines.get(1)
    assert tl.span("speech_end", "first_token") == pytest.approx(0.5)
    assert [n for n, _ in tl.segments()] == ["asr_done", "first_token"]
    assert tl.segments()[0][1] == pytest.approx(0.3)


def test_run_stage_harness_returns_what_the_stage_emitted():
    class Upper(Stage):
        def process(self, frame):
            if isinstance(frame, TextInput):
                yield TextInput(text=frame.text.upper(), turn=frame.turn)

    assert [f.text for f in run_stage(Upper(), [text(1), text(2)])] == ["Q1", "Q2"]


def test_frames_are_immutable():
    frame = ImageFrame(image=np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(Exception):
        frame.turn = 3
    with pytest.raises(ValueError):
        frame.image[0, 0, 0] = 1
    with pytest.raises(ValueError):
        AudioChunk(samples=np.zeros(4, np.int16))


def test_fake_source_yields_camera_audio_blocks_and_text():
    from robot_brain.testing import frames_from
    frames = frames_from(texts=["hi"], images=[np.zeros((2, 2, 3), np.uint8)],
                         audio=np.ones(1200, np.float32), block=512)
    assert [f.kind for f in frames] == ["ImageFrame", "AudioChunk", "AudioChunk", "AudioChunk", "TextInput"]
    assert [len(f.samples) for f in frames[1:4]] == [512, 512, 176]
    assert frames[2].stamp == pytest.approx(512 / 16000)
