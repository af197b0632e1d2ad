"""What runs the model, behind one small interface: the brain decides what to ask and what to do with the
reply (prompt, memory, skills, structured reply, sentences, cancellation, timeouts, fallbacks); an engine
loads a model folder, keeps what it can between turns, and streams constrained text for one prompt.

Every engine prompts through the model folder's own processor (chat template and tokenizer), so a prompt
means the same whatever runs it, and honours the same JSON grammar (`JsonConstraint`) token by token.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np


class EngineError(RuntimeError):
    """An engine could not load or run a model; the message names the engine and what to try."""


@dataclass
class Generation:
    """One reply to generate."""
    prompt: str                          # the chat template's rendering, generation prompt included
    images: list[np.ndarray]             # RGB pictures, in the order of the prompt's picture slots
    system: str                          # the system message the prompt starts with (its prefill is kept)
    max_new_tokens: int
    timeout_s: float                     # generation ends by itself this long after it started
    constraint: Any = None               # a JsonConstraint, or None for free text
    min_new_tokens: int = 0              # the end of the reply is not picked before this many (benchmarks)
    stop: Callable[[], bool] = lambda: False          # checked before every new token
    first_token: Callable[[], None] = lambda: None    # called when the model has produced its first token
    info: dict = field(default_factory=dict)          # filled by the engine: prompt_tokens, cached_tokens


class Engine:
    """Base of the engines. `stream` yields text pieces; it ends at the next token once `stop()` is true, the
    timeout has passed or the caller closes the stream, and raises EngineError when the model fails."""

    name = "?"

    def __init__(self, *, device: str = "cpu", quantisation: str = "auto", prefix_cache: bool = True,
                 picture_ahead: bool = True, log: logging.Logger | None = None) -> None:
        self.device = device
        self.quantisation = quantisation
        self.use_prefix_cache = prefix_cache
        self.use_picture_ahead = picture_ahead
        self.log = log or logging.getLogger(f"robot_brain.engine.{self.name}")
        self.processor = None          # the folder's processor: chat template, tokenizer, image processor
        self.model = None              # the torch model the engine holds (all of it, or its vision part)
        self.applied = None            # quantise.Applied: what precision the weights run in

    def load(self, path: str) -> None:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        """Size of the logits the grammar masks."""
        raise NotImplementedError

    def prepare(self, system: str) -> None:
        """Prefill the fixed start of every prompt (the system message) now, where the engine can keep it."""

    def encode_ahead(self, picture: np.ndarray) -> None:
        """Encode `picture` now (the user started speaking); used at the turn if the scene has not changed."""

    def warm_up(self) -> None:
        """One tiny generation, so that the first turn does not pay for set-up."""

    def stream(self, generation: Generation) -> Iterator[str]:
        raise NotImplementedError

    def stats(self) -> dict:
        """Counters of the caches (prefix hits, pictures encoded ahead): what the engine saved."""
        return {}

    def report(self) -> dict:
        """What the engine applied, for logs, diagnostics and benchmarks."""
        applied = self.applied
        return {"engine": self.name, "device": self.device,
                "quantisation": applied.scheme if applied else None,
                "weight_mb": applied.weight_mb if applied else None, **self.stats()}

    def close(self) -> None:
        self.processor = self.model = None
