"""scripts/train_demo_vlm.py: a run from scratch, and a run that goes on training what it wrote."""
import importlib.util
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_demo_vlm.py"
TINY = ["--shape", "image_edge=64", "--shape", "patch=8", "--shape", "scale_factor=2", "--shape", "vision_width=32",
        "--shape", "vision_layers=1", "--shape", "text_width=48", "--shape", "text_layers=2", "--shape", "vocab=400"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_demo_vlm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_init_goes_on_from_the_saved_weights_tokenizer_and_shape(script, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert script.main(TINY + ["--steps", "2", "--scenes", "12", "--check", "0", "--out", str(first)]) == 0
    assert script.main(["--init", str(first), "--steps", "3", "--scenes", "12", "--check", "0", "--lr", "1e-2",
                        "--look-alike", "0.5", "--more", "what do you see", "--out", str(second)]) == 0
    a, b = (json.loads((folder / "training.json").read_text()) for folder in (first, second))
    assert b["shape"] == a["shape"] and b["init"] == str(first) and b["init_training"] == a
    assert b["asks"] == list(script.TRAINING_ASKS) + ["what do you see"] and b["look_alike"] == 0.5
    assert (second / "tokenizer.json").read_text() == (first / "tokenizer.json").read_text()
    before, after = (load_file(folder / "model.safetensors") for folder in (first, second))
    assert before.keys() == after.keys()
    assert all(before[k].shape == after[k].shape for k in before)
    assert any(not before[k].equal(after[k]) for k in before)


def test_init_refuses_a_folder_it_did_not_write_and_a_new_shape(script, tmp_path, capsys):
    with pytest.raises(SystemExit, match="no readable training.json"):
        script.main(["--init", str(tmp_path), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        script.main(["--init", str(tmp_path), "--shape", "vocab=400"])
    assert "--shape cannot change the size of an --init model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
