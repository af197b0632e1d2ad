"""What a node reports on /diagnostics: its inputs, each stage's health and latency, the last turn's timeline.

Built as plain data (`Status`) so it is tested without ROS; the node turns it into a DiagnosticArray.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from ..latency import segments_of
from ..pipeline import StageStats, Timeline

OK, WARN, ERROR = 0, 1, 2


@dataclass
class Status:
    name: str
    level: int
    message: str
    values: dict[str, str] = field(default_factory=dict)


class InputCounter:
    """Messages received and rejected per input topic (thread-safe), with the rate since the last report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter = Counter()
        self.rejected: Counter = Counter()          # (topic, reason) → count
        self._since_report: Counter = Counter()
        self._rejected_since_report = 0
        self._last_report = time.monotonic()

    def received_on(self, topic: str) -> None:
        with self._lock:
            self.received[topic] += 1
            self._since_report[topic] += 1

    def rejected_on(self, topic: str, reason: str) -> bool:
        """Count a rejected message; True the first time this reason is seen on this topic (log it then)."""
        with self._lock:
            first = not self.rejected[(topic, reason)]
            self.rejected[(topic, reason)] += 1
            self._rejected_since_report += 1
            return first

    def report(self, missing: dict[str, str] | None = None) -> Status:
        """The inputs' status; `missing`: inputs that cannot be used (not installed, wrong type: topic → why)."""
        with self._lock:
            now = time.monotonic()
            period = max(now - self._last_report, 1e-6)
            rates = {topic: n / period for topic, n in self._since_report.items()}
            fresh_rejects = self._rejected_since_report
            self._since_report.clear()
            self._rejected_since_report = 0
            self._last_report = now
            values = {f"{topic} received": str(n) for topic, n in sorted(self.received.items())}
            values.update({f"{topic} rate_hz": f"{rate:.1f}" for topic, rate in sorted(rates.items())})
            values.update({f"{topic} rejected: {reason}": str(n) for (topic, reason), n in sorted(self.rejected.items())})
        values.update({f"{topic} unusable": why for topic, why in sorted((missing or {}).items())})
        if missing:
            return Status("inputs", WARN, f"{len(missing)} input(s) unusable: {', '.join(sorted(missing))}", values)
        if fresh_rejects:
            return Status("inputs", WARN, f"{fresh_rejects} message(s) rejected since the last report", values)
        return Status("inputs", OK, "ok", values)


def stage_status(name: str, stats: StageStats) -> Status:
    mean_ms = 1000 * stats.busy_s / stats.processed if stats.processed else 0.0
    values = {"processed": str(stats.processed), "emitted": str(stats.emitted), "errors": str(stats.errors),
              "mean_ms": f"{mean_ms:.2f}", "busy_s": f"{stats.busy_s:.3f}"}
    values.update({f"dropped_{why}": str(n) for why, n in stats.dropped.items()})
    if stats.last_error:
        values["last_error"] = stats.last_error
    if not stats.healthy:
        return Status(f"stage {name}", ERROR, f"out of service: {stats.last_error}", values)
    if stats.consecutive_errors:
        return Status(f"stage {name}", WARN, f"failing: {stats.last_error}", values)
    return Status(f"stage {name}", OK, f"ok, {mean_ms:.1f} ms per frame", values)


def timeline_status(timeline: Timeline | None) -> Status:
    if timeline is None:
        return Status("last turn", OK, "no turn yet")
    segments, total = segments_of(timeline.marks)
    values = {f"{name} ms": f"{1000 * dt:.1f}" for name, dt in segments}
    values["turn"] = str(timeline.turn)
    message = f"turn {timeline.turn}: " + (f"{total:.2f} s to first audio" if total is not None else "no audio yet")
    return Status("last turn", OK, message, values)


def link_status(counts: dict[str, int]) -> Status:
    """The split deployment's link (robot_brain.ros.link.LinkGuard.counts()): messages taken and dropped."""
    dropped = sum(n for key, n in counts.items() if key.startswith("dropped "))
    values = {key: str(n) for key, n in counts.items()}
    if dropped:
        return Status("link", WARN, f"{dropped} link message(s) dropped (unsigned, replayed, out of bounds...): "
                                    "see the values", values)
    return Status("link", OK, f"ok, {counts.get('accepted', 0)} signed message(s) taken", values)


def node_statuses(node: str, state: str, stats: dict[str, StageStats], inputs: InputCounter,
                  last_turn: Timeline | None, missing_inputs: dict[str, str] | None = None,
                  link: dict[str, int] | None = None) -> list[Status]:
    """Everything one node reports, names prefixed with the node's name; `link`: the link's counts (split nodes)."""
    statuses = [inputs.report(missing_inputs)] + ([link_status(link)] if link is not None else []) \
        + [stage_status(n, s) for n, s in stats.items()] + [timeline_status(last_turn)]
    worst = max((s.level for s in statuses), default=OK)
    summary = Status("node", worst, f"{state}" + ("" if worst == OK else ": see the stage and input statuses"),
                     {"state": state, "stages": ", ".join(stats) or "none"})
    return [Status(f"{node}: {s.name}", s.level, s.message, s.values) for s in [summary] + statuses]
