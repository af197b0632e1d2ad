"""When the robot's own voice is playing: shared by playback (which sets it) and hearing (which asks)."""
from __future__ import annotations

import threading
import time
from collections import deque


class SpeakingState:
    """Thread-safe record of playback intervals (monotonic seconds), with a tail for room echo."""

    def __init__(self, tail_s: float = 0.3, keep: int = 64) -> None:
        self.tail_s = tail_s
        self._lock = threading.Lock()
        self._since: float | None = None
        self._past: deque[tuple[float, float]] = deque(maxlen=keep)
        self._levels: deque[tuple[float, float, float]] = deque(maxlen=512)   # (start, end, rms) of played blocks

    def played(self, rms: float, start: float, duration: float) -> None:
        """Playback reference: a block of this loudness plays from `start` for `duration` seconds."""
        with self._lock:
            self._levels.append((start, start + duration, rms))

    def reference_level(self, t: float, max_delay_s: float = 0.25) -> float:
        """Loudest playback that the microphone could be hearing at `t` (echo arrives up to max_delay_s late)."""
        with self._lock:
            return max((rms for start, end, rms in self._levels if start <= t and end >= t - max_delay_s), default=0.0)

    def start(self, t: float | None = None) -> bool:
        """Playback began. True when this changed the state."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = time.monotonic() if t is None else t
            return True

    def stop(self, t: float | None = None) -> bool:
        """Playback ended (or was cut). True when this changed the state."""
        with self._lock:
            if self._since is None:
                return False
            self._past.append((self._since, time.monotonic() if t is None else t))
            self._since = None
            return True

    @property
    def active(self) -> bool:
        return self._since is not None

    def at(self, t: float) -> bool:
        """Was the robot speaking (or its echo still ringing) at monotonic time `t`?"""
        with self._lock:
            if self._since is not None and t >= self._since:
                return True
            return any(start <= t <= end + self.tail_s for start, end in self._past)
