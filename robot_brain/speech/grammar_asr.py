"""Speech recognition restricted to a list of phrases, with PocketSphinx's bundled English model.

An offline recogniser that needs no training and no download: the decoder may only output one of the
given phrases (a JSGF grammar), which makes it reliable for a small command set such as the demo's
questions. Anything that is not a whole phrase (noise, other speech, a phrase cut short) gives no
transcript, so it cannot become an instruction. Same place in the pipeline as WhisperAsr: SpeechEnded in,
a final Transcript out.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..frames import Frame, SpeechEnded, Transcript
from ..pipeline import Stage


def jsgf(phrases: Sequence[str]) -> str:
    words = [" ".join(p.lower().split()) for p in phrases if p.strip()]
    if not words:
        raise ValueError("a grammar needs at least one phrase")
    bad = [w for w in words if not all(c.isalpha() or c in " '" for c in w)]
    if bad:
        raise ValueError(f"phrases must be words only (letters, spaces, apostrophes): {bad[:3]}")
    return "#JSGF V1.0;\ngrammar phrases;\npublic <phrase> = " + " | ".join(f"( {w} )" for w in words) + ";\n"


class GrammarAsr(Stage):
    """SpeechEnded → a final Transcript when the utterance is one of `phrases`, else nothing (logged)."""

    accepts = (SpeechEnded,)

    def __init__(self, phrases: Sequence[str], *, language: str = "en", name: str = "asr") -> None:
        super().__init__(name)
        self.phrases = {" ".join(p.lower().split()) for p in phrases}
        self.grammar = jsgf(sorted(self.phrases))
        self.language = language
        self.decoder = None
        self.counts = {"transcripts": 0, "dropped": 0, "empty": 0}

    def open(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise ImportError("grammar speech recognition needs pocketsphinx: pip install 'robot_brain[models]'") \
                from exc
        with tempfile.TemporaryDirectory(prefix="robot-brain-grammar-") as folder:
            path = Path(folder) / "phrases.gram"
            path.write_text(self.grammar)
            self.decoder = Decoder(jsgf=str(path), lm=None, logfn=os.devnull)

    def transcribe(self, audio: np.ndarray) -> tuple[str, float]:
        """(phrase, PocketSphinx's posterior) for 16 kHz mono audio; ("", 0) when no whole phrase was heard."""
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        text = " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""
        if text not in self.phrases:
            if text:
                self.counts["dropped"] += 1
                self.ctx.log.info("dropped %r: not a whole phrase of the grammar", text)
            return "", 0.0
        return text, float(hypothesis.prob)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if not isinstance(frame, SpeechEnded):
            return
        yield frame
        audio = np.asarray(frame.audio, np.float32)
        if len(audio) < 0.1 * frame.sample_rate or not np.isfinite(audio).all() or frame.sample_rate != 16000:
            self.counts["empty"] += 1
            self.ctx.log.warning("skipped an utterance of %d samples at %d Hz (too short, not finite or not 16 kHz)",
                                 len(audio), frame.sample_rate)
            return
        text, confidence = self.transcribe(audio)
        self.ctx.mark(frame.turn, "asr_done", time.monotonic())
        if not text:
            self.counts["empty"] += 1
            return
        self.counts["transcripts"] += 1
        yield Transcript(turn=frame.turn, text=text, final=True, language=self.language,
                         confidence=round(confidence, 3))
