"""Model profiles (models/registry.yaml): names for hub models, where they are on disk, and checks."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FAMILIES = {"idefics3", "smolvlm", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "llava", "gemma3"}
DEVICE_PROFILES = {"cpu", "orin-nano-8gb", "agx-orin", "cuda"}
QUANTISATIONS = {"none", "bf16", "fp16", "int8-dynamic", "int8-dynamic-all", "int8", "4bit"}
LOCK_FILE = ".robot_brain-profile.json"


class RegistryError(ValueError):
    """A registry file, profile name or model folder that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Profile:
    name: str
    hub_id: str                    # "" for a model shipped with robot_brain (see `path`)
    revision: str
    family: str
    params_m: int
    dtype: dict[str, str]
    quantisation: dict[str, str]
    image_edge: int
    image_tokens: int
    image_splitting: bool
    devices: tuple[str, ...]
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""                 # a shipped model: its folder, relative to the registry file's folder

    @property
    def shipped(self) -> bool:
        return bool(self.path)


def registry_path(explicit: str | Path | None = None) -> Path:
    """The registry file: `explicit`, else the checkout's models/registry.yaml, else the installed copy."""
    candidates = [Path(explicit)] if explicit else [
        Path(__file__).resolve().parents[2] / "models" / "registry.yaml",
        Path(sys.prefix) / "share" / "robot_brain" / "models" / "registry.yaml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise RegistryError(f"no model registry found (looked at {', '.join(map(str, candidates))}); "
                        "pass one with --registry FILE")


def load_registry(path: str | Path | None = None) -> dict[str, Profile]:
    path = registry_path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise RegistryError(f"{path}: expected a mapping 'profiles:'")
    profiles = {}
    required = {"family", "params_m", "dtype", "quantisation", "image_edge", "image_tokens", "devices"}
    for name, spec in data["profiles"].items():
        where = f"{path}: profiles.{name}"
        if not isinstance(spec, dict):
            raise RegistryError(f"{where}: expected a mapping")
        missing = required - set(spec) | ({"hub_id", "revision"} - set(spec) if "path" not in spec else set())
        if missing:
            raise RegistryError(f"{where}: missing {sorted(missing)}")
        if "path" in spec and "hub_id" in spec:
            raise RegistryError(f"{where}: give hub_id (a model to pull) or path (a shipped model), not both")
        if "path" not in spec and "/" not in str(spec["hub_id"]):
            raise RegistryError(f"{where}.hub_id = {spec['hub_id']!r}: expected OWNER/NAME")
        if spec["family"] not in FAMILIES:
            raise RegistryError(f"{where}.family = {spec['family']!r}; known: {sorted(FAMILIES)}")
        bad_devices = set(spec["devices"]) - DEVICE_PROFILES
        if bad_devices:
            raise RegistryError(f"{where}.devices: unknown {sorted(bad_devices)}; known: {sorted(DEVICE_PROFILES)}")
        bad_quant = set(spec["quantisation"].values()) - QUANTISATIONS
        if bad_quant:
            raise RegistryError(f"{where}.quantisation: unknown {sorted(bad_quant)}; known: {sorted(QUANTISATIONS)}")
        known = required | {"hub_id", "revision", "image_splitting", "notes", "path"}
        profiles[name] = Profile(name=name, hub_id=spec.get("hub_id", ""), revision=str(spec.get("revision", "")),
                                 family=spec["family"], params_m=int(spec["params_m"]), dtype=dict(spec["dtype"]),
                                 quantisation=dict(spec["quantisation"]), image_edge=int(spec["image_edge"]),
                                 image_tokens=int(spec["image_tokens"]),
                                 image_splitting=bool(spec.get("image_splitting", False)),
                                 devices=tuple(spec["devices"]), notes=str(spec.get("notes", "")),
                                 extra={k: v for k, v in spec.items() if k not in known},
                                 path=str(path.parent / spec["path"]) if "path" in spec else "")
    return profiles


ENGINE_PROFILES = {"cpu-x86_64", "cpu-aarch64", "intel-npu", "orin-nano-8gb", "agx-orin", "cuda"}


def registry_engines(path: str | Path | None = None) -> dict[str, str]:
    """The registry's `engines:` table (device profile → engine); empty if it has none."""
    from .engines import ENGINES
    path = registry_path(path)
    try:
        table = (yaml.safe_load(path.read_text()) or {}).get("engines") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        raise RegistryError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(table, dict):
        raise RegistryError(f"{path}: engines: expected a mapping of device profile to engine")
    for where, engine in table.items():
        if where not in ENGINE_PROFILES or engine not in ENGINES:
            raise RegistryError(f"{path}: engines.{where} = {engine!r}; device profiles: {sorted(ENGINE_PROFILES)}, "
                                f"engines: {', '.join(ENGINES)}")
    return dict(table)


