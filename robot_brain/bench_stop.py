"""`robot-brain bench stop DIR`: every WAV of a folder through the real stop path, block by block like a microphone.

Each file (any sample rate, any level) is resampled to 16 kHz, preceded by 0.5 s of quiet and followed by 1 s,
all over a faint noise floor, and fed to a fresh stop-path stage (the one the configuration builds) in 32 ms
blocks. A file whose name contains `_pos` should make a stop, one with `_neg` should not. Latency is counted
from the end of the speech in the file, found by its energy.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from .frames import AudioChunk, Stop
from .pipeline import Pipeline

RATE = 16000


def load_wav(path: str | Path) -> np.ndarray:
    """Mono float32 at 16 kHz, whatever the file's rate, channels and level."""
    import soundfile
    import soxr
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    return (soxr.resample(mono, rate, RATE) if rate != RATE else mono).astype(np.float32)


def speech_span(audio: np.ndarray, below_peak_db: float = 35.0, frame: int = 160) -> tuple[float, float]:
    """(start, end) in seconds of the speech: the 10 ms frames within `below_peak_db` of the loudest one."""
    n = len(audio) // frame
    if n == 0:
        return 0.0, len(audio) / RATE
    rms = np.sqrt((audio[:n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-below_peak_db / 20))
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def expectation(name: str) -> str | None:
    return "pos" if "_pos" in name else "neg" if "_neg" in name else None


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def bench_stop(folder: str | Path, config=None, *, all_negative: bool = False, block_s: float = 0.032,
               lead_s: float = 0.5, tail_s: float = 1.0, floor_rms: float = 0.001, seed: int = 0,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Play every WAV under `folder` into the stop path; per file whether a stop fired and how late."""
    from .config import Config
    from .lineup import build_lineup

    folder = Path(folder)
    files = sorted(folder.rglob("*.wav")) + sorted(folder.rglob("*.WAV"))
    if not files:
        raise FileNotFoundError(f"no .wav files in {folder}")
    config = config or Config()
    stages, _, _ = build_lineup(config, only={"stop_path"})
    stage = next(s for s in stages if s.name == "stop_path")
    rng = np.random.default_rng(seed)
    block = int(round(block_s * RATE))
    rows, busy, hops = [], 0.0, 0
    for i, path in enumerate(files):
        audio = load_wav(path)
        start, end = speech_span(audio)
        lead, tail = int(lead_s * RATE), int(tail_s * RATE)
        track = rng.normal(0, floor_rms, lead + len(audio) + tail).astype(np.float32)
        track[lead:lead + len(audio)] += audio
        stops: list[Stop] = []
        pipeline = Pipeline([stage], queue_size=4096)
        pipeline.add_sink(lambda f: stops.append(f) if isinstance(f, Stop) else None)
        before = len(stage.fired)
        with pipeline:
            for at in range(0, len(track), block):
                pipeline.push(AudioChunk(samples=track[at:at + block], sample_rate=RATE, stamp=at / RATE))
            if not pipeline.wait_idle(60.0):
                raise TimeoutError(f"the stop path did not finish {path}")
            stats = pipeline.stats()[stage.name]
            busy += stats.busy_s
        hops += len(track) // stage.hop
        fires = list(stage.fired)[before:] if len(stage.fired) > before else []
        want = "neg" if all_negative else expectation(path.name)
        first = fires[0] if fires else None
        rows.append({"file": str(path.relative_to(folder)), "expected": want, "fired": bool(stops),
                     "word": first[1] if first else None,
                     "latency_s": round(first[0] - (lead_s + end), 3) if first else None,
                     "speech_s": [round(start, 3), round(end, 3)]})
        if progress:
            progress(i + 1, len(files))
    pos = [r for r in rows if r["expected"] == "pos"]
    neg = [r for r in rows if r["expected"] == "neg"]
    hits = [r for r in pos if r["fired"]]
    latencies = [r["latency_s"] for r in hits]
    false = [r for r in neg if r["fired"]]
    groups: dict[str, dict] = {}
    for r in rows:                           # per sub-folder (a voice, in scripts/make_stop_bench.py's layout)
        g = groups.setdefault(str(Path(r["file"]).parent), {"positives": 0, "hits": 0, "negatives": 0, "false_fires": 0})
        if r["expected"] == "pos":
            g["positives"] += 1
            g["hits"] += r["fired"]
        elif r["expected"] == "neg":
            g["negatives"] += 1
            g["false_fires"] += r["fired"]
    return {
        "folder": str(folder), "files": rows, "by_folder": groups,
        "recall": round(len(hits) / len(pos), 4) if pos else None,
        "false_fires": round(len(false) / len(neg), 4) if neg else None,
        "positives": len(pos), "hits": len(hits), "negatives": len(neg), "false_fire_count": len(false),
        "latency_p50_s": _percentile(latencies, 50), "latency_p99_s": _percentile(latencies, 99),
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "cost_per_hop_ms": round(1000 * busy / max(1, hops), 3),
        "hop_s": round(stage.hop / RATE, 3), "block_s": block / RATE, "threshold": stage.threshold,
        "words": list(stage.words), "model": str(stage.model_path),
        "targets": {"recall": 0.95, "false_fires": 0.02, "latency_p99_s": 0.2},
        "stamp": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
