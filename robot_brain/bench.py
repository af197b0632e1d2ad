"""Benchmarks that print figures and write JSON (never timed tests)."""
from __future__ import annotations

import json
import platform
import statistics
import threading
import time
from pathlib import Path

from .frames import TextInput
from .pipeline import Pipeline, Stage


def installed_file(package: str, relative: str) -> Path | None:
    """A file inside an installed package (located, not imported), or None where the package or file is missing."""
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.is_file() else None


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; NaN for no values."""
    import numpy as np
    return float(np.percentile(values, q)) if len(values) else float("nan")


def bench_pipeline(frames: int = 2000, stages: int = 5, warmup: int = 200) -> dict:
    """Frames through `stages` pass-through stages, one at a time (latency) and as a stream (throughput).

    per_frame_overhead_us: median over frames of (push → out of the last stage) / stages.
    """
    arrived = threading.Event()
    pipeline = Pipeline([Stage(f"pass{i}") for i in range(stages)], queue_size=frames + warmup)
    done_at: list[float] = []

    def sink(_frame) -> None:
        done_at.append(time.perf_counter())
        arrived.set()

    pipeline.add_sink(sink)
    latencies = []
    with pipeline:
        for i in range(warmup + frames):
            arrived.clear()
            t0 = time.perf_counter()
            pipeline.push(TextInput(text="x"))
            arrived.wait(5)
            if i >= warmup:
                latencies.append(done_at[-1] - t0)
        pipeline.wait_idle(10)
        done_at.clear()
        t0 = time.perf_counter()
        for _ in range(frames):
            pipeline.push(TextInput(text="x"))
        pipeline.wait_idle(60)
        stream_s = (done_at[-1] - t0) if done_at else float("nan")
    per_stage_us = sorted(lat / stages * 1e6 for lat in latencies)
    return {
        "benchmark": "pipeline",
        "frames": frames,
        "stages": stages,
        "per_frame_overhead_us": round(statistics.median(per_stage_us), 2),
        "per_frame_overhead_p95_us": round(per_stage_us[int(0.95 * (len(per_stage_us) - 1))], 2),
        "stream_per_frame_per_stage_us": round(stream_s / frames / stages * 1e6, 2),
        "stream_frames_per_s": round(frames / stream_s, 1),
        "target_us": 100.0,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def write_json(result: dict, path: str | Path | None) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
