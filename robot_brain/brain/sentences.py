"""Split a streamed reply into sentences as soon as each one is complete.

The first piece of a reply may be a clause: "Sure, the red cup is on the left." is spoken as
"Sure," + "the red cup is on the left." so the robot starts talking a sentence earlier; with no comma in
sight, the first few words go on their own ("The red cup is on the left of" + "the blue ball and the green cube.").
"""
from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")
_CLAUSE = re.compile(r"(?<=[,;:，、；：])\s+")
_WORD = re.compile(r"\S+")


class SentenceChunker:
    """Feed text deltas; get back the sentences they complete. `flush()` returns the rest.

    `first_clause_chars`: the first piece may end at a comma/semicolon/colon once it has at least
    this many characters (0 turns it off).
    `first_words`: failing that, the first piece is the first this many words once a word after them has
    begun (0 turns it off). Text without spaces between words (Chinese, Japanese) waits for punctuation.
    """

    def __init__(self, min_chars: int = 2, first_clause_chars: int = 12, first_words: int = 8) -> None:
        self._buffer = ""
        self._min_chars = min_chars
        self._first_clause_chars = first_clause_chars
        self._first_words = first_words
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
        if not sentences and not self._emitted and self._first_words:
            words = list(_WORD.finditer(self._buffer))
            if len(words) > self._first_words:            # the word after them has begun: they are whole
                cut = words[self._first_words - 1].end()
                sentences.append(self._buffer[:cut].strip())
                self._buffer = self._buffer[cut:].lstrip()
        self._emitted += len(sentences)
        return sentences

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest
