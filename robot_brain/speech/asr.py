"""Speech recognition with faster-whisper, with a guard against Whisper's inventions on noise and silence."""
from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..frames import Frame, SpeechEnded, SpeechPaused, Transcript
from ..pipeline import Stage

#: What Whisper is known to write for silence, noise or music (subtitle credits from its training data).
KNOWN_INVENTIONS = re.compile(
    r"^\W*(thank you( (so|very) much)?( for watching)?|thanks for watching|bye|you|"
    r"please subscribe.*|subtitles? by.*|字幕.*|ご視聴ありがとうございました|시청해 주셔서 감사합니다)\W*$",
    re.IGNORECASE)


@dataclass(frozen=True)
class Guard:
    """Drops segments that are probably not speech (Whisper's own thresholds, applied per segment)."""
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4

    def reject(self, segment) -> str | None:
        """Why `segment` (a faster-whisper Segment) should be dropped, or None to keep it."""
        if segment.compression_ratio > self.compression_ratio_threshold:
            return f"repetitive (compression ratio {segment.compression_ratio:.1f})"
        if segment.no_speech_prob > self.no_speech_threshold and segment.avg_logprob < self.logprob_threshold:
            return f"not speech (no_speech_prob {segment.no_speech_prob:.2f}, avg_logprob {segment.avg_logprob:.2f})"
        if segment.avg_logprob < self.logprob_threshold - 0.5:
            return f"unsure (avg_logprob {segment.avg_logprob:.2f})"
        if KNOWN_INVENTIONS.match(segment.text.strip()) and (segment.no_speech_prob > 0.2 or segment.avg_logprob < -0.5):
            return f"a phrase Whisper invents on noise ({segment.text.strip()!r})"
        return None


def cpu_threads(requested: int) -> int:
    """0 → one thread per core (CTranslate2's own default of 4 oversubscribes small robot CPUs)."""
    return requested or min(8, os.cpu_count() or 1)


def resolve_compute_type(device: str, compute_type: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "float16" if device.startswith("cuda") else "int8"


class WhisperAsr(Stage):
    """SpeechEnded (one utterance) → a final Transcript with language and confidence, or nothing (guarded).

    A SpeechPaused (the user went quiet, the turn is not over yet) is transcribed at once; if the SpeechEnded
    that follows carries exactly the same audio, its transcript is that one, ready before the turn ended.
    """

    accepts = (SpeechEnded, SpeechPaused)

    def __init__(self, model: str, *, device: str = "cpu", compute_type: str = "auto", language: str = "",
                 beam_size: int = 1, cpu_threads: int = 0, guard: Guard = Guard(), name: str = "asr") -> None:
        super().__init__(name)
        self.model_ref = model
        self.device = device
        self.compute_type = compute_type
        self.language = language or None
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.guard = guard
        self.model = None
        self.counts = {"transcripts": 0, "dropped": 0, "empty": 0, "ahead": 0, "ahead_used": 0}
        self._ahead: tuple[np.ndarray, tuple] | None = None      # (audio, transcribe() result) of the last pause

    def open(self) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ImportError("speech recognition needs faster-whisper: pip install 'robot_brain[models]'") from exc
        device, index = (self.device.split(":") + ["0"])[:2] if self.device.startswith("cuda:") else (self.device, "0")
        compute_type = resolve_compute_type(device, self.compute_type)
        try:
            self.model = WhisperModel(self.model_ref, device=device, device_index=int(index),
                                      compute_type=compute_type, cpu_threads=cpu_threads(self.cpu_threads))
        except Exception as exc:   # hub download refused, a folder without model.bin, an unsupported compute type
            raise RuntimeError(f"cannot load Whisper model {self.model_ref!r} on {self.device} ({compute_type}): {exc}. "
                               "Use a size name where there is internet, or a local CTranslate2 folder "
                               "(ct2-transformers-converter --model openai/whisper-tiny --output_dir DIR)") from exc
        self.applied_compute_type = compute_type

    def transcribe(self, audio: np.ndarray) -> tuple[str, str, float, list[str]]:
        """(text, language, confidence, reasons segments were dropped) for 16 kHz mono audio."""
        segments, info = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size, temperature=(0.0, 0.2, 0.4),
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            no_speech_threshold=self.guard.no_speech_threshold, log_prob_threshold=self.guard.logprob_threshold,
            compression_ratio_threshold=self.guard.compression_ratio_threshold,
            max_new_tokens=max(32, int(10 * len(audio) / 16000)))   # a runaway decode on noise stops early
        kept, dropped = [], []
        for segment in segments:
            reason = self.guard.reject(segment)
            (dropped if reason else kept).append(reason or segment)
        text = " ".join(s.text.strip() for s in kept).strip()
        if not kept:
            return "", info.language, 0.0, dropped
        tokens = sum(max(1, len(s.tokens)) for s in kept)
        logprob = sum(s.avg_logprob * max(1, len(s.tokens)) for s in kept) / tokens
        no_speech = max(s.no_speech_prob for s in kept)
        return text, info.language, float(math.exp(logprob) * (1.0 - no_speech)), dropped

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, SpeechPaused):
            audio = np.asarray(frame.audio, np.float32)
            if usable(audio, frame.sample_rate):
                self._ahead = (audio, self.transcribe(audio))
                self.counts["ahead"] += 1
            return
        if not isinstance(frame, SpeechEnded):
            return
        yield frame
        audio = np.asarray(frame.audio, np.float32)
        if not usable(audio, frame.sample_rate):
            self.counts["empty"] += 1
            self.ctx.log.warning("skipped an utterance of %d samples (too short or not finite)", len(audio))
            return
        ahead, self._ahead = self._ahead, None
        if ahead is not None and len(ahead[0]) == len(audio) and np.array_equal(ahead[0], audio):
            self.counts["ahead_used"] += 1                    # nothing was said after the pause
            text, language, confidence, dropped = ahead[1]
        else:
            text, language, confidence, dropped = self.transcribe(audio)
        for reason in dropped:
            self.counts["dropped"] += 1
            self.ctx.log.info("dropped a Whisper segment: %s", reason)
        self.ctx.mark(frame.turn, "asr_done", time.monotonic())
        if not text:
            self.counts["empty"] += 1
            return
        self.counts["transcripts"] += 1
        yield Transcript(turn=frame.turn, text=text, final=True, language=language, confidence=round(confidence, 3))


def usable(audio: np.ndarray, sample_rate: int) -> bool:
    """At least 0.1 s of finite samples."""
    return len(audio) >= 0.1 * sample_rate and bool(np.isfinite(audio).all())
