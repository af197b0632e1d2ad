"""Test inputs for the demo: a table-top clip with a red cup at a known place, and spoken questions."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import soundfile

from robot_brain.testing import spoken

WIDTH, HEIGHT = 320, 240
RED_CUP = (0.27, 0.55)          # where the cup stands, as fractions of width and height


def table_picture(index: int = 0) -> np.ndarray:
    img = np.full((HEIGHT, WIDTH, 3), (200, 205, 210), np.uint8)
    cv2.fillPoly(img, [np.array([[30, 140], [290, 140], [318, 238], [2, 238]], np.int32)], (60, 100, 150))
    x, y = int(RED_CUP[0] * WIDTH), int(RED_CUP[1] * HEIGHT)
    cv2.rectangle(img, (x - 15, y - 22), (x + 15, y + 22), (30, 30, 200), -1)
    cv2.circle(img, (240 + index % 3, 135), 16, (200, 80, 30), -1)
    return img


def write_clip(path: Path, frames: int = 20, fps: int = 10) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    for i in range(frames):
        writer.write(table_picture(i))
    writer.release()
    return path


def write_speech(path: Path, phrases: list[tuple[float, str]], seconds: float) -> Path:
    """Phrases spoken (espeak-ng) at the given times, in quiet room noise, as a 16 kHz WAV."""
    rate = 16000
    track = np.random.default_rng(3).normal(0, 0.002, int(seconds * rate)).astype(np.float32)
    for start, text in phrases:
        speech = spoken(text, sample_rate=rate)
        begin = int(start * rate)
        track[begin:begin + len(speech)] += speech[: len(track) - begin]
    soundfile.write(path, track, rate)
    return path
