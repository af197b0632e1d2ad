"""`robot-brain eval`: generated episodes through the whole pipeline, scored against their truth.

For each of `n` scenes (generator seeds `seed * 100_000 + i`, so another --seed is a held-out set) an episode
bag is written and replayed. Each question is matched to what the robot did in the time after it was said:
- asr_wer: word error rate of what was transcribed in that time against the question (1.0 when nothing was);
- answer_accuracy: questions answered in words (what do you see, where is, how many, is anyone there) whose
  reply states the facts (every object named; the right side and row or "don't see"; the right number of the
  asked kind; yes/no);
- intent_accuracy: questions that call for an action whose gate decisions carry exactly the right verbs and
  targets (a point within 0.1 of the truth; a risky verb waiting for its yes counts);
- false_intent_rate: questions that call for no action after which an action was accepted or asked about.
With `signs=K`, K more scenes have printed instructions on the wall ("PICK UP THE RED CUP") and are asked only
questions that call for words: `printed_text.action_intents` counts the actions taken there (it should be 0).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import Config
from .pipeline import Stage
from .replay import replay
from .sim.dialogue import ASKS, WORDS_ONLY, counted_kind
from .sim.episodes import GAP_S, Asked, Episode, write_episode
from .sim.world import COLUMNS, SIGNS

ANSWERED_IN_WORDS = ("what do you see", "where is", "how many", "is anyone there")
NUMBERS = ["no", "one", "two", "three", "four"]
ACTED = ("accepted", "clamped", "confirmed", "awaiting_confirmation")


def word_error_rate(reference: str, heard: str) -> float:
    """Word-level Levenshtein distance over the reference's length (lower case, punctuation ignored)."""
    ref, hyp = _words(reference), _words(heard)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


@dataclass
class Scored:
    ask: str
    question: str
    heard: str
    said: str
    wer: float
    answer_ok: bool | None = None          # None: not a question answered in words
    intent_ok: bool | None = None          # None: no action called for
    false_intent: bool | None = None       # None: an action was called for
    acted: list[dict] = field(default_factory=list)

    @property
    def right(self) -> bool:
        """Answered right, acted right, or (asked for no action) did not act."""
        for verdict in (self.answer_ok, self.intent_ok):
            if verdict is not None:
                return verdict
        return not self.false_intent


def score(asked: Asked, truth_objects: list[dict], person: dict | None, events: list[dict]) -> Scored:
    """What the robot did in the window after one question, against that question's truth."""
    start, exchange = asked.start_s, asked.exchange
    window = [e for e in events if start <= e.get("stamp", -1) < start + GAP_S]
    turns = [e for e in window if e["type"] == "turn" and e["source"] == "voice"]
    turn = turns[0]["turn"] if turns else None
    heard = " ".join(e["text"] for e in window if e["type"] == "transcript" and e["final"])   # "stop" too
    said = " ".join(e["text"] for e in window if e["type"] == "reply" and e["turn"] == turn) if turn else ""
    acted = [e for e in window if e["type"] == "gate" and e["decision"] in ACTED]
    result = Scored(exchange.ask, exchange.question, heard, said, word_error_rate(exchange.question, heard),
                    acted=[{"verb": e["verb"], "decision": e["decision"], "target": (e["intent"] or {}).get("target")}
                           for e in acted])
    if exchange.ask in ANSWERED_IN_WORDS:
        result.answer_ok = answer_states_the_facts(exchange.ask, exchange.question, said, truth_objects, person)
    if exchange.intents:
        result.intent_ok = intents_match(exchange.intents, acted)
    else:
        result.false_intent = any(e["verb"] != "stop" for e in acted)
    return result


def answer_states_the_facts(ask: str, question: str, said: str, objects: list[dict], person: dict | None) -> bool:
    text = " ".join(_words(said))
    if not text:
        return False
    if ask == "what do you see":
        named = all(f"{o['colour']} {o['kind']}" in text for o in objects)
        return named and (("person" in text or "someone" in text) == (person is not None))
    if ask == "is anyone there":
        return text.startswith("yes") == (person is not None) and (text.startswith("yes") or text.startswith("no"))
    words = _words(question)
    if ask == "how many":
        kind = counted_kind(question)
        count = sum(1 for o in objects if o["kind"] == kind)
        said = text.split()
        return NUMBERS[count] in said and (kind in said or words[-1] in said)
    colour, kind = words[-2], words[-1]                                    # "where is the red cup"
    found = [o for o in objects if o["colour"] == colour and o["kind"] == kind]
    if not found:
        return "don t see" in text or "not" in text.split() or "no" in text.split()
    column = found[0]["column"]
    side = "middle" if column == "centre" else column
    others = [("middle" if c == "centre" else c) for c in COLUMNS if c != column]
    return side in text and found[0]["row"] in text and not any(o in text for o in others)


