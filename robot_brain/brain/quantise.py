"""Weight precision for the brain's model: what to apply per device, applying it, and reporting what it costs.

CPU default (`int8-dynamic-all`): dynamic int8 for every linear layer (torch.ao dynamic quantised
Linear; per-channel weights in the vision encoder). `int8-dynamic` quantises only the language model and
keeps the vision encoder in float32. Layers are converted one at a time from the checkpoint's own dtype,
so a bf16 checkpoint never exists as a whole float32 copy. CUDA default: float16. bitsandbytes int8 /
4-bit on CUDA when that library is installed.

Measured on a SmolVLM-256M-shaped model, 2 CPU cores, 48 new tokens (`robot-brain bench vlm`):
torch.ao dynamic int8 ~20-26 tok/s; int8 weight-only (`torch._weight_int8pack_mm`, torchao's CPU kernel)
~18 tok/s eager and ~26 tok/s with a static KV cache + `torch.compile`, which costs 24-90 s of
compilation at start-up. The eager dynamic path is kept.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

SCHEMES = ("auto", "none", "bf16", "fp16", "int8-dynamic", "int8-dynamic-all", "int8", "4bit")
DYNAMIC = ("int8-dynamic", "int8-dynamic-all")


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
    return "fp16" if device.startswith("cuda") else "int8-dynamic-all"


def load_kwargs(scheme: str, device: str) -> dict:
    """from_pretrained arguments for schemes applied at load time (dtype, bitsandbytes)."""
    import torch
    if scheme == "fp16":
        return {"dtype": torch.float16}
    if scheme == "bf16":
        return {"dtype": torch.bfloat16}
    if scheme in DYNAMIC:
        return {"dtype": "auto"}                  # the checkpoint's dtype; apply_after_load converts per layer
    if scheme in ("int8", "4bit"):
        if not device.startswith("cuda"):
            raise ValueError(f"quantisation {scheme} needs CUDA (bitsandbytes); on CPU use int8-dynamic-all")
        try:
            from transformers import BitsAndBytesConfig
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"quantisation {scheme} needs bitsandbytes: pip install bitsandbytes") from exc
        config = BitsAndBytesConfig(load_in_8bit=True) if scheme == "int8" else BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_compute_dtype=torch.float16, bnb_4bit_quant_type="nf4")
        return {"quantization_config": config, "device_map": device}
    return {}


def load_model(path: str, scheme: str, device: str):
    """The model at `path` on `device` with `scheme` applied (a scheme from `choose`)."""
    from transformers import AutoModelForImageTextToText
    kwargs = load_kwargs(scheme, device)
    model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    if "device_map" not in kwargs:
        model = model.to(device)
    return apply_after_load(model.eval(), scheme)


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
    """Schemes applied to a loaded model. Returns the model to use, every float weight in float32."""
    if scheme not in DYNAMIC:
        return model
    import torch
    from torch import nn
    decoder = language_model(model)
    if decoder is None:
        raise ValueError(f"{scheme}: cannot find the language model inside {type(model).__name__}")
    qconfig = torch.ao.quantization.default_dynamic_qconfig
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")           # torch.ao.quantization deprecation notices
        _quantise_linears(decoder, qconfig)
        if isinstance(getattr(model, "lm_head", None), nn.Linear):
            model.lm_head = _dynamic_int8(model.lm_head, qconfig)
        if scheme == "int8-dynamic-all":
            _quantise_linears(model, torch.ao.quantization.per_channel_dynamic_qconfig)
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():        # also copies out of the checkpoint's memory map
                tensor.data = tensor.data.to(torch.float32, copy=True)
    return model


def _quantise_linears(root, qconfig) -> None:
    from torch import nn
    for module in list(root.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                setattr(module, name, _dynamic_int8(child, qconfig))


def _dynamic_int8(linear, qconfig):
    """One float Linear (any dtype) → a dynamic int8 Linear, with only this layer ever in float32."""
    import torch
    from torch import nn
    wide = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta")
    wide.weight = nn.Parameter(linear.weight.detach().to(torch.float32), requires_grad=False)
    if linear.bias is not None:
        wide.bias = nn.Parameter(linear.bias.detach().to(torch.float32), requires_grad=False)
    wide.qconfig = qconfig
    return torch.ao.nn.quantized.dynamic.Linear.from_float(wide)


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
