"""The standard line-up of stages, in pipeline order, and which of them this version provides."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import Config
from .pipeline import Stage
from .turns import TurnTaker


@dataclass(frozen=True)
class StageSlot:
    name: str
    what: str
    build: Callable[[Config], Stage] | None = None   # None: not available in this version

    @property
    def available(self) -> bool:
        return self.build is not None


LINEUP: tuple[StageSlot, ...] = (
    StageSlot("hearing", "voice activity detection, Whisper speech recognition and the stop word"),
    StageSlot("turns", "turn taking (typed text and final transcripts become turns)", lambda c: TurnTaker("turns")),
    StageSlot("brain", "the vision-language model that answers and proposes actions"),
    StageSlot("intent_gate", "action intents and the safety gate"),
    StageSlot("speech_out", "text-to-speech and playback"),
)


def build_lineup(config: Config) -> tuple[list[Stage], list[StageSlot]]:
    """The stages this version can build, and the slots it cannot (reported to the user)."""
    stages = [slot.build(config) for slot in LINEUP if slot.available]
    missing = [slot for slot in LINEUP if not slot.available]
    return stages, missing
