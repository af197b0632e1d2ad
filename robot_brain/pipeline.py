"""The pipeline runtime: stages in their own threads, joined by bounded priority inboxes.

A stage overrides one method, `process(frame)`, and yields what it emits; the default forwards
the frame. Frames a stage does not `accept` pass around it, so a busy model stage never holds up
audio, the stop path or speech output. A stage taken out of service (it failed to open, or failed
too often in a row) is passed around too, unless it is `fail_closed` (the safety gate): then its
`refuse(frame)` says what may still go on. Control frames (Interrupt, Stop, Shutdown) go to every
later stage at once, ahead of queued data. An Interrupt or Stop cancels the turns up to it: their
frames are dropped wherever they are, and a streaming `process` is closed at its next yield.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from .frames import ControlFrame, Frame, Interrupt, Shutdown, StageError, Stop
from .priority import lower_this_thread

log = logging.getLogger(__name__)

#: The moments of a turn, in the order they happen. Benchmarks and diagnostics read these.
TIMELINE_MARKS = (
    "speech_end",       # VAD: the user stopped speaking
    "endpoint",         # the turn was declared over
    "asr_done",         # final transcript
    "turn_start",       # the brain got the turn
    "first_token",      # the brain's first reply token
    "first_sentence",   # first complete sentence
    "first_audio",      # TTS produced its first audio
    "first_audio_out",  # first audio block written to the speaker / sink
    "reply_done",       # the brain finished the reply
)


class TurnCounter:
    """Hands out turn ids and remembers which are cancelled (a generation counter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latest = 0
        self.cancelled_through = 0

    def begin(self) -> int:
        with self._lock:
            self.latest += 1
            return self.latest

    def observe(self, turn: int) -> None:
        """A turn begun elsewhere (another node of a split deployment): later ids start after it."""
        with self._lock:
            self.latest = max(self.latest, turn)

    def cancel(self, through: int = 0) -> int:
        """Cancel every turn up to `through` (0: up to the newest). Returns the watermark."""
        with self._lock:
            self.cancelled_through = max(self.cancelled_through, through or self.latest)
            return self.cancelled_through

    def is_cancelled(self, turn: int) -> bool:
        return 0 < turn <= self.cancelled_through


@dataclass
class Timeline:
    """When each moment of one turn happened (monotonic seconds; the first mark of a name wins)."""
    turn: int
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, t: float | None = None) -> None:
        self.marks.setdefault(name, time.monotonic() if t is None else t)

    def segments(self) -> list[tuple[str, float]]:
        """(name, seconds since the previous mark) in timeline order, for the marks present."""
        present = sorted(self.marks.items(), key=lambda kv: kv[1])
        return [(name, t - prev) for (_, prev), (name, t) in zip(present, present[1:])]

    def span(self, start: str, end: str) -> float | None:
        if start in self.marks and end in self.marks:
            return self.marks[end] - self.marks[start]
        return None

    def as_dict(self) -> dict:
        origin = min(self.marks.values(), default=0.0)
        return {"turn": self.turn, "marks": {k: round(v - origin, 6) for k, v in sorted(self.marks.items(), key=lambda kv: kv[1])}}


class Timelines:
    """Timelines of the most recent turns (bounded)."""

    def __init__(self, keep: int = 256) -> None:
        self._lock = threading.Lock()
        self._by_turn: dict[int, Timeline] = {}
        self._keep = keep

    def mark(self, turn: int, name: str, t: float | None = None) -> None:
        if turn <= 0:
            return
        with self._lock:
            timeline = self._by_turn.get(turn)
            if timeline is None:
                timeline = self._by_turn[turn] = Timeline(turn)
                while len(self._by_turn) > self._keep:
                    del self._by_turn[next(iter(self._by_turn))]
            timeline.mark(name, t)

    def get(self, turn: int) -> Timeline | None:
        with self._lock:
            return self._by_turn.get(turn)

    def all(self) -> list[Timeline]:
        with self._lock:
            return list(self._by_turn.values())


