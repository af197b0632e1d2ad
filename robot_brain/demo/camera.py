"""Camera input for the demo: a webcam (index, /dev path or name), a video file, or a folder of images.

A feed runs in its own thread and hands each picture to `emit` as an ImageFrame, at most `max_fps` per
second. A live camera that stops delivering (unplugged, driver hiccup) is reported as lost and re-opened
every second until it is back; the rest of the demo keeps running without vision meanwhile.
"""
from __future__ import annotations

import glob
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..frames import ImageFrame

log = logging.getLogger("robot_brain.camera")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class CameraError(RuntimeError):
    pass


class Capture(Protocol):
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def isOpened(self) -> bool: ...    # noqa: N802 (OpenCV's name)
    def release(self) -> None: ...


def _cv2():
    import cv2
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is not None:     # OpenCV's own warnings about missing /dev/video* say less than ours
        logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    return cv2


def camera_names() -> dict[int, str]:
    """V4L2 cameras on this machine: index → the name the driver gives (Linux)."""
    found = {}
    for path in sorted(glob.glob("/sys/class/video4linux/video*")):
        try:
            found[int(Path(path).name[5:])] = (Path(path) / "name").read_text().strip()
        except (OSError, ValueError):
            continue
    return found


def resolve_camera(spec: str | int) -> int | str:
    """A webcam index, a device path, or a case-insensitive part of its name → what OpenCV opens."""
    text = str(spec).strip()
    if text.isdigit():
        return int(text)
    if text.startswith("/dev/") or Path(text).exists():
        return text
    names = camera_names()
    matches = [index for index, name in names.items() if text.lower() in name.lower()]
    if matches:
        return matches[0]
    listing = "; ".join(f"{i}: {n}" for i, n in names.items()) or "none found"
    raise CameraError(f"no camera named like {text!r} (cameras: {listing}); give an index or a /dev/video path")