def models_dir() -> Path:
    """Where `pull` puts models: $ROBOT_BRAIN_MODELS, else ~/.cache/robot_brain/models."""
    return Path(os.environ.get("ROBOT_BRAIN_MODELS") or Path.home() / ".cache" / "robot_brain" / "models")


def local_folder(profile: Profile) -> Path:
    return Path(profile.path) if profile.shipped else models_dir() / profile.name


def shipped_folder(name: str) -> Path | None:
    """models/NAME when robot_brain ships a model folder of that name, else None."""
    try:
        folder = registry_path().parent / name
    except RegistryError:
        return None
    return folder if name and "/" not in name and (folder / "config.json").is_file() else None


def resolve_model(ref: str, registry: str | Path | None = None) -> Path:
    """A model folder for `ref`: a folder path as is, or a pulled profile's folder. Errors say what to run."""
    path = Path(ref).expanduser()
    if path.exists() or "/" in ref or ref.startswith("."):
        if not path.is_dir():
            raise RegistryError(f"model folder {ref} does not exist")
        return path
    profiles = load_registry(registry)
    if ref not in profiles:
        raise RegistryError(f"unknown model profile {ref!r}; profiles: {', '.join(profiles)} "
                            "(or give a model folder path)")
    folder = local_folder(profiles[ref])
    if profiles[ref].shipped:
        if not (folder / "config.json").is_file():
            raise RegistryError(f"the shipped model {ref!r} is missing from {folder}: restore it from the repository "
                                f"(git checkout -- {folder}) or retrain it with scripts/train_demo_vlm.py")
        return folder
    if not (folder / LOCK_FILE).is_file():
        raise RegistryError(f"model profile {ref!r} is not downloaded: run `robot-brain models pull {ref}` where "
                            f"there is internet, or set brain.model to a local folder with the model")
    return folder


def smaller_pulled(name: str, registry: str | Path | None = None) -> list[Path]:
    """Folders of pulled profiles smaller than `name`, largest first: where to fall back when it does not fit."""
    profiles = load_registry(registry)
    if name not in profiles:
        return []
    smaller = sorted((p for p in profiles.values()            # shipped models know only their own world
                      if p.params_m < profiles[name].params_m and not p.shipped), key=lambda p: -p.params_m)
    return [local_folder(p) for p in smaller if (local_folder(p) / LOCK_FILE).is_file()]


def check_folder(folder: str | Path, profile: Profile | None = None) -> list[str]:
    """Problems that would stop the brain from loading `folder` (empty list: it looks loadable)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    problems = []
    config_path = folder / "config.json"
    if not config_path.is_file():
        return [f"{folder} has no config.json: not a transformers model folder"]
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{config_path} is corrupt ({exc.msg})"]
    if profile is not None and config.get("model_type") != profile.family:
        problems.append(f"model_type is {config.get('model_type')!r}, the profile {profile.name} expects "
                        f"{profile.family!r}")
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*.bin"))
    if not weights:
        problems.append("no weights (*.safetensors or *.bin)")
    for w in weights:
        if w.stat().st_size < 64:
            problems.append(f"{w.name} is truncated ({w.stat().st_size} bytes)")
    if not any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        problems.append("no tokenizer files")
    if not any((folder / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")):
        problems.append("no image processor config (preprocessor_config.json)")
    return problems


def pull(profile: Profile, *, revision: str | None = None) -> Path:
    """Download a profile into models_dir() with a progress bar; record the commit it resolved to."""
    try:
        from huggingface_hub import HfApi, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError as exc:
        raise RegistryError("pulling models needs huggingface_hub: pip install 'robot_brain[models]'") from exc
    if profile.shipped:
        raise RegistryError(f"{profile.name} ships with robot_brain in {profile.path}: there is nothing to pull")
    folder = local_folder(profile)
    wanted = revision or profile.revision
    offline_help = (f"no internet to the Hugging Face hub: copy the model {profile.hub_id} to a folder on this "
                    f"machine and set brain.model to that folder (robot-brain --set brain.model=/path/to/folder ...)")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise RegistryError(f"HF_HUB_OFFLINE is set, so {offline_help}")
    try:
        commit = HfApi().model_info(profile.hub_id, revision=wanted, timeout=15).sha
        snapshot_download(profile.hub_id, revision=commit, local_dir=folder)
    except HfHubHTTPError as exc:               # the hub answered: wrong name, gated model, bad revision
        raise RegistryError(f"the hub refused {profile.hub_id}@{wanted}: {exc}") from None
    except Exception as exc:                    # no route to the hub (connection errors differ by HTTP library)
        raise RegistryError(f"{offline_help} ({type(exc).__name__})") from None
    (folder / LOCK_FILE).write_text(json.dumps({"profile": profile.name, "hub_id": profile.hub_id,
                                                "revision": wanted, "commit": commit}, indent=2) + "\n")
    return folder
