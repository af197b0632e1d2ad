"""Turn taking: an authorised user utterance (final transcript or typed text) becomes a Turn."""
from __future__ import annotations

import time
from typing import Iterable

from .frames import Confirmation, Frame, Stop, TextInput, Transcript, Turn
from .intents.phrases import answer_of, is_stop
from .pipeline import Stage


class TurnTaker(Stage):
    """Typed text opens a new turn; a final transcript completes the turn its speech opened.

    Only these two sources make Turns, which is what lets the brain and the intent gate trust
    that a Turn came from a person (never from text the camera happens to see).

    A turn that is a stop ("stop", "please stop", "STOP!", "停下", "멈춰요": `phrases.is_stop`) is a Stop
    instead, whether or not the gate waits for an answer: a second road for a stop the audio spotter
    missed, and the road for typed stops.

    While the safety gate waits for a yes or no (`confirmations`), a plain yes or no is a Confirmation
    of that question for the gate instead of a new turn for the brain.
    """

    accepts = (TextInput, Transcript)
    STOP_ECHO_S = 3.0      # a transcript "stop" this soon after a Stop is that same stop, transcribed

    def __init__(self, name: str = "turns", *, stop_words: Iterable[str] = (), confirmations=None) -> None:
        super().__init__(name)
        self.confirmations = confirmations
        self.stop_words = tuple(w.casefold() for w in stop_words)
        self._last_stop = float("-inf")

    def _is_stop(self, text: str) -> bool:
        return len(text) <= 200 and is_stop(text, self.stop_words)          # a stop is short

    def _stop(self, source: str, text: str) -> Iterable[Frame]:
        from .speech.stop_path import stop_intent
        reason = f"{source} {text.strip()!r}"
        yield stop_intent(source, 1.0, reason)         # first: the Stop cancels this turn, and what follows it
        yield Stop(source=source, reason=reason)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, Stop):
            self._last_stop = time.monotonic()
        elif isinstance(frame, TextInput) and self._is_stop(frame.text):
            yield from self._stop("typed", frame.text)
        elif isinstance(frame, TextInput):
            yield self._turn(frame.text, "typed", "")
        elif isinstance(frame, Transcript):
            yield frame
            if frame.final and self._is_stop(frame.text):
                if time.monotonic() - self._last_stop > self.STOP_ECHO_S:   # not the word the spotter already caught
                    yield from self._stop("voice", frame.text)
            elif frame.final and frame.text.strip():
                yield self._turn(frame.text.strip(), "voice", frame.language, frame.turn)
        else:
            yield frame

    def _turn(self, text: str, source: str, language: str, turn: int = 0) -> Frame:
        turn = turn or self.ctx.turns.begin()
        question = self.confirmations.waiting() if self.confirmations is not None else 0
        if question:
            answer = answer_of(text)
            if answer is not None:
                return Confirmation(accepted=answer, text=text, source=source, turn=turn, question=question)
        self.ctx.mark(turn, "turn_start")
        return Turn(text=text, source=source, language=language, turn=turn)
