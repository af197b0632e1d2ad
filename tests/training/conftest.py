"""What the training-script tests share: a tiny model shape and the scripts loaded as modules."""
import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def tiny_shape():
    """--shape arguments for a demo model small enough to train a few steps in seconds."""
    return ["--shape", "image_edge=64", "--shape", "patch=8", "--shape", "scale_factor=2",
            "--shape", "vision_width=32", "--shape", "vision_layers=1", "--shape", "text_width=48",
            "--shape", "text_layers=2", "--shape", "vocab=400"]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_script():
    return _load("train_demo_vlm")


@pytest.fixture(scope="module")
def blend_script():
    return _load("blend_demo_vlm")
