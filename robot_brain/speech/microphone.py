"""Microphone input through sounddevice (PortAudio): 16 kHz mono float32 AudioChunks, device by name or index."""
from __future__ import annotations

import logging
import queue
import time
from typing import Iterator

import numpy as np

from ..frames import AudioChunk
from .audio import SAMPLE_RATE, AudioConformer

log = logging.getLogger("robot_brain.microphone")


def _sounddevice():
    try:
        import sounddevice as sd
    except ImportError as exc:
        raise RuntimeError("microphone/speaker access needs sounddevice: pip install 'robot_brain[audio]'") from exc
    except OSError as exc:   # the module loads, PortAudio does not
        raise RuntimeError(f"PortAudio is missing ({exc}): apt install libportaudio2") from exc
    return sd


def resolve_device(spec: str | int | None, kind: str = "input") -> int | None:
    """A device index for `spec` (index, or a case-insensitive part of its name); None = the system default."""
    sd = _sounddevice()
    devices = list(sd.query_devices())
    channel_key = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [(i, d) for i, d in enumerate(devices) if d[channel_key] > 0]
    listing = "; ".join(f"{i}: {d['name']}" for i, d in usable) or "none"
    if not usable:
        raise RuntimeError(f"no audio {kind} device found (PortAudio sees {len(devices)} devices). "
                           f"Connect one, or use a file instead (--wav / tts.output=none). `robot-brain devices` lists them.")
    if spec is None or spec == "" or spec == "default":
        return None
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(i == index for i, _ in usable):
            return index
        raise RuntimeError(f"audio {kind} device {index} does not exist; {kind} devices: {listing}")
    matches = [i for i, d in usable if str(spec).lower() in d["name"].lower()]
    if not matches:
        raise RuntimeError(f"no audio {kind} device named like {spec!r}; {kind} devices: {listing}")
    return matches[0]


class Microphone:
    """Iterate to get AudioChunks of `block_s` seconds. If the device disappears, it warns and retries every second."""

    def __init__(self, device: str | int | None = None, *, block_s: float = 0.032, channels: int = 1,
                 max_queue_s: float = 5.0) -> None:
        self.device = device
        self.block_s = block_s
        self.channels = channels
        self._queue: queue.Queue = queue.Queue(maxsize=max(4, int(max_queue_s / block_s)))
        self._stream = None
        self._stopped = False
        self.overflows = 0
        self.dropped = 0

    def _open(self) -> None:
        sd = _sounddevice()
        index = resolve_device(self.device, "input")
        info = sd.query_devices(index if index is not None else sd.default.device[0])
        try:
            sd.check_input_settings(device=index, samplerate=SAMPLE_RATE, channels=self.channels, dtype="float32")
            rate = SAMPLE_RATE
        except Exception:            # the device can't do 16 kHz: record at its own rate and resample
            rate = int(info["default_samplerate"])
        self._rate = rate
        self._conform = AudioConformer(name=f"microphone {info['name']}")
        self._stream = sd.InputStream(device=index, samplerate=rate, channels=self.channels, dtype="float32",
                                      blocksize=int(rate * self.block_s), callback=self._callback)
        self._stream.start()
        log.info("listening on %r at %d Hz", info["name"], rate)

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        block = (np.array(indata, dtype=np.float32), time.monotonic())
        try:
            self._queue.put_nowait(block)
        except queue.Full:           # the consumer is stuck: keep the newest audio
            try:
                self._queue.get_nowait()
                self.dropped += 1
            except queue.Empty:
                pass
            self._queue.put_nowait(block)

    def __iter__(self) -> Iterator[AudioChunk]:
        self._open()
        started = time.monotonic()
        while not self._stopped:
            try:
                data, t = self._queue.get(timeout=1.0)
            except queue.Empty:
                if self._stream is not None and not self._stream.active:
                    self._reopen()
                continue
            samples = self._conform(data, self._rate)
            if len(samples):
                yield AudioChunk(samples=samples, sample_rate=SAMPLE_RATE, stamp=t - started, t=t)
        self.close()

    def _reopen(self) -> None:
        log.warning("the microphone stopped delivering audio; trying to re-open it")
        self.close(stop=False)
        try:
            self._open()
        except RuntimeError as exc:
            log.warning("microphone still unavailable: %s", exc)
            time.sleep(1.0)

    def close(self, stop: bool = True) -> None:
        self._stopped = self._stopped or stop
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception as exc:   # the device is already gone
                log.debug("closing the microphone: %s", exc)
            self._stream = None
