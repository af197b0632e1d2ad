"""scripts/train_demo_vlm.py: a run from scratch, and a run that goes on training what it wrote."""
import json

import pytest
from safetensors.torch import load_file


@pytest.mark.slow
def test_init_goes_on_from_the_saved_weights_tokenizer_and_shape(train_script, tiny_shape, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert train_script.main(tiny_shape + ["--steps", "2", "--scenes", "12", "--check", "0", "--out", str(first)]) == 0
    assert train_script.main(["--init", str(first), "--steps", "3", "--scenes", "12", "--check", "0", "--lr", "1e-2",
                        "--look-alike", "0.5", "--more", "what do you see", "--out", str(second)]) == 0
    a, b = (json.loads((folder / "training.json").read_text()) for folder in (first, second))
    assert b["shape"] == a["shape"] and b["init"] == str(first) and b["init_training"] == a
    assert b["asks"] == list(train_script.TRAINING_ASKS) + ["what do you see"] and b["look_alike"] == 0.5
    assert (second / "tokenizer.json").read_text() == (first / "tokenizer.json").read_text()
    before, after = (load_file(folder / "model.safetensors") for folder in (first, second))
    assert before.keys() == after.keys()
    assert all(before[k].shape == after[k].shape for k in before)
    assert any(not before[k].equal(after[k]) for k in before)


def test_init_refuses_a_folder_it_did_not_write_and_a_new_shape(train_script, tmp_path, capsys):
    with pytest.raises(SystemExit, match="no readable training.json"):
        train_script.main(["--init", str(tmp_path), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        train_script.main(["--init", str(tmp_path), "--shape", "vocab=400"])
    assert "--shape cannot change the size of an --init model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