class StageContext:
    """What a running stage may use from its pipeline."""

    def __init__(self, pipeline: "Pipeline", name: str) -> None:
        self.turns = pipeline.turns
        self.timelines = pipeline.timelines
        self.log = logging.getLogger(f"robot_brain.stage.{name}")

    def is_cancelled(self, turn: int) -> bool:
        return self.turns.is_cancelled(turn)

    def mark(self, turn: int, name: str, t: float | None = None) -> None:
        self.timelines.mark(turn, name, t)


class Stage:
    """One step of the pipeline. Override `process`; yield what you emit; forward what you don't handle.

    `accepts`: frame types this stage wants (None: all). Others pass around it without waiting.
    Control frames always reach `process`; yielding the control frame itself is a no-op (the
    pipeline has already sent it on).
    """

    accepts: tuple[type[Frame], ...] | None = None
    #: True for a safety stage: out of service, it is never passed around; `refuse` decides what goes on.
    fail_closed: bool = False
    #: How many nice steps below the audio path this stage's thread (and every thread it starts) runs: a model
    #: stage sets it so that the stop word keeps its latency when the model has every core busy (Linux).
    nice: int = 0

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.ctx: StageContext | None = None

    def open(self) -> None:
        """Acquire resources (load a model, open a device). `self.ctx` is set."""

    def close(self) -> None:
        """Release resources. Called once, in the stage's own thread, at shutdown."""

    def process(self, frame: Frame) -> Iterable[Frame]:
        yield frame

    def refuse(self, frame: Frame) -> Iterable[Frame]:
        """What a `fail_closed` stage lets out while out of service (default: nothing)."""
        return ()

    def wants(self, frame: Frame) -> bool:
        return self.accepts is None or isinstance(frame, self.accepts)


@dataclass
class StageStats:
    processed: int = 0
    emitted: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    busy_s: float = 0.0
    dropped: dict[str, int] = field(default_factory=lambda: {"overflow": 0, "latest_wins": 0, "cancelled": 0})
    healthy: bool = True
    last_error: str = ""


