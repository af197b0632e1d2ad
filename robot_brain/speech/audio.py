"""Audio at the edge: whatever arrives (any rate, channels, dtype, NaNs, DC) leaves as 16 kHz mono float32.

Sources (arrays, WAV files) yield AudioChunks in that one format, so no stage downstream has to
care how a microphone or a bag recorded its sound.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..frames import AudioChunk

SAMPLE_RATE = 16000
log = logging.getLogger("robot_brain.audio")


def to_float32(samples: np.ndarray) -> np.ndarray:
    """Integer PCM scaled to [-1, 1]; float arrays as float32."""
    samples = np.asarray(samples)
    if samples.dtype.kind == "i":
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    if samples.dtype.kind == "u":
        info = np.iinfo(samples.dtype)
        middle = (info.max + 1) / 2
        return ((samples.astype(np.float32) - middle) / middle).astype(np.float32)
    if samples.dtype.kind == "f":
        return samples.astype(np.float32, copy=False)
    raise ValueError(f"audio samples must be integer or float PCM, got dtype {samples.dtype}")


class AudioConformer:
    """Stateful conversion of a stream of blocks to mono float32 at `target_rate`.

    Keeps resampler and DC-blocker state across blocks, so block edges leave no clicks.
    Problems (NaN/Inf, clipping, a DC offset, another rate) are repaired and logged once each.
    """

    def __init__(self, target_rate: int = SAMPLE_RATE, *, remove_dc: bool = True, name: str = "audio") -> None:
        self.target_rate = target_rate
        self.remove_dc = remove_dc
        self.name = name
        self._resampler = None
        self._source_rate: int | None = None
        self._dc = 0.0
        self.warned: set[str] = set()

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            log.warning("%s: %s (repaired; warned once)", self.name, message)

    def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        x = to_float32(samples)
        if x.ndim == 2:                       # (frames, channels)
            if x.shape[1] > 1:
                self._warn("channels", f"{x.shape[1]} channels mixed down to mono")
            x = x.mean(axis=1, dtype=np.float32)
        elif x.ndim != 1:
            raise ValueError(f"audio must be 1-D (mono) or 2-D (frames, channels), got shape {x.shape}")
        if x.size == 0:
            return np.zeros(0, np.float32)
        bad = ~np.isfinite(x)
        if bad.any():
            self._warn("nonfinite", f"{int(bad.sum())} NaN/Inf samples set to 0")
            x = np.where(bad, 0.0, x).astype(np.float32)
        if np.abs(x).max() > 1.0:
            self._warn("clipped", "samples beyond [-1, 1] clipped")
            x = np.clip(x, -1.0, 1.0)
        if self.remove_dc:
            x = self._dc_block(x)
        if sample_rate != self.target_rate:
            x = self._resample(x, sample_rate)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _dc_block(self, x: np.ndarray) -> np.ndarray:
        """Subtract a running estimate of the DC offset (smoothed over about a second of blocks)."""
        mean = float(x.mean())
        if abs(mean) > 0.05:
            self._warn("dc", f"DC offset {mean:+.2f} removed")
        weight = min(1.0, len(x) / 16000.0)
        self._dc = (1.0 - weight) * self._dc + weight * mean
        return (x - np.float32(self._dc)).astype(np.float32)

    def flush(self) -> np.ndarray:
        """At the end of a stream: the samples the resampler still holds."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        rest = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        self._resampler = None
        return np.ascontiguousarray(rest, dtype=np.float32)

    def _resample(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        import soxr
        if self._resampler is None or self._source_rate != sample_rate:
            if self._source_rate is not None:
                log.info("%s: input rate changed %s -> %s Hz", self.name, self._source_rate, sample_rate)
            self._warn(f"rate{sample_rate}", f"{sample_rate} Hz resampled to {self.target_rate} Hz")
            self._resampler = soxr.ResampleStream(sample_rate, self.target_rate, 1, dtype="float32")
            self._source_rate = sample_rate
        return self._resampler.resample_chunk(x)


def _conformed(blocks: Iterable[np.ndarray], sample_rate: int, *, start_stamp: float, realtime: bool,
               name: str) -> Iterator[AudioChunk]:
    """Blocks at `sample_rate` → conformed AudioChunks stamped by stream time, optionally paced in real time."""
    conform = AudioConformer(name=name)
    begin, read = time.monotonic(), 0
    for data in blocks:
        out = conform(data, sample_rate)
        stamp = start_stamp + read / sample_rate
        read += len(data)
        if realtime:
            time.sleep(max(0.0, begin + read / sample_rate - time.monotonic()))
        if out.size:
            yield AudioChunk(samples=out, sample_rate=conform.target_rate, stamp=stamp)
    rest = conform.flush()
    if rest.size:
        yield AudioChunk(samples=rest, sample_rate=conform.target_rate, stamp=start_stamp + read / sample_rate)


def chunks_of(samples: np.ndarray, sample_rate: int, *, block_s: float = 0.1, start_stamp: float = 0.0,
              realtime: bool = False) -> Iterator[AudioChunk]:
    """Conformed AudioChunks of `block_s` seconds from an array (optionally paced in real time)."""
    samples = np.asarray(samples)
    block = max(1, int(round(block_s * sample_rate)))
    blocks = (samples[i:i + block] for i in range(0, len(samples), block))
    return _conformed(blocks, sample_rate, start_stamp=start_stamp, realtime=realtime, name="audio")


def wav_chunks(path: str | Path, *, block_s: float = 0.1, realtime: bool = False) -> Iterator[AudioChunk]:
    """AudioChunks from a sound file (WAV, FLAC, OGG: anything libsndfile reads)."""
    import soundfile
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise ValueError(f"cannot read audio file {path}: {exc}") from exc
    block = max(1, int(round(block_s * info.samplerate)))
    blocks = soundfile.blocks(str(path), blocksize=block, dtype="float32", always_2d=True)
    return _conformed(blocks, info.samplerate, start_stamp=0.0, realtime=realtime, name=str(path))
