"""Text-to-speech back-ends: each renders one sentence to PCM. Playback is the player's job.

A back-end is any object with `open()`, `render(text) -> (float32 samples, sample_rate)` and
`close()`. pyttsx3 (espeak-ng on Linux) is built in; a neural voice (piper-tts, kokoro) plugs in
by adding a class with those three methods to `VOICES`.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
import threading
from pathlib import Path
from typing import Callable, Protocol

import numpy as np


_ENGINE_LOCK = threading.Lock()     # pyttsx3 hands every caller in a process the same engine


class Voice(Protocol):
    def open(self) -> None: ...
    def render(self, text: str) -> tuple[np.ndarray, int]: ...
    def close(self) -> None: ...


class Pyttsx3Voice:
    """pyttsx3 rendering to a WAV file (`save_to_file` + `runAndWait`), never `say()`, which blocks and can't be cut."""

    def __init__(self, voice: str = "", rate: int = 0, volume: float = 1.0) -> None:
        self.voice, self.rate, self.volume = voice, rate, volume
        self._engine = None
        self._dir: tempfile.TemporaryDirectory | None = None

    def open(self) -> None:
        try:
            import pyttsx3
        except ImportError as exc:
            raise ImportError("text-to-speech needs pyttsx3: pip install 'robot_brain[audio]' "
                              "(and apt install espeak-ng on Linux)") from exc
        try:
            self._engine = pyttsx3.init()
        except Exception as exc:   # no espeak-ng library: pyttsx3 raises whatever its driver raised
            raise RuntimeError(f"pyttsx3 could not start a speech engine ({exc}); on Linux: apt install espeak-ng") from exc
        if self.voice:
            known = {v.id: v for v in self._engine.getProperty("voices")}
            by_name = {v.name: v.id for v in known.values()}
            voice_id = self.voice if self.voice in known else by_name.get(self.voice)
            if voice_id is None:
                raise ValueError(f"tts.voice {self.voice!r} is not a voice of this engine; "
                                 f"some that are: {sorted(by_name)[:12]}")
            self._engine.setProperty("voice", voice_id)
        if self.rate:
            self._engine.setProperty("rate", self.rate)
        self._engine.setProperty("volume", self.volume)
        self._dir = tempfile.TemporaryDirectory(prefix="robot_brain-tts-")

    def render(self, text: str) -> tuple[np.ndarray, int]:
        import soundfile
        if self._engine is None:
            self.open()
        if not text.strip():
            return np.zeros(0, np.float32), 22050
        path = Path(self._dir.name) / "sentence.wav"
        for _attempt in range(3):      # pyttsx3's espeak driver now and then ends its loop before writing the file
            path.unlink(missing_ok=True)
            with _ENGINE_LOCK, contextlib.redirect_stdout(io.StringIO()):   # it prints "Audio saved to ..."
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()
            if path.exists() and path.stat().st_size > 44:
                break
        else:
            raise RuntimeError(f"the speech engine wrote no audio for {text[:40]!r}")
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return audio.mean(axis=1).astype(np.float32), int(rate)

    def close(self) -> None:
        # No engine.stop(): pyttsx3 shares one engine per process, and stop() leaves the espeak
        # driver ignoring the next synthesis.
        self._engine = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


VOICES: dict[str, Callable[..., Voice]] = {"pyttsx3": Pyttsx3Voice}


def make_voice(backend: str, **options) -> Voice:
    try:
        return VOICES[backend](**options)
    except KeyError:
        raise ValueError(f"unknown TTS back-end {backend!r}; available: {', '.join(VOICES)}") from None