class _Inbox:
    """Control lane first. Then the newest sensor state (latest-wins frames, one slot per type) before the next
    data frame, so a turn that waited behind a busy stage is answered with the newest picture, not the one that
    was current when the turn was queued; data and state alternate, so a fast camera cannot starve the turns.
    Data frames keep their arrival order."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._cond = threading.Condition()
        self._control: deque[Frame] = deque()
        self._data: deque[tuple[int, Frame]] = deque()
        self._latest: dict[type, tuple[int, Frame]] = {}
        self._state_last = False          # the last frame taken was a latest-wins one
        self._seq = itertools.count()

    def put(self, frame: Frame) -> str | None:
        """Queue `frame`; returns the drop reason if an older frame was pushed out."""
        dropped = None
        with self._cond:
            if isinstance(frame, ControlFrame):
                self._control.append(frame)
            elif frame.latest_wins:
                if type(frame) in self._latest:
                    dropped = "latest_wins"
                self._latest[type(frame)] = (next(self._seq), frame)
            else:
                if len(self._data) >= self.maxsize:
                    self._data.popleft()
                    dropped = "overflow"
                self._data.append((next(self._seq), frame))
            self._cond.notify()
        return dropped

    def get(self) -> Frame:
        with self._cond:
            while not (self._control or self._data or self._latest):
                self._cond.wait()
            if self._control:
                return self._control.popleft()
            if self._latest and not (self._data and self._state_last):
                key, (_, frame) = min(self._latest.items(), key=lambda kv: kv[1][0])
                del self._latest[key]
                self._state_last = True
                return frame
            self._state_last = False
            return self._data.popleft()[1]


class _Runner:
    def __init__(self, pipeline: "Pipeline", index: int, stage: Stage, queue_size: int) -> None:
        self.pipeline, self.index, self.stage = pipeline, index, stage
        self.inbox = _Inbox(queue_size)
        self.stats = StageStats()
        self.thread = threading.Thread(target=self._run, name=f"stage:{stage.name}", daemon=True)
        self.opened = threading.Event()

    def _run(self) -> None:
        stage, pipeline = self.stage, self.pipeline
        if stage.nice > 0:
            lower_this_thread(stage.nice)
        try:
            stage.open()
        except Exception as exc:  # a stage that cannot start is out of service, the rest runs
            log.error("stage %s failed to open: %s", stage.name, exc, exc_info=True)
            self._take_out_of_service(f"open failed: {type(exc).__name__}: {exc}", turn=0)
        finally:
            self.opened.set()
        while True:
            frame = self.inbox.get()
            try:
                if isinstance(frame, Shutdown):
                    break
                if not self.stats.healthy:
                    if not isinstance(frame, ControlFrame):
                        self._out_of_service(frame)
                elif isinstance(frame, ControlFrame):
                    self._handle(frame)
                elif pipeline.turns.is_cancelled(frame.turn):
                    self.stats.dropped["cancelled"] += 1
                else:
                    self._handle(frame)
            finally:
                pipeline._done()
        try:
            stage.close()
        except Exception:
            log.exception("stage %s failed to close", stage.name)

    def _out_of_service(self, frame: Frame) -> None:
        if not self.stage.fail_closed:
            self.pipeline._route(frame, self.index)
            return
        try:
            for out in self.stage.refuse(frame):
                self.pipeline._route(out, self.index)
        except Exception:                 # a safety stage that cannot even refuse lets nothing through
            log.exception("stage %s failed to refuse a %s frame; it was dropped", self.stage.name, frame.kind)

    def _handle(self, frame: Frame) -> None:
        stats, pipeline = self.stats, self.pipeline
        is_control = isinstance(frame, ControlFrame)
        started = time.perf_counter()
        outputs: Iterator[Frame] | None = None
        try:
            produced = self.stage.process(frame)
            if produced is None:
                return
            outputs = iter(produced)
            for out in outputs:
                if out is frame and is_control:
                    continue
                if not is_control and pipeline.turns.is_cancelled(frame.turn):
                    stats.dropped["cancelled"] += 1
                    break
                stats.emitted += 1
                pipeline._route(out, self.index)
            stats.consecutive_errors = 0
        except Exception as exc:
            stats.errors += 1
            stats.consecutive_errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            log.error("stage %s failed on %s (turn %d): %s", self.stage.name, frame.kind, frame.turn,
                      stats.last_error, exc_info=log.isEnabledFor(logging.DEBUG))
            pipeline._route(StageError(stage=self.stage.name, error=stats.last_error, turn=frame.turn), self.index)
            if self.stage.fail_closed and not is_control:      # what it could not decide is refused, never passed
                self._out_of_service(frame)
            if stats.consecutive_errors >= pipeline.max_consecutive_errors:
                self._take_out_of_service(
                    f"{stats.consecutive_errors} failures in a row, last: {stats.last_error}", frame.turn)
        finally:
            if outputs is not None and hasattr(outputs, "close"):
                outputs.close()
            stats.processed += 1
            stats.busy_s += time.perf_counter() - started

    def _take_out_of_service(self, why: str, turn: int) -> None:
        self.stats.healthy = False
        self.stats.last_error = why
        log.error("stage %s is unhealthy and taken out of service (%s); %s", self.stage.name, why,
                  "it fails closed: no action passes it" if self.stage.fail_closed else "frames now pass around it")
        self.pipeline._route(StageError(stage=self.stage.name, error=why, fatal=True, turn=turn), self.index)


Sink = Callable[[Frame], None]


class Pipeline:
    """Runs `stages` in order, each in its own thread. Frames leaving the last stage go to the sinks."""

    def __init__(self, stages: Sequence[Stage], *, queue_size: int = 64, max_consecutive_errors: int = 5,
                 shutdown_timeout_s: float = 5.0) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        if queue_size < 1 or max_consecutive_errors < 1:
            raise ValueError("queue_size and max_consecutive_errors must be at least 1")
        self.turns = TurnCounter()
        self.timelines = Timelines()
        self.max_consecutive_errors = max_consecutive_errors
        self.shutdown_timeout_s = shutdown_timeout_s
        self._runners = [_Runner(self, i, s, queue_size) for i, s in enumerate(stages)]
        self._sinks: list[Sink] = []
        self._sink_lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition()
        self.output_dropped = 0
        self._state = "new"

    # ---- life cycle ----

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def start(self, on_open: Callable[[str], None] | None = None) -> "Pipeline":
        """Open every stage (in parallel, each in its thread) and return once all are open.

        `on_open(name)` is called, in this thread, as each stage finishes opening (for a progress display).
        """
        if self._state != "new":
            raise RuntimeError(f"pipeline already {self._state}")
        self._state = "running"
        for runner in self._runners:
            runner.stage.ctx = StageContext(self, runner.stage.name)
            runner.thread.start()
        opening = list(self._runners)
        while opening:
            opening[0].opened.wait(0.1)
            for runner in [r for r in opening if r.opened.is_set()]:
                opening.remove(runner)
                if on_open is not None:
                    on_open(runner.stage.name)
        return self

    def close(self) -> list[str]:
        """Stop every stage and join its thread. Returns the names of stages that did not stop in time."""
        if self._state != "running":
            self._state = "closed"
            return []
        self._state = "closing"
        for runner in self._runners:
            self._enqueue(runner, Shutdown())
        deadline = time.monotonic() + self.shutdown_timeout_s
        stuck = []
        for runner in self._runners:
            runner.thread.join(max(0.0, deadline - time.monotonic()))
            if runner.thread.is_alive():
                stuck.append(runner.stage.name)
        if stuck:
            log.error("stages did not stop within %.1f s (left running as daemon threads): %s",
                      self.shutdown_timeout_s, ", ".join(stuck))
        self._state = "closed"
        return stuck

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- input ----

    def push(self, frame: Frame) -> None:
        """Feed a frame into the first stage that wants it (control frames: into every stage)."""
        if self._state != "running":
            raise RuntimeError(f"pipeline is {self._state}; start() it first")
        self._route(frame, -1)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no frame is queued or being processed. False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    # ---- introspection ----

    @property
    def stages(self) -> list[Stage]:
        return [r.stage for r in self._runners]

    def stats(self) -> dict[str, StageStats]:
        return {r.stage.name: r.stats for r in self._runners}

    def health(self) -> dict[str, bool]:
        return {r.stage.name: r.stats.healthy for r in self._runners}

    # ---- routing ----

    def _route(self, frame: Frame, after: int) -> None:
        if isinstance(frame, ControlFrame):
            self._broadcast(frame, after)
            return
        if not isinstance(frame, StageError) and self.turns.is_cancelled(frame.turn):
            self._count_cancelled(after)
            return
        for runner in self._runners[after + 1:]:
            if (runner.stats.healthy or runner.stage.fail_closed) and runner.stage.wants(frame):
                self._enqueue(runner, frame)
                return
        self._deliver(frame)

    def _broadcast(self, frame: ControlFrame, after: int) -> None:
        if isinstance(frame, (Interrupt, Stop)):
            self.turns.cancel(frame.turn)
        for runner in self._runners[after + 1:]:
            self._enqueue(runner, frame)
        self._deliver(frame)

    def _enqueue(self, runner: _Runner, frame: Frame) -> None:
        with self._idle:
            self._pending += 1
        dropped = runner.inbox.put(frame)
        if dropped:
            runner.stats.dropped[dropped] += 1
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _deliver(self, frame: Frame) -> None:
        with self._sink_lock:
            if not isinstance(frame, (ControlFrame, StageError)) and self.turns.is_cancelled(frame.turn):
                self.output_dropped += 1
                return
            for sink in self._sinks:
                try:
                    sink(frame)
                except Exception:
                    log.exception("output sink %r failed on %s", sink, frame.kind)

    def _count_cancelled(self, after: int) -> None:
        if after >= 0:
            self._runners[after].stats.dropped["cancelled"] += 1
        else:
            self.output_dropped += 1
