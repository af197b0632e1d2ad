#!/usr/bin/env python3
"""Train the demo ear: a small Whisper for the demo questions, from scratch, offline, on one CPU core.

Renders every question of the synthetic world and 2,400 sentences of other speech (near misses such as "pick up
the phone", everyday sentences, random words) with espeak-ng voices, trains a Whisper (d_model 96, 3 encoder +
2 decoder layers) on augmented copies to write the question, or nothing for other speech and background alone,
converts it to CTranslate2 int8 for faster-whisper, and measures it through the pipeline's own ASR stage
(WhisperAsr) on voices never used in training: the word error rate on the questions (30 and 10 dB SNR), and how
many clips of background alone and of held-out other speech come out as text. Writes the model folder and
OUT/training.json (settings, seed, duration, loss curve, those figures overall and per voice).

    python scripts/train_demo_asr.py                     # -> models/demo-ear (training 27 min on one core,
                                                         #    evaluation 10 min)
    robot-brain --set asr.model=models/demo-ear ...      # use it

The recipe is described in robot_brain/training/asr.py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")           # one core: the recipe trains with one torch thread anyway

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robot_brain.training import asr  # noqa: E402
from robot_brain.training.asr_data import HELD_OUT_VOICES, espeak_version  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    defaults = asr.Settings()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "models" / "demo-ear",
                   help="output folder (CTranslate2 model + training.json); replaced files only")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the data plan, augmentation and weights")
    p.add_argument("--steps", type=int, default=defaults.steps,
                   help="training steps (the learning-rate schedule is laid out over them)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="stop training after this many minutes even before --steps (0 = no limit; a run cut "
                        "short by time is not bit-for-bit reproducible)")
    p.add_argument("--batch", type=int, default=defaults.batch, help="utterances per step")
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (AdamW, cosine decay)")
    p.add_argument("--oov-fraction", type=float, default=defaults.oov_fraction,
                   help="share of the examples that are other speech (no demo question), trained to no text")
    p.add_argument("--oov-prefixes", action="store_true",
                   help="other speech also teaches the decoder to stay unsure after a question's first words "
                        "(not only on the first word), so that a confident confusion is dropped by the guard")
    p.add_argument("--d-model", type=int, default=defaults.shape.d_model, help="Whisper width (ffn = 4x)")
    p.add_argument("--encoder-layers", type=int, default=defaults.shape.encoder_layers, help="encoder layers")
    p.add_argument("--decoder-layers", type=int, default=defaults.shape.decoder_layers, help="decoder layers")
    p.add_argument("--cache", type=Path, default=ROOT / "out" / "demo-ear-cache",
                   help="where synthesized espeak-ng audio is cached between runs")
    p.add_argument("--skip-eval", action="store_true", help="convert but do not measure the held-out WER")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not espeak_version():
        print("espeak-ng is needed (apt install espeak-ng)", file=sys.stderr)
        return 2
    shape = replace(asr.Settings().shape, d_model=args.d_model, ffn=4 * args.d_model,
                    encoder_layers=args.encoder_layers, decoder_layers=args.decoder_layers)
    settings = replace(asr.Settings(), seed=args.seed, steps=args.steps, minutes=args.minutes, batch=args.batch,
                       lr=args.lr, oov_fraction=args.oov_fraction, oov_prefixes=args.oov_prefixes, shape=shape)
    log = asr.asr_data.progress_printer()
    started = time.monotonic()
    trained = asr.train(settings, cache_dir=args.cache, log=log)
    log(f"trained {trained.steps} steps in {trained.seconds / 60:.1f} min; final loss {trained.losses[-1][1]:.4f}")
    difference = asr.export(trained, args.out)
    log(f"converted to CTranslate2 int8 in {args.out} ({asr.folder_size(args.out) / 1e6:.1f} MB); "
        f"compact vs full Whisper log-prob difference {difference:.1e}")
    report = {
        "model": "demo-ear: Whisper trained from scratch on espeak-ng speech of the demo questions",
        "use": {"asr.model": "models/demo-ear"},
        "seed": settings.seed,
        "settings": settings.to_dict(),
        "training_plan": {"renders": len(asr.asr_data.training_plan(settings.seed, settings.per_sentence,
                                                                         settings.per_form)),
                          "questions": len(asr.demo_questions()),
                          "accents": list(asr.asr_data.TRAIN_BASES),
                          "variants": len(asr.asr_data.TRAIN_VARIANTS),
                          "other_speech_renders": settings.oov_renders if settings.oov_fraction > 0 else 0,
                          "other_speech_examples": settings.oov_fraction,
                          "background_examples": settings.noise_fraction},
        "held_out_voices": list(HELD_OUT_VOICES),
        "training_seconds": round(trained.seconds, 1),
        "steps_done": trained.steps,
        "stopped_by_time": trained.stopped_by_time,
        "final_loss": trained.losses[-1][1],
        "loss_curve": trained.losses,
        "dev_sentence_accuracy": trained.dev,
        "dev_no_speech": {"what": "(step, share of 64 dev renders of other speech, share of the 64 dev questions) "
                                  "with no_speech_prob > 0.6", "curve": trained.dev_other},
        "equivalence_max_logprob_difference": difference,
        "folder_bytes": asr.folder_size(args.out),
        "versions": asr.versions(),
    }
    if not args.skip_eval:
        eval_started = time.monotonic()
        report["heldout"] = asr.evaluate(args.out, seed=settings.seed, snr_db=30.0, cache_dir=args.cache, log=log)
        report["heldout_noisy"] = asr.evaluate(args.out, seed=settings.seed, snr_db=10.0, cache_dir=args.cache,
                                               log=log)
        report["background_only"] = asr.noise_check(args.out, seed=settings.seed)
        log(f"background only: {report['background_only']['transcribed']}/{report['background_only']['clips']} "
            "clips came out as text")
        report["other_speech"] = asr.other_speech_check(args.out, seed=settings.seed, snr_db=30.0,
                                                        cache_dir=args.cache, log=log)
        report["eval_seconds"] = round(time.monotonic() - eval_started, 1)
    report["total_seconds"] = round(time.monotonic() - started, 1)
    (args.out / "training.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {args.out / 'training.json'} (total {report['total_seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
