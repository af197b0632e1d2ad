"""What this machine offers the robot brain: compute devices, audio devices, cameras."""
from __future__ import annotations

import glob
import os


def compute_devices() -> list[str]:
    found = [f"cpu: {os.cpu_count()} logical cores"]
    try:
        import torch
    except ImportError:
        return found + ["torch is not installed: run `make demo` or install torch to use model back-ends"]
    found[0] += f", torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append(f"cuda:{i}: {props.name}, {props.total_memory / 2**30:.1f} GiB, "
                         f"compute capability {props.major}.{props.minor}")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps: Apple GPU")
    return found


def audio_devices() -> list[str]:
    try:
        import sounddevice
    except ImportError:
        return ["sounddevice is not installed: pip install sounddevice"]
    except OSError as exc:
        return [f"PortAudio is missing ({exc}): sudo apt-get install libportaudio2"]
    try:
        devices = sounddevice.query_devices()
    except Exception as exc:
        return [f"cannot list audio devices: {exc}"]
    if len(devices) == 0:
        return ["no audio devices (use WAV files or bags for audio)"]
    out = []
    for index, dev in enumerate(devices):
        roles = [r for r, n in (("in", dev["max_input_channels"]), ("out", dev["max_output_channels"])) if n]
        out.append(f"[{index}] {dev['name']} ({'/'.join(roles)}, {dev['default_samplerate']:.0f} Hz)")
    return out


def cameras() -> list[str]:
    found = sorted(glob.glob("/dev/video*"))
    return found or ["no cameras found (/dev/video*); use --video FILE, --images DIR or a bag"]


def list_devices() -> dict[str, list[str]]:
    return {"compute": compute_devices(), "audio": audio_devices(), "cameras": cameras()}
