import json
import subprocess
import sys

import pytest

from robot_brain.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "robot_brain.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_lists_the_subcommands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("demo", "replay", "bench", "models", "devices", "config"):
        assert command in out.stdout


def test_demo_help_names_every_input_and_output():
    out = run("demo", "--help")
    assert out.returncode == 0
    for flag in ("--camera", "--video", "--images", "--mic", "--wav", "--text", "--speaker", "--wav-out",
                 "--no-window", "--out", "--push-to-talk", "--model", "--device", "--language"):
        assert flag in out.stdout


def test_demo_refuses_two_cameras_at_once(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--video", "a.mp4", "--images", "dir"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_config_errors_exit_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  queue_size: -1\n")
    assert main(["--config", str(bad), "config"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "pipeline.queue_size" in err


def test_config_prints_effective_values(capsys):
    assert main(["--set", "pipeline.queue_size=8", "config"]) == 0
    out = capsys.readouterr().out
    assert "pipeline.queue_size = 8" in out and "(default 64)" in out


def test_bench_pipeline_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "pipeline", "--json", str(path), "--frames", "200"]) == 0
    result = json.loads(path.read_text())
    assert result["frames"] == 200 and result["stages"] == 5
    assert result["per_frame_overhead_us"] > 0
    assert "µs per frame per stage" in capsys.readouterr().out


def test_devices_lists_sections(capsys):
    assert main(["devices", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found) == {"compute", "audio", "cameras"} and found["compute"][0].startswith("cpu:")


def test_bench_gate_writes_its_figures(tmp_path):
    done = run("bench", "gate", "--intents", "500", "--json", str(tmp_path / "gate.json"))
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "gate.json").read_text())
    assert figures["intents"] == 500 and 0 < figures["gate_us_per_intent"] < 1e6
    assert figures["decisions"]["rejected"] > 0 and figures["decisions"]["accepted"] > 0
    assert figures["audit_lines"] == sum(figures["decisions"].values())


def test_replay_needs_out_or_ros_and_ros_needs_rclpy(capsys):
    assert main(["replay", "tests/data/sample_bag"]) == 2
    assert "--out DIR (or --ros" in capsys.readouterr().err
    import importlib.util
    if importlib.util.find_spec("rclpy") is None:       # this venv has no ROS: the error says where to get it
        assert main(["replay", "tests/data/sample_bag", "--ros"]) == 1
        assert "setup_ros.sh" in capsys.readouterr().err


def test_ros_module_refuses_an_unknown_role():
    run = subprocess.run([sys.executable, "-m", "robot_brain.ros", "nonesuch"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and "composed,asr,brain,gate,tts" in run.stderr
