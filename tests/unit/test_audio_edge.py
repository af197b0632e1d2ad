"""The audio edge: any input format becomes 16 kHz mono float32, bad samples are repaired and reported once."""
import logging

import numpy as np
import pytest
import soundfile

from robot_brain.speech.audio import AudioConformer, chunks_of, to_float32, wav_chunks


def tone(freq, rate, seconds, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()]


def test_stereo_int16_at_48k_becomes_mono_16k_float_without_changing_pitch():
    stereo = np.stack([tone(440, 48000, 1.0), tone(440, 48000, 1.0)], axis=1)
    pcm = (stereo * 32767).astype(np.int16)
    conform = AudioConformer()
    out = np.concatenate([conform(pcm[i:i + 4800], 48000) for i in range(0, len(pcm), 4800)])
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - 16000) < 400                        # the resampler holds back a few ms at most
    assert dominant_frequency(out[2000:], 16000) == pytest.approx(440, abs=3)
    assert np.abs(out).max() == pytest.approx(0.5, abs=0.05)


def test_nan_inf_clipping_and_dc_are_repaired_and_warned_once(caplog):
    conform = AudioConformer(name="test mic")
    bad = tone(300, 16000, 0.1) + 0.3                        # DC offset
    bad[10:20] = np.nan
    bad[30] = np.inf
    bad[40:50] = 4.0                                          # beyond full scale
    with caplog.at_level(logging.WARNING, logger="robot_brain.audio"):
        for _ in range(20):
            out = conform(bad.copy(), 16000)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.5
    assert abs(float(out.mean())) < 0.05                      # the offset is learnt and removed
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("NaN/Inf" in w for w in warnings) == 1
    assert sum("clipped" in w for w in warnings) == 1
    assert sum("DC offset" in w for w in warnings) == 1


def test_empty_and_integer_inputs():
    conform = AudioConformer()
    assert conform(np.zeros(0, np.float32), 16000).size == 0
    assert to_float32(np.array([0, 128, 255], np.uint8)).tolist() == pytest.approx([-1.0, 0.0, 0.9921875])
    with pytest.raises(ValueError, match="1-D"):
        conform(np.zeros((2, 2, 2), np.float32), 16000)
    with pytest.raises(ValueError, match="integer or float"):
        to_float32(np.array(["a"]))


def test_wav_and_array_sources_yield_16k_chunks(tmp_path):
    path = tmp_path / "in.wav"
    soundfile.write(path, np.stack([tone(500, 22050, 1.0)] * 2, axis=1), 22050)
    chunks = list(wav_chunks(path, block_s=0.1))
    assert all(c.sample_rate == 16000 for c in chunks)
    assert sum(len(c.samples) for c in chunks) == pytest.approx(16000, abs=400)
    assert [round(c.stamp, 1) for c in chunks[:3]] == [0.0, 0.1, 0.2]
    from_array = list(chunks_of(tone(500, 8000, 0.5), 8000, block_s=0.1))
    assert sum(len(c.samples) for c in from_array) == pytest.approx(8000, abs=400)


def test_unreadable_audio_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF not really")
    with pytest.raises(ValueError, match="cannot read audio file"):
        list(wav_chunks(path))
