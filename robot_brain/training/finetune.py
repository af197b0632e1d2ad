"""Fine-tuning a brain profile on a robot's own examples, with the demo brain's training loop.

`finetune(base, examples, out)` loads a registry profile or model folder, trains it (`full`: every weight,
for small models; `lora`: low-rank adapters on the language model's projections via peft, merged back in so
the brain loads the result like any model folder), and writes a model folder with the prompt it was trained
with. `register` adds that folder to a registry file as a new profile.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..brain.prompting import TrainedPrompt, trained_prompt
from .vlm_data import Encoder, Example
from .vlm_train import Settings, check, train

FULL_UP_TO_M = 50              # method "auto": full fine-tune up to this many million parameters, LoRA above
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class FinetuneError(RuntimeError):
    """A fine-tune that cannot run; the message says what to change."""


@dataclass(frozen=True)
class Plan:
    method: str                 # full | lora
    lora_rank: int = 8
    settings: Settings = Settings(steps=300, lr=2e-4, warmup=20)


def default_prompt() -> TrainedPrompt:
    """The prompt the brain gives a model without a trained prompt (structured replies, the packaged skills)."""
    from ..brain.vlm import DEFAULT_SYSTEM_PROMPT, STRUCTURED_INSTRUCTIONS
    from ..config import Config
    from ..intents.skills import load_skills, skills_prompt
    system = f"{DEFAULT_SYSTEM_PROMPT}\n{STRUCTURED_INSTRUCTIONS.format(skills=skills_prompt(load_skills()))}"
    return TrainedPrompt(system, Config().brain.history_turns)


def load_base(base: str):
    """(folder, model, processor, prompt) for a profile name or model folder."""
    from transformers import AutoModelForImageTextToText

    from ..brain.processors import load_processor
    from ..brain.registry import RegistryError, resolve_model
    try:
        folder = resolve_model(base)
    except RegistryError as exc:
        raise FinetuneError(str(exc)) from None
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype="float32")
    return folder, model, load_processor(folder), trained_prompt(folder) or default_prompt()


def choose_method(method: str, model) -> str:
    if method != "auto":
        return method
    return "full" if sum(p.numel() for p in model.parameters()) <= FULL_UP_TO_M * 1e6 else "lora"


def with_lora(model, rank: int):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise FinetuneError("LoRA needs peft: pip install 'robot_brain[train]' (or use --method full for a "
                            "small model)") from None
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    if not targets:
        raise FinetuneError(f"no projection layers named {LORA_TARGETS} in this model; use --method full")
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=targets,
                        exclude_modules=r".*vision.*")
    return get_peft_model(model, config)


def finetune(base: str, examples: list[Example], out: str | Path, plan: Plan, *, held_out: list[Example] = (),
             progress=lambda step, loss, seconds: None) -> dict:
    """Train `base` on `examples` into the model folder `out`; returns what was done and measured."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FinetuneError(f"{out} exists and is not empty: give a new folder for the fine-tuned model")
    if not examples:
        raise FinetuneError("no examples to train on")
    started = time.monotonic()
    folder, model, processor, prompt = load_base(base)
    method = choose_method(plan.method, model)
    encoder = Encoder(processor, prompt.system_prompt, pictures_after_text=prompt.pictures_after_text)
    encoded = [encoder.encode(e) for e in examples]
    if method == "lora":
        model = with_lora(model, plan.lora_rank)
    trained = train(model, encoded, plan.settings, processor.tokenizer.pad_token_id, progress=progress)
    if method == "lora":
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    prompt.save(out)
    result = {"base": base, "base_folder": str(folder), "method": method, "examples": len(examples),
              "settings": plan.settings.__dict__, "lora_rank": plan.lora_rank if method == "lora" else None,
              "training": trained.as_dict(), "seconds": round(time.monotonic() - started, 1)}
    if held_out:
        result["held_out_check"] = check(model, processor, list(held_out), prompt.system_prompt,
                                           pictures_after_text=prompt.pictures_after_text)
    (out / "finetune.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def register(name: str, folder: str | Path, base: str, registry: str | Path) -> None:
    """Append profile `name` for `folder` to `registry` (its comments kept), with the base profile's settings."""
    from ..brain.registry import RegistryError, load_registry
    registry = Path(registry)
    original = registry.read_text() if registry.is_file() else "profiles:\n"
    data = yaml.safe_load(original) or {}
    profiles = data.get("profiles") or {}
    if name in profiles:
        raise FinetuneError(f"{registry} already has a profile {name!r}: pick another name")
    spec = {k: v for k, v in (profiles.get(base) or {}).items() if k not in ("hub_id", "revision", "path")}
    if not spec:
        config = json.loads((Path(folder) / "config.json").read_text())
        spec = {"family": config.get("model_type", "idefics3"), "params_m": 0, "dtype": {"cpu": "float32"},
                "quantisation": {"cpu": "int8-dynamic-all"}, "image_edge": 512, "image_tokens": 64,
                "devices": ["cpu"]}
    folder = Path(folder).resolve()
    try:
        spec = {"path": str(folder.relative_to(registry.resolve().parent)), **spec}
    except ValueError:
        spec = {"path": str(folder), **spec}
    spec["notes"] = f"Fine-tuned from {base} by scripts/finetune.py."
    block = yaml.safe_dump({name: spec}, sort_keys=False, allow_unicode=True, default_flow_style=None)
    text = original.rstrip("\n") + "\n" + "".join(f"  {line}\n" for line in block.splitlines())
    registry.write_text(text)
    try:
        if name not in load_registry(registry):
            raise RegistryError("profiles: is not the last section of the file")
    except RegistryError as exc:
        registry.write_text(original)
        raise FinetuneError(f"could not add {name} to {registry} ({exc}); add it by hand:\n{block}") from None
