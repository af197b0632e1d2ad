"""Camera frames made fit for a VLM: 3-channel RGB uint8, bounded size; stale or broken frames are refused."""
from __future__ import annotations

import re
from collections import deque

import numpy as np

from ..frames import ImageFrame


def to_model_rgb(image: np.ndarray, max_edge: int = 1024) -> np.ndarray | None:
    """OpenCV BGR/BGRA/mono → RGB uint8 no larger than `max_edge` on its longer side; None if there is no picture."""
    import cv2
    if image.size == 0 or min(image.shape[:2]) < 2:
        return None
    if image.dtype != np.uint8:                     # e.g. 16-bit depth or mono16 cameras
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        return None
    h, w = image.shape[:2]
    if max(h, w) > max_edge:
        scale = max_edge / max(h, w)
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image)


def frame_problem(frame: ImageFrame | None, now: float, max_age_s: float) -> str:
    """Why this frame should not be shown to the model ("" if it is fine)."""
    if frame is None:
        return "no camera frame has arrived"
    age = now - frame.t
    if age > max_age_s:
        return f"the latest camera frame is {age:.1f} s old"
    return ""


_MOTION = re.compile(r"\b(mov\w*|motion|wav\w*|walk\w*|runn\w*|doing|happen\w*|going on|fall\w*|coming|"
                     r"leav\w*|approach\w*|turn\w*|gestur\w*)\b", re.IGNORECASE)


def asks_about_motion(question: str) -> bool:
    """Does answering need more than one moment ("is he waving?", "what is happening?")."""
    return bool(_MOTION.search(question))


class Keyframes:
    """The latest frame, plus a few earlier ones at least `interval_s` apart, for questions about motion."""

    def __init__(self, keep: int = 3, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self._frames: deque[ImageFrame] = deque(maxlen=max(1, keep))
        self.latest: ImageFrame | None = None

    def add(self, frame: ImageFrame) -> None:
        self.latest = frame
        if not self._frames or frame.t - self._frames[-1].t >= self.interval_s:
            self._frames.append(frame)

    def recent(self) -> list[ImageFrame]:
        """Oldest first, ending with the latest frame."""
        frames = [f for f in self._frames if f is not self.latest]
        return (frames + [self.latest])[-self._frames.maxlen:] if self.latest is not None else []
