"""The key/value state of the prompt's fixed start, computed once and reused every turn.

Every turn's prompt starts with the same system message (the system prompt with the skills list, and the
reply language): prefilling it again each turn is most of the time to the first token on a CPU. The state is
built the first time a prompt starts with a given system message, kept while the model is loaded, and each
turn generates from a copy (generation extends the cache it is given). A prompt whose tokens do not start
with exactly the cached tokens (another system message, a tokenizer that merges across the boundary) is
prefilled whole: a cache that does not match is never used.
"""
from __future__ import annotations

import copy
import logging

log = logging.getLogger(__name__)


class PrefixCache:
    def __init__(self, model, processor, device: str = "cpu", min_tokens: int = 8) -> None:
        self.model, self.processor, self.device = model, processor, device
        self.min_tokens = min_tokens
        self._text: str | None = None
        self._ids = None
        self._state = None
        self.hits = self.misses = self.builds = 0

    def prefix_text(self, system: str) -> str:
        """The chat template's rendering of the system message alone: the start of every prompt."""
        messages = [{"role": "system", "content": [{"type": "text", "text": system}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=False)

    def state_for(self, system: str, input_ids):
        """A fresh copy of the cached state of `system` when `input_ids` (1 × n) start with its tokens, else None."""
        import torch
        try:
            if self._text != system:
                self._build(system)
            n = self._ids.shape[-1]
            if n < self.min_tokens or input_ids.shape[-1] <= n or not torch.equal(input_ids[0, :n].cpu(), self._ids[0]):
                self.misses += 1
                return None
        except Exception as exc:       # a model that cannot prefill text alone: prefill whole prompts, say why once
            if self._state is not None or self.builds == 0:
                log.warning("no prefix cache for this model (%s: %s); every prompt is prefilled whole",
                            type(exc).__name__, exc)
            self._text, self._ids, self._state, self.builds = system, self._ids, None, self.builds + 1
            self.misses += 1
            return None
        if self._state is None:
            self.misses += 1
            return None
        self.hits += 1
        return copy.deepcopy(self._state)

    def _build(self, system: str) -> None:
        import torch
        self._text, self._state = system, None
        self._ids = self.processor(text=self.prefix_text(system), return_tensors="pt")["input_ids"].cpu()
        self.builds += 1
        with torch.inference_mode():
            out = self.model(input_ids=self._ids.to(self.device), use_cache=True)
        self._state = out.past_key_values
        log.info("cached the prompt's fixed start: %d tokens", self._ids.shape[-1])
