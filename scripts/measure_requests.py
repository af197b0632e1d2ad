#!/usr/bin/env python3
"""How well the skills file's `asked_by` phrases tell which motion a sentence asks for, per language.

    python scripts/measure_requests.py tests/data/requests/heldout.jsonl [--skills FILE] [--json FILE]

Each line of the input: {"text": "...", "lang": "en", "asks": ["pick_up"]} (the motion skills the sentence asks
the robot to do now; [] for questions, statements, gestures, negated requests). A sentence counts as right when
the set of motion skills the gate would let it ask for equals its label. A false ask (a motion the sentence did
not ask for) is what would let a brain's mistake through; a missed ask makes the robot refuse a real request.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robot_brain.intents.requests import asks_for  # noqa: E402
from robot_brain.intents.skills import load_skills  # noqa: E402


def measure(rows: list[dict], skills) -> dict:
    motion = {name: skill for name, skill in skills.items() if skill.kind == "motion"}
    tally = defaultdict(lambda: {"n": 0, "right": 0, "false_asks": 0, "missed_asks": 0, "asks": 0})
    wrong = []
    for row in rows:
        found = {name for name, skill in motion.items() if asks_for(skill.phrases, row["text"])}
        wanted = set(row["asks"])
        for key in (row["lang"], "all"):
            t = tally[key]
            t["n"] += 1
            t["right"] += found == wanted
            t["asks"] += len(wanted)
            t["false_asks"] += len(found - wanted)
            t["missed_asks"] += len(wanted - found)
        if found != wanted:
            wrong.append({"text": row["text"], "lang": row["lang"], "label": sorted(wanted), "found": sorted(found)})
    for t in tally.values():
        t["accuracy"] = round(t["right"] / t["n"], 4)
        t["recall"] = round(1 - t["missed_asks"] / t["asks"], 4) if t["asks"] else None
    return {"languages": dict(sorted(tally.items())), "wrong": wrong}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--skills", type=Path, default=None, help="skills file (default: the shipped one)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures and the wrong sentences here")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = measure(rows, load_skills(args.skills))
    print(f"{'lang':6} {'n':>5} {'right':>7} {'recall':>7} {'false asks':>11} {'missed':>7}")
    for lang, t in result["languages"].items():
        recall = f"{100 * t['recall']:.1f}%" if t["recall"] is not None else "-"
        print(f"{lang:6} {t['n']:5d} {100 * t['accuracy']:6.1f}% {recall:>7} {t['false_asks']:11d} {t['missed_asks']:7d}")
    for row in result["wrong"]:
        print(f"  {row['lang']}  {row['text']!r}: label {row['label']}, found {row['found']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
