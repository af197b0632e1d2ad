"""Sample rosbag2 recordings made from the synthetic table-top world and espeak-ng speech (deterministic).

A generated scene (robot_brain/sim, seed SAMPLE_SEED: a blue cube, a red cup, a black cup and a blue ball,
and a person waving; held out from the demo brain's training scenes) as JPEG camera frames at 5 Hz with
CameraInfo, spoken questions and a "stop" as 16 kHz audio_common_msgs AudioDataStamped in 100 ms chunks,
and typed questions on the text topic.

- `write_bag(out)` with the defaults writes the sample bag used by `make demo` and the replay tests
  (`python scripts/make_sample_bag.py` runs it);
- `bench_bag()` is the end-to-end benchmark's bag: the same scene with spoken questions far enough apart
  that, on a small CPU, one turn is answered before the next is asked.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .bags import (AUDIO_DATA, AUDIO_DATA_STAMPED, AUDIO_INFO, CAMERA_INFO, COMPRESSED_IMAGE, STRING, BagWriter,
                   header)
from .config import TopicsConfig
from .testing import _cached, spoken

RATE = 16000
WIDTH, HEIGHT = 320, 240
SPOKEN = [(1.0, "what do you see"), (5.0, "where is the red cup"), (9.0, "stop")]
TYPED = [(11.0, "point at the blue ball")]
DURATION_S = 13.0
CAMERA_HZ = 5


SAMPLE_SEED = 2_003_050


def sample_scene() -> np.ndarray:
    """The sample bags' camera picture (320x240 BGR)."""
    from .sim.world import make_scene
    return make_scene(SAMPLE_SEED).image


# Questions 14 s apart, then a stop said while the robot is still answering the last one.
BENCH_SPOKEN = [(1.0, "what do you see"), (15.0, "where is the red cup"), (29.0, "point at the blue ball"),
                (31.5, "stop")]
BENCH_DURATION_S = 36.0


def bench_bag(root: Path | None = None) -> Path:
    """The end-to-end benchmark's bag (built once into the model cache)."""
    return _cached("bench-bag", "2", lambda path: write_bag(path / "bag", said=BENCH_SPOKEN, typed=[],
                                                             duration_s=BENCH_DURATION_S), root) / "bag"


def write_bag(out: Path, storage: str = "mcap", *, said: list[tuple[float, str]] = SPOKEN,
              typed: list[tuple[float, str]] = TYPED, duration_s: float = DURATION_S,
              picture: Callable[[int], np.ndarray] | None = None, voice: str = "en-us") -> Path:
    """Write camera frames, `said` (start s, text) as espeak-ng speech in `voice` and `typed` (stamp s, text) to a
    rosbag2 folder. `picture(i)` gives frame i (320x240 BGR); by default the sample scene."""
    topics = TopicsConfig()
    rng = np.random.default_rng(7)
    if picture is None:
        scene = sample_scene()
        picture = lambda i: scene                                                 # noqa: E731
    track = np.zeros(int(duration_s * RATE), np.float32)
    for start, text in said:
        speech = spoken(text, voice=voice, speed=160, sample_rate=RATE)
        begin = int(start * RATE)
        track[begin:begin + len(speech)] += speech[: len(track) - begin]
    track += rng.normal(0, 0.002, len(track)).astype(np.float32)   # a quiet room, not digital silence
    pcm = (np.clip(track, -1, 1) * 32767).astype("<i2")

    if out.exists():
        shutil.rmtree(out)
    with BagWriter(out, storage) as bag:
        T = bag.types
        for topic, msgtype in [(topics.compressed_image, COMPRESSED_IMAGE), (topics.camera_info, CAMERA_INFO),
                               (topics.audio, AUDIO_DATA_STAMPED), (topics.audio_info, AUDIO_INFO),
                               (topics.text_in, STRING)]:
            bag.add(topic, msgtype)
        bag.write(topics.audio_info, 0.0, T[AUDIO_INFO](channels=1, sample_rate=RATE, sample_format="S16LE",
                                                       bitrate=RATE * 16, coding_format="wave"))
        messages = []
        for i in range(int(duration_s * CAMERA_HZ)):
            messages.append((i / CAMERA_HZ, "image", i))
        for j in range(int(duration_s * 10)):
            messages.append((j / 10 + 0.001, "audio", j))
        for stamp, text in typed:
            messages.append((stamp, "text", text))
        roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        fx = 0.9 * WIDTH
        k = np.array([fx, 0, WIDTH / 2, 0, fx, HEIGHT / 2, 0, 0, 1])
        for stamp, kind, item in sorted(messages, key=lambda m: m[0]):
            if kind == "image":
                frame = picture(item)
                ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
                bag.write(topics.compressed_image, stamp, T[COMPRESSED_IMAGE](
                    header=header(bag.store, stamp, "camera"), format="bgr8; jpeg compressed bgr8",
                    data=jpg.reshape(-1)))
                if item % CAMERA_HZ == 0:
                    bag.write(topics.camera_info, stamp, T[CAMERA_INFO](
                        header=header(bag.store, stamp, "camera"), height=HEIGHT, width=WIDTH,
                        distortion_model="plumb_bob", d=np.zeros(5), k=k, r=np.eye(3).reshape(-1),
                        p=np.array([fx, 0, WIDTH / 2, 0, 0, fx, HEIGHT / 2, 0, 0, 0, 1, 0]),
                        binning_x=0, binning_y=0, roi=roi))
            elif kind == "audio":
                chunk = pcm[item * RATE // 10:(item + 1) * RATE // 10]
                bag.write(topics.audio, stamp, T[AUDIO_DATA_STAMPED](
                    header=header(bag.store, stamp, "microphone"), audio=T[AUDIO_DATA](data=chunk.view(np.uint8))))
            else:
                bag.write(topics.text_in, stamp, T[STRING](data=item))
    return out
