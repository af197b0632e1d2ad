"""ROS 2 tests: real rclpy nodes, started the way `ros2 launch` starts them, inside a network namespace
with only loopback (run them with `bash scripts/isolated.sh .venv-ros/bin/python -m pytest tests/ros`).
Tests that start DDS refuse to run anywhere else."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILE = ROOT / "launch" / "robot_brain.launch.py"
TEST_PARAMS = Path(__file__).with_name("params.yaml")


def network_isolation() -> str:
    """'' when only loopback exists (DDS cannot leave the machine), else why not."""
    names = [name for _, name in socket.if_nameindex()]
    others = [n for n in names if n != "lo"]
    if others:
        return f"network interfaces besides loopback: {', '.join(others)}"
    if "lo" not in names or not Path("/sys/class/net/lo/flags").exists() or \
            not int(Path("/sys/class/net/lo/flags").read_text(), 16) & 0x1:
        return "loopback is not up"
    return ""


@pytest.fixture(scope="session")
def isolated():
    why = network_isolation()
    if why:
        message = (f"REFUSING to start DDS: this is not an isolated network namespace ({why}). "
                   "Run: bash scripts/isolated.sh .venv-ros/bin/python -m pytest tests/ros")
        print("\n" + "!" * 20 + " " + message, file=sys.stderr)
        pytest.skip(message)


@pytest.fixture(scope="session")
def rclpy_context(isolated):
    import rclpy
    rclpy.init()
    yield rclpy
    rclpy.try_shutdown()


@pytest.fixture
def probe(rclpy_context):
    from rclpy.node import Node
    node = Node("test_probe")
    yield node
    node.destroy_node()


def spin_until(node, predicate, timeout: float) -> bool:
    import rclpy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return predicate()


def entry_point(executable: str) -> str:
    """The console script's 'module:function' from pyproject.toml (what colcon installs as the executable)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return scripts[executable]


class Started:
    """A node process started with the argv `ros2 launch` would give it."""

    def __init__(self, process, log_path: Path) -> None:
        module, function = entry_point(process.executable).split(":")
        self.process = process
        self.log_path = log_path
        self._log = log_path.open("w")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen([sys.executable, "-c", f"from {module} import {function}; {function}()",
                                       *process.argv], stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def stop(self, sig=signal.SIGINT, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    @property
    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()


@pytest.fixture
def launch(tmp_path, isolated):
    """launch(**launch_args) → the started node processes; all stopped at the end of the test."""
    from launch_standins import processes
    started: list[Started] = []

    def start(**launch_args):
        launch_args.setdefault("params_file", str(TEST_PARAMS))
        launch_args.setdefault("link_key_file", str(tmp_path / "link.key"))     # not the user's ~/.ros
        new = [Started(p, tmp_path / f"{p.name}.log") for p in processes(LAUNCH_FILE, launch_args, tmp_dir=tmp_path)]
        started.extend(new)
        return new
    yield start
    for s in started:
        s.stop()
