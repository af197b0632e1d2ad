"""Camera intrinsics in the camera_calibration_parsers YAML format, a camera→base extrinsic, and rays.

The intrinsics file is the one ROS `camera_calibration` writes (image_width, image_height,
camera_name, camera_matrix, distortion_model, distortion_coefficients, rectification_matrix,
projection_matrix). Rays are in the camera's optical frame (x right, y down, z forward); the
extrinsic maps that frame into the robot's base frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sys

import numpy as np
import yaml


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the field."""


def default_file(name: str) -> Path:
    """A bundled calibration file: the checkout's calibration/NAME, else the installed copy."""
    candidates = [Path(__file__).resolve().parents[2] / "calibration" / name,
                  Path(sys.prefix) / "share" / "robot_brain" / "calibration" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise CalibrationError(f"no {name} found (looked at {', '.join(map(str, candidates))}); "
                           f"set gate.{Path(name).stem if name != 'camera.yaml' else 'camera'} to your file")


def _matrix(data: dict, key: str, rows: int, cols: int, where: str) -> np.ndarray:
    entry = data.get(key)
    if not isinstance(entry, dict) or "data" not in entry:
        raise CalibrationError(f"{where}: {key} must be a mapping with rows, cols and data")
    values = np.asarray(entry["data"], dtype=float).ravel()
    if values.size != rows * cols or not np.all(np.isfinite(values)):
        raise CalibrationError(f"{where}: {key} needs {rows * cols} finite numbers, got {values.size}")
    return values.reshape(rows, cols)


def _read_yaml(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise CalibrationError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping")
    return data


MAX_IMAGE_EDGE = 16384
# How many distortion coefficients OpenCV takes for each model ROS names.
DISTORTION_SIZES = {"plumb_bob": (0, 4, 5, 8, 12, 14), "rational_polynomial": (0, 8, 12, 14), "equidistant": (4,)}


def _check_camera(width: int, height: int, k: np.ndarray, d: np.ndarray, model: str, where: str) -> None:
    """Raise CalibrationError unless the intrinsics can be used as they are (every later ray depends on it)."""
    if not (0 < width <= MAX_IMAGE_EDGE and 0 < height <= MAX_IMAGE_EDGE):
        raise CalibrationError(f"{where}: image size {width}×{height} is not within 1..{MAX_IMAGE_EDGE}")
    if not (np.isfinite(k).all() and np.isfinite(d).all()):
        raise CalibrationError(f"{where}: camera matrix and distortion coefficients must be finite numbers")
    if not (0 < k[0, 0] < 1e6 and 0 < k[1, 1] < 1e6) or not np.allclose(k[2], [0.0, 0.0, 1.0]) or k[1, 0] != 0:
        raise CalibrationError(f"{where}: camera matrix must be [fx s cx; 0 fy cy; 0 0 1] with fx, fy positive "
                               f"(got fx {k[0, 0]:g}, fy {k[1, 1]:g})")
    if model not in DISTORTION_SIZES:
        raise CalibrationError(f"{where}: distortion_model {model!r}; allowed: {', '.join(DISTORTION_SIZES)}")
    if d.size not in DISTORTION_SIZES[model] or np.abs(d).max(initial=0.0) > 1e3:
        raise CalibrationError(f"{where}: {model} takes {' or '.join(map(str, DISTORTION_SIZES[model][1:]))} "
                               f"distortion coefficients of moderate size, got {d.size}")


@dataclass(frozen=True)
class CameraModel:
    width: int
    height: int
    k: np.ndarray                      # 3×3
    d: np.ndarray                      # distortion coefficients (plumb_bob: k1 k2 p1 p2 k3)
    distortion_model: str = "plumb_bob"
    name: str = "camera"

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CameraModel":
        data = _read_yaml(path)
        where = str(path)
        try:
            width, height = int(data["image_width"]), int(data["image_height"])
        except (KeyError, TypeError, ValueError):
            raise CalibrationError(f"{where}: image_width and image_height must be integers") from None
        if width <= 0 or height <= 0:
            raise CalibrationError(f"{where}: image size {width}×{height} is not positive")
        k = _matrix(data, "camera_matrix", 3, 3, where)
        if k[0, 0] <= 0 or k[1, 1] <= 0:
            raise CalibrationError(f"{where}: camera_matrix focal lengths must be positive")
        dist = data.get("distortion_coefficients") or {"data": []}
        d = np.asarray(dist.get("data", []), dtype=float).ravel()
        model = str(data.get("distortion_model", "plumb_bob"))
        _check_camera(width, height, k, d, model, where)
        return cls(width, height, k, d, model, str(data.get("camera_name", "camera")))

    @classmethod
    def from_camera_info(cls, info) -> "CameraModel":
        """From a CameraInfoFrame (what a ROS camera_info topic or a bag carries); an unusable one raises."""
        try:
            k = np.asarray(info.k, dtype=float).reshape(3, 3)
            d = np.asarray(info.d, dtype=float).ravel()
            if isinstance(info.width, bool) or isinstance(info.height, bool) or int(info.width) != info.width \
                    or int(info.height) != info.height:
                raise ValueError("size")
            width, height = int(info.width), int(info.height)
        except (TypeError, ValueError, OverflowError, AttributeError):
            raise CalibrationError("camera_info: K must be 9 numbers, D a list of numbers and the size integers") \
                from None
        _check_camera(width, height, k, d, str(info.distortion_model), "camera_info")
        return cls(width, height, k, d, str(info.distortion_model), str(info.frame_id)[:128])

    def to_yaml(self, path: str | Path) -> None:
        p = self.k.copy()
        projection = np.hstack([p, np.zeros((3, 1))])

        def block(m: np.ndarray) -> dict[str, Any]:
            m = np.atleast_2d(m)
            return {"rows": int(m.shape[0]), "cols": int(m.shape[1]), "data": [float(x) for x in m.ravel()]}

        data = {"image_width": self.width, "image_height": self.height, "camera_name": self.name,
                "camera_matrix": block(self.k), "distortion_model": self.distortion_model,
                "distortion_coefficients": block(self.d.reshape(1, -1)), "rectification_matrix": block(np.eye(3)),
                "projection_matrix": block(projection)}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False))

    def scaled_to(self, width: int, height: int) -> "CameraModel":
        """The same camera at another resolution (a resized stream)."""
        if (width, height) == (self.width, self.height):
            return self
        k = self.k.copy()
        k[0] *= width / self.width
        k[1] *= height / self.height
        k[2, 2] = 1.0
        return CameraModel(width, height, k, self.d, self.distortion_model, self.name)

    def ray(self, u: float, v: float) -> np.ndarray:
        """Unit direction, in the camera's optical frame, of the ray through pixel (u, v); distortion removed."""
        import cv2
        pixel = np.array([[[u, v]]], dtype=np.float64)
        if self.distortion_model == "equidistant":
            x, y = cv2.fisheye.undistortPoints(pixel, self.k, self.d[:4]).ravel()
        else:
            x, y = cv2.undistortPoints(pixel, self.k, self.d).ravel()
        direction = np.array([x, y, 1.0])
        return direction / np.linalg.norm(direction)

    def project(self, point: np.ndarray) -> np.ndarray:
        """Pixel (u, v) of a 3-D point in the camera's optical frame (z > 0), distortion applied."""
        import cv2
        pts = np.asarray(point, dtype=np.float64).reshape(1, 1, 3)
        if self.distortion_model == "equidistant":
            pixel, _ = cv2.fisheye.projectPoints(pts, np.zeros(3), np.zeros(3), self.k, self.d[:4])
        else:
            pixel, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), self.k, self.d)
        return pixel.ravel()


