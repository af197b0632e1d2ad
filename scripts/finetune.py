#!/usr/bin/env python3
"""Fine-tune a brain profile on your robot's data, write it as a new profile, and evaluate it.

    # labelled examples: one JSON object per line (see robot_brain/training/records.py)
    .venv/bin/python scripts/finetune.py --jsonl mydata.jsonl --base smolvlm-256m --out models/my-brain \\
        --register my-brain --eval 10
    # recorded sessions (ros.record_dir): what was asked, seen, said and done
    .venv/bin/python scripts/finetune.py --recording rec1 rec2 --base smolvlm-256m --out models/my-brain
    # recorded sessions → JSONL with pictures, to check and correct by hand before training on it
    .venv/bin/python scripts/finetune.py --recording rec1 --export-jsonl review/data.jsonl

--method auto trains every weight of models up to 50 M parameters and LoRA adapters (peft, merged into
the saved weights) above. --eval N runs `robot-brain eval --n N` on the result (generated table-top scenes:
meaningful for models that are meant to know that world). Then use it: robot-brain --set brain.model=my-brain ...
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robot_brain.training.finetune import FinetuneError, Plan, finetune, register  # noqa: E402
from robot_brain.training.records import RecordError, export_jsonl, from_recording, read_jsonl  # noqa: E402
from robot_brain.training.vlm_train import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data (one of)")
    data.add_argument("--jsonl", type=Path, nargs="+", default=[], help="JSONL files of labelled examples")
    data.add_argument("--recording", type=Path, nargs="+", default=[], help="recorded session bags")
    parser.add_argument("--export-jsonl", type=Path, help="only write the examples as JSONL (+ pictures) and stop")
    parser.add_argument("--base", help="registry profile or model folder to start from (needed to train)")
    parser.add_argument("--out", type=Path, help="new model folder to write")
    parser.add_argument("--method", choices=["auto", "full", "lora"], default="auto")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: 2e-4 full, 1e-3 LoRA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--register", metavar="NAME", help="add the result to the registry as profile NAME")
    parser.add_argument("--registry", type=Path, default=ROOT / "models" / "registry.yaml")
    parser.add_argument("--eval", type=int, default=0, metavar="N", help="then run robot-brain eval on N scenes")
    parser.add_argument("--eval-seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        examples = [e for f in args.jsonl for e in read_jsonl(f)] + [e for b in args.recording
                                                                     for e in from_recording(b)]
        if not examples:
            parser.error("give --jsonl FILE or --recording BAG")
        print(f"{len(examples)} examples")
        if args.export_jsonl:
            print(f"wrote {export_jsonl(examples, args.export_jsonl)}")
            return 0
        if args.out is None or args.base is None:
            parser.error("--base PROFILE (or a model folder) and --out DIR are needed to train")
        lr = args.lr or (1e-3 if args.method == "lora" else 2e-4)
        plan = Plan(args.method, args.lora_rank, Settings(steps=args.steps, batch_size=args.batch_size, lr=lr,
                                                          warmup=max(1, args.steps // 10), seed=args.seed))

        def progress(step: int, loss: float, seconds: float) -> None:
            print(f"  step {step}/{args.steps}  loss {loss:.4f}  {seconds:.0f} s", flush=True)

        result = finetune(args.base, examples, args.out, plan, progress=progress)
        print(f"{result['method']} fine-tune of {args.base}: {result['training']['steps']} steps in "
              f"{result['seconds']:.0f} s, last loss {result['training']['losses'][-1]}; wrote {args.out}")
        if args.register:
            register(args.register, args.out, args.base, args.registry)
            print(f"registered profile {args.register} in {args.registry}")
        if args.eval:
            evaluated = run_eval(str(args.out), args.eval, args.eval_seed)
            result["eval"] = evaluated
            (args.out / "finetune.json").write_text(json.dumps(result, indent=1) + "\n")
        return 0
    except (RecordError, FinetuneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_eval(model: str, n: int, seed: int) -> dict:
    from robot_brain.config import Config
    from robot_brain.evaluate import evaluate, table
    config = Config()
    config.brain.model = model
    result = evaluate(config, seed=seed, n=n)
    print(table(result))
    return {k: v for k, v in result.items() if k != "rows"}


if __name__ == "__main__":
    raise SystemExit(main())
