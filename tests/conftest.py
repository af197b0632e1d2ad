import os

import importlib.util
import tempfile

import pytest

# The ROS tests need rclpy (.venv-ros) and an isolated network namespace: `make test` runs them apart.
collect_ignore = [] if importlib.util.find_spec("rclpy") else ["ros"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# The llama.cpp engine's GGUF files of the tests' models, apart from the user's own
os.environ.setdefault("ROBOT_BRAIN_GGUF_CACHE", os.path.join(tempfile.gettempdir(), "robot_brain-gguf-tests"))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """Tiny models are built once per test session into this folder."""
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_vlm_dir(model_cache):
    from robot_brain.testing import tiny_idefics3_vlm
    return tiny_idefics3_vlm(model_cache)


@pytest.fixture(scope="session")
def tiny_llava_dir(model_cache):
    from robot_brain.testing import tiny_llava
    return tiny_llava(model_cache)


@pytest.fixture(scope="session")
def tiny_qwen_dir(model_cache):
    from robot_brain.testing import tiny_qwen2_vl
    return tiny_qwen2_vl(model_cache)


@pytest.fixture(scope="session")
def tiny_smolvlm2_dir(model_cache):
    from robot_brain.testing import tiny_smolvlm2
    return tiny_smolvlm2(model_cache)


@pytest.fixture(scope="session")
def tiny_whisper_dir(model_cache):
    from robot_brain.testing import tiny_whisper
    return tiny_whisper(model_cache)
