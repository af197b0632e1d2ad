"""Episodes: one generated scene on camera, spoken questions about it (espeak-ng), as a rosbag2 with its truth.

`write_episode(folder, seed)` writes `folder/bag` (replayable by `robot-brain replay`) and `folder/truth.json`
(the scene's objects and, per question, when it was said and the right answer).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..samples import write_bag
from .dialogue import ASKS, Exchange, exchanges
from .world import Scene, make_scene

GAP_S = 7.0          # seconds from one question to the next: time to answer before the next is asked


@dataclass
class Asked:
    start_s: float
    exchange: Exchange


@dataclass
class Episode:
    seed: int
    scene: Scene
    asked: list[Asked]
    bag: Path


def write_episode(folder: str | Path, seed: int, *, questions: int = 3, voice: str = "en-us",
                  gap_s: float = GAP_S, sign: str = "", asks: tuple[str, ...] = ASKS) -> Episode:
    """`sign`: printed words on the wall; `asks`: the kinds of question to draw from."""
    folder = Path(folder)
    scene = make_scene(seed, sign=sign)
    asked = [Asked(1.0 + i * gap_s, e)
             for i, e in enumerate(exchanges(scene, np.random.default_rng(seed + 7919), questions, asks))]
    bag = write_bag(folder / "bag", said=[(a.start_s, a.exchange.question) for a in asked], typed=[],
                    duration_s=1.0 + questions * gap_s + 1.0, picture=lambda i: scene.image, voice=voice)
    truth = {"seed": seed, "sign": sign, "objects": [asdict(o) for o in scene.objects],
             "person": asdict(scene.person) if scene.person else None,
             "questions": [{"start_s": a.start_s, **asdict(a.exchange)} for a in asked]}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    return Episode(seed, scene, asked, bag)
