"""Turn taking: an authorised user utterance (final transcript or typed text) becomes a Turn."""
from __future__ import annotations

from typing import Iterable

from .frames import Frame, TextInput, Transcript, Turn
from .pipeline import Stage


class TurnTaker(Stage):
    """Typed text opens a new turn; a final transcript completes the turn its speech opened.

    Only these two sources make Turns, which is what lets the brain and the intent gate trust
    that a Turn came from a person (never from text the camera happens to see).
    """

    accepts = (TextInput, Transcript)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, TextInput):
            turn = self.ctx.turns.begin()
            self.ctx.mark(turn, "turn_start")
            yield Turn(text=frame.text, source="typed", turn=turn)
        elif isinstance(frame, Transcript):
            yield frame
            if frame.final and frame.text.strip():
                turn = frame.turn or self.ctx.turns.begin()
                self.ctx.mark(turn, "turn_start")
                yield Turn(text=frame.text.strip(), source="voice", language=frame.language, turn=turn)
        else:
            yield frame
