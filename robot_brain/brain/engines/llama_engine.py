"""The llama.cpp engine: the language model as GGUF in llama.cpp, the pictures through the folder's own torch
vision encoder, whose output rows go into llama.cpp's batch in place of the picture tokens.

On this engine's first load of a model folder, its Llama language model is written as GGUF (`gguf_export`, Q8_0
for the int8 and auto settings, F32 for quantisation=none, F16 for bf16/fp16, Q4_0 for 4bit) into the cache (~/.cache/robot_brain/gguf); later loads map that file. The vision encoder keeps the
folder's weights (bfloat16 on CPU, float16 on CUDA; float32 with quantisation=none). Prompts are tokenised by
the folder's tokenizer and the reply is picked greedily from llama.cpp's logits under the same JSON grammar as
every engine. llama.cpp's key/value memory is kept between turns: each turn prefills only from the first token
that differs from what it already holds, and never reuses past a picture.
"""
from __future__ import annotations

import ctypes
import gc
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..processors import load_processor
from .base import Engine, EngineError, Generation

PICTURE = -1          # the key of a picture position: never equal to what the memory holds
_quiet_log = None     # llama.cpp's log callback, kept alive for as long as the library may call it


def _silence(llama_cpp) -> None:
    global _quiet_log
    if _quiet_log is None:
        _quiet_log = llama_cpp.llama_log_callback(lambda level, text, user: None)
        llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))


def shared_prefix(held: list[int], wanted: list[int]) -> int:
    """How many leading keys match, stopping at the first picture."""
    n = 0
    for a, b in zip(held, wanted):
        if a != b or a == PICTURE:
            break
        n += 1
    return n


def picture_rows(features) -> np.ndarray:
    """A vision encoder's output (tensor, list of tensors or model output) → float32 rows, one per picture token."""
    import torch
    for key in ("pooler_output", "image_embeds", "last_hidden_state"):
        value = getattr(features, key, None)
        if value is not None:
            features = value
            break
    if isinstance(features, (list, tuple)):
        features = torch.cat([f.reshape(-1, f.shape[-1]) for f in features])
    return features.reshape(-1, features.shape[-1]).to(torch.float32).cpu().numpy()


