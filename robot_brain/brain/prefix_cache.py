"""Prefilled key/value state reused from turn to turn, for every token a new prompt shares with an earlier one.

Every turn's prompt starts with the same system message (the system prompt with the skills list, then a line
naming the reply language), then the remembered turns, then the new question with its picture. Prefilling all of
it again each turn is most of the time to the first token on a CPU. Two states are kept while the model is loaded:

- the system message's, built once (at load); each turn generates from a copy cut to the tokens its prompt shares
  with it, so a turn in another language still reuses everything up to the language line;
- the last turn's, as its generation left it (prompt and reply): the next prompt repeats it up to the last
  question, because memory only grows, so only the last exchange and the new question are prefilled.

A state is used only for leading tokens that are exactly the same, and never past a picture: picture tokens look
alike from turn to turn but stand for different pictures, so the text after one depends on what it showed.
"""
from __future__ import annotations

import copy
import logging
import threading

log = logging.getLogger(__name__)


def shared_length(a, b) -> int:
    """How many leading tokens two 1-D id tensors have in common."""
    n = min(len(a), len(b))
    differ = (a[:n] != b[:n]).nonzero()
    return int(differ[0]) if len(differ) else n


def picture_token_ids(config) -> set[int]:
    """The ids that stand for picture content in this model's prompts (empty if the config names none)."""
    ids = {getattr(config, key, None) for key in ("image_token_id", "image_token_index", "video_token_id")}
    return {int(i) for i in ids if isinstance(i, int) and i >= 0}


class PrefixCache:
    def __init__(self, model, processor, device: str = "cpu", min_tokens: int = 8) -> None:
        self.model, self.processor, self.device = model, processor, device
        self.min_tokens = min_tokens
        self.pictures = picture_token_ids(getattr(model, "config", None))
        self._ids = self._state = None             # the system message
        self._last_ids = self._last = None         # the last turn, prompt and reply, up to its first picture
        self.broken = False                        # prompts are prefilled whole from now on
        self.hits = self.misses = self.builds = self.continued = 0
        self._lock = threading.RLock()             # a turn's generation thread keeps its state as the next begins

    @property
    def tokens(self) -> int:
        return 0 if self._ids is None else len(self._ids)

    def prefix_ids(self, system: str):
        """The token ids of the chat template's rendering of the system message alone."""
        messages = [{"role": "system", "content": [{"type": "text", "text": system}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=False)
        return self.processor(text=text, return_tensors="pt")["input_ids"][0].cpu()

    def build(self, system: str) -> None:
        """Prefill `system` now (at load, so the first turn does not wait for it)."""
        import torch
        if self.broken:
            return
        ids = self.prefix_ids(system)
        self.builds += 1
        try:
            with torch.inference_mode():
                out = self.model(input_ids=ids[None].to(self.device), use_cache=True)
        except Exception as exc:
            self._give_up(exc)
            return
        self._ids, self._state = ids, out.past_key_values
        log.info("cached the prompt's fixed start: %d tokens", len(ids))

    def state_for(self, system: str, input_ids):
        """A state holding the longest start `input_ids` (1 × n) shares with a kept one, or None (prefill it all).
        Generation extends it: hand it back with `keep` afterwards."""
        with self._lock:
            return self._state_for(system, input_ids)

    def _state_for(self, system: str, input_ids):
        if self.broken:
            self.misses += 1
            return None
        prompt = input_ids[0].cpu()
        shared = shared_length(self._ids, prompt) if self._ids is not None else 0
        if shared < max(self.min_tokens, self.tokens // 2):         # another system message: cache that one
            self.build(system)
            shared = shared_length(self._ids, prompt) if self._ids is not None else 0
        last = shared_length(self._last_ids, prompt) if self._last is not None else 0
        try:
            if last > shared:
                state, shared, self._last_ids, self._last = self._last, last, None, None   # used up: not copied
                self.continued += 1
            elif self._state is not None:
                state = copy.deepcopy(self._state)
            else:
                state = None
            shared = min(shared, len(prompt) - 1)                    # generation needs one new token to read
            if state is None or shared < self.min_tokens:
                self.misses += 1
                return None
            if shared < state.get_seq_length():
                state.crop(shared - state.get_seq_length())          # a negative count: tokens to drop from the end
        except Exception as exc:       # a cache type that cannot be copied or cut
            self._give_up(exc)
            self.misses += 1
            return None
        self.hits += 1
        return state

    def keep(self, state, sequence) -> None:
        """After a generation that ended well: `state` now holds `sequence` (1 × n, prompt and reply) but its last
        token; kept up to the first picture for the next turn."""
        with self._lock:
            self._keep(state, sequence)

    def _keep(self, state, sequence) -> None:
        if self.broken or state is None or not self.pictures:   # picture tokens unknown: only the system state
            return
        ids = sequence[0].cpu()[:state.get_seq_length()]
        end = next((i for i, t in enumerate(ids.tolist()) if t in self.pictures), len(ids))
        if end <= self.tokens:                                 # nothing beyond what the system state holds
            return
        try:
            if end < state.get_seq_length():
                state.crop(end - state.get_seq_length())
        except Exception as exc:
            self._give_up(exc)
            return
        self._last_ids, self._last = ids[:end], state

    def fresh(self):
        """An empty state to generate into (so that it can be kept), or None where the model brings its own."""
        if self.broken:
            return None
        try:
            from transformers import DynamicCache
            return DynamicCache(config=self.model.config)
        except Exception:
            return None

    def _give_up(self, exc: Exception) -> None:
        self.broken = True
        self._ids = self._state = self._last_ids = self._last = None
        log.warning("no prefix cache for this model from now on (%s: %s); every prompt is prefilled whole",
                    type(exc).__name__, exc)
