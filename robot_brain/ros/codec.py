"""Frames as JSON, for the link between the nodes of a split deployment (std_msgs/String).

Only frames without arrays cross the link: turns, answers to the gate's questions, proposals,
intents, reply sentences, gate decisions, speaking state and control frames. `t` is not sent (a
monotonic time means nothing on another computer); the receiver stamps its own.

Every field is checked on decode (`FIELDS`): its type, and a bound on its size or range. The
proposal's model output (verb, params, target, point, confidence) stays unchecked JSON, bounded in
size and depth only: the safety gate checks it, and audits what it rejects. Signing, roles and
replays are robot_brain.ros.link's.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Callable

from ..frames import (MAX_TURN, ActionIntent, Confirmation, Frame, GateDecision, IntentProposal, Interrupt,
                      ReplyDone, ReplySentence, Speaking, Stop, Turn)
from ..vision.calibration import MAX_IMAGE_EDGE

LINK_FRAMES: dict[str, type[Frame]] = {cls.__name__: cls for cls in (
    Turn, Confirmation, IntentProposal, ActionIntent, ReplySentence, ReplyDone, GateDecision, Speaking,
    Stop, Interrupt)}

MAX_TEXT = 4000                     # characters of one sentence, turn, reason
MAX_REPLY = 20000                   # characters of a whole reply (ReplyDone)
MAX_WORD = 64                       # characters of a verb, source, language, decision
MAX_JSON_DEPTH = 6                  # nesting of params, targets, intents
MAX_JSON_ITEMS = 256                # values in one such tree
MAX_IMAGE_SIDE = MAX_IMAGE_EDGE
DECISIONS = frozenset({"accepted", "clamped", "rejected", "awaiting_confirmation", "confirmed", "declined",
                       "expired", "cancelled", "clarify"})


class CodecError(ValueError):
    """A link message that is not a frame this version knows, or a field out of its bounds."""


# ---- field checks: each returns the value to use, or raises CodecError ---------------------------

def _int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise CodecError(f"must be an integer in {low}..{high}, got {_shown(value)}")
        return value
    return check


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
            raise CodecError(f"must be a finite number in {low:g}..{high:g}, got {_shown(value)}")
        return float(value)
    return check


def _text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise CodecError(f"must be text of at most {limit} characters, got {_shown(value)}")
        return value
    return check


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise CodecError(f"must be true or false, got {_shown(value)}")
    return value


def _one_of(allowed: frozenset[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise CodecError(f"must be one of {', '.join(sorted(allowed))}, got {_shown(value)}")
        return value
    return check


def _json(*, finite: bool, top: type | tuple[type, ...] | None = None) -> Callable[[Any], Any]:
    """A JSON value bounded in depth, item count and text length (numbers finite when `finite`)."""
    def check(value: Any) -> Any:
        if top is not None and not isinstance(value, top):
            raise CodecError(f"must be {'an object' if top is dict else 'an object or null'}, got {_shown(value)}")
        count = [0]

        def walk(v: Any, depth: int) -> None:
            count[0] += 1
            if count[0] > MAX_JSON_ITEMS or depth > MAX_JSON_DEPTH:
                raise CodecError(f"is nested deeper than {MAX_JSON_DEPTH} or holds over {MAX_JSON_ITEMS} values")
            if isinstance(v, str):
                if len(v) > MAX_TEXT:
                    raise CodecError(f"holds text over {MAX_TEXT} characters")
            elif isinstance(v, float):
                if finite and not math.isfinite(v):
                    raise CodecError(f"holds a number that is not finite ({v})")
            elif isinstance(v, dict):
                for key, item in v.items():
                    walk(key, depth + 1)
                    walk(item, depth + 1)
            elif isinstance(v, list):
                for item in v:
                    walk(item, depth + 1)
            elif v is not None and type(v) not in (bool, int):
                raise CodecError(f"holds a {type(v).__name__}")
        walk(value, 0)
        return value
    return check


def _image_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    side = _int(1, MAX_IMAGE_SIDE)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise CodecError(f"must be [width, height] or null, got {_shown(value)}")
    return side(value[0]), side(value[1])


_TURN = _int(0, MAX_TURN)
_WORD, _SENTENCE = _text(MAX_WORD), _text(MAX_TEXT)
_ANY = _json(finite=False)          # the model's output: the gate checks it

#: Every field of every link frame and its check (`turn` is checked alike for all; `t` is never sent).
_CHECKS: dict[type[Frame], dict[str, Callable[[Any], Any]]] = {
    Turn: {"text": _SENTENCE, "source": _WORD, "language": _WORD},
    Confirmation: {"accepted": _bool, "text": _SENTENCE, "source": _WORD, "question": _TURN},
    IntentProposal: {"verb": _ANY, "params": _ANY, "target": _ANY, "point": _ANY, "confidence": _ANY,
                     "source": _WORD, "image_size": _image_size},
    ActionIntent: {"verb": _WORD, "params": _json(finite=True, top=dict),
                   "target": _json(finite=True, top=(dict, type(None))), "confidence": _number(0.0, 1.0),
                   "priority": _int(-1000, 1000), "source": _WORD},
    ReplySentence: {"text": _SENTENCE, "index": _int(0, 1_000_000)},
    ReplyDone: {"text": _text(MAX_REPLY)},
    GateDecision: {"verb": _text(200), "decision": _one_of(DECISIONS), "reason": _SENTENCE,
                   "intent": _json(finite=True, top=dict), "question": _TURN},
    Speaking: {"active": _bool},
    Stop: {"reason": _SENTENCE, "source": _WORD},
    Interrupt: {"reason": _SENTENCE},
}
FIELDS = {cls: {f.name: checks[f.name] for f in dataclasses.fields(cls) if f.name in checks}
          for cls, checks in _CHECKS.items()}


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---- encode / decode --------------------------------------------------------------------------

def crosses_link(frame: Frame) -> bool:
    return type(frame).__name__ in LINK_FRAMES and type(frame) is LINK_FRAMES[type(frame).__name__]


def frame_fields(frame: Frame, turn: int | None = None) -> dict[str, Any]:
    """{"kind": ..., field: value, ...} for `frame`; `turn` replaces its turn id (a control frame's resolved
    watermark)."""
    if not crosses_link(frame):
        raise CodecError(f"{frame.kind} frames do not cross the link")
    fields = {f.name: getattr(frame, f.name) for f in dataclasses.fields(frame) if f.name != "t"}
    if turn is not None:
        fields["turn"] = turn
    return {"kind": frame.kind, **fields}


def frame_from(data: dict[str, Any]) -> Frame:
    """The frame `data` (as made by frame_fields) describes; every field checked. Raises CodecError."""
    if not isinstance(data, dict):
        raise CodecError(f"not a link frame (a {type(data).__name__}, not an object)")
    data = dict(data)
    kind = data.pop("kind", None)
    cls = LINK_FRAMES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise CodecError(f"not a link frame kind: {_shown(kind)}")
    checks = FIELDS[cls]
    unknown = set(data) - set(checks) - {"turn"}
    if unknown:
        raise CodecError(f"{cls.__name__} has no field(s) {', '.join(sorted(map(str, unknown)))[:200]}")
    values = {}
    for name, value in data.items():
        try:
            values[name] = (_TURN if name == "turn" else checks[name])(value)
        except CodecError as exc:
            raise CodecError(f"{cls.__name__}.{name} {exc}") from None
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{cls.__name__}: {exc}") from None


def encode(frame: Frame, sender: str, turn: int | None = None) -> str:
    """JSON text for `frame` from node `sender` (unsigned: robot_brain.ros.link signs it)."""
    return json.dumps({"from": sender, **frame_fields(frame, turn)}, ensure_ascii=False)


def decode(text: str) -> tuple[Frame, str]:
    """(frame, sender) from encode's text. Raises CodecError."""
    try:
        data: dict[str, Any] = json.loads(text)
        sender = data.pop("from")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CodecError(f"not a link frame ({type(exc).__name__}: {exc})") from None
    if not isinstance(sender, str):
        raise CodecError("not a link frame (no sender)")
    return frame_from(data), sender
