"""What the live view and the status line show, folded from the pipeline's output frames.

`DemoState` is a pipeline sink; `snapshot()` gives an immutable `View` that drawing code reads without locks.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..frames import (Frame, GateDecision, ReplyDone, ReplySentence, Speaking, SpeechEnded, SpeechStarted, StageError,
                      Stop, Transcript, Turn)
from ..latency import segments_of
from ..pipeline import Timelines

ACCEPTED = ("accepted", "clamped", "confirmed")
STOPPED_FOR_S = 3.0


@dataclass(frozen=True)
class IntentMark:
    verb: str
    label: str
    decision: str
    reason: str
    point: tuple[float, float] | None     # fractions of the picture's width and height
    t: float


@dataclass(frozen=True)
class View:
    state: str                             # listening, hearing, thinking, speaking, stopped
    heard: str
    heard_final: bool
    said: str
    intents: tuple[IntentMark, ...]
    look_at: tuple[float, float] | None    # where the robot would look or point (last accepted target)
    segments: tuple[tuple[str, float], ...]   # the latest turn's latency per stage, filled in as it goes
    total_s: float | None                  # ... from the end of the user's speech (or the typed turn) to first audio
    last_error: str
    camera: str = "live"
    camera_fps: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    push_to_talk: str = ""                 # "", "off" (press space to talk), "talking"


class DemoState:
    """Folds output frames into what the view shows. Thread-safe: the pipeline writes, the UI reads."""

    def __init__(self, timelines: Timelines | None = None, notes: tuple[str, ...] = ()) -> None:
        self.timelines = timelines
        self.notes = notes
        self._lock = threading.Lock()
        self._heard, self._heard_final = "", True
        self._said_turn, self._said = 0, []
        self._intents: deque[IntentMark] = deque(maxlen=4)
        self._look_at: tuple[float, float] | None = None
        self._hearing = self._thinking = self._speaking = False
        self._stopped_at = float("-inf")
        self._last_turn = 0
        self._error = ""

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            self._fold(frame)

    def _fold(self, frame: Frame) -> None:
        if isinstance(frame, SpeechStarted):
            self._hearing = True
            self._heard, self._heard_final = "", False
        elif isinstance(frame, SpeechEnded):
            self._hearing = False
        elif isinstance(frame, Transcript):
            self._heard, self._heard_final = frame.text, frame.final
        elif isinstance(frame, Turn):
            self._heard, self._heard_final = frame.text, True
            self._thinking, self._stopped_at = True, float("-inf")
            if frame.turn != self._said_turn:       # its first sentence may arrive first (another route)
                self._said_turn, self._said = frame.turn, []
            self._last_turn = max(self._last_turn, frame.turn)
        elif isinstance(frame, ReplySentence):
            if frame.turn != self._said_turn:
                self._said_turn, self._said = frame.turn, []
            self._said.append(frame.text)
        elif isinstance(frame, ReplyDone):
            self._thinking = False
        elif isinstance(frame, Speaking):
            self._speaking = frame.active
            if frame.active:
                self._thinking = False
        elif isinstance(frame, GateDecision):
            self._decision(frame)
        elif isinstance(frame, Stop):
            self._stopped_at = time.monotonic()
            self._thinking = self._speaking = False
        elif isinstance(frame, StageError):
            self._error = f"{frame.stage}: {frame.error}"

    def _decision(self, frame: GateDecision) -> None:
        target = frame.intent.get("target") if isinstance(frame.intent, dict) else None
        point = None
        if isinstance(target, dict) and isinstance(target.get("point_norm"), list) and len(target["point_norm"]) == 2:
            point = (float(target["point_norm"][0]), float(target["point_norm"][1]))
        label = target.get("label", "") if isinstance(target, dict) else ""
        self._intents.append(IntentMark(frame.verb, str(label), frame.decision, frame.reason, point, time.monotonic()))
        if frame.decision in ACCEPTED and point is not None:
            self._look_at = point

    def snapshot(self, *, camera: str = "live", camera_fps: float = 0.0, push_to_talk: str = "") -> View:
        with self._lock:
            segments, total = (), None
            timeline = self.timelines.get(self._last_turn) if self.timelines and self._last_turn else None
            if timeline is not None:
                segments, total = segments_of(dict(timeline.marks))
            stopped = time.monotonic() - self._stopped_at < STOPPED_FOR_S
            state = ("stopped" if stopped else "speaking" if self._speaking else "thinking" if self._thinking
                     else "hearing" if self._hearing else "listening")
            return View(state=state, heard=self._heard, heard_final=self._heard_final, said=" ".join(self._said),
                        intents=tuple(self._intents), look_at=self._look_at, segments=segments, total_s=total,
                        last_error=self._error, camera=camera, camera_fps=camera_fps, notes=self.notes,
                        push_to_talk=push_to_talk)
