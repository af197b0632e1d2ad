"""Split a streamed reply into sentences as soon as each one is complete."""
from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")


class SentenceChunker:
    """Feed text deltas; get back the sentences they complete. `flush()` returns the rest."""

    def __init__(self, min_chars: int = 2) -> None:
        self._buffer = ""
        self._min_chars = min_chars

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        sentences = []
        start = 0
        for match in _END.finditer(self._buffer):
            candidate = self._buffer[start:match.start()].strip()
            if len(candidate) >= self._min_chars:
                sentences.append(candidate)
                start = match.end()
        self._buffer = self._buffer[start:]
        return sentences

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest
