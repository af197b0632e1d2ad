"""The engines that run the brain's model: `transformers` (any Hugging Face VLM) and `llama.cpp` (GGUF)."""
from __future__ import annotations

from .base import Engine, EngineError, Generation

ENGINES = ("transformers", "llama.cpp")


def make_engine(name: str, **options) -> Engine:
    """An unloaded engine by name (see ENGINES); `options` as `Engine.__init__` takes them."""
    if name == "transformers":
        from .transformers_engine import TransformersEngine
        return TransformersEngine(**options)
    if name == "llama.cpp":
        from .llama_engine import LlamaCppEngine
        return LlamaCppEngine(**options)
    raise ValueError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "EngineError", "Generation", "make_engine"]
