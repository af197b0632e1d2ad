#!/usr/bin/env python3
"""Train the offline demo brain (models/demo-tabletop) from scratch on the synthetic table-top world.

    .venv/bin/python scripts/train_demo_vlm.py                 # seed 0, one thread: models/demo-tabletop (~42 min)
    .venv/bin/python scripts/train_demo_vlm.py --steps 200 --scenes 500 --out /tmp/try   # a quick try

The shipped demo brain is this run's model trained further (--init, --look-alike) and blended with it by
scripts/blend_demo_vlm.py (README: Training a brain).

Scenes 0..N-1 of the generator (`robot-brain eval --seed 0`) are the training set; every other eval seed is
held out. The folder holds the safetensors weights, the processor, the prompt the model was trained with
(robot_brain_prompt.json) and training.json (settings, losses, held-out exact replies).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robot_brain.sim.dialogue import ASKS  # noqa: E402
from robot_brain.training.attention_guide import AttentionGuide, target_token  # noqa: E402
from robot_brain.training.match_probe import MatchProbe, matching_tokens  # noqa: E402
from robot_brain.training.demo_vlm import HISTORY_TURNS, SYSTEM_PROMPT, Shape, build, describe, train_tokenizer  # noqa: E402
from robot_brain.training.vlm_data import Encoder, corpus, world_examples  # noqa: E402
from robot_brain.training.vision_probe import LABELS, VisionProbe, patch_labels  # noqa: E402
from robot_brain.training.vlm_train import Settings, check, train  # noqa: E402

NAMING_ASKS = ("where is", "point at", "pick up", "how many")      # replies that repeat the question's object
# The kinds of question trained on, drawn with equal chance: the ones that must find things in the picture (or
# the face's exact place) more often than "stop" and "is anyone there", which the model learns in a few hundred steps.
TRAINING_ASKS = ASKS + ("what do you see", "what do you see", "where is", "point at", "pick up", "how many",
                        "how many", "look at me")
HELD_OUT_SEED = 9          # scenes 900000.. for the check at the end (eval's default held-out seed is 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "demo-tabletop", help="model folder to write")
    parser.add_argument("--scenes", type=int, default=12000, help="training scenes (generator seeds 0..N-1)")
    parser.add_argument("--per-scene", type=int, default=3, help="questions per scene")
    parser.add_argument("--steps", type=int, default=6000, help="optimiser steps")
    parser.add_argument("--batch-size", type=int, default=Settings.batch_size)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, data order and sampling")
    parser.add_argument("--init", type=Path, metavar="FOLDER",
                        help="go on training a model this script wrote (its weights, tokenizer and shape) "
                             "instead of starting from random weights; --shape is then not allowed")
    parser.add_argument("--max-minutes", type=float, default=Settings.max_minutes,
                        help="stop early after this much training time (the result is then not reproducible)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (0: one per core; more than the free cores slows it down badly)")
    parser.add_argument("--device", default="cpu", help="torch device to train on (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--probe-weight", type=float, default=0.0,
                        help="weight of a probe on the vision encoder's patches (what each patch shows; 0: none)")
    parser.add_argument("--token-probe-weight", type=float, default=1.0,
                        help="weight of a probe on the image tokens the language model reads (what each shows; 0: none)")
    parser.add_argument("--guide-weight", type=float, default=0.0,
                        help="weight of the attention guide (one head looks at the object the question names; 0: off)")
    parser.add_argument("--guide-layer", type=int, default=2, help="language-model layer of the guided head")
    parser.add_argument("--match-weight", type=float, default=1.0,
                        help="weight of a probe on the image tokens: does this one show what the question names? (0: none)")
    parser.add_argument("--match-layer", type=int, default=1, help="language-model layer the match probe reads")
    parser.add_argument("--tie-words", action=argparse.BooleanOptionalAction, default=True,
                        help="the token probe scores each class by likeness to the embedding of the word naming it")
    parser.add_argument("--probe-labels", default=",".join(LABELS),
                        help=f"what the probe learns of each patch, comma-separated, from {','.join(LABELS)}")
    parser.add_argument("--shape", action="append", default=[], metavar="FIELD=N",
                        help=f"change one size of the model (repeatable); fields: {', '.join(Shape.__dataclass_fields__)}")
    parser.add_argument("--opening", type=float, default=0.1,
                        help="share of the steps that train only on questions naming an object (copy it, find it)")
    parser.add_argument("--look-alike", type=float, default=0.0,
                        help="share of where / point / pick-up questions about an object with a look-alike beside "
                             "it, or about a missing one that looks like one that is there")
    parser.add_argument("--more", action="append", default=[], metavar="ASK", choices=sorted(set(ASKS)),
                        help="train on this kind of question more often: each use adds one more draw of it "
                             "(repeatable; e.g. --more 'what do you see')")
    parser.add_argument("--pictures-after-text", action=argparse.BooleanOptionalAction, default=True,
                        help="put the question before the picture, so the picture's tokens can read what it names")
    parser.add_argument("--check", type=int, default=200, help="held-out questions decoded at the end")
    args = parser.parse_args(argv)

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.init and args.shape:
        parser.error("--shape cannot change the size of an --init model")
    shape = shape_of(args.init) if args.init else shape_from(args.shape)
    asks = TRAINING_ASKS + tuple(args.more)
    started = time.monotonic()
    print(f"generating {args.scenes} scenes × {args.per_scene} questions ...", flush=True)
    examples = list(world_examples(range(args.scenes), per_scene=args.per_scene, history_turns=HISTORY_TURNS,
                                   seed=args.seed, asks=asks,
                                   look_alike=args.look_alike))
    if args.init:
        model, processor = load(args.init)
        tokenizer = processor.tokenizer
    else:
        tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), shape.vocab)
        model, processor = build(tokenizer, shape, seed=args.seed)
    model.to(args.device)
    encoder = Encoder(processor, SYSTEM_PROMPT, pictures_after_text=args.pictures_after_text)
    encoded = []
    grid = shape.image_edge // shape.patch
    for i, example in enumerate(examples):
        encoded.append(encoder.encode(example))
        objects, face, ask = example.tags["objects"], example.tags["person"], example.tags["ask"]
        encoded[-1]["patch_labels"] = patch_labels(objects, grid, face)
        encoded[-1]["token_labels"] = patch_labels(objects, grid // shape.scale_factor, face)
        encoded[-1]["ask"] = ask
        encoded[-1]["target_token"] = target_token(ask, example.question, objects, face, grid // shape.scale_factor)
        encoded[-1]["match_tokens"] = matching_tokens(ask, example.question, objects, face, grid // shape.scale_factor)
        if (i + 1) % 5000 == 0 or i + 1 == len(examples):
            print(f"  encoded {i + 1}/{len(examples)}", flush=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.2f} M parameters, {len(tokenizer)} tokens; {len(encoded)} examples "
          f"({time.monotonic() - started:.0f} s to prepare)", flush=True)
    settings = Settings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        warmup=min(Settings.warmup, max(1, args.steps // 10)), max_minutes=args.max_minutes)

    def progress(step: int, loss: float, seconds: float) -> None:
        eta = seconds / step * (settings.steps - step)
        print(f"  step {step}/{settings.steps}  reply loss {loss:.4f}  {seconds / 60:.1f} min, "
              f"~{eta / 60:.1f} min left", flush=True)

    labels = tuple(args.probe_labels.split(","))
    aids = [(weight, VisionProbe(model, labels, at=at, tokenizer=tokenizer if tied else None))     # auxiliary losses
            for weight, at, tied in ((args.probe_weight, "encoder", False),
                                     (args.token_probe_weight, "tokens", args.tie_words)) if weight]
    if args.match_weight:
        aids.append((args.match_weight, MatchProbe(model, layer=args.match_layer)))
    if args.guide_weight:
        model.set_attn_implementation("eager")          # the guide reads the head's attention weights
        aids.append((args.guide_weight, AttentionGuide(model, layer=args.guide_layer)))
    trained = train(model, encoded, settings, tokenizer.pad_token_id, progress=progress,
                    extra_loss=(lambda batch: sum(w * aid.loss(batch) for w, aid in aids)) if aids else None,
                    extra_parameters=tuple(p for _, aid in aids for p in aid.parameters()),
                    opening=[i for i, e in enumerate(examples) if e.tags["ask"] in NAMING_ASKS],
                    opening_steps=int(args.opening * settings.steps))
    for _, aid in aids:
        aid.remove()
    model.set_attn_implementation("sdpa")
    result = held_out_check(model, processor, args.check, args.pictures_after_text)
    save(args.out, model, processor, shape, settings, trained, result, args, params, asks)
    print(f"wrote {args.out} in {(time.monotonic() - started) / 60:.1f} min")
    return 0


def held_out_check(model, processor, n: int, pictures_after_text: bool) -> dict | None:
    """Exact replies to `n` questions about held-out scenes (printed per kind of question); None for n = 0."""
    if not n:
        return None
    held_out = list(world_examples(range(HELD_OUT_SEED * 100_000, HELD_OUT_SEED * 100_000 + n),
                                   per_scene=1, history_turns=HISTORY_TURNS, seed=HELD_OUT_SEED))[:n]
    result = check(model, processor, held_out, SYSTEM_PROMPT, pictures_after_text=pictures_after_text)
    print(f"held-out exact replies: {100 * result['exact']:.1f} % of {result['n']}")
    for ask, tally in result["by_ask"].items():
        print(f"  {ask:16} {tally['exact']}/{tally['asked']}")
    return result


def shape_from(changes: list[str]) -> Shape:
    fields = {}
    for change in changes:
        name, _, value = change.partition("=")
        if name not in Shape.__dataclass_fields__ or not value.isdigit():
            raise SystemExit(f"--shape {change}: expected FIELD=N with FIELD one of {', '.join(Shape.__dataclass_fields__)}")
        fields[name] = int(value)
    return Shape(**fields)


def shape_of(folder: Path) -> Shape:
    recorded = training_record(folder, "--init")["shape"]
    return Shape(**{name: recorded[name] for name in Shape.__dataclass_fields__})


def training_record(folder: Path, option: str) -> dict:
    """The training.json of a model folder this script wrote; a clear exit naming `option` if there is none."""
    try:
        record = json.loads((folder / "training.json").read_text())
        record["shape"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"{option} {folder}: no readable training.json with a shape ({error}); "
                         "give a folder train_demo_vlm.py wrote") from None
    return record


def load(folder: Path):
    """(model, processor) as saved in `folder`, ready to train further."""
    from transformers import AutoProcessor, Idefics3ForConditionalGeneration
    model = Idefics3ForConditionalGeneration.from_pretrained(folder)
    return model, AutoProcessor.from_pretrained(folder)


def save(out: Path, model, processor, shape: Shape, settings: Settings, trained, result, args, params: int,
         asks: tuple[str, ...]) -> None:
    from robot_brain.brain.prompting import TrainedPrompt
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    TrainedPrompt(SYSTEM_PROMPT, HISTORY_TURNS, args.pictures_after_text).save(out)
    record = {"command": "scripts/train_demo_vlm.py " + " ".join(sys.argv[1:]),
              "init": str(args.init) if args.init else None,
              "init_training": json.loads((args.init / "training.json").read_text()) if args.init else None, "shape": describe(shape),
              "parameters": params, "scenes": args.scenes, "per_scene": args.per_scene, "settings": settings.__dict__,
              "probe_weight": args.probe_weight, "probe_labels": args.probe_labels,
              "token_probe_weight": args.token_probe_weight, "tie_words": args.tie_words,
              "guide_weight": args.guide_weight, "guide_layer": args.guide_layer,
              "match_weight": args.match_weight, "match_layer": args.match_layer,
              "opening": args.opening, "look_alike": args.look_alike, "pictures_after_text": args.pictures_after_text, "asks": asks,
              "device": args.device,
              "training": trained.as_dict(), "held_out_check": result}
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
