"""Weight precision for the brain's model: what to apply per device, applying it, and reporting what it costs.

CPU default: dynamic int8 for the language model's linear layers (torch.ao `quantize_dynamic`), the
vision encoder left in float (it runs once per turn; the language model runs once per token).
CUDA default: float16. bitsandbytes int8 / 4-bit on CUDA when that library is installed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

SCHEMES = ("auto", "none", "bf16", "fp16", "int8-dynamic", "int8", "4bit")


@dataclass(frozen=True)
class Applied:
    scheme: str
    weight_mb: float
    note: str = ""


def choose(scheme: str, device: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown quantisation {scheme!r}; one of {', '.join(SCHEMES)}")
    if scheme != "auto":
        return scheme
    return "fp16" if device.startswith("cuda") else "int8-dynamic"


def load_kwargs(scheme: str, device: str) -> dict:
    """from_pretrained arguments for schemes applied at load time (dtype, bitsandbytes)."""
    import torch
    if scheme == "fp16":
        return {"dtype": torch.float16}
    if scheme == "bf16":
        return {"dtype": torch.bfloat16}
    if scheme in ("int8", "4bit"):
        if not device.startswith("cuda"):
            raise ValueError(f"quantisation {scheme} needs CUDA (bitsandbytes); on CPU use int8-dynamic")
        try:
            from transformers import BitsAndBytesConfig
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"quantisation {scheme} needs bitsandbytes: pip install bitsandbytes") from exc
        config = BitsAndBytesConfig(load_in_8bit=True) if scheme == "int8" else BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_compute_dtype=torch.float16, bnb_4bit_quant_type="nf4")
        return {"quantization_config": config, "device_map": device}
    return {}


def language_model(model):
    """The decoder part of a VLM (what runs once per generated token)."""
    for path in ("model.language_model", "language_model", "model.text_model", "model.model.text_model"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    return None


def apply_after_load(model, scheme: str):
    """Schemes applied to a loaded float model. Returns the model to use."""
    if scheme != "int8-dynamic":
        return model
    import torch
    from torch import nn
    decoder = language_model(model)
    if decoder is None:
        raise ValueError(f"int8-dynamic: cannot find the language model inside {type(model).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # torch.ao.quantization deprecation notice
        torch.ao.quantization.quantize_dynamic(decoder, {nn.Linear}, dtype=torch.qint8, inplace=True)
        head = getattr(model, "lm_head", None)
        if isinstance(head, nn.Linear):
            quantised = torch.ao.quantization.quantize_dynamic(nn.Sequential(head), {nn.Linear}, dtype=torch.qint8)
            model.lm_head = quantised[0]
    return model


def weight_mb(model) -> float:
    """Bytes of weights, counting int8-packed linear layers at their packed size."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    for module in model.modules():
        packed = getattr(module, "_packed_params", None)
        if packed is not None:
            try:
                weight, bias = module._packed_params._weight_bias()
                total += weight.numel() * 1 + (bias.numel() * bias.element_size() if bias is not None else 0)
            except (AttributeError, RuntimeError):
                pass
    return total / 2**20
