"""Endpointing: per-block speech probabilities → utterances with pre-roll, a minimum length and an end-of-turn silence."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class EndpointSettings:
    threshold: float = 0.5          # a block is speech from this probability
    release: float = 0.35           # ...and stays speech down to this one (hysteresis)
    pre_roll_s: float = 0.4         # audio kept from before speech started
    min_speech_s: float = 0.25      # shorter bursts are noise
    end_silence_s: float = 0.5      # silence that ends the turn
    tail_s: float = 0.15            # silence kept after the last speech block
    pause_s: float = 0.15           # silence after which the speech so far is handed on early (0: never)
    max_utterance_s: float = 20.0   # a longer monologue is cut into pieces of this length


@dataclass
class Block:
    samples: np.ndarray
    prob: float
    stamp: float        # stream time of the block's first sample (s)
    t: float            # monotonic time the block's last sample was captured


@dataclass
class Utterance:
    """One stretch of speech: what ends up in SpeechStarted / SpeechEnded."""
    blocks: list[Block] = field(default_factory=list)
    start_stamp: float = 0.0        # first speech block (stream time)
    start_t: float = 0.0
    voiced_s: float = 0.0
    length_s: float = 0.0           # speech and silence since speech started
    last_voiced: int = -1           # index of the last speech block
    announced: bool = False         # SpeechStarted emitted
    cut: bool = False               # ended by max_utterance_s, not by silence
    while_robot_spoke: bool = False # began while the robot's voice was playing
    barged_in: bool = False         # ...and then interrupted it
    paused_at: int = -1             # last speech block when a "paused" event was last given
    user_voiced_s: float = 0.0      # speech louder than the robot's echo while it spoke

    @property
    def end_stamp(self) -> float:
        b = self.blocks[self.last_voiced]
        return b.stamp + len(b.samples) / 16000

    @property
    def end_t(self) -> float:
        return self.blocks[self.last_voiced].t


@dataclass
class Event:
    kind: str                       # "started" | "paused" | "ended" | "discarded"
    utterance: Utterance
    audio: np.ndarray | None = None


class Endpointer:
    """Feed (block, probability); get started/ended/discarded events. Memory is bounded by max_utterance_s."""

    def __init__(self, settings: EndpointSettings = EndpointSettings(), sample_rate: int = 16000) -> None:
        self.s = settings
        self.rate = sample_rate
        self._pre_roll: deque[Block] = deque()
        self._current: Utterance | None = None
        self._silence_s = 0.0

    @property
    def current(self) -> Utterance | None:
        """The utterance in progress, if any."""
        return self._current

    def reset(self) -> None:
        self._pre_roll.clear()
        self._current = None
        self._silence_s = 0.0

    def feed(self, block: Block) -> list[Event]:
        dur = len(block.samples) / self.rate
        u = self._current
        if u is None:
            if block.prob < self.s.threshold:
                self._remember(block)
                return []
            u = self._current = Utterance(blocks=list(self._pre_roll), start_stamp=block.stamp, start_t=block.t - dur)
            self._pre_roll.clear()
            self._silence_s = 0.0
        u.blocks.append(block)
        events: list[Event] = []
        if block.prob >= (self.s.release if u.voiced_s else self.s.threshold):
            u.voiced_s += dur
            u.last_voiced = len(u.blocks) - 1
            self._silence_s = 0.0
            if not u.announced and u.voiced_s >= self.s.min_speech_s:
                u.announced = True
                events.append(Event("started", u))
        else:
            self._silence_s += dur
        u.length_s += dur
        if self._silence_s >= self.s.end_silence_s:
            events.append(self._finish(u))
        elif self._pausing(u):
            u.paused_at = u.last_voiced
            events.append(Event("paused", u, self._audio(u)))
        elif u.length_s >= self.s.max_utterance_s:
            u.cut = True
            events.append(self._finish(u))
        return events

    def _finish(self, u: Utterance) -> Event:
        self._current = None
        self._silence_s = 0.0
        if not u.announced:
            for b in u.blocks[-self._pre_roll_blocks():]:
                self._remember(b)
            return Event("discarded", u)
        audio = self._audio(u)
        if not u.cut:   # after a cut the monologue goes on: its next piece needs no pre-roll
            for b in u.blocks[-self._pre_roll_blocks():]:
                self._remember(b)
        return Event("ended", u, audio)

    def _pausing(self, u: Utterance) -> bool:
        """Silent long enough that the turn's audio is known if nothing more is said (the kept tail included)."""
        return (u.announced and u.paused_at != u.last_voiced and 0 < self.s.pause_s < self.s.end_silence_s
                and self._silence_s >= max(self.s.pause_s, self.s.tail_s))

    def _audio(self, u: Utterance) -> np.ndarray:
        """The utterance's audio: pre-roll, speech and `tail_s` of the silence after it."""
        keep = u.last_voiced + 1 + int(round(self.s.tail_s * self.rate / max(1, len(u.blocks[-1].samples))))
        return np.concatenate([b.samples for b in u.blocks[:keep]]).astype(np.float32)

    def _pre_roll_blocks(self) -> int:
        return max(1, int(round(self.s.pre_roll_s * self.rate / 512)))

    def _remember(self, block: Block) -> None:
        self._pre_roll.append(block)
        while sum(len(b.samples) for b in self._pre_roll) > self.s.pre_roll_s * self.rate:
            self._pre_roll.popleft()
