"""Microphone input against a stand-in PortAudio (no sound card here): device choice, format, losing the device."""
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from robot_brain.speech import microphone
from robot_brain.speech.microphone import Microphone, resolve_device


class FakeStream:
    """Calls the callback from a thread with 48 kHz stereo blocks; `die()` makes it stop like an unplugged mic."""

    def __init__(self, sd, device, samplerate, channels, dtype, blocksize, callback):
        self.sd, self.rate, self.channels, self.block, self.callback = sd, samplerate, channels, blocksize, callback
        self.active = False
        sd.streams.append(self)

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        t = 0
        while self.active:
            n = np.arange(t, t + self.block)
            tone = 0.3 * np.sin(2 * np.pi * 440 * n / self.rate)
            self.callback(np.repeat(tone[:, None], self.channels, axis=1).astype(np.float32), self.block, None,
                          SimpleNamespace(input_overflow=False))
            t += self.block
            if self.sd.die_after and len(self.sd.streams) == 1 and t >= self.sd.die_after:
                self.active = False          # the device vanished: no more callbacks
            time.sleep(self.block / self.rate / 4)

    def abort(self):
        self.active = False

    def close(self):
        self.active = False


def fake_sounddevice(devices, die_after=0, can_16k=False):
    sd = SimpleNamespace(streams=[], die_after=die_after, default=SimpleNamespace(device=(0, 0)))
    sd.query_devices = lambda index=None: devices if index is None else devices[index]

    def check_input_settings(**kw):
        if not can_16k:
            raise ValueError("Invalid sample rate")
    sd.check_input_settings = check_input_settings
    sd.InputStream = lambda **kw: FakeStream(sd, **kw)
    return sd


DEVICES = [{"name": "HDMI out", "max_input_channels": 0, "max_output_channels": 2, "default_samplerate": 48000},
           {"name": "ReSpeaker 4 Mic Array", "max_input_channels": 2, "max_output_channels": 0,
            "default_samplerate": 48000}]


def test_devices_are_found_by_index_or_name_with_errors_that_list_them(monkeypatch):
    monkeypatch.setattr(microphone, "_sounddevice", lambda: fake_sounddevice(DEVICES))
    assert resolve_device("respeaker") == 1
    assert resolve_device(1) == 1 and resolve_device(None) is None
    assert resolve_device("hdmi", kind="output") == 0
    with pytest.raises(RuntimeError, match=r"no audio input device named like 'usb'; input devices: 1: ReSpeaker"):
        resolve_device("usb")
    with pytest.raises(RuntimeError, match="device 0 does not exist"):
        resolve_device(0)
    monkeypatch.setattr(microphone, "_sounddevice", lambda: fake_sounddevice([]))
    with pytest.raises(RuntimeError, match="no audio input device found.*--wav"):
        resolve_device(None)


def test_a_48k_stereo_mic_arrives_as_16k_mono_and_is_reopened_when_it_vanishes(monkeypatch):
    sd = fake_sounddevice(DEVICES, die_after=48000)
    monkeypatch.setattr(microphone, "_sounddevice", lambda: sd)
    mic = Microphone("respeaker", block_s=0.032, channels=2)
    got = 0
    for chunk in mic:
        assert chunk.sample_rate == 16000 and chunk.samples.ndim == 1
        got += len(chunk.samples)
        if len(sd.streams) >= 2 and got > 16000 * 1.5:
            break
    mic.close()
    assert len(sd.streams) >= 2                                  # re-opened after the first stream died
    assert not any(s.active for s in sd.streams)
