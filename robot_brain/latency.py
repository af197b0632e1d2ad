"""Where a turn's time went: its timeline marks cut into named segments, one definition for every reader.

The demo's latency bar, the ROS /diagnostics "last turn" status and `robot-brain bench e2e` all use
`segments_of`, so they name and measure the same things.
"""
from __future__ import annotations

#: (segment, from mark, to mark), in the order a spoken turn passes them. Marks are set by the stages:
#: hearing (speech_end, endpoint), asr (asr_done), turns (turn_start), brain (first_token, first_sentence),
#: speech_out (first_audio: the first sentence synthesised; first_audio_out: its first block written to the sink).
SEGMENTS = (("endpoint", "speech_end", "endpoint"),
            ("asr", "endpoint", "asr_done"),
            ("turn", "asr_done", "turn_start"),
            ("prefill", "turn_start", "first_token"),
            ("sentence", "first_token", "first_sentence"),
            ("tts", "first_sentence", "first_audio"),
            ("play", "first_audio", "first_audio_out"))
START_MARKS = ("speech_end", "turn_start")      # a spoken turn starts at the end of speech, a typed one at the turn
END_MARK = "first_audio_out"


def segments_of(marks: dict[str, float]) -> tuple[tuple[tuple[str, float], ...], float | None]:
    """The seconds spent in each segment whose two marks are present, and the total from the end of the user's
    speech (or the start of a typed turn) to the first reply audio written out (None until then)."""
    parts = tuple((name, marks[end] - marks[start]) for name, start, end in SEGMENTS
                  if start in marks and end in marks and marks[end] >= marks[start])
    return parts, total_of(marks)


def total_of(marks: dict[str, float]) -> float | None:
    start = next((marks[m] for m in START_MARKS if m in marks), None)
    return marks[END_MARK] - start if start is not None and END_MARK in marks else None
