"""Model profiles: the registry validates, names resolve to folders, folders are checked, pull fails clearly offline."""
import json
import shutil

import pytest

from robot_brain.brain.registry import (LOCK_FILE, RegistryError, check_folder, load_registry, local_folder,
                                        resolve_model)
from robot_brain.cli import main


def test_registry_entries_validate():
    profiles = load_registry()
    assert {"smolvlm-256m", "smolvlm-500m", "smolvlm2-2.2b", "qwen2.5-vl-3b", "qwen3-vl-2b"} <= set(profiles)
    small = profiles["smolvlm-256m"]
    assert small.hub_id == "HuggingFaceTB/SmolVLM-256M-Instruct" and small.family == "idefics3"
    assert small.image_edge == 512 and small.image_tokens == 64 and not small.image_splitting
    assert "cpu" in small.devices and small.quantisation["cpu"] == "int8-dynamic-all"


@pytest.mark.parametrize("text, problem", [
    ("profiles: {x: {hub_id: a}}", "missing"),
    ("nothing: 1", "expected a mapping 'profiles:'"),
    ("profiles: {x: {hub_id: noslash, revision: main, family: idefics3, params_m: 1, dtype: {}, quantisation: {},"
     " image_edge: 1, image_tokens: 1, devices: [cpu]}}", "expected OWNER/NAME"),
    ("profiles: {x: {hub_id: a/b, revision: main, family: mamba, params_m: 1, dtype: {}, quantisation: {},"
     " image_edge: 1, image_tokens: 1, devices: [cpu]}}", "family = 'mamba'"),
    ("profiles: {x: {hub_id: a/b, revision: main, family: llava, params_m: 1, dtype: {}, quantisation: {},"
     " image_edge: 1, image_tokens: 1, devices: [toaster]}}", "unknown ['toaster']"),
])
def test_bad_registry_files_are_clear_errors(tmp_path, text, problem):
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_registry(path)


def test_profile_names_and_folders_resolve(tmp_path, monkeypatch, tiny_vlm_dir):
    monkeypatch.setenv("ROBOT_BRAIN_MODELS", str(tmp_path / "models"))
    assert resolve_model(str(tiny_vlm_dir)) == tiny_vlm_dir
    with pytest.raises(RegistryError, match="unknown model profile 'nonesuch'; profiles: .*smolvlm-256m"):
        resolve_model("nonesuch")
    with pytest.raises(RegistryError, match="not downloaded: run `robot-brain models pull smolvlm-256m`"):
        resolve_model("smolvlm-256m")
    with pytest.raises(RegistryError, match="does not exist"):
        resolve_model(str(tmp_path / "gone"))
    profile = load_registry()["smolvlm-256m"]
    shutil.copytree(tiny_vlm_dir, local_folder(profile))          # as if pulled
    (local_folder(profile) / LOCK_FILE).write_text(json.dumps({"commit": "abc123"}))
    assert resolve_model("smolvlm-256m") == local_folder(profile)
    assert check_folder(local_folder(profile), profile) == []
    assert main(["models", "check", "smolvlm-256m"]) == 0


def test_check_names_what_is_wrong_with_a_folder(tmp_path, tiny_vlm_dir):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_vlm_dir, broken)
    (broken / "model.safetensors").write_bytes(b"x")
    (broken / "processor_config.json").unlink()
    problems = check_folder(broken, load_registry()["qwen3-vl-2b"])
    assert any("truncated" in p for p in problems)
    assert any("image processor" in p for p in problems)
    assert any("expects 'qwen3_vl'" in p for p in problems)
    (broken / "config.json").write_text("{not json")
    assert "corrupt" in check_folder(broken)[0]
    assert "no config.json" in check_folder(tmp_path)[0]
    assert main(["models", "check", str(broken)]) == 1


def test_models_cli_lists_and_pull_fails_clearly_offline(monkeypatch, capsys):
    assert main(["models", "list"]) == 0
    assert "HuggingFaceTB/SmolVLM-256M-Instruct" in capsys.readouterr().out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "pull", "smolvlm-256m"]) == 1
    err = capsys.readouterr().err
    assert "no internet" in err and "brain.model" in err
    assert main(["models", "pull", "nonesuch"]) == 1
    assert "unknown model profile" in capsys.readouterr().err


def test_an_unknown_or_missing_model_stops_the_run_before_it_starts(tmp_path, monkeypatch):
    from pathlib import Path
    monkeypatch.setenv("ROBOT_BRAIN_MODELS", str(tmp_path / "models"))
    bag = str(Path(__file__).resolve().parents[1] / "data" / "sample_bag")
    assert main(["--set", "brain.model=nonesuch", "replay", bag, "--out", str(tmp_path / "o")]) == 2
    assert main(["--set", "brain.model=smolvlm-256m", "replay", bag, "--out", str(tmp_path / "o")]) == 2


def test_smaller_pulled_profiles_are_the_fallbacks(tmp_path, monkeypatch):
    from robot_brain.brain.registry import smaller_pulled
    monkeypatch.setenv("ROBOT_BRAIN_MODELS", str(tmp_path))
    profiles = load_registry()
    for name in ("smolvlm-256m", "smolvlm-500m", "qwen3-vl-2b"):
        local_folder(profiles[name]).mkdir(parents=True)
        (local_folder(profiles[name]) / LOCK_FILE).write_text("{}")
    assert [p.name for p in smaller_pulled("qwen2.5-vl-3b")] == ["qwen3-vl-2b", "smolvlm-500m", "smolvlm-256m"]
    assert smaller_pulled("smolvlm-256m") == [] and smaller_pulled("not-a-profile") == []


def test_shipped_profiles_resolve_to_their_folder_and_are_never_pulled(tmp_path, tiny_vlm_dir):
    from robot_brain.brain.registry import pull, shipped_folder, smaller_pulled
    shutil.copytree(tiny_vlm_dir, tmp_path / "table-brain")
    registry = tmp_path / "registry.yaml"
    registry.write_text("profiles:\n  table-brain: {path: table-brain, family: idefics3, params_m: 1, dtype: {cpu: float32},"
                        " quantisation: {cpu: none}, image_edge: 64, image_tokens: 4, devices: [cpu]}\n"
                        "  gone: {path: nowhere, family: idefics3, params_m: 1, dtype: {}, quantisation: {},"
                        " image_edge: 1, image_tokens: 1, devices: [cpu]}\n")
    profile = load_registry(registry)["table-brain"]
    assert profile.shipped and profile.hub_id == "" and profile.quantisation["cpu"] == "none"
    assert resolve_model("table-brain", registry) == tmp_path / "table-brain" == local_folder(profile)
    assert check_folder(local_folder(profile), profile) == []
    with pytest.raises(RegistryError, match="nothing to pull"):
        pull(profile)
    with pytest.raises(RegistryError, match="missing from"):
        resolve_model("gone", registry)
    assert smaller_pulled("table-brain", registry) == []
    assert shipped_folder("no-such-model") is None and shipped_folder("../models") is None
    registry.write_text("profiles:\n  both: {path: x, hub_id: a/b, revision: main, family: idefics3, params_m: 1, "
                        "dtype: {}, quantisation: {}, image_edge: 1, image_tokens: 1, devices: [cpu]}\n")
    with pytest.raises(RegistryError, match="not both"):
        load_registry(registry)