class ImageFolder:
    """A folder of pictures as a capture: each picture shown for `period_s`, in name order, round and round."""

    def __init__(self, folder: str | Path, period_s: float = 2.0) -> None:
        self.folder = Path(folder)
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if self.folder.is_dir() else []
        if not self.paths:
            raise CameraError(f"{self.folder}: no pictures ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        self.period_s = period_s
        self._index = -1
        self._shown_at = float("-inf")
        self._image: np.ndarray | None = None
        self._bad: set[Path] = set()

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._image is not None and time.monotonic() - self._shown_at < self.period_s:
            return True, self._image
        for _ in range(len(self.paths)):
            self._index = (self._index + 1) % len(self.paths)
            path = self.paths[self._index]
            image = _cv2().imread(str(path), _cv2().IMREAD_COLOR)
            if image is not None:
                self._image, self._shown_at = image, time.monotonic()
                return True, image
            if path not in self._bad:
                self._bad.add(path)
                log.warning("%s is not a readable picture; skipped", path)
        return False, None

    def isOpened(self) -> bool:   # noqa: N802
        return len(self._bad) < len(self.paths)

    def release(self) -> None:
        pass


@dataclass
class CameraStatus:
    state: str = "starting"      # starting, live, lost, none (never opened)
    fps: float = 0.0
    frames: int = 0
    skipped: int = 0             # unreadable frames
    losses: int = 0
    size: tuple[int, int] | None = None    # (width, height) of the last picture


class CameraFeed:
    """Reads a capture in a thread; `latest` is the newest picture, `status` how the camera is doing.

    live=True: a read failure means the device went away: re-open every `retry_s` until it is back.
    live=False (files): the end of the file starts it again from the top, at the file's own frame rate.
    """

    def __init__(self, opener: Callable[[], Capture], name: str, emit: Callable[[ImageFrame], None], *,
                 live: bool, max_fps: float = 15.0, retry_s: float = 1.0, clock_origin: float | None = None) -> None:
        self.opener, self.name, self.emit, self.live = opener, name, emit, live
        self.max_fps, self.retry_s = max_fps, retry_s
        self.status = CameraStatus()
        self.latest: np.ndarray | None = None
        self.origin = time.monotonic() if clock_origin is None else clock_origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera:{name}", daemon=True)

    def start(self) -> "CameraFeed":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:          # started
            self._thread.join(timeout=3.0)

    def _open(self) -> Capture | None:
        try:
            capture = self.opener()
        except Exception as exc:     # a broken file or a driver error: same as no camera
            log.debug("camera %s: %s", self.name, exc)
            return None
        if capture is not None and capture.isOpened():
            return capture
        if capture is not None:
            capture.release()
        return None

    def _run(self) -> None:
        capture = None
        while not self._stop.is_set():
            if capture is None:
                capture = self._open()
                if capture is None:
                    self._lost("cannot be opened")
                    self._stop.wait(self.retry_s)
                    continue
                if self.status.state != "live":
                    log.info("camera %s is live", self.name)
                self.status.state = "live"
            capture = self._pump(capture)
        if capture is not None:
            capture.release()

    def _pump(self, capture: Capture) -> Capture | None:
        """Read pictures until the capture fails; returns it (to go on) or None (to re-open)."""
        period = 1.0 / self.max_fps if self.max_fps > 0 else 0.0
        if not self.live:
            get = getattr(capture, "get", None)
            file_fps = (get(_cv2().CAP_PROP_FPS) if get else 0.0) or self.max_fps or 15.0
            period = max(period, 1.0 / file_fps)
        window_start, window_frames = time.monotonic(), 0
        next_due = time.monotonic()
        failures = 0
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                failures += 1
                if self.live or failures > 3:
                    capture.release()
                    if self.live:
                        self._lost("stopped delivering pictures")
                        self._stop.wait(self.retry_s)
                    return None                 # a file: opened again from the top
                continue
            failures = 0
            frame = self._frame(image)
            if frame is None:
                continue
            self.latest = frame.image
            self.status.frames += 1
            window_frames += 1
            now = time.monotonic()
            if now - window_start >= 1.0:
                self.status.fps = window_frames / (now - window_start)
                window_start, window_frames = now, 0
            self.emit(frame)
            next_due = max(next_due + period, now) if period else now
            self._stop.wait(max(0.0, next_due - time.monotonic()))
        return capture

    def _frame(self, image: np.ndarray) -> ImageFrame | None:
        now = time.monotonic()
        try:
            if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 2:
                raise ValueError(f"unusable picture {image.dtype} {image.shape}")
            if image.ndim == 3 and image.shape[2] == 4:
                image = np.ascontiguousarray(image[:, :, :3])
            frame = ImageFrame(image=image, stamp=now - self.origin, t=now, frame_id=self.name)
        except ValueError as exc:
            self.status.skipped += 1
            if self.status.skipped == 1:
                log.warning("camera %s: %s; skipped (warned once)", self.name, exc)
            return None
        self.status.size = (image.shape[1], image.shape[0])
        return frame

    def _lost(self, why: str) -> None:
        if self.status.state in ("live", "starting"):
            if self.status.state == "live":
                self.status.losses += 1
                log.warning("camera %s %s; the demo goes on without vision and re-opens it every %.0f s",
                            self.name, why, self.retry_s)
            else:
                log.warning("camera %s %s; the demo goes on without vision (use --video FILE or --images DIR), "
                            "and keeps trying", self.name, why)
            self.status.state = "lost" if self.status.state == "live" else "none"
        self.status.fps = 0.0


def open_feed(*, camera: str | None, video: Path | None, images: Path | None, emit: Callable[[ImageFrame], None],
              max_fps: float = 15.0, image_period_s: float = 2.0, clock_origin: float | None = None) -> CameraFeed:
    """The feed the demo's flags ask for. Files that cannot be read raise CameraError before anything starts."""
    cv2 = _cv2()
    if video is not None:
        if not Path(video).is_file():
            raise CameraError(f"--video {video}: no such file")
        probe = cv2.VideoCapture(str(video))
        ok, _ = probe.read() if probe.isOpened() else (False, None)
        probe.release()
        if not ok:
            raise CameraError(f"--video {video}: OpenCV cannot read a picture from it (is it a video file?)")
        return CameraFeed(lambda: cv2.VideoCapture(str(video)), Path(video).name, emit, live=False,
                          max_fps=max_fps, clock_origin=clock_origin)
    if images is not None:
        folder = ImageFolder(images, image_period_s)
        return CameraFeed(lambda: folder, Path(images).name, emit, live=False, max_fps=max_fps,
                          clock_origin=clock_origin)
    source = resolve_camera(camera if camera is not None else "0")
    device = isinstance(source, int) or str(source).startswith("/dev/")
    backend = cv2.CAP_V4L2 if device and sys.platform.startswith("linux") else cv2.CAP_ANY
    return CameraFeed(lambda: cv2.VideoCapture(source, backend), str(source), emit, live=True, max_fps=max_fps,
                      clock_origin=clock_origin)
