"""Console scripts, one per node (`ros2 run robot_brain <name>`; launch/robot_brain.launch.py starts them)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys


def _run(role: str) -> None:
    import importlib.util
    if importlib.util.find_spec("rclpy") is None:
        sys.exit("robot_brain's ROS nodes need rclpy. Source your ROS 2 Jazzy set-up "
                 "(`source /opt/ros/jazzy/setup.bash`) or install the wheels: pip install -r ros-requirements.txt")
    sys.exit(spin(role))


def spin(role: str, argv: list[str] | None = None) -> int:
    """Run one node until Ctrl-C / SIGTERM: configure and activate it, as `ros2 launch` users expect."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn

    from .node import ROLES, RobotBrainNode
    argv = sys.argv if argv is None else argv
    non_ros = rclpy.utilities.remove_ros_args(argv)[1:]
    parser = argparse.ArgumentParser(prog=f"robot_brain {role} node", description=(
        f"robot_brain ROS 2 lifecycle node ({role}: {', '.join(ROLES[role])}). Parameters: every robot_brain config "
        "key as SECTION.KEY (see `robot-brain config`), plus config_file."))
    parser.add_argument("--record", metavar="DIR", help="record the session (inputs and outputs) as a rosbag2 in DIR")
    parser.add_argument("--no-autostart", action="store_true",
                        help="stay unconfigured; drive the lifecycle with `ros2 lifecycle set`")
    args = parser.parse_args(non_ros)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    rclpy.init(args=argv)
    node = RobotBrainNode(role, record_dir=args.record)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    code = 0
    try:
        if not args.no_autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().error("configure failed; fix the parameters above and restart")
                code = 1
            else:
                node.trigger_activate()
        if code == 0:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.shut_down()
        node.destroy_node()
        rclpy.try_shutdown()
    return code


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
