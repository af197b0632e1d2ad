"""Silero voice activity detection, streamed one 512-sample block (32 ms at 16 kHz) at a time.

Uses the Silero ONNX model that faster-whisper ships (no download, no torch), run with onnxruntime.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

BLOCK = 512          # samples per decision at 16 kHz
_CONTEXT = 64        # samples of the previous block the model sees in front of each block


def bundled_model_path() -> Path:
    """The Silero VAD model inside the installed faster-whisper package (found without importing it)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("voice activity detection needs faster-whisper's Silero model: "
                          "pip install 'robot_brain[models]' (or faster-whisper)")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder, "assets").glob("silero_vad*.onnx"))
        if found:
            return found[-1]
    raise ImportError("faster-whisper is installed but has no assets/silero_vad*.onnx; "
                      "set hearing.vad_model to a Silero VAD ONNX file")


class SileroVad:
    """Speech probability per 512-sample block of 16 kHz audio, keeping the model's state between blocks."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ImportError("voice activity detection needs onnxruntime: pip install onnxruntime") from exc
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"Silero VAD model {path} not found")
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                     sess_options=options)
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "h", "c"}:
            raise ValueError(f"{path} is not the Silero v5/v6 VAD model faster-whisper ships (inputs {sorted(names)})")
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros((1, _CONTEXT), np.float32)

    def __call__(self, block: np.ndarray) -> float:
        block = np.asarray(block, dtype=np.float32).reshape(1, -1)
        if block.shape[1] != BLOCK:
            raise ValueError(f"SileroVad takes blocks of {BLOCK} samples, got {block.shape[1]}")
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([self._context, block], axis=1), "h": self._h, "c": self._c})
        self._context = block[:, -_CONTEXT:]
        return float(np.ravel(out)[0])
