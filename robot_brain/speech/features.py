"""Log-mel features in numpy (25 ms windows, 10 ms hop), shared by the stop spotter and its trainer."""
from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
N_FFT = 512


@functools.lru_cache(maxsize=4)
def mel_filterbank(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
                   fmin: float = 60.0, fmax: float = 7600.0) -> np.ndarray:
    """Triangular HTK-style mel filters, shape (n_mels, n_fft // 2 + 1)."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(WINDOW).astype(np.float32)


def log_mel(samples: np.ndarray, n_mels: int = 40) -> np.ndarray:
    """(frames, n_mels) log-mel energies of 16 kHz mono audio; frames = 1 + (len - 400) // 160."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < WINDOW:
        samples = np.pad(samples, (0, WINDOW - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[::HOP]
    spectrum = np.abs(np.fft.rfft(frames * _window(), n=N_FFT)) ** 2
    return np.log(spectrum @ mel_filterbank(n_mels).T + 1e-6).astype(np.float32)
