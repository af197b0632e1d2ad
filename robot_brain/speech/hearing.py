"""The hearing stage: voice activity → utterances (SpeechStarted / SpeechEnded), barge-in, self-speech filter."""
from __future__ import annotations

import time
from collections import deque
from typing import Iterable

import numpy as np

from ..frames import AudioChunk, Frame, Interrupt, SpeechEnded, SpeechPaused, SpeechStarted
from ..pipeline import Stage
from .audio import SAMPLE_RATE, AudioConformer
from .endpointer import Block, Endpointer, EndpointSettings, Utterance
from .speaking import SpeakingState
from .vad import BLOCK, SileroVad


class EchoGate:
    """Tells the user's voice from the robot's own echo while the robot talks (a Geigel-style double-talk test).

    It learns how loud the robot's voice comes back into the microphone relative to what is played
    (the echo gain) and counts a block as the user's only when it is `margin` times louder than
    that. Until it has heard `learn_blocks` blocks of the robot talking it counts nothing, so the
    robot cannot interrupt itself.
    """

    def __init__(self, margin: float = 2.0, learn_blocks: int = 15, keep: int = 300) -> None:
        self.margin = margin
        self.learn_blocks = learn_blocks
        self._ratios: deque[float] = deque(maxlen=keep)

    @property
    def echo_gain(self) -> float | None:
        if len(self._ratios) < self.learn_blocks:
            return None
        return float(np.percentile(self._ratios, 90))

    def is_user(self, block_rms: float, reference_rms: float, voiced: bool) -> bool:
        ratio = block_rms / max(reference_rms, 1e-4)
        gain = self.echo_gain
        user = voiced and gain is not None and ratio > self.margin * max(gain, 1e-3)
        if not user:
            self._ratios.append(ratio)
        return user


class Hearing(Stage):
    """Runs Silero VAD on every 32 ms block and cuts the stream into the user's utterances.

    While the robot is speaking (per `speaking`), what the microphone hears is presumed to be the
    robot's own voice and never becomes an utterance, unless it is user speech long enough to barge
    in (`barge_in_s` of blocks that the EchoGate judges louder than the robot's echo): then the
    robot is interrupted and the utterance becomes a turn.
    """

    accepts = (AudioChunk,)

    def __init__(self, settings: EndpointSettings = EndpointSettings(), *, speaking: SpeakingState | None = None,
                 barge_in: bool = True, barge_in_s: float = 0.5, vad_model: str = "",
                 name: str = "hearing") -> None:
        super().__init__(name)
        self.settings = settings
        self.speaking = speaking or SpeakingState()
        self.barge_in = barge_in
        self.barge_in_s = barge_in_s
        self.vad_model = vad_model
        self.vad: SileroVad | None = None
        self.counts = {"utterances": 0, "discarded_short": 0, "ignored_self_speech": 0, "barge_ins": 0, "cut_long": 0}

    def open(self) -> None:
        self.vad = SileroVad(self.vad_model or None)
        self._endpointer = Endpointer(self.settings)
        self._conform = AudioConformer(name=f"{self.name} input")
        self._pending = np.zeros(0, np.float32)
        self._pending_stamp = 0.0
        self.echo = EchoGate()

    def process(self, frame: Frame) -> Iterable[Frame]:
        if not isinstance(frame, AudioChunk):
            return
        yield frame
        samples = frame.samples
        if frame.sample_rate != SAMPLE_RATE:
            samples = self._conform(samples, frame.sample_rate)
        elif not np.isfinite(samples).all():
            samples = self._conform(samples, SAMPLE_RATE)
        if not len(self._pending):
            self._pending_stamp = frame.stamp
        self._pending = np.concatenate([self._pending, samples])
        n_blocks = len(self._pending) // BLOCK
        captured_end = frame.t                      # the chunk's last sample
        left_after = len(self._pending) - n_blocks * BLOCK
        for i in range(n_blocks):
            block = self._pending[i * BLOCK:(i + 1) * BLOCK]
            t = captured_end - (len(self._pending) - (i + 1) * BLOCK) / SAMPLE_RATE
            stamp = self._pending_stamp + i * BLOCK / SAMPLE_RATE
            yield from self._on_block(Block(block, self.vad(block), stamp, t))
        self._pending_stamp += n_blocks * BLOCK / SAMPLE_RATE
        self._pending = self._pending[len(self._pending) - left_after:].copy()

    def _on_block(self, block: Block) -> Iterable[Frame]:
        was_in_speech = self._endpointer.current is not None
        events = self._endpointer.feed(block)
        current = self._endpointer.current
        if current is not None and not was_in_speech and self.speaking.at(block.t):
            current.while_robot_spoke = True
        if current is not None and current.while_robot_spoke and not current.barged_in:
            rms = float(np.sqrt(np.mean(np.square(block.samples))))
            if self.echo.is_user(rms, self.speaking.reference_level(block.t), block.prob >= self.settings.release):
                current.user_voiced_s += len(block.samples) / SAMPLE_RATE
            yield from self._maybe_barge_in(current)
        for event in events:
            u = event.utterance
            heard_while_speaking = u.while_robot_spoke and not u.barged_in
            if event.kind == "started":
                if not heard_while_speaking:
                    yield SpeechStarted(stamp=u.start_stamp)
                    self.ctx.log.debug("speech started at %.2f s", u.start_stamp)
            elif event.kind == "paused":
                if not heard_while_speaking:
                    yield SpeechPaused(audio=event.audio, sample_rate=SAMPLE_RATE, stamp=u.end_stamp)
            elif event.kind == "discarded":
                self.counts["discarded_short"] += 1
            elif event.kind == "ended":
                if heard_while_speaking:
                    self.counts["ignored_self_speech"] += 1
                    self.ctx.log.info("ignored %.1f s of audio heard while the robot was speaking", u.voiced_s)
                else:
                    yield self._ended(u, event.audio)

    def _maybe_barge_in(self, u: Utterance) -> Iterable[Frame]:
        if not self.barge_in or u.user_voiced_s < self.barge_in_s:
            return
        u.barged_in = True
        self.counts["barge_ins"] += 1
        self.ctx.log.info("barge-in: %.2f s of user speech while the robot was talking", u.user_voiced_s)
        yield Interrupt(reason="barge-in")
        yield SpeechStarted(stamp=u.start_stamp)

    def _ended(self, u: Utterance, audio: np.ndarray) -> Frame:
        self.counts["utterances"] += 1
        self.counts["cut_long"] += u.cut
        turn = self.ctx.turns.begin()
        self.ctx.mark(turn, "speech_end", u.end_t)
        self.ctx.mark(turn, "endpoint", time.monotonic())
        self.ctx.log.info("utterance %.2f-%.2f s (%.1f s of speech)%s", u.start_stamp, u.end_stamp, u.voiced_s,
                          ", cut at the length limit" if u.cut else "")
        return SpeechEnded(turn=turn, audio=audio, sample_rate=SAMPLE_RATE, stamp=u.end_stamp)
