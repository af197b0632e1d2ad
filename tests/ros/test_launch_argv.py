"""The real launch file, read through recording stand-ins: what `ros2 launch` would start, with which argv."""
from pathlib import Path

import pytest
import yaml
from conftest import LAUNCH_FILE, ROOT, entry_point
from launch_standins import declared_arguments, processes


def test_launch_declares_the_documented_arguments():
    args = declared_arguments(LAUNCH_FILE)
    assert {"model", "device", "config", "composed", "use_sim_time", "namespace", "params_file",
            "record_dir", "language", "link_key_file"} <= set(args)
    assert args["composed"] == "true" and args["use_sim_time"] == "false"
    assert Path(args["params_file"]) == ROOT / "launch" / "robot_brain.params.yaml"


def test_composed_launch_starts_one_node_with_every_stage(tmp_path):
    [p] = processes(LAUNCH_FILE, {"model": "smolvlm-256m", "device": "cuda", "namespace": "robot1",
                                  "use_sim_time": "true"}, tmp_dir=tmp_path)
    assert (p.package, p.executable, p.name) == ("robot_brain", "robot_brain_node", "robot_brain")
    assert p.argv[:5] == ["--ros-args", "-r", "__node:=robot_brain", "-r", "__ns:=/robot1"]
    files = [p.argv[i + 1] for i, a in enumerate(p.argv) if a == "--params-file"]
    assert files[0] == str(ROOT / "launch" / "robot_brain.params.yaml")
    overrides = yaml.safe_load(Path(files[1]).read_text())["/**"]["ros__parameters"]
    assert overrides == {"use_sim_time": True, "brain.model": "smolvlm-256m", "brain.device": "cuda",
                         "asr.device": "cuda"}
    assert entry_point("robot_brain_node") == "robot_brain.ros.main:composed"


def test_split_launch_starts_one_node_per_stage(tmp_path):
    key_file = tmp_path / "keys" / "link.key"
    procs = processes(LAUNCH_FILE, {"composed": "false", "record_dir": "/tmp/session",
                                    "link_key_file": str(key_file)}, tmp_dir=tmp_path)
    assert [(p.executable, p.name) for p in procs] == [("asr_node", "asr"), ("brain_node", "brain"),
                                                        ("gate_node", "intent_gate"), ("tts_node", "tts")]
    key = key_file.read_text().strip()
    assert len(key) == 64 and key_file.stat().st_mode & 0o777 == 0o600       # made at the first launch
    for p in procs:
        assert "__ns:=" not in " ".join(p.argv)               # no namespace given
        assert p.parameters["ros.record_dir"] == "/tmp/session" and p.parameters["use_sim_time"] is False
        assert p.parameters["ros.link_key_file"] == str(key_file)                 # the path, never the key
    assert not [f for f in tmp_path.glob("launch_params_*") if key in f.read_text()]
    processes(LAUNCH_FILE, {"composed": "false", "link_key_file": str(key_file)}, tmp_dir=tmp_path)
    assert key_file.read_text().strip() == key                                   # kept at the next launch


def test_launch_key_file_defaults_under_ros_home_and_composed_needs_none(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros_home"))
    [p] = processes(LAUNCH_FILE, {}, tmp_dir=tmp_path)
    assert "ros.link_key_file" not in p.parameters and not (tmp_path / "ros_home").exists()
    procs = processes(LAUNCH_FILE, {"composed": "false"}, tmp_dir=tmp_path)
    default = tmp_path / "ros_home" / "robot_brain" / "link.key"
    assert {p.parameters["ros.link_key_file"] for p in procs} == {str(default)}
    short = tmp_path / "short.key"
    short.write_text("too short")
    short.chmod(0o600)
    from robot_brain.ros.link import LinkKeyError
    with pytest.raises(LinkKeyError, match="fewer than 32"):
        processes(LAUNCH_FILE, {"composed": "false", "link_key_file": str(short)}, tmp_dir=tmp_path)
        module, function = entry_point(p.executable).split(":")
        assert module == "robot_brain.ros.main" and function in {"asr", "brain", "gate", "tts"}


def test_unknown_launch_argument_is_refused(tmp_path):
    with pytest.raises(KeyError, match="modle"):
        processes(LAUNCH_FILE, {"modle": "x"}, tmp_dir=tmp_path)


def test_packaged_params_file_names_real_config_keys():
    from robot_brain.config import describe
    from launch_standins import _flatten
    keys = {k for k, _, _ in describe()}
    params = _flatten(yaml.safe_load((ROOT / "launch" / "robot_brain.params.yaml").read_text())["/**"]["ros__parameters"])
    assert params and set(params) <= keys
