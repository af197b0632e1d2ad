#!/usr/bin/env python3
"""Write the small sample rosbag2 used by `make demo` and the replay tests (deterministic; robot_brain/samples.py).

    python scripts/make_sample_bag.py [--out tests/data/sample_bag] [--storage mcap|sqlite3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from robot_brain.samples import write_bag  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/sample_bag")
    parser.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    args = parser.parse_args()
    out = write_bag(args.out, args.storage)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({args.storage}, {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
