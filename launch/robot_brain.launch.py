"""Start robot_brain on a robot:  ros2 launch robot_brain robot_brain.launch.py [ARG:=VALUE ...]

composed:=true (default) runs every stage in one process, the lowest latency. composed:=false runs
one node per stage (asr, brain, gate, tts) talking over topics, so the VLM can run on another
computer of the robot. `ros2 launch robot_brain robot_brain.launch.py --show-args` lists the arguments.

The split nodes sign every message between them with the key in link_key_file (HMAC-SHA256); this file
creates it (mode 600) at the first split launch and passes its path, never the key, to every node. Nodes on
another computer need a copy of that same file (see README.md here).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

HERE = os.path.dirname(os.path.abspath(__file__))

ARGUMENTS = [
    ("model", "", "brain.model: a registry profile (robot-brain models list) or a model folder; "
                  "empty: as in params_file / config"),
    ("device", "", "brain.device and asr.device: cpu, cuda, cuda:1, ...; empty: as in params_file / config"),
    ("language", "", "asr.language: the spoken language code (en, de, ...); empty: as configured (detect)"),
    ("config", "", "a robot_brain YAML config (config_file parameter); node parameters override it"),
    ("params_file", os.path.join(HERE, "robot_brain.params.yaml"), "ROS parameters for every robot_brain node"),
    ("composed", "true", "true: all stages in one node; false: one node per stage (asr, brain, gate, tts)"),
    ("use_sim_time", "false", "use /clock (true when replaying a bag with robot-brain replay --ros)"),
    ("namespace", "", "namespace of the nodes; robot_brain's topics resolve inside it"),
    ("record_dir", "", "record the session (inputs and outputs) as a rosbag2 into this new folder; "
                       "empty: no recording"),
    ("link_key_file", "", "composed:=false: the key file the nodes sign their link with (created, mode 600, "
                          "when missing); empty: $ROS_HOME/robot_brain/link.key (~/.ros/robot_brain/link.key)"),
]

#: (executable, node name) of the per-stage deployment, in pipeline order.
SPLIT = [("asr_node", "asr"), ("brain_node", "brain"), ("gate_node", "intent_gate"), ("tts_node", "tts")]


def _nodes(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    overrides = {"use_sim_time": arg("use_sim_time").strip().lower() in ("true", "1", "yes")}
    for name, key in (("model", "brain.model"), ("device", "brain.device"), ("device", "asr.device"),
                      ("language", "asr.language"), ("config", "config_file"), ("record_dir", "ros.record_dir")):
        if arg(name):
            overrides[key] = arg(name)
    common = dict(package="robot_brain", namespace=arg("namespace"), output="screen",
                  parameters=[arg("params_file"), overrides])
    if arg("composed").strip().lower() in ("true", "1", "yes"):
        return [Node(executable="robot_brain_node", name="robot_brain", **common)]
    from robot_brain.ros.link import default_key_path, load_key
    key_file = os.path.abspath(os.path.expanduser(arg("link_key_file") or str(default_key_path())))
    load_key(key_file, create=True)         # fails here, saying what to do, rather than in every node
    overrides["ros.link_key_file"] = key_file
    return [Node(executable=executable, name=name, **common) for executable, name in SPLIT]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
