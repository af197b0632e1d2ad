"""Conversation memory: the last turns (question and reply) that fit a token budget."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese",
                  "ko": "Korean", "ar": "Arabic", "hi": "Hindi", "tr": "Turkish", "pl": "Polish", "sv": "Swedish"}


def language_instruction(code: str) -> str:
    if not code:
        return "Reply in the language the user used."
    return f"The user speaks {LANGUAGE_NAMES.get(code, code)}; reply in {LANGUAGE_NAMES.get(code, code)}."


@dataclass(frozen=True)
class Exchange:
    user: str
    reply: str
    tokens: int


class Memory:
    """Keeps up to `turns` exchanges; `recent()` returns the newest ones whose tokens fit `budget`."""

    def __init__(self, count_tokens: Callable[[str], int], *, turns: int = 4, budget: int = 512) -> None:
        self._count = count_tokens
        self._exchanges: deque[Exchange] = deque(maxlen=max(0, turns))
        self.budget = budget

    def add(self, user: str, reply: str) -> None:
        if self._exchanges.maxlen and user.strip() and reply.strip():
            self._exchanges.append(Exchange(user, reply, self._count(user) + self._count(reply)))

    def recent(self) -> list[Exchange]:
        kept, used = [], 0
        for exchange in reversed(self._exchanges):
            if used + exchange.tokens > self.budget:
                break
            kept.append(exchange)
            used += exchange.tokens
        return kept[::-1]

    def clear(self) -> None:
        self._exchanges.clear()

    def messages(self) -> list[dict]:
        """Chat-template messages for the remembered exchanges (text only)."""
        out = []
        for e in self.recent():
            out.append({"role": "user", "content": [{"type": "text", "text": e.user}]})
            out.append({"role": "assistant", "content": [{"type": "text", "text": e.reply}]})
        return out
