"""A small keyword-spotting network evaluated in numpy (no torch needed at run time).

A few 1-D convolutions over time (mel bins are channels), global max pooling, a linear
classifier. Weights, labels and feature statistics live in one .npz written by
scripts/train_stop_spotter.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import log_mel

NEGATIVE = "_other"


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """x (T, C_in), weight (C_out, C_in, K) as torch stores it → (T', C_out), valid padding."""
    k = weight.shape[2]
    windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=0)[::stride]   # (T', C_in, K)
    return windows.reshape(len(windows), -1) @ weight.reshape(len(weight), -1).T + bias   # one GEMM


@dataclass
class KeywordNet:
    labels: list[str]
    window_s: float
    n_mels: int
    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray, int]]   # (weight, bias, stride) per conv
    head: tuple[np.ndarray, np.ndarray]
    meta: dict

    @classmethod
    def load(cls, path: str | Path) -> "KeywordNet":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"keyword model {path} not found; train one with scripts/train_stop_spotter.py")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            layers = [(data[f"conv{i}.weight"], data[f"conv{i}.bias"], int(s)) for i, s in enumerate(meta["strides"])]
            return cls(labels=list(meta["labels"]), window_s=float(meta["window_s"]), n_mels=int(meta["n_mels"]),
                       mean=data["mean"], std=data["std"], layers=layers,
                       head=(data["head.weight"], data["head.bias"]), meta=meta)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * 16000))

    def features(self, samples: np.ndarray) -> np.ndarray:
        return (log_mel(samples, self.n_mels) - self.mean) / self.std

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = features
        for weight, bias, stride in self.layers:
            x = np.maximum(_conv1d(x, weight, bias, stride), 0.0)
        pooled = x.max(axis=0)
        weight, bias = self.head
        return weight @ pooled + bias

    def probabilities(self, samples: np.ndarray) -> dict[str, float]:
        """Class probabilities for the last `window_s` of 16 kHz audio (shorter input is zero-padded in front)."""
        need = self.window_samples
        samples = np.asarray(samples, dtype=np.float32)[-need:]
        if len(samples) < need:
            samples = np.pad(samples, (need - len(samples), 0))
        z = self.logits(self.features(samples))
        p = np.exp(z - z.max())
        p /= p.sum()
        return dict(zip(self.labels, (float(v) for v in p)))
