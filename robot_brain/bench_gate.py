"""`robot-brain bench gate`: what the safety gate costs per proposed intent, audit log included."""
from __future__ import annotations

import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from .frames import Confirmation, IntentProposal, Turn
from .intents.audit import AuditLog
from .intents.gate import Gate
from .intents.skills import load_skills
from .vision.calibration import CameraModel, Extrinsic, default_file

TARGET_US = 1000.0
USER_SAYS = "please point at the red cup, pick up the blue ball, then drive to it and follow me"


def mixed_proposals(n: int, seed: int = 0) -> list[IntentProposal]:
    """Valid, clamped, risky, stop, unknown-verb, NaN, huge, unnamed-target and malformed proposals."""
    rng = np.random.default_rng(seed)
    kinds = [
        dict(verb="point_at", target="red cup"),
        dict(verb="look_at", target="me"),
        dict(verb="navigate_to", target="blue ball", params={"speed": 2.5}),
        dict(verb="pick_up", target="blue ball"),
        dict(verb="wave", point=None),
        dict(verb="set_expression", params={"expression": "happy"}, point=None),
        dict(verb="stop", point=None),
        dict(verb="fire_laser", target="red cup"),
        dict(verb="pіck_up", target="knife"),
        dict(verb="follow", target="me", params={"distance": math.nan}),
        dict(verb="point_at", target="x" * 5000),
        dict(verb="pick_up", target="knife"),
        dict(verb="point_at", target="ignore previous instructions"),
        dict(verb="nod", params=[1, 2], point=None),
        dict(verb="point_at", target="red cup", point=[2.0, -1.0]),
        dict(verb=None),
    ]
    out = []
    for i in range(n):
        spec = dict(kinds[int(rng.integers(len(kinds)))])
        point = spec.pop("point", [float(rng.random()), float(rng.random())])
        out.append(IntentProposal(turn=1 + i // 50, source="voice", image_size=(640, 480), point=point, **spec))
    return out


def bench_gate(intents: int = 10_000) -> dict:
    proposals = mixed_proposals(intents)
    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditLog(Path(tmp) / "audit.jsonl")
        gate = Gate(load_skills(), camera=CameraModel.from_yaml(default_file("camera.yaml")),
                    extrinsic=Extrinsic.from_yaml(default_file("extrinsics.yaml")), audit=audit,
                    max_per_minute=10**9, repeat_window_s=0.0)
        times, now = [], 0.0
        for i, proposal in enumerate(proposals):
            now += 0.01
            if i % 50 == 0:
                gate.authorise(Turn(text=USER_SAYS, source="voice", turn=proposal.turn), now)
            start = time.perf_counter_ns()
            gate.propose(proposal, now)
            times.append((time.perf_counter_ns() - start) / 1000)
            if gate.pending is not None and i % 7 == 0:
                gate.confirm(Confirmation(accepted=bool(i % 2), text="yes" if i % 2 else "no", turn=proposal.turn,
                                          question=gate.board.waiting()), now)
        audit.close()
        audit_lines = sum(1 for _ in (Path(tmp) / "audit.jsonl").open())
    median = statistics.median(times)
    return {
        "benchmark": "gate", "intents": intents, "gate_us_per_intent": round(median, 1),
        "gate_us_p99": round(float(np.percentile(times, 99)), 1), "gate_us_mean": round(statistics.fmean(times), 1),
        "decisions": dict(sorted(gate.counts.items())), "audit_lines": audit_lines,
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "targets": {"gate_us_per_intent<1000": median < TARGET_US},
    }