@dataclass(frozen=True)
class Extrinsic:
    """Camera optical frame → robot base frame: p_base = rotation @ p_camera + translation."""
    rotation: np.ndarray
    translation: np.ndarray
    base_frame: str = "base_link"

    @classmethod
    def identity(cls) -> "Extrinsic":
        return cls(np.eye(3), np.zeros(3), "camera")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Extrinsic":
        data = _read_yaml(path)
        where = str(path)
        t = np.asarray(data.get("translation", [0, 0, 0]), dtype=float).ravel()
        if t.size != 3 or not np.all(np.isfinite(t)):
            raise CalibrationError(f"{where}: translation must be [x, y, z] in metres")
        if "rotation_matrix" in data:
            r = np.asarray(data["rotation_matrix"], dtype=float).reshape(-1)
            if r.size != 9:
                raise CalibrationError(f"{where}: rotation_matrix needs 9 numbers (3 rows of 3)")
            r = r.reshape(3, 3)
        elif "quaternion" in data:
            q = np.asarray(data["quaternion"], dtype=float).ravel()
            if q.size != 4 or not np.isfinite(q).all() or np.linalg.norm(q) == 0:
                raise CalibrationError(f"{where}: quaternion must be [x, y, z, w], not all zero")
            r = _quaternion_matrix(q / np.linalg.norm(q))
        else:
            raise CalibrationError(f"{where}: give rotation_matrix (3×3) or quaternion [x, y, z, w]")
        if not np.allclose(r @ r.T, np.eye(3), atol=1e-4) or np.linalg.det(r) < 0:
            raise CalibrationError(f"{where}: the rotation is not a proper rotation matrix")
        return cls(r, t, str(data.get("base_frame", "base_link")))

    def ray_to_base(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(origin, unit direction) in the base frame of a ray from the camera centre."""
        return self.translation.copy(), self.rotation @ np.asarray(direction, dtype=float)


def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
