"""The transformers engine: any Hugging Face VLM (`AutoModelForImageTextToText`), on CPU or CUDA.

Weights in the precision `quantise` picks per device; the system message's prefill kept (`PrefixCache`); the
camera frame encoded while the user speaks (`PictureAhead`); `generate()` in its own thread, streamed.
"""
from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from ..processors import load_processor
from .base import Engine, EngineError, Generation


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.prefix_cache = self.picture_ahead = None

    def load(self, path: str) -> None:
        import torch

        from ..quantise import Applied, choose, load_model, weight_mb
        if not Path(path).exists():
            raise FileNotFoundError(f"no model folder at {path}")
        scheme = choose(self.quantisation, self.device)
        self.processor = load_processor(path)
        try:
            self.model = load_model(path, scheme, self.device)
        except torch.OutOfMemoryError as exc:          # CUDA out of memory: same handling as host memory
            self.model = None
            raise MemoryError(str(exc).splitlines()[0]) from None
        self.applied = Applied(scheme, round(weight_mb(self.model), 1))
        if self.use_picture_ahead:
            from ..picture_ahead import PictureAhead
            self.picture_ahead = PictureAhead(self.model, self.processor, self.device)
        if self.use_prefix_cache:
            from ..prefix_cache import PrefixCache
            self.prefix_cache = PrefixCache(self.model, self.processor, self.device)

    @property
    def vocab_size(self) -> int:
        config = self.model.config
        return getattr(getattr(config, "text_config", config), "vocab_size", None) or len(self.processor.tokenizer)

    def prepare(self, system: str) -> None:
        if self.prefix_cache is not None:
            self.prefix_cache.build(system)

    def encode_ahead(self, picture: np.ndarray) -> None:
        if self.picture_ahead is not None:
            self.picture_ahead.encode(picture)

    def warm_up(self) -> None:
        import torch
        messages = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(text=prompt, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            self.model.generate(**inputs, max_new_tokens=2, do_sample=False)

    def stream(self, generation: Generation) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        g = generation
        inputs = self.processor(text=g.prompt, images=g.images or None, return_tensors="pt").to(self.device)
        g.info["prompt_tokens"] = int(inputs["input_ids"].shape[-1])
        cached = self.prefix_cache.state_for(g.system, inputs["input_ids"]) if self.prefix_cache is not None else None
        g.info["cached_tokens"] = cached.get_seq_length() if cached is not None else 0
        if self.picture_ahead is not None and len(g.images) == 1:
            inputs = self.picture_ahead.use(g.images[0], inputs)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=60.0)
        abandoned = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                g.first_token()                     # called once per new token: the first call is the first token
                return abandoned.is_set() or g.stop()

        failure: list[BaseException] = []
        extra = {"logits_processor": [g.constraint.processor()]} if g.constraint is not None else {}
        if cached is None and self.prefix_cache is not None:
            cached = self.prefix_cache.fresh()
        if cached is not None:
            extra["cache"] = cached

        def generate() -> None:
            try:
                with torch.inference_mode():
                    sequence = self.model.generate(**inputs, streamer=streamer, max_new_tokens=g.max_new_tokens,
                                                   min_new_tokens=g.min_new_tokens, do_sample=False, max_time=g.timeout_s,
                                                   stopping_criteria=StoppingCriteriaList([_Stop()]), **extra)
                if cached is not None and self.prefix_cache is not None:
                    self.prefix_cache.keep(cached, sequence)
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=generate, name="transformers-generate", daemon=True)
        worker.start()
        try:
            for delta in streamer:
                if delta:
                    yield delta
            if failure:
                raise EngineError(f"transformers: generation failed: {type(failure[0]).__name__}: {failure[0]}")
        finally:
            abandoned.set()
            worker.join(timeout=60.0)

    def stats(self) -> dict:
        out = {}
        if self.picture_ahead is not None:
            a = self.picture_ahead
            out["ahead"] = {"encoded": a.encoded, "used": a.used, "changed": a.changed}
        if self.prefix_cache is not None:
            p = self.prefix_cache
            out["prefix"] = {"hits": p.hits, "misses": p.misses, "builds": p.builds, "continued": p.continued}
        return out

    def close(self) -> None:
        cuda = self.model is not None and str(getattr(self.model, "device", "cpu")).startswith("cuda")
        self.prefix_cache = self.picture_ahead = None
        super().close()
        gc.collect()
        if cuda:
            import torch
            torch.cuda.empty_cache()
