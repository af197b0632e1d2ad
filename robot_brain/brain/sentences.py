"""Split a streamed reply into sentences as soon as each one is complete.

The first piece of a reply may be a clause: "Sure, the red cup is on the left." is spoken as
"Sure," + "the red cup is on the left." so the robot starts talking a sentence earlier.
"""
from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")
_CLAUSE = re.compile(r"(?<=[,;:，、；：])\s+")


class SentenceChunker:
    """Feed text deltas; get back the sentences they complete. `flush()` returns the rest.

    `first_clause_chars`: the first piece may end at a comma/semicolon/colon once it has at least
    this many characters (0 turns it off).
    """

    def __init__(self, min_chars: int = 2, first_clause_chars: int = 12) -> None:
        self._buffer = ""
        self._min_chars = min_chars
        self._first_clause_chars = first_clause_chars
        self._emitted = 0

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
        if not sentences and not self._emitted and self._first_clause_chars:
            for match in _CLAUSE.finditer(self._buffer):
                candidate = self._buffer[:match.start()].strip()
                if len(candidate) >= self._first_clause_chars:
                    sentences.append(candidate)
                    self._buffer = self._buffer[match.end():]
                    break
        self._emitted += len(sentences)
        return sentences

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest
