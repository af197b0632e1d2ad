"""Weight-space blending of a demo brain with one trained further from it (scripts/blend_demo_vlm.py)."""
import json

import pytest
import torch
from safetensors.torch import load_file

from robot_brain.training.blend import blend_state, parse_part_share

def test_blend_takes_the_share_of_the_tuned_weights_and_keeps_whole_numbers():
    base = {"w": torch.zeros(2, 3), "h": torch.full((4,), 2.0, dtype=torch.float16), "ids": torch.arange(3)}
    tuned = {"w": torch.ones(2, 3), "h": torch.full((4,), 4.0, dtype=torch.float16), "ids": torch.arange(3) + 5}
    mix = blend_state(base, tuned, 0.25)
    assert torch.allclose(mix["w"], torch.full((2, 3), 0.25))
    assert mix["h"].dtype == torch.float16 and torch.equal(mix["h"], torch.full((4,), 2.5, dtype=torch.float16))
    assert torch.equal(mix["ids"], tuned["ids"])
    assert torch.equal(blend_state(base, tuned, 0.0)["w"], base["w"])
    assert torch.equal(blend_state(base, tuned, 1.0)["w"], tuned["w"])


def test_a_part_takes_its_own_share_and_the_longest_named_part_wins():
    names = ["model.vision_model.a", "model.vision_model.post.b", "model.text_model.c"]
    base = {name: torch.zeros(2) for name in names}
    tuned = {name: torch.ones(2) for name in names}
    mix = blend_state(base, tuned, 0.75, {"model.vision_model": 0.5, "model.vision_model.post": 0.0})
    assert [float(mix[name][0]) for name in names] == [0.5, 0.0, 0.75]
    with pytest.raises(ValueError, match="no weight's name starts with model.vison"):
        blend_state(base, tuned, 0.75, {"model.vison": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend_state(base, tuned, 0.75, {"model.vision_model": -0.1})


def test_part_shares_are_read_from_the_command_line_form():
    assert parse_part_share("model.vision_model=0.5") == ("model.vision_model", 0.5)
    for wrong in ("model.vision_model", "=0.5", "model.vision_model=half", "model.vision_model=1.5"):
        with pytest.raises(ValueError, match="expected PREFIX=SHARE"):
            parse_part_share(wrong)


@pytest.mark.parametrize("other, message", [({"w": torch.zeros(2, 3), "extra": torch.zeros(1)}, "different weights"),
                                            ({"w": torch.zeros(3, 2)}, r"\(2, 3\) in one model and \(3, 2\)")])
def test_blend_refuses_models_of_another_make(other, message):
    with pytest.raises(ValueError, match=message):
        blend_state({"w": torch.zeros(2, 3)}, other, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend_state({"w": torch.zeros(1)}, {"w": torch.zeros(1)}, 1.5)


@pytest.mark.slow
def test_blend_script_writes_the_midpoint_that_loads_and_records_both_trainings(train_script, blend_script,
                                                                                tiny_shape, tmp_path):
    train, blend = train_script, blend_script
    first, second, mixed = tmp_path / "first", tmp_path / "second", tmp_path / "mixed"
    assert train.main(tiny_shape + ["--steps", "2", "--scenes", "12", "--check", "0", "--out", str(first)]) == 0
    assert train.main(["--init", str(first), "--steps", "3", "--scenes", "12", "--check", "0", "--lr", "1e-2",
                       "--out", str(second)]) == 0
    assert blend.main(["--base", str(first), "--tuned", str(second), "--tuned-share", "0.5", "--check", "2",
                       "--part-share", "model.vision_model=0.25", "--out", str(mixed)]) == 0
    a, b, m = (load_file(folder / "model.safetensors") for folder in (first, second, mixed))
    changed = [k for k in a if not a[k].equal(b[k])]
    assert changed and any(k.startswith("model.vision_model") for k in changed)
    assert all(torch.allclose(m[k], 0.75 * a[k] + 0.25 * b[k] if k.startswith("model.vision_model")
                              else (a[k] + b[k]) / 2, atol=1e-6) for k in a)
    record = json.loads((mixed / "training.json").read_text())
    assert record["blend"] == {"base": str(first), "tuned": str(second), "tuned_share": 0.5,
                               "part_shares": {"model.vision_model": 0.25}}
    assert record["tuned_training"]["init"] == str(first) and record["shape"] == record["base_training"]["shape"]
    assert record["held_out_check"]["n"] == 2
    assert (mixed / "tokenizer.json").read_text() == (second / "tokenizer.json").read_text()
    assert (mixed / "robot_brain_prompt.json").is_file()
    # a blend is itself a model the training script can go on from
    assert train.main(["--init", str(mixed), "--steps", "1", "--scenes", "12", "--check", "0",
                       "--out", str(tmp_path / "again")]) == 0


def test_blend_script_refuses_a_model_not_trained_from_the_base(blend_script, tmp_path, capsys):
    blend = blend_script
    with pytest.raises(SystemExit, match="no readable training.json"):
        blend.main(["--base", str(tmp_path), "--tuned", str(tmp_path), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        blend.main(["--base", str(tmp_path), "--tuned", str(tmp_path), "--tuned-share", "2"])
    assert "give a share between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        blend.main(["--base", str(tmp_path), "--tuned", str(tmp_path), "--part-share", "vision"])
    assert "--part-share 'vision': expected PREFIX=SHARE" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
