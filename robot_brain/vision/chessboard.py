"""OpenCV chessboard calibration: images (a folder or a camera) → camera intrinsics YAML."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .calibration import CalibrationError, CameraModel

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
MIN_VIEWS = 5


@dataclass
class Calibration:
    camera: CameraModel
    rms_px: float                  # reprojection error
    used: list[str]                # the views where the board was found
    skipped: list[str]             # unreadable images, or no board found


def board_points(columns: int, rows: int, square_m: float) -> np.ndarray:
    """The inner corners of the board in its own plane (metres), in OpenCV's corner order."""
    grid = np.zeros((rows * columns, 3), np.float32)
    grid[:, :2] = np.mgrid[0:columns, 0:rows].T.reshape(-1, 2) * square_m
    return grid


def find_corners(gray: np.ndarray, columns: int, rows: int) -> np.ndarray | None:
    import cv2
    found, corners = cv2.findChessboardCorners(gray, (columns, rows),
                                               cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
    return cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)


def calibrate(views: Iterable[tuple[str, np.ndarray | None]], columns: int = 9, rows: int = 6,
              square_m: float = 0.025, name: str = "camera",
              progress: Callable[[str, bool], None] | None = None) -> Calibration:
    """Calibrate from (name, BGR or gray image) views; None images count as unreadable."""
    import cv2
    if columns < 2 or rows < 2 or not square_m > 0:
        raise CalibrationError("the board needs at least 2×2 inner corners and a positive square size")
    objects, pixels, used, skipped, size = [], [], [], [], None
    pattern = board_points(columns, rows, square_m)
    for label, image in views:
        if image is None or image.size == 0:
            skipped.append(f"{label} (unreadable)")
            continue
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if size is not None and gray.shape[::-1] != size:
            skipped.append(f"{label} (size {gray.shape[1]}×{gray.shape[0]} differs from {size[0]}×{size[1]})")
            continue
        corners = find_corners(gray, columns, rows)
        if progress:
            progress(label, corners is not None)
        if corners is None:
            skipped.append(f"{label} (no {columns}×{rows} board found)")
            continue
        size = gray.shape[::-1]
        objects.append(pattern)
        pixels.append(corners)
        used.append(label)
    if len(used) < MIN_VIEWS:
        raise CalibrationError(f"the board ({columns}×{rows} inner corners) was found in {len(used)} image(s); "
                               f"need at least {MIN_VIEWS} views from different angles"
                               + (f". Skipped: {'; '.join(skipped[:5])}" if skipped else ""))
    rms, k, d, _, _ = cv2.calibrateCamera(objects, pixels, size, None, None)
    camera = CameraModel(int(size[0]), int(size[1]), k, d.ravel()[:5], "plumb_bob", name)
    return Calibration(camera, float(rms), used, skipped)


def folder_views(folder: str | Path) -> list[tuple[str, np.ndarray | None]]:
    import cv2
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"{folder} is not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CalibrationError(f"{folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [(p.name, cv2.imread(str(p))) for p in files]


def camera_views(index: int, count: int, columns: int, rows: int, interval_s: float = 1.0):
    """Views from a live camera: a frame with the board in it, at most one per `interval_s`."""
    import time

    import cv2
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise CalibrationError(f"cannot open camera {index}; list cameras with `robot-brain devices`, or "
                               "calibrate from saved images with --images DIR")
    try:
        taken, last, failures = 0, 0.0, 0
        while taken < count:
            ok, frame = capture.read()
            if not ok:
                failures += 1
                if failures > 50:
                    raise CalibrationError(f"camera {index} stopped delivering frames")
                continue
            if time.monotonic() - last < interval_s:
                continue
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if find_corners(gray, columns, rows) is not None:
                last = time.monotonic()
                taken += 1
                yield f"camera frame {taken}", frame
    finally:
        capture.release()
