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


TINY_RANDOM = "tiny-random"


def _brain(config: Config) -> Stage:
    from .brain.vlm import VLMBrain
    model = config.brain.model
    if model == TINY_RANDOM:
        from .testing import tiny_idefics3_vlm
        model = str(tiny_idefics3_vlm())
    return VLMBrain(model, device=config.brain.device, max_new_tokens=config.brain.max_new_tokens)


LINEUP: tuple[StageSlot, ...] = (
    StageSlot("hearing", "voice activity detection, Whisper speech recognition and the stop word"),
    StageSlot("turns", "turn taking (typed text and final transcripts become turns)", lambda c: TurnTaker("turns")),
    StageSlot("brain", "the vision-language model that answers", _brain),
    StageSlot("intent_gate", "action intents and the safety gate"),
    StageSlot("speech_out", "text-to-speech and playback"),
)


def build_lineup(config: Config) -> tuple[list[Stage], list[StageSlot], list[str]]:
    """The stages this version can build, the slots it cannot, and notes the user must see."""
    stages, missing, notes = [], [], []
    for slot in LINEUP:
        if not slot.available:
            missing.append(slot)
            continue
        try:
            stages.append(slot.build(config))
        except ImportError as exc:
            missing.append(StageSlot(slot.name, f"{slot.what}; cannot be built here: {exc}"))
    if config.brain.model == TINY_RANDOM and any(s.name == "brain" for s in stages):
        notes.append("the brain is a tiny random SmolVLM-shaped model: its answers are noise. "
                     "Set brain.model to a model folder for real answers.")
    return stages, missing, notes
