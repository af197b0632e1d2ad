"""Camera geometry: YAML round trip, pixel → ray → base frame, chessboard calibration."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from robot_brain.vision.calibration import CalibrationError, CameraModel, Extrinsic, default_file
from robot_brain.vision.chessboard import calibrate

K = np.array([[610.0, 0, 318.0], [0, 605.0, 242.0], [0, 0, 1]])
D = np.array([-0.12, 0.05, 0.001, -0.0005, 0.0])


def test_a_known_3d_point_projects_to_a_pixel_whose_ray_hits_it(tmp_path):
    camera = CameraModel(640, 480, K, D, "plumb_bob", "test")
    camera.to_yaml(tmp_path / "camera.yaml")
    camera = CameraModel.from_yaml(tmp_path / "camera.yaml")
    assert camera.k == pytest.approx(K) and camera.d == pytest.approx(D)
    extrinsic = Extrinsic.from_yaml(default_file("extrinsics.yaml"))
    for point in ([0.3, -0.2, 2.0], [-0.5, 0.25, 1.2], [0.0, 0.0, 3.0]):
        point = np.array(point)
        u, v = camera.project(point)
        assert 0 <= u < 640 and 0 <= v < 480
        ray = camera.ray(u, v)
        hit = ray * point[2] / ray[2]                               # the ray at the point's depth
        assert np.linalg.norm(hit - point) < 1e-3
        origin, direction = extrinsic.ray_to_base(ray)
        in_base = extrinsic.rotation @ point + extrinsic.translation
        along = origin + direction * np.dot(in_base - origin, direction)
        assert np.linalg.norm(along - in_base) < 1e-3                 # the base-frame ray passes through it too


def test_a_quaternion_extrinsic_matches_its_matrix(tmp_path):
    (tmp_path / "x.yaml").write_text("translation: [0.1, 0, 1.2]\nquaternion: [-0.5, 0.5, -0.5, 0.5]\n")
    quaternion = Extrinsic.from_yaml(tmp_path / "x.yaml")
    matrix = Extrinsic.from_yaml(default_file("extrinsics.yaml"))
    assert quaternion.rotation == pytest.approx(matrix.rotation, abs=1e-9)


@pytest.mark.parametrize("text, problem", [
    ("image_width: 640\n", "image_height"), ("[1, 2]", "expected a mapping"), ("a: [", "not valid YAML"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 2]}\n", "needs 9"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [.nan, 0, 0, 0, 1, 0, 0, 0, 1]}\n",
     "finite")])
def test_bad_intrinsics_files_say_what_is_wrong(tmp_path, text, problem):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(CalibrationError, match=problem):
        CameraModel.from_yaml(tmp_path / "c.yaml")


def test_a_resized_stream_scales_the_intrinsics():
    camera = CameraModel(640, 480, K, np.zeros(5))
    half = camera.scaled_to(320, 240)
    assert half.ray(159.0, 121.0) == pytest.approx(camera.ray(318.0, 242.0))


def render_board_views(count=12, columns=9, rows=6, square=0.03, seed=0):
    """Chessboard photos of a board seen from several poses by a camera with intrinsics K (no distortion)."""
    rng = np.random.default_rng(seed)
    px = 40                                                          # texture pixels per square
    texture = np.kron((np.add.outer(np.arange(rows + 1), np.arange(columns + 1)) % 2) * 255,
                      np.ones((px, px))).astype(np.uint8)
    texture = cv2.copyMakeBorder(texture, px, px, px, px, cv2.BORDER_CONSTANT, value=255)
    views = []
    for i in range(count):
        rvec = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2)])
        tvec = np.array([rng.uniform(-0.15, 0.0), rng.uniform(-0.12, 0.0), rng.uniform(0.55, 0.8)])
        rot, _ = cv2.Rodrigues(rvec)
        # texture pixel (x, y) → board plane (metres) → image: a homography
        to_board = np.array([[square / px, 0, -2 * square], [0, square / px, -2 * square], [0, 0, 1]])
        plane = K @ np.column_stack([rot[:, 0], rot[:, 1], tvec])
        image = cv2.warpPerspective(texture, plane @ to_board, (640, 480), borderValue=128)
        views.append((f"view{i}", cv2.GaussianBlur(image, (3, 3), 0)))
    return views


def test_chessboard_calibration_recovers_the_camera(tmp_path):
    result = calibrate(render_board_views(), 9, 6, 0.03, name="synthetic")
    assert len(result.used) >= 8 and result.rms_px < 0.5
    assert result.camera.k[0, 0] == pytest.approx(610, rel=0.03) and result.camera.k[1, 1] == pytest.approx(605, rel=0.03)
    assert result.camera.k[0, 2] == pytest.approx(318, abs=12) and result.camera.k[1, 2] == pytest.approx(242, abs=12)


def test_calibrate_command_writes_a_file_the_gate_reads(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for name, image in render_board_views(count=8):
        cv2.imwrite(str(folder / f"{name}.png"), image)
    (folder / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "camera.yaml"
    done = subprocess.run([sys.executable, "-m", "robot_brain.cli", "calibrate", "--images", str(folder), "--board", "9x6",
                           "--square", "0.03", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "reprojection error" in done.stdout and "1 skipped" in done.stdout
    assert CameraModel.from_yaml(out).k[0, 0] == pytest.approx(610, rel=0.05)
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "robot_brain.cli", "calibrate", "--images", str(empty)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "has no images" in done.stderr


def test_too_few_board_views_is_a_clear_error():
    with pytest.raises(CalibrationError, match="found in 0 image"):
        calibrate([("blank", np.zeros((480, 640), np.uint8))] * 6)


def test_an_unusable_camera_info_is_refused():
    from robot_brain.frames import CameraInfoFrame
    good = CameraInfoFrame(width=640, height=480, k=tuple(K.ravel()), d=tuple(D))
    assert CameraModel.from_camera_info(good).k == pytest.approx(K)
    for bad in (CameraInfoFrame(width=640, height=480, k=(0.0,) * 9),
                CameraInfoFrame(width=0, height=480, k=tuple(K.ravel())),
                CameraInfoFrame(width=640, height=480, k=(1.0, 2.0))):
        with pytest.raises(CalibrationError, match="camera_info"):
            CameraModel.from_camera_info(bad)
