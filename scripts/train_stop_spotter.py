#!/usr/bin/env python3
"""Train the stop-word spotter: a small keyword network on espeak-ng speech, written as one .npz.

The default set of stop words is "stop" and "halt" (English), "停" (Mandarin) and "멈춰" (Korean).
Speech is rendered with many espeak-ng voices, speeds and pitches, mixed with noise at random
levels; a few voice variants are held out to report how well the model generalises. Add your own
recordings with --extra DIR (DIR/<label>/*.wav, DIR/_other/*.wav) to fit a real microphone.

    python scripts/train_stop_spotter.py --out robot_brain/speech/assets/stop_spotter.npz
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robot_brain.speech.features import log_mel  # noqa: E402
from robot_brain.speech.keyword_net import NEGATIVE, KeywordNet  # noqa: E402
from robot_brain.sim.world import COLOURS as WORLD_COLOURS  # noqa: E402
from robot_brain.testing import spoken  # noqa: E402

RATE = 16000
WINDOW_S = 1.0
N_MELS = 40
STRIDES = (2, 2, 1)

KEYWORDS = {            # label -> (espeak voice, texts that say it)
    "stop": ("en-us", ["stop", "stop!", "please stop", "robot, stop", "stop stop"]),
    "halt": ("en-us", ["halt", "halt!", "robot, halt"]),
    "停": ("cmn", ["停", "停!", "停下"]),
    "멈춰": ("ko", ["멈춰", "멈춰!"]),
}
ENGLISH_VOICES = ["en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc"]
NEGATIVE_EN = [
    "what do you see", "where is the red cup", "point at the blue ball", "pick up the green cube",
    "is anyone there", "how many cups", "look at me", "hello robot", "thank you", "go forward",
    "turn left", "turn right", "come here", "wave at me", "top", "shop", "step", "stock", "spot",
    "start", "hop", "hot", "salt", "stuck", "stub", "store", "story", "storm", "stopwatch", "stopping",
    "atop", "laptop", "desktop", "tip", "tap", "top shelf", "all", "call", "hold", "help", "hat",
    "hall", "ball", "tall", "wall", "walk", "talk", "halo", "holiday", "half", "halves", "hello",
    "yes", "no", "okay", "maybe", "one two three", "good morning", "what time is it",
    "can you help me", "bring me the bottle", "put it down", "follow me", "not yet", "nice job",
    "the cup is on the left", "I see a red cup and a green cube", "please wait", "sit down",
    "set the table", "open the box", "close the door", "state", "stab", "stamp", "stand up",
]
# Questions the robot hears all day, in the world's colours and a few more: "purple" once passed for "停".
COLOURS = [*WORLD_COLOURS, "pink", "brown", "grey"]
NEGATIVE_EN += [f"{ask} the {colour} {kind}" for colour in COLOURS
                for ask, kind in (("where is", "cup"), ("point at", "ball"), ("pick up", "bottle"), ("look at", "box"))]
NEGATIVE_EN += ["purple", "people", "pupil", "table", "bottle", "topple", "how many boxes", "how many bottles"]
NEGATIVE_OTHER = [("cmn", t) for t in ["你好", "谢谢", "听", "挺好", "天气", "停车场在哪里", "请问", "我看到一个杯子"]] + \
                 [("ko", t) for t in ["안녕하세요", "감사합니다", "멈추지 마", "어디", "컵", "사과"]]
# Words that sound most like a stop word get as many renders as the stop words themselves.
CONFUSABLE = {"top", "shop", "step", "stock", "spot", "start", "hop", "hot", "salt", "stuck", "stub", "store",
              "stopwatch", "stopping", "tip", "tap", "all", "call", "hold", "hall", "half", "hello robot", "atop",
              "purple", "topple"}
VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+m5", "+m7", "+f1", "+f2", "+f3", "+f5", "+klatt", "+klatt2",
            "+croak", "+Andy", "+Annie", "+david", "+john", "+linda", "+max", "+paul", "+steph"]
HELD_OUT = ["+m6", "+f4", "+klatt3", "+Alicia", "+robert"]


def render(job):
    voice, text, speed, pitch = job
    try:
        return spoken(text, voice=voice, speed=speed, pitch=pitch)
    except Exception as exc:  # an unknown variant on an older espeak-ng: skip it, say so
        print(f"skip {voice!r} {text!r}: {exc}", file=sys.stderr)
        return None


def trim(audio: np.ndarray) -> np.ndarray:
    """Cut espeak's leading/trailing silence so that 'the word ends here' is exact."""
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def background(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.random()
    if kind < 0.1:
        return np.zeros(n, np.float32)
    noise = rng.normal(0, 1, n).astype(np.float32)
    if kind < 0.5:   # brown-ish noise (hum, fans)
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        noise /= noise.std() + 1e-9
    return noise * float(10 ** rng.uniform(-4, -1.7))


def place(rng, speech: np.ndarray, end_before: float, n: int) -> np.ndarray:
    """A window of n samples with `speech` ending `end_before` seconds before the window's end."""
    out = background(rng, n)
    gain = float(10 ** rng.uniform(-1.0, 0.0))
    start = n - int(end_before * RATE) - len(speech)          # window position of the speech's first sample
    lo, hi = max(0, start), min(n, start + len(speech))
    if hi > lo:
        out[lo:hi] += gain * speech[lo - start:hi - start]
    if rng.random() < 0.2:   # a little room reverb
        ir_len = int(RATE * rng.uniform(0.05, 0.25))
        ir = rng.normal(0, 1, ir_len) * np.exp(-np.linspace(0, 6, ir_len))
        ir[0] = 1.0 / 0.3
        out = np.convolve(out, ir * 0.3, mode="full")[:n].astype(np.float32)
    return np.clip(out, -1, 1).astype(np.float32)


def make_jobs(rng: random.Random, variants, renders_per_text: int):
    pos, neg = [], []
    for label, (lang, texts) in KEYWORDS.items():
        bases = ENGLISH_VOICES if lang == "en-us" else [lang]
        for text in texts:
            for _ in range(renders_per_text):
                voice = rng.choice(bases) + rng.choice(variants)
                pos.append((label, (voice, text, rng.randint(110, 230), rng.randint(15, 85))))
    for text in NEGATIVE_EN:
        for _ in range(renders_per_text if text in CONFUSABLE else max(2, renders_per_text // 3)):
            voice = rng.choice(ENGLISH_VOICES) + rng.choice(variants)
            neg.append((NEGATIVE, (voice, text, rng.randint(110, 230), rng.randint(15, 85))))
    for lang, text in NEGATIVE_OTHER:
        for _ in range(max(2, renders_per_text // 3)):
            neg.append((NEGATIVE, (lang + rng.choice(variants), text, rng.randint(110, 230), rng.randint(15, 85))))
    return pos + neg


def load_extra(folder: Path, labels: list[str]) -> list[tuple[str, np.ndarray]]:
    """Recordings in folder/<label>/*.wav (label: a stop word, or _other for anything else)."""
    import soundfile
    import soxr
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name not in labels:
            print(f"skip {sub}: not one of the labels {labels}", file=sys.stderr)
            continue
        for f in sorted(sub.glob("*.wav")):
            audio, rate = soundfile.read(f, dtype="float32", always_2d=True)
            mono = audio.mean(axis=1)
            out.append((sub.name, (soxr.resample(mono, rate, RATE) if rate != RATE else mono).astype(np.float32)))
    print(f"{len(out)} recordings from {folder}")
    return out


def windows(examples, labels, rng: np.random.Generator, per_example: int):
    n = int(WINDOW_S * RATE)
    feats, ys = [], []
    for label, audio in examples:
        audio = trim(audio)
        for _ in range(per_example):
            if label == NEGATIVE:
                end_before = rng.uniform(-0.5 * len(audio) / RATE, 0.8)   # anywhere, also cut mid-word
            else:
                end_before = rng.uniform(0.04, 0.5)
            feats.append(log_mel(place(rng, audio, end_before, n), N_MELS))
            ys.append(labels.index(label))
    for _ in range(len(examples) // 4):      # background only
        feats.append(log_mel(background(rng, n), N_MELS))
        ys.append(labels.index(NEGATIVE))
    return np.stack(feats), np.array(ys)


def build_model(n_classes: int):
    import torch.nn as nn
    return nn.ModuleDict({
        "conv0": nn.Conv1d(N_MELS, 48, 5, stride=STRIDES[0]),
        "conv1": nn.Conv1d(48, 48, 5, stride=STRIDES[1]),
        "conv2": nn.Conv1d(48, 64, 3, stride=STRIDES[2]),
        "head": nn.Linear(64, n_classes),
    })


def forward(model, x):
    import torch
    x = x.transpose(1, 2)                      # (B, mels, T)
    for name in ("conv0", "conv1", "conv2"):
        x = torch.relu(model[name](x))
    return model["head"](x.amax(dim=2))


def train(x, y, n_classes, epochs: int, seed: int):
    import torch
    torch.manual_seed(seed)
    model = build_model(n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    counts = np.bincount(y, minlength=n_classes).astype(np.float32)
    weights = torch.from_numpy((counts.sum() / np.maximum(counts, 1) / n_classes) ** 0.5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(x) + 63) // 64))
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(forward(model, xt[idx]), yt[idx], weight=weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(x):.4f}", flush=True)
    return model


def save(model, labels, mean, std, path: Path, meta_extra: dict) -> None:
    arrays = {k.replace("model.", ""): v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    meta = {"labels": labels, "window_s": WINDOW_S, "n_mels": N_MELS, "strides": list(STRIDES), **meta_extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, mean=mean.astype(np.float32), std=std.astype(np.float32),
                        meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)


def evaluate(net: KeywordNet, examples, threshold: float, rng: np.random.Generator) -> dict:
    """Held-out voices: keyword ending 0.15 s before the window end must fire; other phrases must not."""
    n = int(WINDOW_S * RATE)
    hits = misses = false_alarms = negatives = 0
    for label, audio in examples:
        audio = trim(audio)
        if label == NEGATIVE:
            negatives += 1
            fired = any(max(p for k, p in net.probabilities(place(rng, audio, e, n)).items() if k != NEGATIVE) >= threshold
                        for e in np.arange(-0.3, 0.6, 0.1))
            false_alarms += fired
        else:
            p = net.probabilities(place(rng, audio, 0.15, n))
            fired = max(v for k, v in p.items() if k != NEGATIVE) >= threshold
            hits += fired
            misses += not fired
    return {"recall": hits / max(1, hits + misses), "false_alarm_rate": false_alarms / max(1, negatives),
            "positives": hits + misses, "negatives": negatives}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("robot_brain/speech/assets/stop_spotter.npz"))
    ap.add_argument("--renders", type=int, default=60, help="renders per keyword text (voices × speeds × pitches)")
    ap.add_argument("--windows", type=int, default=4, help="training windows cut from each render")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--extra", type=Path, help="your own recordings: DIR/<label>/*.wav (labels: the stop words "
                                               "and _other)")
    args = ap.parse_args(argv)

    t0 = time.time()
    labels = [NEGATIVE, *KEYWORDS]
    rnd = random.Random(args.seed)
    jobs = make_jobs(rnd, VARIANTS, args.renders)
    held = make_jobs(random.Random(args.seed + 1), HELD_OUT, max(2, args.renders // 4))
    print(f"rendering {len(jobs)} training and {len(held)} held-out utterances with espeak-ng ...", flush=True)
    with ThreadPoolExecutor(4) as pool:
        audio = list(pool.map(render, [j for _, j in jobs]))
        held_audio = list(pool.map(render, [j for _, j in held]))
    train_ex = [(label, a) for (label, _), a in zip(jobs, audio) if a is not None and len(a)]
    held_ex = [(label, a) for (label, _), a in zip(held, held_audio) if a is not None and len(a)]
    if args.extra:
        train_ex += load_extra(args.extra, labels)
    rng = np.random.default_rng(args.seed)
    x, y = windows(train_ex, labels, rng, args.windows)
    mean, std = x.reshape(-1, N_MELS).mean(0), x.reshape(-1, N_MELS).std(0) + 1e-5
    print(f"{len(x)} windows ({np.bincount(y).tolist()} per class), {time.time() - t0:.0f} s", flush=True)
    model = train(((x - mean) / std).astype(np.float32), y, len(labels), args.epochs, args.seed)
    save(model, labels, mean, std, args.out, {"threshold": args.threshold, "seed": args.seed})
    net = KeywordNet.load(args.out)
    report = evaluate(net, held_ex, args.threshold, np.random.default_rng(args.seed + 2))
    save(model, labels, mean, std, args.out, {"threshold": args.threshold, "seed": args.seed, "held_out": report})
    print(json.dumps({"out": str(args.out), "held_out": report, "seconds": round(time.time() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
