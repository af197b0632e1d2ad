import importlib.util


def test_torchvision_is_not_installed():
    # A mismatched torchvision breaks transformers' AutoProcessor on these machines.
    assert importlib.util.find_spec("torchvision") is None


def test_core_imports_neither_torch_nor_rclpy():
    import subprocess
    import sys
    code = ("import sys, robot_brain.pipeline, robot_brain.frames, robot_brain.config, robot_brain.bags, "
            "robot_brain.replay, robot_brain.cli; "
            "print(sorted(m for m in ('torch', 'rclpy', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
