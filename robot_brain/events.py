"""The event log: what the robot heard, said and intended, one JSON object per line.

Each line has `type`, `turn`, `t` (seconds since the run started) and the event's payload.
`robot-brain replay` and `robot-brain demo` write the same file, DIR/events.jsonl.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .bags import intent_payload
from .frames import (ActionIntent, Confirmation, Frame, GateDecision, IntentProposal, Interrupt, ReplyDone, ReplySentence, Speaking,
                     SpeechAudio, SpeechEnded, SpeechStarted, StageError, Stop, Transcript, Turn)
from .pipeline import Timelines


def event_of(frame: Frame) -> dict[str, Any] | None:
    """The event for a frame, or None for frames that are not events (images, audio, deltas)."""
    if isinstance(frame, Transcript):
        return {"type": "transcript", "text": frame.text, "final": frame.final, "language": frame.language,
                "confidence": round(frame.confidence, 4)}
    if isinstance(frame, Turn):
        return {"type": "turn", "text": frame.text, "source": frame.source, "language": frame.language}
    if isinstance(frame, ReplySentence):
        return {"type": "reply", "text": frame.text, "index": frame.index}
    if isinstance(frame, ReplyDone):
        return {"type": "reply_done", "text": frame.text}
    if isinstance(frame, ActionIntent):
        return {"type": "intent", **intent_payload(frame)}
    if isinstance(frame, IntentProposal):
        return {"type": "proposal", "verb": _jsonable(frame.verb), "target": _jsonable(frame.target),
                "params": _jsonable(frame.params), "point": _jsonable(frame.point), "source": frame.source}
    if isinstance(frame, GateDecision):
        return {"type": "gate", "verb": frame.verb, "decision": frame.decision, "reason": frame.reason,
                "intent": frame.intent}
    if isinstance(frame, Confirmation):
        return {"type": "confirmation", "accepted": frame.accepted, "text": frame.text, "source": frame.source}
    if isinstance(frame, Stop):
        return {"type": "stop", "source": frame.source, "reason": frame.reason}
    if isinstance(frame, Interrupt):
        return {"type": "interrupt", "reason": frame.reason}
    if isinstance(frame, SpeechStarted):
        return {"type": "speech_started"}
    if isinstance(frame, SpeechEnded):
        return {"type": "speech_ended", "duration": round(len(frame.audio) / frame.sample_rate, 3)}
    if isinstance(frame, Speaking):
        return {"type": "speaking", "active": frame.active}
    if isinstance(frame, StageError):
        return {"type": "error", "stage": frame.stage, "error": frame.error, "fatal": frame.fatal}
    return None


def _jsonable(value: Any, limit: int = 200) -> Any:
    """Model output as it may go into the log: JSON types kept, anything odd or huge shown cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if text is not None and len(text) <= limit:
        return value
    shown = repr(value)
    return shown[:limit - 1] + "…" if len(shown) > limit else shown


class EventLog:
    """A pipeline sink writing events.jsonl (line-buffered, so nothing is lost if the run dies)."""

    def __init__(self, path: str | Path, stamp: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", buffering=1)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._stamp = stamp
        self.events: list[dict[str, Any]] = []
        self.audio: list[SpeechAudio] = []

    def __call__(self, frame: Frame) -> None:
        if isinstance(frame, SpeechAudio):
            self.audio.append(frame)
            return
        event = event_of(frame)
        if event is not None:
            self.write(event, frame.turn, frame.t)

    def write(self, event: dict[str, Any], turn: int = 0, t: float | None = None) -> None:
        record = {"type": event["type"], "turn": turn,
                  "t": round((time.monotonic() if t is None else t) - self._start, 6)}
        if self._stamp is not None:
            record["stamp"] = round(self._stamp(), 6)
        record.update({k: v for k, v in event.items() if k != "type"})
        with self._lock:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.events.append(record)

    def write_timelines(self, timelines: Timelines) -> None:
        """One `timeline` event per turn, in turn order (written at the end of a run)."""
        for timeline in sorted(timelines.all(), key=lambda tl: tl.turn):
            self.write({"type": "timeline", **timeline.as_dict()}, timeline.turn)

    def write_reply_wav(self, path: str | Path) -> Path | None:
        """What the robot said (the SpeechAudio that reached this log) as one WAV file; None if it said nothing."""
        if not self.audio:
            return None
        import numpy as np
        import soundfile
        rate = self.audio[0].sample_rate
        soundfile.write(path, np.concatenate([c.samples for c in self.audio if c.sample_rate == rate]), rate)
        return Path(path)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_events(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open() as f:
        return [json.loads(line) for line in f if line.strip()]
