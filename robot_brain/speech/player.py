"""Where the robot's voice goes: a sound device, a WAV file, or nowhere. Written in small blocks so it can be cut."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


class AudioSink:
    """Blocks of float32 mono go in with `write` (which may block like a real device); `abort` drops what's queued."""

    sample_rate: int = 0
    latency_s: float = 0.0        # audio accepted but not yet heard

    def write(self, block: np.ndarray, sample_rate: int) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Silence now: drop anything accepted but not yet played."""

    def close(self) -> None:
        pass


class PacedSink(AudioSink):
    """A sink that takes audio at the pace a device would (realtime=True) or instantly."""

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self._clock: float | None = None

    def _pace(self, seconds: float) -> None:
        if not self.realtime:
            return
        now = time.monotonic()
        if self._clock is None or self._clock < now:
            self._clock = now
        time.sleep(max(0.0, self._clock - now))      # wait until the previous block has played
        self._clock += seconds

    def abort(self) -> None:
        self._clock = None


class NullSink(PacedSink):
    """No speaker: audio is discarded (optionally at the pace it would have played)."""

    def write(self, block: np.ndarray, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._pace(len(block) / sample_rate)


class WavSink(PacedSink):
    """Keeps what was played (`self.audio`) and, with a path, streams it to a WAV file."""

    def __init__(self, path: str | Path | None = None, *, realtime: bool = False, keep: bool = True) -> None:
        super().__init__(realtime)
        self.path = Path(path) if path else None
        self.keep = keep
        self.blocks: list[np.ndarray] = []
        self._file = None

    def write(self, block: np.ndarray, sample_rate: int) -> None:
        if self.sample_rate and sample_rate != self.sample_rate:
            raise ValueError(f"WavSink got {sample_rate} Hz after {self.sample_rate} Hz; one voice per file")
        self.sample_rate = sample_rate
        self._pace(len(block) / sample_rate)
        if self.path is not None and self._file is None:
            import soundfile
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = soundfile.SoundFile(self.path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16")
        if self._file is not None:
            self._file.write(block)
        if self.keep:
            self.blocks.append(np.asarray(block, np.float32).copy())

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class DeviceSink(AudioSink):
    """A sounddevice OutputStream, opened at the voice's sample rate on first write, re-opened if it changes."""

    def __init__(self, device: str | int | None = None, *, block_s: float = 0.02) -> None:
        self.device = device
        self.block_s = block_s
        self._stream = None
        self._sd = None

    def _open(self, sample_rate: int) -> None:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise RuntimeError(f"audio playback needs sounddevice and PortAudio ({exc}): "
                               "pip install sounddevice; apt install libportaudio2 — or set tts.output=none") from exc
        from .microphone import resolve_device
        self._sd = sd
        device = resolve_device(self.device, kind="output")
        self.close()
        self._stream = sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device,
                                       blocksize=int(sample_rate * self.block_s), latency="low")
        self._stream.start()
        self.sample_rate = sample_rate
        self.latency_s = float(self._stream.latency)

    def write(self, block: np.ndarray, sample_rate: int) -> None:
        if self._stream is None or sample_rate != self.sample_rate:
            self._open(sample_rate)
        if self._stream.stopped:
            self._stream.start()
        self._stream.write(np.ascontiguousarray(block, np.float32).reshape(-1, 1))

    def abort(self) -> None:
        if self._stream is not None and self._stream.active:
            self._stream.abort()

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            finally:
                self._stream = None


def make_sink(output: str, *, block_s: float = 0.02, wav_path: str | Path | None = None) -> AudioSink:
    """`tts.output` → a sink: none, default, a device name or index; a wav_path overrides the device."""
    if wav_path:
        return WavSink(wav_path, realtime=True, keep=False)
    if output == "none":
        return NullSink(realtime=True)
    return DeviceSink(None if output == "default" else (int(output) if output.isdigit() else output), block_s=block_s)
