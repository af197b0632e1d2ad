"""A small keyword-spotting network evaluated in numpy (no torch needed at run time).

Optionally a few 2-D convolutions over time × mel (the same pattern found at any pitch and formant
position, which carries across speakers), then 1-D convolutions over time (mel bins, or 2-D channels ×
bins, are channels), global max pooling, a linear classifier. Weights, labels and feature statistics live in one .npz written by
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


def _conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """x (C_in, T, F), weight (C_out, C_in, KT, KF) as torch stores it → (C_out, T', F'), valid padding."""
    kt, kf = weight.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kt, kf), axis=(1, 2))[:, ::stride[0], ::stride[1]]
    c, t, f = windows.shape[:3]
    cols = windows.transpose(1, 2, 0, 3, 4).reshape(t * f, c * kt * kf)
    out = cols @ weight.reshape(len(weight), -1).T + bias                      # (T'·F', C_out)
    return out.T.reshape(len(weight), t, f)


def window_features(samples: np.ndarray, n_mels: int, cmn: bool = False) -> np.ndarray:
    """Log-mel frames of one window; with `cmn`, less each mel bin's mean over the window (the voice's and the
    microphone's long-term spectrum, which say nothing about the word)."""
    features = log_mel(samples, n_mels)
    return features - features.mean(axis=0, keepdims=True) if cmn else features


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
    layers2d: tuple = ()                               # (weight, bias, (stride_t, stride_f)) per 2-D conv, first

    @classmethod
    def load(cls, path: str | Path) -> "KeywordNet":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"keyword model {path} not found; train one with scripts/train_stop_spotter.py")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            layers = [(data[f"conv{i}.weight"], data[f"conv{i}.bias"], int(s)) for i, s in enumerate(meta["strides"])]
            layers2d = tuple((data[f"conv2d{i}.weight"], data[f"conv2d{i}.bias"], (int(s[0]), int(s[1])))
                             for i, s in enumerate(meta.get("strides2d", [])))
            return cls(labels=list(meta["labels"]), window_s=float(meta["window_s"]), n_mels=int(meta["n_mels"]),
                       mean=data["mean"], std=data["std"], layers=layers,
                       head=(data["head.weight"], data["head.bias"]), meta=meta, layers2d=layers2d)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * 16000))

    def features(self, samples: np.ndarray) -> np.ndarray:
        return (window_features(samples, self.n_mels, bool(self.meta.get("cmn"))) - self.mean) / self.std

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = features
        if self.layers2d:
            x = x[None]                                                  # (1, T, F)
            for weight, bias, stride in self.layers2d:
                x = np.maximum(_conv2d(x, weight, bias, stride), 0.0)
            x = x.transpose(1, 0, 2).reshape(x.shape[1], -1)             # (T', C·F')
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
