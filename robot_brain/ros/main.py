"""Console scripts, one per node (`ros2 run robot_brain <name>`; launch/robot_brain.launch.py starts them)."""
from __future__ import annotations

import sys


def _run(role: str) -> None:
    try:
        from .node import spin
    except ImportError as exc:
        sys.exit(f"robot_brain's ROS nodes need rclpy ({exc}). Source your ROS 2 Jazzy set-up "
                 "(`source /opt/ros/jazzy/setup.bash`) or install the wheels: pip install -r ros-requirements.txt")
    sys.exit(spin(role))


def composed() -> None:
    """robot_brain_node: every stage in one process (lowest latency)."""
    _run("composed")


def asr() -> None:
    """asr_node: stop word, voice activity, Whisper, turn taking."""
    _run("asr")


def brain() -> None:
    """brain_node: the vision-language model."""
    _run("brain")


def gate() -> None:
    """gate_node: the safety gate; the only publisher of intents."""
    _run("gate")


def tts() -> None:
    """tts_node: speech synthesis and playback."""
    _run("tts")
