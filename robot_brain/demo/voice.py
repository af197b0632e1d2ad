"""What the user says or types, for the demo: a microphone, a WAV file played in real time, or typed lines.

Each input runs in its own thread, hands frames to `emit`, and sets `finished` when it has nothing more
to give (a file's end, end of typed input); a microphone never finishes.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from ..frames import AudioChunk, Frame, TextInput
from ..speech.audio import SAMPLE_RATE, AudioConformer

log = logging.getLogger("robot_brain.voice")


class VoiceError(RuntimeError):
    pass


class _Input:
    what = "input"

    def __init__(self, emit: Callable[[Frame], None], clock_origin: float | None = None) -> None:
        self.emit = emit
        self.origin = time.monotonic() if clock_origin is None else clock_origin
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name=f"input:{self.what}", daemon=True)

    def start(self) -> "_Input":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:          # started
            self._thread.join(timeout=2.0)

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:       # an input that dies must not take the demo with it
            log.error("%s stopped: %s", self.what, exc)
        finally:
            self.finished.set()

    def _run(self) -> None:
        raise NotImplementedError


class WavVoice(_Input):
    """A sound file played into the pipeline at the pace a microphone would deliver it, then quiet room noise
    long enough for the end of the last utterance to be heard."""

    what = "wav"

    def __init__(self, path: str | Path, emit, *, block_s: float = 0.032, tail_s: float = 1.5,
                 speed: float = 1.0, clock_origin: float | None = None) -> None:
        super().__init__(emit, clock_origin)
        self.path = Path(path)
        self.samples = read_wav(self.path)
        self.block = int(SAMPLE_RATE * block_s)
        self.speed = speed
        self.tail = np.random.default_rng(0).normal(0, 0.002, int(SAMPLE_RATE * tail_s)).astype(np.float32)

    def _run(self) -> None:
        audio = np.concatenate([self.samples, self.tail])
        started = time.monotonic()
        for begin in range(0, len(audio), self.block):
            if self._stop.is_set():
                return
            block = audio[begin:begin + self.block]
            due = started + begin / SAMPLE_RATE / self.speed
            self._stop.wait(max(0.0, due - time.monotonic()))
            now = time.monotonic()
            self.emit(AudioChunk(samples=block, sample_rate=SAMPLE_RATE, stamp=now - self.origin, t=now))


def read_wav(path: Path) -> np.ndarray:
    """A sound file as 16 kHz mono float32; a clear VoiceError for what cannot be used."""
    import soundfile
    if not path.is_file():
        raise VoiceError(f"--wav {path}: no such file")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise VoiceError(f"--wav {path}: not a sound file soundfile can read ({exc})") from None
    if len(data) == 0:
        raise VoiceError(f"--wav {path}: the file holds no audio")
    if len(data) > rate * 3600:
        raise VoiceError(f"--wav {path}: {len(data) / rate / 60:.0f} minutes is more than the demo plays (1 hour)")
    conform = AudioConformer(name=f"--wav {path.name}")
    return np.concatenate([conform(data, rate), conform.flush()])


class MicrophoneVoice(_Input):
    """The microphone (sounddevice); it re-opens a device that went away."""

    what = "microphone"

    def __init__(self, device: str | None, emit, *, block_s: float = 0.032, clock_origin: float | None = None) -> None:
        super().__init__(emit, clock_origin)
        from ..speech.microphone import Microphone, resolve_device
        resolve_device(device if device not in (None, "default") else None, "input")   # raises RuntimeError
        self.microphone = Microphone(device, block_s=block_s)

    def _run(self) -> None:
        for chunk in self.microphone:
            if self._stop.is_set():
                break
            self.emit(AudioChunk(samples=chunk.samples, sample_rate=chunk.sample_rate, stamp=chunk.t - self.origin,
                                 t=chunk.t))

    def stop(self) -> None:
        self._stop.set()
        self.microphone.close()
        if self._thread.ident is not None:
            self._thread.join(timeout=2.0)


class TypedVoice(_Input):
    """Lines typed on the terminal (or piped in) become TextInput; end of input finishes it.

    Piped lines are asked one at a time: each waits until `ready()` says the previous one was answered.
    """

    what = "text"

    def __init__(self, stream: TextIO, emit, *, prompt: bool = False, ready: Callable[[], bool] | None = None,
                 clock_origin: float | None = None) -> None:
        super().__init__(emit, clock_origin)
        self.stream = stream
        self.prompt = prompt
        self.ready = None if _is_terminal(stream) else ready

    def _run(self) -> None:
        if self.prompt:
            print("type a question and press Enter (\"stop\" stops the robot; Ctrl-D ends typed input)", flush=True)
        for line in self.stream:
            text = line.strip()
            if not text:
                continue
            while self.ready is not None and not self.ready():
                if self._stop.wait(0.1):
                    return
            if self._stop.is_set():
                return
            now = time.monotonic()
            self.emit(TextInput(text=text, stamp=now - self.origin, t=now))

    def stop(self) -> None:
        self._stop.set()          # the thread may sit in a blocking read of the terminal: not joined


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
