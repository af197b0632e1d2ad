"""A VLM's Llama language model written as a GGUF file for llama.cpp (the vision part stays with torch).

Written with the `gguf` package (llama.cpp's own GGUF library, on PyPI): hyper-parameters, the tokenizer's
vocabulary and merges, and every decoder weight — matrices in Q8_0 or Q4_0, norms in float32. Query and key
projections are permuted from Hugging Face's rotary layout to llama.cpp's, as llama.cpp's converter does. The
engine tokenises with the model folder's own tokenizer, so the vocabulary here only has to match in size and order.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

QUANTS = ("q8_0", "q4_0", "f16", "f32")
EXPORT_VERSION = "1"          # bump when the written file changes, so cached files are rewritten


class UnsupportedModel(ValueError):
    """The folder's language model is not one this exporter writes."""


def cache_dir() -> Path:
    """$ROBOT_BRAIN_GGUF_CACHE, else robot_brain/gguf in the user's cache folder."""
    if os.environ.get("ROBOT_BRAIN_GGUF_CACHE"):
        return Path(os.environ["ROBOT_BRAIN_GGUF_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "robot_brain" / "gguf"


def gguf_type(quantisation: str) -> str:
    """The GGUF weight type for one of the brain's quantisation settings."""
    return {"none": "f32", "bf16": "f16", "fp16": "f16", "4bit": "q4_0"}.get(quantisation, "q8_0")


def folder_key(folder: str | Path, quant: str) -> str:
    """Names the export of this folder's weights and config (sizes and times of its files) at `quant`."""
    folder = Path(folder)
    parts = [EXPORT_VERSION, quant]
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.json")):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def text_config(config):
    """The language model's config inside a VLM config (or the config itself)."""
    return getattr(config, "text_config", None) or config


def check_supported(config) -> None:
    text = text_config(config)
    kind = getattr(text, "model_type", "?")
    if kind != "llama":
        raise UnsupportedModel(f"the llama.cpp engine runs VLMs whose language model is Llama (SmolVLM, Idefics3); "
                               f"this one's is {kind!r}: use brain.engine=transformers")
    rope = _rope(text)
    if rope.get("rope_type", "default") not in ("default", None):
        raise UnsupportedModel(f"rope scaling {rope.get('rope_type')!r} is not written to GGUF here; "
                               "use brain.engine=transformers")


def _rope(text) -> dict:
    params = getattr(text, "rope_parameters", None) or {}
    theta = params.get("rope_theta", getattr(text, "rope_theta", 10000.0))
    return {"rope_theta": float(theta), "rope_type": params.get("rope_type", "default")}


def _permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's rotary halves → llama.cpp's interleaved pairs, per head."""
    rows = weight.shape[0]
    return (weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def _vocabulary(tokenizer, size: int):
    """(tokens, types, merges) for llama.cpp's BPE vocabulary, padded to the model's vocabulary size."""
    import gguf
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    special = set(tokenizer.all_special_ids)
    added = {i for i in getattr(tokenizer, "added_tokens_decoder", {}) or {}}
    tokens, types = [], []
    for i in range(size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if i in special else
                         gguf.TokenType.USER_DEFINED if i in added else gguf.TokenType.NORMAL)
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    merges = [m if isinstance(m, str) else " ".join(m) for m in data.get("model", {}).get("merges", [])]
    return tokens, types, merges


def export(model, tokenizer, target: str | Path, quant: str = "q8_0") -> Path:
    """Write `model`'s language model (a loaded Hugging Face VLM, any dtype) to `target` as GGUF."""
    import gguf
    import torch

    from ..quantise import language_model
    if quant not in QUANTS:
        raise ValueError(f"unknown GGUF quantisation {quant!r}; one of {', '.join(QUANTS)}")
    check_supported(model.config)
    text = text_config(model.config)
    decoder = language_model(model)
    if decoder is None:
        raise UnsupportedModel(f"cannot find the language model inside {type(model).__name__}")
    heads, kv_heads = text.num_attention_heads, text.num_key_value_heads or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(partial), arch="llama")
    writer.add_name("robot_brain export")
    writer.add_context_length(int(getattr(text, "max_position_embeddings", 8192)))
    writer.add_embedding_length(text.hidden_size)
    writer.add_block_count(text.num_hidden_layers)
    writer.add_feed_forward_length(text.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope(text)["rope_theta"])
    writer.add_layer_norm_rms_eps(float(text.rms_norm_eps))
    writer.add_vocab_size(text.vocab_size)
    writer.add_file_type({"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
                          "f16": gguf.LlamaFileType.MOSTLY_F16, "f32": gguf.LlamaFileType.ALL_F32}[quant])
    tokens, types, merges = _vocabulary(tokenizer, text.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, add in (("bos_token_id", writer.add_bos_token_id), ("eos_token_id", writer.add_eos_token_id),
                     ("pad_token_id", writer.add_pad_token_id)):
        value = getattr(tokenizer, key, None)
        if isinstance(value, int):
            add(value)
    writer.add_add_bos_token(False)          # the chat template writes every special token itself

    matrix_type = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
                   "f16": gguf.GGMLQuantizationType.F16, "f32": gguf.GGMLQuantizationType.F32}[quant]

    def add(name: str, tensor) -> None:
        data = tensor.detach().to(torch.float32).cpu().numpy()
        if data.ndim == 1 or matrix_type == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(name, data)
        elif matrix_type == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, matrix_type), raw_dtype=matrix_type)

    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    with torch.no_grad():
        add("token_embd.weight", decoder.get_input_embeddings().weight)
        for i, layer in enumerate(decoder.layers):
            for module, short in names.items():
                part = layer.get_submodule(module)
                if getattr(part, "bias", None) is not None:
                    raise UnsupportedModel(f"layer {i} {module} has a bias; use brain.engine=transformers")
                weight = part.weight
                if short == "attn_q":
                    weight = torch.from_numpy(_permute(weight.detach().float().numpy(), heads))
                elif short == "attn_k":
                    weight = torch.from_numpy(_permute(weight.detach().float().numpy(), kv_heads))
                add(f"blk.{i}.{short}.weight", weight)
        add("output_norm.weight", decoder.norm.weight)
        head = getattr(model, "lm_head", None)
        tied = getattr(text, "tie_word_embeddings", False) or getattr(model.config, "tie_word_embeddings", False)
        if head is not None and not (tied and head.weight.data_ptr() == decoder.get_input_embeddings().weight.data_ptr()):
            add("output.weight", head.weight)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(target)
    log.info("wrote the language model as GGUF (%s): %s, %.0f MB", quant, target, target.stat().st_size / 2**20)
    return target
