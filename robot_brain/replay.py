"""Replay a recorded rosbag2 through the pipeline: events.jsonl, reply.wav and an output bag."""
from __future__ import annotations

import dataclasses

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .bags import BagRecorder, BagReport, BagSource
from .config import Config
from .events import EventLog
from .lineup import StageSlot, build_lineup
from .pipeline import Pipeline, Stage, StageStats, Timeline
from .speech.player import NullSink

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    out_dir: Path
    events: list[dict]
    report: BagReport
    stages: list[str]
    missing: list[StageSlot]
    notes: list[str]
    stats: dict[str, StageStats]
    timelines: list[Timeline]
    wav_path: Path | None = None
    bag_path: Path | None = None
    stuck: list[str] = field(default_factory=list)
    busy_timeouts: int = 0


class _BagClock:
    """The bag time of the message most recently fed in (stamps events and the output bag)."""
    now = 0.0


def replay(bag: str | Path, out_dir: str | Path, config: Config | None = None, *, stages: list[Stage] | None = None,
           swap: dict[str, Stage] | None = None, storage: str = "mcap", progress: bool = True,
           idle_timeout_s: float = 300.0) -> ReplayResult:
    """Feed every message of `bag` to the pipeline, in bag time, and record what comes out.

    pace=bag feeds each message once the pipeline is idle (deterministic, no wall-clock sleeps);
    pace=realtime feeds them at the bag's own pace times `replay.speed`. `stages`: the line-up to use;
    `swap`: stand-ins for some stages of the configured line-up (by stage name).
    """
    from tqdm import tqdm

    config = config or Config()
    source = BagSource(bag, config)
    total = len(source)                      # opens the bag: a broken one fails here, before any output
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = _BagClock()
    if stages is None:
        if not config.gate.audit_log:
            config = dataclasses.replace(config, gate=dataclasses.replace(config.gate,
                                                                          audit_log=str(out_dir / "audit.jsonl")))
        if config.replay.pace == "bag":
            # The robot's voice takes no time here and the next audio follows at once: an echo tail counted in
            # wall-clock seconds after it spoke would swallow whole utterances of the bag.
            config = dataclasses.replace(config, hearing=dataclasses.replace(config.hearing, self_speech_tail_s=0.0))
        stages, missing, notes = build_lineup(config, sink=NullSink(realtime=config.replay.pace == "realtime"),
                                              swap=swap, clock=lambda: clock.now)
    else:
        missing, notes = [], []
    events = EventLog(out_dir / "events.jsonl", stamp=lambda: clock.now)
    bag_out = out_dir / "bag"
    if bag_out.exists():
        shutil.rmtree(bag_out)
    recorder = BagRecorder(bag_out, config.topics, storage)
    pipeline = Pipeline(stages, queue_size=config.pipeline.queue_size,
                        max_consecutive_errors=config.pipeline.max_consecutive_errors,
                        shutdown_timeout_s=config.pipeline.shutdown_timeout_s)
    pipeline.add_sink(events)
    pipeline.add_sink(lambda frame: recorder(frame, clock.now))
    realtime = config.replay.pace == "realtime"
    busy_timeouts = 0
    pipeline.start()                         # models load here: the bag's clock starts after
    started, first_stamp = time.monotonic(), None
    try:
        for frame in tqdm(source, total=total, unit="msg", desc="replay", disable=not progress,
                          leave=False):
            stamp = getattr(frame, "stamp", clock.now)
            clock.now = stamp
            if realtime:
                first_stamp = stamp if first_stamp is None else first_stamp
                due = started + (stamp - first_stamp) / config.replay.speed
                time.sleep(max(0.0, due - time.monotonic()))
                frame = dataclasses.replace(frame, t=due)     # when a sensor would have delivered it
            pipeline.push(frame)
            if not realtime and not pipeline.wait_idle(idle_timeout_s):
                busy_timeouts += 1
                log.warning("pipeline still busy %.0f s after a %s; feeding on", idle_timeout_s, frame.kind)
            recorder.flush()
        if not pipeline.wait_idle(idle_timeout_s):
            busy_timeouts += 1
            log.warning("pipeline still busy %.0f s after the last message", idle_timeout_s)
    finally:
        stuck = pipeline.close()
        recorder.close()
    timelines = sorted(pipeline.timelines.all(), key=lambda tl: tl.turn)
    events.write_timelines(pipeline.timelines)
    events.close()
    wav_path = events.write_reply_wav(out_dir / "reply.wav")
    return ReplayResult(out_dir=out_dir, events=events.events, report=source.report,
                        stages=[s.name for s in pipeline.stages], missing=missing, notes=notes, stats=pipeline.stats(),
                        timelines=timelines, wav_path=wav_path, bag_path=bag_out, stuck=stuck,
                        busy_timeouts=busy_timeouts)


def account(result: ReplayResult) -> str:
    """A turn-by-turn account of what the robot heard, said and intended, then a summary."""
    lines = [f"NOTE: {note}" for note in result.notes]
    transcribed = {e["turn"] for e in result.events if e["type"] == "transcript"}
    for e in result.events:
        kind = e["type"]
        if kind == "speech_ended":
            outcome = "transcribed" if e["turn"] in transcribed else "no transcript (nothing Whisper's guard kept)"
            lines.append(f"speech ending at {e['stamp']:.1f} s ({e['duration']:.1f} s of audio): {outcome}")
        elif kind == "transcript":
            lines.append(f"    transcript: {e['text']!r} ({e['language'] or '?'}, confidence {e['confidence']:.2f})")
        elif kind == "turn":
            lines.append(f"turn {e['turn']} [{e['source']}] heard: {e['text']!r}")
        elif kind == "reply":
            lines.append(f"    said: {e['text']!r}")
        elif kind == "proposal":
            held = "" if "intent_gate" in result.stages else " — not sent: no safety gate in this line-up"
            lines.append(f"    proposed: {e['verb']} {e['target']!r} {e['params'] or ''}{held}")
        elif kind == "gate":
            lines.append(f"    gate: {e['verb']} {e['decision']} ({e['reason']})")
        elif kind == "confirmation":
            lines.append(f"turn {e['turn']} [{e['source']}] answered: {e['text']!r} ({'yes' if e['accepted'] else 'no'})")
        elif kind == "intent":
            lines.append(f"    intended: {e['intent']} {e['data']}")
        elif kind == "stop":
            lines.append(f"STOP ({e['source'] or 'unknown source'}: {e['reason']})")
        elif kind == "error":
            lines.append(f"    error in {e['stage']}{' (stage taken out of service)' if e['fatal'] else ''}: "
                         f"{e['error']}")
    if not lines:
        lines.append("(nothing was heard, said or intended)")
    lines.append("")
    lines.append(f"stages run: {', '.join(result.stages) or 'none'}")
    for slot in result.missing:
        lines.append(f"not in this version: {slot.name} ({slot.what})")
    lines.extend(result.report.summary().splitlines())
    drops = {name: {k: v for k, v in s.dropped.items() if v} for name, s in result.stats.items()}
    drops = {k: v for k, v in drops.items() if v}
    if drops:
        lines.append(f"dropped frames: {drops}")
    unhealthy = [name for name, s in result.stats.items() if not s.healthy]
    if unhealthy:
        lines.append(f"unhealthy stages: {', '.join(unhealthy)}")
    outputs = [str(result.out_dir / "events.jsonl")] + [str(p) for p in (result.wav_path, result.bag_path) if p]
    lines.append(f"wrote: {', '.join(outputs)}")
    return "\n".join(lines)
