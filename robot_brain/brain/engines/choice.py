"""Which engine runs a model: `brain.engine`, or with `auto` the registry's engine for this machine's device
profile — unless the model is one that engine cannot run, or the engine's library is not installed here."""
from __future__ import annotations

import importlib.util
import platform
from pathlib import Path

from . import ENGINES

AUTO = "auto"


def device_profile(device: str) -> str:
    """This machine's device profile for `device`: cuda, cpu-x86_64 or cpu-aarch64 (the registry's `engines:` keys)."""
    if device.startswith("cuda"):
        return "cuda"
    machine = platform.machine().lower()
    return "cpu-aarch64" if machine in ("aarch64", "arm64") else "cpu-x86_64"


def llama_text(folder: str | Path) -> bool:
    """Whether the llama.cpp engine can run the folder's model (the exporter's own rule)."""
    from transformers import AutoConfig

    from .gguf_export import check_supported
    try:
        check_supported(AutoConfig.from_pretrained(str(folder)))
    except (OSError, ValueError):          # no readable config, or UnsupportedModel (a ValueError)
        return False
    return True


def choose_engine(requested: str, device: str, folder: str | Path, engines: dict[str, str] | None = None,
                  profile_engines: dict[str, str] | None = None) -> tuple[str, str]:
    """(engine, why). `engines`: the registry's device profile → engine; `profile_engines`: a model profile's own
    choices, which win."""
    if requested != AUTO:
        if requested not in ENGINES:
            raise ValueError(f"unknown engine {requested!r}; one of auto, {', '.join(ENGINES)}")
        return requested, "set by brain.engine"
    where = device_profile(device)
    wanted = (profile_engines or {}).get(where) or (engines or {}).get(where) or "transformers"
    if wanted == "llama.cpp":
        if not llama_text(folder):
            return "transformers", f"the llama.cpp engine runs Llama-text VLMs only ({where})"
        if importlib.util.find_spec("llama_cpp") is None:
            return "transformers", ("llama-cpp-python is not installed (pip install 'robot_brain[llama]' for the "
                                    f"faster engine on {where})")
    return wanted, f"the registry's engine for {where}"
