"""Push-to-talk: the microphone reaches speech recognition only while the talk key is on.

The stage sits after the stop-word spotter, so "stop" is heard whether or not the key is on. While the key
is off, hearing gets silence of the same length, so the end of what was said is detected as usual.
"""
from __future__ import annotations

import dataclasses
import threading

import numpy as np

from ..frames import AudioChunk, Frame
from ..pipeline import Stage


class PushToTalk(Stage):
    accepts = (AudioChunk,)

    def __init__(self, name: str = "push_to_talk") -> None:
        super().__init__(name)
        self._talking = threading.Event()

    @property
    def talking(self) -> bool:
        return self._talking.is_set()

    def toggle(self) -> bool:
        """Switch talking on or off; returns the new state."""
        if self._talking.is_set():
            self._talking.clear()
        else:
            self._talking.set()
        return self.talking

    def process(self, frame: Frame):
        if isinstance(frame, AudioChunk) and not self._talking.is_set():
            frame = dataclasses.replace(frame, samples=np.zeros_like(frame.samples))
        yield frame