class LlamaCppEngine(Engine):
    name = "llama.cpp"

    def __init__(self, *, threads: int | None = None, context: int = 3072, gguf_quant: str | None = None,
                 batch: int = 512, ubatch: int = 128, **options) -> None:
        super().__init__(**options)
        from .gguf_export import gguf_type
        self.gguf_quant = gguf_quant or gguf_type(self.quantisation)      # auto and int8 schemes: Q8_0
        self.threads, self.context, self.batch = threads, context, batch
        self.ubatch = min(ubatch, batch)      # tokens computed at once: the compute buffer scales with it
        self._llama = self._lm = self._ctx = self._tokens = self._rows = None
        self._held: list[int] = []               # the keys of what llama.cpp's memory holds, position by position
        self.picture_ahead = None
        self.gguf_path: Path | None = None
        self.hits = self.misses = self.reused_tokens = 0

    # --- loading -----------------------------------------------------------------------------------------------
    def load(self, path: str) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise EngineError(f"the llama.cpp engine needs llama-cpp-python ({exc}): pip install "
                              "'robot_brain[llama]' (it builds llama.cpp from source, about 6 minutes on 2 cores), "
                              "or set brain.engine=transformers") from None
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText

        from ..quantise import Applied, weight_mb
        from .gguf_export import UnsupportedModel, cache_dir, check_supported, export, folder_key
        if not Path(path).exists():
            raise FileNotFoundError(f"no model folder at {path}")
        cuda = self.device.startswith("cuda")
        if cuda and not llama_cpp.llama_supports_gpu_offload():
            raise EngineError("llama.cpp: this llama-cpp-python was built without a GPU backend; rebuild it with "
                              "CMAKE_ARGS=-DGGML_CUDA=on pip install --force-reinstall llama-cpp-python, "
                              "or set brain.engine=transformers")
        try:
            check_supported(AutoConfig.from_pretrained(path))
        except UnsupportedModel as exc:
            raise EngineError(f"llama.cpp: {exc}") from None
        self._llama = llama_cpp
        _silence(llama_cpp)
        self.processor = load_processor(path)
        dtype = torch.float16 if cuda else torch.float32 if self.quantisation == "none" else torch.bfloat16
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype).eval()
        target = cache_dir() / f"{folder_key(path, self.gguf_quant)}.gguf"
        written = not target.exists()
        if written:
            self.log.info("llama.cpp: writing %s's language model as GGUF (%s), once", path, self.gguf_quant)
            export(model, self.processor.tokenizer, target, self.gguf_quant)
        try:
            self._open_gguf(str(target), cuda)
        except EngineError:
            if written:
                raise
            self.log.warning("llama.cpp could not read %s (damaged?); writing it again", target)
            export(model, self.processor.tokenizer, target, self.gguf_quant)
            self._open_gguf(str(target), cuda)
        self.gguf_path = target
        self._keep_vision_only(model)
        self.model = model.to(self.device)
        vision = weight_mb(self.model)
        self.applied = Applied(f"llama.cpp gguf {self.gguf_quant} + vision {str(dtype).replace('torch.', '')}",
                               round(target.stat().st_size / 2**20 + vision, 1))
        from ..picture_ahead import PictureAhead
        self.picture_ahead = PictureAhead(self.model, self.processor, self.device)
        from ..prefix_cache import picture_token_ids
        config = self.model.config
        self._picture_ids = picture_token_ids(config)
        eos = {self.processor.tokenizer.eos_token_id, getattr(config, "eos_token_id", None),
               getattr(getattr(config, "text_config", config), "eos_token_id", None)}
        self._eos = {int(e) for e in eos if isinstance(e, int)}

    @staticmethod
    def _keep_vision_only(model) -> None:
        """Drop the torch language model (llama.cpp runs it): its weights are never read again."""
        inner = getattr(model, "model", model)
        for name in ("text_model", "language_model"):
            if getattr(inner, name, None) is not None:
                setattr(inner, name, None)
        if getattr(model, "lm_head", None) is not None:
            model.lm_head = None
        gc.collect()

    def _open_gguf(self, path: str, cuda: bool) -> None:
        L = self._llama
        L.llama_backend_init()
        params = L.llama_model_default_params()
        params.n_gpu_layers = 999 if cuda else 0
        lm = L.llama_model_load_from_file(path.encode(), params)
        if not lm:
            raise EngineError(f"llama.cpp could not load {path}: delete it so that it is written again, or set "
                              "brain.engine=transformers")
        cparams = L.llama_context_default_params()
        cparams.n_ctx = self.context
        cparams.n_batch, cparams.n_ubatch = self.batch, self.ubatch
        if not self.threads:
            import torch
            self.threads = torch.get_num_threads()      # the brain's CPU thread setting (brain.cpu_threads)
        cparams.n_threads = cparams.n_threads_batch = self.threads
        cparams.no_perf = True
        ctx = L.llama_init_from_model(lm, cparams)
        if not ctx:
            L.llama_model_free(lm)
            raise EngineError(f"llama.cpp could not make a context of {self.context} tokens for {path}")
        self._lm, self._ctx = lm, ctx
        self._vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(lm))
        self._embd = L.llama_model_n_embd(lm)
        self._tokens = L.llama_batch_init(self.batch, 0, 1)
        self._rows = L.llama_batch_init(self.batch, self._embd, 1)
        self._held = []

    @property
    def vocab_size(self) -> int:
        return self._vocab

    # --- the model's memory ------------------------------------------------------------------------------------
    def _forget_from(self, position: int) -> None:
        L = self._llama
        L.llama_memory_seq_rm(L.llama_get_memory(self._ctx), 0, position, -1)
        del self._held[position:]

    def _feed(self, keys: list[int], rows: np.ndarray | None) -> None:
        """Decode `keys` after what the memory holds: token ids, or PICTURE for the next row of `rows`."""
        L, row = self._llama, 0
        start, total = len(self._held), len(keys)
        i = 0
        while i < total:
            picture = keys[i] == PICTURE
            j = i
            while j < total and (keys[j] == PICTURE) == picture and j - i < self.batch:
                j += 1
            batch = self._rows if picture else self._tokens
            for k in range(i, j):
                slot = k - i
                if picture:
                    ctypes.memmove(ctypes.addressof(batch.embd.contents) + slot * self._embd * 4,
                                   rows[row].ctypes.data, self._embd * 4)
                    row += 1
                else:
                    batch.token[slot] = keys[k]
                batch.pos[slot] = start + k
                batch.n_seq_id[slot] = 1
                batch.seq_id[slot][0] = 0
                batch.logits[slot] = k == total - 1
            batch.n_tokens = j - i
            code = L.llama_decode(self._ctx, batch)
            if code != 0:
                self._forget_from(start + i)
                raise EngineError(f"llama.cpp: decoding failed (code {code}); the context holds {self.context} "
                                  "tokens (brain.history_tokens lower, or a longer context)")
            self._held.extend(keys[i:j])
            i = j

    def prepare(self, system: str) -> None:
        if not self.use_prefix_cache:
            return
        messages = [{"role": "system", "content": [{"type": "text", "text": system}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=False)
        ids = self.processor(text=text, return_tensors="np")["input_ids"][0].tolist()
        self._forget_from(shared_prefix(self._held, ids))
        self._feed(ids[len(self._held):], None)

    def encode_ahead(self, picture: np.ndarray) -> None:
        if self.picture_ahead is not None and self.use_picture_ahead:
            self.picture_ahead.encode(picture)

    def warm_up(self) -> None:
        held = len(self._held)
        self._feed(list(self.processor.tokenizer("hello", add_special_tokens=False).input_ids), None)
        self._forget_from(held)

    # --- one reply ---------------------------------------------------------------------------------------------
    def _picture_rows(self, g: Generation, inputs) -> np.ndarray | None:
        import torch
        if not g.images:
            return None
        features = None
        if self.picture_ahead is not None and self.use_picture_ahead and len(g.images) == 1:
            features = self.picture_ahead.kept_for(g.images[0])
        if features is None:
            with torch.inference_mode():
                features = self.picture_ahead.features(inputs.to(self.device))
        return np.ascontiguousarray(picture_rows(features))

    def stream(self, generation: Generation) -> Iterator[str]:
        import torch
        g, L = generation, self._llama
        began = time.monotonic()
        inputs = self.processor(text=g.prompt, images=g.images or None, return_tensors="pt")
        processed = time.monotonic()
        ids = inputs["input_ids"][0].tolist()
        keys = [PICTURE if t in self._picture_ids else t for t in ids]
        rows = self._picture_rows(g, inputs)
        slots = keys.count(PICTURE)
        if slots and (rows is None or len(rows) != slots):
            raise EngineError(f"llama.cpp: the prompt has {slots} picture tokens but the vision encoder gave "
                              f"{0 if rows is None else len(rows)} rows")
        if len(keys) + g.max_new_tokens > self.context:
            raise EngineError(f"llama.cpp: a prompt of {len(keys)} tokens and {g.max_new_tokens} new ones do not fit "
                              f"the context of {self.context} tokens")
        shared = min(shared_prefix(self._held, keys), len(keys) - 1) if self.use_prefix_cache else 0
        g.info.update(prompt_tokens=len(keys), cached_tokens=shared)
        self.hits, self.misses = self.hits + (shared > 0), self.misses + (shared == 0)
        self.reused_tokens += shared
        started = time.monotonic()
        self._forget_from(shared)
        skipped = keys[:shared].count(PICTURE)
        self._feed(keys[shared:], None if rows is None else rows[skipped:])
        self.log.debug("llama.cpp: prompt processed in %.3f s, picture rows in %.3f s, %d new tokens prefilled in "
                       "%.3f s", processed - began, started - processed, len(keys) - shared, time.monotonic() - started)
        masker = g.constraint.masker() if g.constraint is not None else None
        tokenizer, chosen, said = self.processor.tokenizer, [], ""
        for step in range(g.max_new_tokens):
            if g.stop() or time.monotonic() - started >= g.timeout_s:
                break
            logits = torch.from_numpy(np.ctypeslib.as_array(L.llama_get_logits_ith(self._ctx, -1),
                                                            shape=(self._vocab,)).copy())
            if masker is not None:
                masker.mask(logits)
            if step < g.min_new_tokens:
                logits[list(self._eos)] = float("-inf")
            token = int(logits.argmax())
            if step == 0:
                g.first_token()
            if masker is not None and not masker.accept(token):
                raise EngineError(f"llama.cpp: the grammar refused token {token}")
            if token in self._eos or (masker is not None and masker.finished):
                break
            chosen.append(token)
            text = tokenizer.decode(chosen, skip_special_tokens=True)
            if not text.endswith("\ufffd") and len(text) > len(said):      # whole characters only
                yield text[len(said):]
                said = text
            self._feed([token], None)
        text = tokenizer.decode(chosen, skip_special_tokens=True)
        if len(text) > len(said):
            yield text[len(said):]

    def stats(self) -> dict:
        out = {"prefix": {"hits": self.hits, "misses": self.misses, "builds": int(bool(self.use_prefix_cache)),
                          "continued": 0, "reused_tokens": self.reused_tokens}}
        if self.picture_ahead is not None:
            a = self.picture_ahead
            out["ahead"] = {"encoded": a.encoded, "used": a.used, "changed": a.changed}
        return out

    def report(self) -> dict:
        return {**super().report(), "gguf": str(self.gguf_path) if self.gguf_path else None,
                "context": self.context, "threads": self.threads}

    def close(self) -> None:
        L = self._llama
        if L is not None:
            for batch in (self._tokens, self._rows):
                if batch is not None:
                    L.llama_batch_free(batch)
            if self._ctx:
                L.llama_free(self._ctx)
            if self._lm:
                L.llama_model_free(self._lm)
        self._tokens = self._rows = self._ctx = self._lm = None
        self._held = []
        self.picture_ahead = None
        super().close()
        gc.collect()
