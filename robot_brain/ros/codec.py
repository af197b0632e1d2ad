"""Frames as JSON, for the link between the nodes of a split deployment (std_msgs/String).

Only frames without arrays cross the link: turns, answers to the gate's questions, proposals,
intents, reply sentences, gate decisions, speaking state and control frames. `t` is not sent (a
monotonic time means nothing on another computer); the receiver stamps its own.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..frames import (ActionIntent, Confirmation, Frame, GateDecision, IntentProposal, Interrupt, ReplyDone,
                      ReplySentence, Speaking, Stop, Turn)

LINK_FRAMES: dict[str, type[Frame]] = {cls.__name__: cls for cls in (
    Turn, Confirmation, IntentProposal, ActionIntent, ReplySentence, ReplyDone, GateDecision, Speaking,
    Stop, Interrupt)}


class CodecError(ValueError):
    """A link message that is not a frame this version knows."""


def crosses_link(frame: Frame) -> bool:
    return type(frame).__name__ in LINK_FRAMES and type(frame) is LINK_FRAMES[type(frame).__name__]


def encode(frame: Frame, sender: str, turn: int | None = None) -> str:
    """JSON text for `frame` from node `sender`; `turn` replaces its turn id (a control frame's resolved
    watermark)."""
    if not crosses_link(frame):
        raise CodecError(f"{frame.kind} frames do not cross the link")
    fields = {f.name: getattr(frame, f.name) for f in dataclasses.fields(frame) if f.name != "t"}
    if turn is not None:
        fields["turn"] = turn
    return json.dumps({"from": sender, "kind": frame.kind, **fields}, ensure_ascii=False)


def decode(text: str) -> tuple[Frame, str]:
    """(frame, sender)."""
    try:
        data: dict[str, Any] = json.loads(text)
        sender = str(data.pop("from"))
        cls = LINK_FRAMES[data.pop("kind")]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"not a link frame ({type(exc).__name__}: {exc})") from None
    names = {f.name for f in dataclasses.fields(cls)} - {"t"}
    unknown = set(data) - names
    if unknown:
        raise CodecError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    if cls is IntentProposal and isinstance(data.get("image_size"), list):
        data["image_size"] = tuple(data["image_size"])
    try:
        return cls(**data), sender
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{cls.__name__}: {exc}") from None
