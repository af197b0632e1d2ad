#!/usr/bin/env python3
"""Write the held-out stop bench: voices the stop spotter never heard in training, one folder per voice.

`*_pos.wav` say a stop word ("stop", "please stop", "stop now", "STOP!", "halt"; 停 and 멈춰 by the held-out
espeak-ng variants); `*_neg.wav` say other words and sentences ("stay", "top", "shop", "go on", ...). Files are
written at several sample rates and levels, as a microphone or another program might give them. Then:

    python scripts/make_stop_bench.py /tmp/stop_bench
    robot-brain bench stop /tmp/stop_bench --json stop_bench.json
    robot-brain bench stop /usr/share/asterisk/sounds/en_US_f_Allison --all-negative   # real human speech

Needs espeak-ng and festival (+ festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts); a voice whose
synthesizer is missing is skipped with a note.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_stop_spotter import HELD_OUT_VARIANTS, HELD_OUT_VOICES, synthesize  # noqa: E402

POSITIVE_EN = ["stop", "please stop", "stop now", "STOP!", "stop!", "halt", "halt!"]
POSITIVE_OTHER = {"cmn": ["停", "停下"], "ko": ["멈춰", "멈춰!"]}
NEGATIVE_EN = ["stay", "top", "shop", "go on", "step", "spot", "start", "hop", "drop", "hot", "stock", "store",
               "all", "call", "hold", "hello", "what do you see", "where is the red cup", "point at the blue ball",
               "pick up the green cube", "turn left", "come here", "thank you", "good morning",
               "please stay here", "keep going", "the top shelf", "a coffee shop", "start again", "go forward",
               "how many cups are on the table", "I would like a glass of water please"]
NEGATIVE_OTHER = {"cmn": ["你好", "谢谢", "请问", "天气很好"], "ko": ["안녕하세요", "감사합니다", "어디"]}
RATES = [16000, 22050, 44100, 48000]


def slug(text: str) -> str:
    """A file-name form of `text` that keeps "stop", "stop!" and "STOP!" apart."""
    word = re.sub(r"[^0-9a-z가-힣一-鿿]+", "-", text.lower()).strip("-") or "x"
    return word + ("-caps" if text.isupper() else "") + ("-excl" if text.endswith("!") else "")


def jobs(repeats: dict[str, int], rng: random.Random):
    out = []
    voices = [f"espeak:{b}{v}" for b in ("en-us", "en-gb-x-rp") for v in HELD_OUT_VARIANTS] + HELD_OUT_VOICES
    for voice in voices:
        n = repeats.get(voice.split(":")[0], 1)
        for k in range(n):
            out += [(voice, t, "pos", k, rng.getrandbits(32)) for t in POSITIVE_EN]
            out += [(voice, t, "neg", k, rng.getrandbits(32)) for t in NEGATIVE_EN[k::n] or NEGATIVE_EN[:1]]
    for lang in ("cmn", "ko"):
        for v in HELD_OUT_VARIANTS:
            out += [(f"espeak:{lang}{v}", t, "pos", 0, rng.getrandbits(32)) for t in POSITIVE_OTHER[lang]]
            out += [(f"espeak:{lang}{v}", t, "neg", 0, rng.getrandbits(32)) for t in NEGATIVE_OTHER[lang]]
    return out


def write(job, out: Path) -> str | None:
    import soundfile
    import soxr
    voice, text, kind, k, seed = job
    rng = random.Random(seed)
    try:
        audio = synthesize(voice, text, rng)
    except Exception as exc:
        return f"skip {voice} {text!r}: {exc}"
    rate = rng.choice(RATES)
    audio = soxr.resample(audio, 16000, rate) if rate != 16000 else audio
    audio = audio / (np.abs(audio).max() + 1e-9) * 10 ** rng.uniform(-1.5, -0.1)     # -30 to -2 dB peak
    folder = out / voice.replace(":", "-").replace("+", "_")
    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / f"{slug(text)}-{k}_{kind}.wav", audio.astype(np.float32), rate, subtype="PCM_16")
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="folder to write (one sub-folder per voice)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--festival", type=int, default=3, help="renders of each phrase by each festival voice")
    args = ap.parse_args(argv)
    todo = jobs({"festival": args.festival, "espeak": 1}, random.Random(args.seed))
    with ThreadPoolExecutor(2) as pool:
        notes = [n for n in pool.map(lambda j: write(j, args.out), todo) if n]
    for note in notes:
        print(note, file=sys.stderr)
    files = list(args.out.rglob("*.wav"))
    print(f"wrote {len(files)} files ({sum('_pos' in f.name for f in files)} _pos, "
          f"{sum('_neg' in f.name for f in files)} _neg) under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
