#!/usr/bin/env python3
"""Blend a demo brain with one trained further from it (`train_demo_vlm.py --init`), in weight space.

    .venv/bin/python scripts/blend_demo_vlm.py --base /tmp/step1 --tuned /tmp/step2 --tuned-share 1.0 \\
        --part-share model.vision_model=0.7 --part-share model.connector=0.7 --out models/demo-tabletop

Every weight becomes (1 - share) x base + share x tuned, where `--part-share PREFIX=SHARE` gives the weights whose
names start with PREFIX their own share. The tuned folder's processor, tokenizer and prompt are kept. Then the
same held-out check as the training script runs, and training.json records both trainings and the shares.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from robot_brain.training.blend import blend_state, parse_part_share  # noqa: E402
from train_demo_vlm import held_out_check, load, training_record  # noqa: E402

WEIGHTS = "model.safetensors"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the model the tuned one was trained from")
    parser.add_argument("--tuned", type=Path, required=True, help="a model train_demo_vlm.py --init BASE wrote")
    parser.add_argument("--tuned-share", type=float, default=0.7,
                        help="share of the tuned model in every weight (0: the base, 1: the tuned model)")
    parser.add_argument("--part-share", action="append", default=[], metavar="PREFIX=SHARE",
                        help="another share for the weights whose names start with PREFIX (repeatable; the longest "
                             "matching PREFIX wins), e.g. model.vision_model=0.5")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "demo-tabletop", help="model folder to write")
    parser.add_argument("--check", type=int, default=200, help="held-out questions decoded at the end")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the check")
    args = parser.parse_args(argv)
    if not 0.0 <= args.tuned_share <= 1.0:
        parser.error(f"--tuned-share {args.tuned_share}: give a share between 0 and 1")
    try:
        part_shares = dict(parse_part_share(text) for text in args.part_share)
    except ValueError as error:
        parser.error(f"--part-share {error}")
    records = {name: _training_record(folder, name) for name, folder in (("base", args.base), ("tuned", args.tuned))}
    if records["base"]["shape"] != records["tuned"]["shape"] or \
            (args.base / "tokenizer.json").read_bytes() != (args.tuned / "tokenizer.json").read_bytes():
        raise SystemExit(f"{args.tuned} is not a further training of {args.base} (another shape or tokenizer): "
                         "give the folder its --init named as --base")

    import torch
    from safetensors.torch import load_file, save_file
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    try:
        blended = blend_state(load_file(args.base / WEIGHTS), load_file(args.tuned / WEIGHTS), args.tuned_share,
                              part_shares)
    except ValueError as error:
        raise SystemExit(f"cannot blend {args.base} and {args.tuned}: {error}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    if args.out.resolve() != args.tuned.resolve():
        for item in args.tuned.iterdir():
            if item.is_file() and item.name not in (WEIGHTS, "training.json"):
                shutil.copy2(item, args.out / item.name)
    save_file(blended, args.out / WEIGHTS, metadata={"format": "pt"})
    model, processor = load(args.out)
    result = held_out_check(model.eval(), processor, args.check, records["tuned"].get("pictures_after_text", True))
    record = {"command": "scripts/blend_demo_vlm.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "shape": records["tuned"]["shape"],
              "blend": {"base": str(args.base), "tuned": str(args.tuned), "tuned_share": args.tuned_share,
                        "part_shares": part_shares},
              "base_training": records["base"], "tuned_training": records["tuned"], "held_out_check": result}
    (args.out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out} in {(time.monotonic() - started) / 60:.1f} min")
    return 0


def _training_record(folder: Path, name: str) -> dict:
    record = training_record(folder, f"--{name}")
    if not (folder / WEIGHTS).is_file() or not (folder / "tokenizer.json").is_file():
        raise SystemExit(f"--{name} {folder}: no {WEIGHTS} or tokenizer.json there")
    return record


if __name__ == "__main__":
    raise SystemExit(main())
