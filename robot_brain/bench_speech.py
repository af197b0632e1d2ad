"""`robot-brain bench speech`: ASR real-time factor, VAD cost, TTS time to first audio and stop latency.

Everything runs on espeak-ng speech generated on the fly. Stop latency is measured the way a user
feels it: audio is fed in real time in 32 ms blocks while a stand-in brain keeps the CPU busy and
the robot is talking; the clock runs from the last sample of the spoken "stop" to the Stop frame
leaving the pipeline.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable

import numpy as np

from .bench import percentile
from .frames import AudioChunk, Frame, ReplySentence, Stop, Turn
from .pipeline import Pipeline, Stage

RATE = 16000
STOP_VOICES = ["en-us", "en-us+m3", "en-us+f2", "en+m1", "en-gb-x-rp", "en-us+f4", "en-029", "en-us-nyc+m5"]
REPLY = ("The red cup is on the left of the table, next to the green cube. The blue ball is on the right. "
         "Would you like me to point at one of them?")


def asr_rtf(shape: str, audio: np.ndarray, repeats: int = 3, max_new_tokens: int = 16) -> dict:
    """Seconds per second of audio for a random Whisper of the given shape at int8 on CPU (median of repeats)."""
    from faster_whisper import WhisperModel

    from .speech.asr import cpu_threads
    from .testing import tiny_whisper
    model = WhisperModel(str(tiny_whisper(shape=shape)), device="cpu", compute_type="int8", cpu_threads=cpu_threads(0))
    times = []
    for _ in range(repeats + 1):                       # the first run warms up
        t0 = time.perf_counter()
        segments, _ = model.transcribe(audio, language="en", beam_size=1, temperature=0.0, without_timestamps=True,
                                       condition_on_previous_text=False, max_new_tokens=max_new_tokens)
        list(segments)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times[1:])
    return {"rtf": round(seconds / (len(audio) / RATE), 4), "seconds": round(seconds, 4)}


def vad_rtf(audio: np.ndarray) -> float:
    from .speech.vad import BLOCK, SileroVad
    vad = SileroVad()
    blocks = len(audio) // BLOCK
    t0 = time.perf_counter()
    for i in range(blocks):
        vad(audio[i * BLOCK:(i + 1) * BLOCK])
    return (time.perf_counter() - t0) / (blocks * BLOCK / RATE)


def tts_first_audio_s(sentence: str = "The red cup is on the left.", repeats: int = 5) -> float:
    """Sentence in → first playback block accepted by a sink (median)."""
    from .speech.player import NullSink
    from .speech.tts import Pyttsx3Voice
    voice, sink = Pyttsx3Voice(), NullSink()
    voice.open()
    times = []
    try:
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            samples, rate = voice.render(sentence)
            sink.write(samples[: int(0.02 * rate)], rate)
            times.append(time.perf_counter() - t0)
    finally:
        voice.close()
    return statistics.median(times[1:])


class BusyBrain(Stage):
    """A stand-in brain: each Turn keeps every core busy for `busy_s`, uncancellable, the way the model does
    (torch matmuls on the brain's threads, at the brain's priority)."""

    accepts = (Turn,)

    def __init__(self, busy_s: float = 3.0, nice: int = 0, threads: int = 0) -> None:
        super().__init__("busy_brain")
        self.busy_s = busy_s
        self.nice = nice
        self.threads = threads or (os.cpu_count() or 2)

    def open(self) -> None:
        import torch                                 # at start-up, as the real brain does: not during a trial
        torch.set_num_threads(self.threads)
        torch.ones(64, 64) @ torch.ones(64, 64)

    def process(self, frame: Frame) -> Iterable[Frame]:
        import torch
        if not isinstance(frame, Turn):
            return
        a = torch.randn(512, 512, generator=torch.Generator().manual_seed(0))
        end = time.monotonic() + self.busy_s
        while time.monotonic() < end:
            a = torch.tanh(a @ a.T * 1e-3)
        yield ReplySentence(turn=frame.turn, text="I have thought about it.")


@contextmanager
def cpu_hogs(n: int):
    """`n` processes that each keep a core busy (another program on the robot), ended on exit."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def stop_latency(trials: int = 50, busy_s: float = 3.0, seed: int = 0, config=None, load: int = 0,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Real-time feed of `trials` spoken stops while the brain is busy, the robot talks and `load` other
    processes keep cores busy."""
    from .lineup import build_lineup
    from .config import Config
    from .speech.player import NullSink
    from .testing import spoken

    config = config or Config()
    stages, _, _ = build_lineup(config, sink=NullSink(realtime=True), only={"stop_path", "hearing", "speech_out"})
    stop_path = next(s for s in stages if s.name == "stop_path")
    speech_out = next(s for s in stages if s.name == "speech_out")
    stages.insert(2, BusyBrain(busy_s, nice=config.brain.nice))
    rng = np.random.default_rng(seed)
    words = {v: spoken("stop", voice=v) for v in STOP_VOICES}

    stops: list[float] = []
    lock = threading.Lock()

    def sink(frame: Frame) -> None:
        if isinstance(frame, Stop):
            with lock:
                stops.append(time.monotonic())

    pipeline = Pipeline(stages, queue_size=512)
    pipeline.add_sink(sink)
    latencies, missed = [], 0
    with cpu_hogs(load), pipeline:
        for trial in range(trials):
            word = words[STOP_VOICES[trial % len(STOP_VOICES)]]
            loud = np.flatnonzero(np.abs(word) > 0.02)
            lead = int(RATE * rng.uniform(0.6, 0.9))
            track = rng.normal(0, 0.003, lead + len(word) + int(0.9 * RATE)).astype(np.float32)
            track[lead:lead + len(word)] += word * float(rng.uniform(0.4, 1.0))
            word_end_sample = lead + loud[-1] + 1
            turn = pipeline.turns.begin()
            pipeline.push(Turn(turn=turn, text="what do you see"))          # the brain gets busy
            pipeline.push(ReplySentence(turn=turn, text=REPLY, index=0))    # and the robot talks
            time.sleep(0.3)
            with lock:
                before = len(stops)
            start = time.monotonic()
            for i in range(0, len(track), 512):
                due = start + (i + 512) / RATE
                time.sleep(max(0.0, due - time.monotonic()))
                pipeline.push(AudioChunk(samples=track[i:i + 512], t=due, stamp=i / RATE))
            word_end = start + word_end_sample / RATE
            time.sleep(0.3)
            with lock:
                new = stops[before:]
            hits = [t - word_end for t in new if t > word_end - 0.5]
            if hits:
                latencies.append(hits[0])
            else:
                missed += 1
            if progress:
                progress(trial + 1)
        pipeline.wait_idle(busy_s + 10)
    return {
        "load": load, "brain_nice": config.brain.nice,
        "stop_trials": trials,
        "stop_detected": trials - missed,
        "stop_latency_p50_s": round(percentile(latencies, 50), 4),
        "stop_latency_p99_s": round(percentile(latencies, 99), 4),
        "stop_latency_max_s": round(max(latencies), 4) if latencies else float("nan"),
        "stop_spotted": len(stop_path.fired),
        "stop_to_silent_p50_s": round(percentile(speech_out.cut_latencies, 50), 4),
        "stop_to_silent_p99_s": round(percentile(speech_out.cut_latencies, 99), 4),
        "tts_cuts": len(speech_out.cut_latencies),
    }


def bench_speech(trials: int = 50, progress: Callable[[str, int, int], None] | None = None, *, config=None,
                 load: int = 0) -> dict:
    from .testing import spoken
    utterance = np.concatenate([spoken("where is the red cup on the table"), np.zeros(RATE, np.float32)])
    utterance = np.pad(utterance, (0, max(0, 3 * RATE - len(utterance))))[: 3 * RATE]     # exactly 3 s
    rng = np.random.default_rng(1)
    long_audio = np.concatenate([utterance] * 10) + rng.normal(0, 0.003, 30 * RATE).astype(np.float32)
    tiny, base = asr_rtf("tiny", utterance), asr_rtf("base", utterance)
    result = {
        "benchmark": "speech",
        "asr_rtf_tiny": tiny["rtf"], "asr_3s_tiny_s": tiny["seconds"],
        "asr_rtf_base": base["rtf"], "asr_3s_base_s": base["seconds"],
        "asr_note": "random weights in the whisper-tiny/base shapes, int8 CPU, 16 new tokens per 3 s utterance",
        "vad_rtf": round(vad_rtf(long_audio), 5),
        "tts_first_audio_s": round(tts_first_audio_s(), 4),
    }
    result.update(stop_latency(trials, config=config, load=load,
                               progress=(lambda n: progress("stop trials", n, trials)) if progress else None))
    result["targets"] = {
        "stop_latency_p99_s<=0.2": result["stop_latency_p99_s"] <= 0.2,
        "vad_rtf<=0.02": result["vad_rtf"] <= 0.02,
        "asr_3s_tiny_s<0.5": result["asr_3s_tiny_s"] < 0.5,
    }
    result["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    return result
