"""Thin shim so `colcon build` (ament_python) installs robot_brain on a robot.

Package metadata lives in pyproject.toml; this file only adds the ROS install layout:
the ament index marker, package.xml, launch files, the default config, the model registry, the demo brain and ear, and the default calibration.
"""
from glob import glob

from setuptools import setup

PACKAGE = "robot_brain"

setup(
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py") + glob("launch/*.yaml")),
        (f"share/{PACKAGE}/config", [f"{PACKAGE}/default_config.yaml"]),
        (f"share/{PACKAGE}/models", ["models/registry.yaml"]),
        (f"share/{PACKAGE}/models/demo-tabletop", glob("models/demo-tabletop/*")),
        (f"share/{PACKAGE}/models/demo-ear", glob("models/demo-ear/*")),
        (f"share/{PACKAGE}/calibration", glob("calibration/*.yaml")),
    ],
)
