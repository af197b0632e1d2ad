"""The speaking stage: each reply sentence rendered by a voice, played in small blocks, cut at once on Interrupt/Stop."""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from ..frames import ControlFrame, Frame, Interrupt, ReplyDone, ReplySentence, Speaking, SpeechAudio, Stop
from ..pipeline import Stage
from .player import AudioSink
from .speaking import SpeakingState
from .tts import Voice


class SpeechOut(Stage):
    """ReplySentence → SpeechAudio (the rendered sentence) and playback through `sink`, `block_s` at a time.

    Between blocks it checks whether the turn was cancelled, so an Interrupt or Stop silences the
    robot within one block. It keeps `speaking` up to date for the hearing stage and emits
    Speaking frames when the robot's voice starts and stops.
    """

    accepts = (ReplySentence, ReplyDone)

    def __init__(self, voice: Voice, sink: AudioSink, *, speaking: SpeakingState | None = None,
                 block_s: float = 0.02, name: str = "speech_out") -> None:
        super().__init__(name)
        self.voice = voice
        self.sink = sink
        self.speaking = speaking or SpeakingState()
        self.block_s = block_s
        self.cut_latencies: list[float] = []     # control frame created → playback silenced (s)
        self._cut_at: float | None = None
        self._ended_turn = 0                      # the newest turn whose reply has ended (ReplyDone)

    def open(self) -> None:
        self.voice.open()

    def close(self) -> None:
        try:
            self.sink.close()
        finally:
            self.voice.close()

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, (Interrupt, Stop)):
            yield from self._silence(frame)
        elif isinstance(frame, ReplySentence):
            yield from self._say(frame)
        elif isinstance(frame, ReplyDone):
            self._ended_turn = max(self._ended_turn, frame.turn)
            yield frame
            yield from self._stopped_speaking()

    def _say(self, sentence: ReplySentence) -> Iterable[Frame]:
        yield sentence
        if self.ctx.is_cancelled(sentence.turn):
            return
        samples, rate = self.voice.render(sentence.text)
        self.ctx.mark(sentence.turn, "first_audio")
        yield SpeechAudio(turn=sentence.turn, samples=samples, sample_rate=rate, sentence=sentence.index)
        block = max(1, int(rate * self.block_s))
        for start in range(0, len(samples), block):
            if self.ctx.is_cancelled(sentence.turn):
                self.sink.abort()
                self._cut_at = time.monotonic()
                return              # the Interrupt/Stop behind the cancel reaches _silence next
            if self.speaking.start():
                yield Speaking(turn=sentence.turn, active=True)
            chunk = samples[start:start + block]
            self.sink.write(chunk, rate)
            self.speaking.played(float(np.sqrt(np.mean(np.square(chunk)))), time.monotonic() + self.sink.latency_s,
                                 len(chunk) / rate)
            self.ctx.mark(sentence.turn, "first_audio_out")
        if sentence.turn <= self._ended_turn:    # said after its reply ended (the safety gate's yes/no question):
            yield from self._stopped_speaking()  # nothing more follows, so the robot is listening again

    def _silence(self, control: ControlFrame) -> Iterable[Frame]:
        was_speaking = self.speaking.active
        self.sink.abort()
        cut_at = time.monotonic() if was_speaking else self._cut_at
        self._cut_at = None
        if cut_at is not None and cut_at >= control.t:
            self.cut_latencies.append(cut_at - control.t)
            self.ctx.log.info("speech cut (%s) %.1f ms after the %s", control.reason or "", 1000 * self.cut_latencies[-1],
                              type(control).__name__)
        yield from self._stopped_speaking()

    def _stopped_speaking(self) -> Iterable[Frame]:
        if self.speaking.stop(time.monotonic() + self.sink.latency_s):
            yield Speaking(active=False)
