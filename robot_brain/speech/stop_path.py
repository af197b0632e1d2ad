"""The stop fast path: a small keyword network on every audio block, beside (never behind) Whisper and the VLM."""
from __future__ import annotations

from collections import deque
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

from ..frames import ActionIntent, AudioChunk, Frame, Stop
from ..pipeline import Stage
from .audio import SAMPLE_RATE, AudioConformer
from .keyword_net import NEGATIVE, KeywordNet

STOP_PRIORITY = 100


def bundled_spotter_path() -> Path:
    return Path(str(resources.files("robot_brain.speech").joinpath("assets/stop_spotter.npz")))


def stop_intent(source: str, confidence: float = 1.0, reason: str = "") -> ActionIntent:
    """The intent every stop produces: highest priority, no parameters."""
    return ActionIntent(verb="stop", params={"reason": reason} if reason else {}, confidence=round(confidence, 3),
                        priority=STOP_PRIORITY, source=source)


class StopSpotter(Stage):
    """Every `hop_s` of audio, scores the last second for the stop words; a hit emits Stop + a stop intent.

    It sits first in the line-up and holds no model lock shared with anything else, so it keeps
    working while Whisper transcribes, the VLM generates and the robot talks.
    """

    accepts = (AudioChunk,)

    def __init__(self, words: Iterable[str] = ("stop", "halt", "停", "멈춰"), *, model: str = "",
                 threshold: float = 0.9, hop_s: float = 0.04, refractory_s: float = 1.0, name: str = "stop_path") -> None:
        super().__init__(name)
        self.words = tuple(words)
        self.model_path = Path(model) if model else bundled_spotter_path()
        self.threshold = threshold
        self.hop = max(1, int(hop_s * SAMPLE_RATE))
        self.refractory = int(refractory_s * SAMPLE_RATE)
        self.fired: deque[tuple[float, str, float]] = deque(maxlen=1000)   # (stamp, word, probability)
        self.net = KeywordNet.load(self.model_path)    # small: loaded here so a bad setting fails before the run
        unknown = [w for w in self.words if w not in self.net.labels or w == NEGATIVE]
        if unknown:
            raise ValueError(f"stop words {unknown} are not in the spotter model {self.model_path} "
                             f"(it knows {[l for l in self.net.labels if l != NEGATIVE]}); "
                             "retrain it with scripts/train_stop_spotter.py or change stop.words")

    def open(self) -> None:
        self._window = np.zeros(self.net.window_samples, np.float32)
        self._since_hop = 0
        self._heard = 0                         # samples seen
        self._last_fire = -self.refractory
        self._conform = AudioConformer(name=f"{self.name} input")

    def process(self, frame: Frame) -> Iterable[Frame]:
        if not isinstance(frame, AudioChunk):
            return
        samples = frame.samples
        if frame.sample_rate != SAMPLE_RATE or not np.isfinite(samples).all():
            samples = self._conform(samples, frame.sample_rate)
            frame = AudioChunk(samples=samples, sample_rate=SAMPLE_RATE, stamp=frame.stamp, t=frame.t)   # conformed once
        pos = 0
        while pos < len(samples):
            take = min(len(samples) - pos, self.hop - self._since_hop)
            self._push(samples[pos:pos + take])
            pos += take
            self._since_hop += take
            if self._since_hop >= self.hop:
                self._since_hop = 0
                hit = self._score()
                if hit:
                    word, p = hit
                    stamp = frame.stamp + pos / SAMPLE_RATE
                    self.fired.append((stamp, word, p))
                    self.ctx.log.info("stop word %r (p=%.2f) at %.2f s", word, p, stamp)
                    yield Stop(source="voice", reason=f"heard {word!r}")
                    yield stop_intent("voice", p, f"heard {word!r}")
        yield frame

    def _push(self, samples: np.ndarray) -> None:
        n = len(samples)
        self._window = np.concatenate([self._window[n:], samples]) if n < len(self._window) else samples[-len(self._window):].copy()
        self._heard += n

    def _score(self) -> tuple[str, float] | None:
        if self._heard - self._last_fire < self.refractory:
            return None
        probs = self.net.probabilities(self._window)
        word = max(self.words, key=lambda w: probs[w])
        if probs[word] < self.threshold:
            return None
        self._last_fire = self._heard
        return word, probs[word]