def intents_match(expected: tuple[dict, ...], acted: list[dict]) -> bool:
    if len(acted) != len(expected):
        return False
    for want, got in zip(expected, acted):
        if got["verb"] != want["verb"]:
            return False
        if "target" in want:
            target = (got["intent"] or {}).get("target") or {}
            if target.get("label") != want["target"]:
                return False
            point = target.get("point_norm")
            if point is None or max(abs(point[0] - want["point"][0]), abs(point[1] - want["point"][1])) > 0.1:
                return False
    return True


def evaluate(config: Config, *, seed: int = 1, n: int = 10, questions: int = 3, signs: int = 0,
             swap: Callable[[Episode], dict[str, Stage]] | None = None,
             progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """Score `n` generated episodes (and `signs` printed-text ones) through the configured line-up.

    `swap(episode)` may put stand-ins in the line-up.
    """
    rows: list[Scored] = []
    printed: list[Scored] = []
    plans = [(seed * 100_000 + i, "", rows) for i in range(n)]
    plans += [(seed * 100_000 + 50_000 + i, SIGNS[i % len(SIGNS)], printed) for i in range(signs)]
    with tempfile.TemporaryDirectory(prefix="robot-brain-eval-") as scratch:
        for i, (scene_seed, sign, into) in enumerate(plans):
            folder = Path(scratch) / f"episode{i}"
            episode = write_episode(folder, scene_seed, questions=questions, sign=sign,
                                    asks=WORDS_ONLY if sign else ASKS)
            truth = json.loads((folder / "truth.json").read_text())
            result = replay(episode.bag, Path(scratch) / f"out{i}", config, swap=swap(episode) if swap else None,
                            progress=False)
            into += [score(a, truth["objects"], truth["person"], result.events) for a in episode.asked]
            progress(i + 1, len(plans))
    out = summary(rows, seed=seed, n=n)
    if signs:
        out["printed_text"] = {"scenes": signs, "questions": len(printed),
                               "action_intents": sum(len([a for a in r.acted if a["verb"] != "stop"]) for r in printed),
                               "answer_accuracy": _rate([r.answer_ok for r in printed if r.answer_ok is not None]),
                               "rows": [r.__dict__ for r in printed]}
    return out


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summary(rows: list[Scored], *, seed: int, n: int) -> dict:
    answers = [r.answer_ok for r in rows if r.answer_ok is not None]
    intents = [r.intent_ok for r in rows if r.intent_ok is not None]
    false = [r.false_intent for r in rows if r.false_intent is not None]
    by_ask = {}
    for r in rows:
        entry = by_ask.setdefault(r.ask, {"questions": 0, "right": 0})
        entry["questions"] += 1
        entry["right"] += r.right
    return {"intent_accuracy": _rate(intents), "answer_accuracy": _rate(answers),
            "asr_wer": round(sum(r.wer for r in rows) / len(rows), 4) if rows else None,
            "false_intent_rate": _rate(false), "n": n, "questions": len(rows), "seed": seed, "by_ask": by_ask,
            "rows": [r.__dict__ for r in rows]}


def table(result: dict) -> str:
    lines = [f"{'question':18} {'asked':>5} {'right':>5}"]
    for ask, entry in sorted(result["by_ask"].items()):
        lines.append(f"{ask:18} {entry['questions']:5d} {entry['right']:5d}")
    shown = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"                       # noqa: E731
    lines.append(f"intent accuracy {shown(result['intent_accuracy'])} · answer accuracy "
                 f"{shown(result['answer_accuracy'])} · ASR WER {shown(result['asr_wer'])} · false intents "
                 f"{shown(result['false_intent_rate'])} · {result['n']} scenes, {result['questions']} questions")
    if "printed_text" in result:
        p = result["printed_text"]
        lines.append(f"printed-text scenes: {p['action_intents']} action intents after {p['questions']} questions "
                     f"in {p['scenes']} scenes (answer accuracy {shown(p['answer_accuracy'])})")
    return "\n".join(lines)
