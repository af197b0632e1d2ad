"""A robot's own data as training examples: a JSONL file of labelled questions, or recorded sessions.

JSONL, one object per line (paths relative to the file):
    {"image": "pictures/0001.jpg", "question": "where is my mug",
     "say": "Your mug is on the left.", "intents": [{"verb": "point_at", "target": "mug", "point": [0.2, 0.6]}]}
"answer" is accepted for "say"; "intents" may be left out (no action); "image" may be left out (no picture).

A recorded session (`ros.record_dir` / `--record DIR`, or any bag with the same topics) becomes one example per
question: what was heard (transcript) or typed, the camera picture of that moment, and what the robot then said
and did (reply sentences, gated intents). That teaches a model the replies another model gave on the robot —
distilling a large profile into a small one — or, after `export_jsonl` and hand correction, the right ones.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..config import Config
from ..frames import ImageFrame, TextInput
from .vlm_data import Example


class RecordError(ValueError):
    """Data that cannot be trained on; the message names the file, line and what to fix."""


def read_jsonl(path: str | Path) -> list[Example]:
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such file")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
            raise RecordError(f"{where}: needs a non-empty \"question\"")
        say = item.get("say", item.get("answer"))
        if not isinstance(say, str):
            raise RecordError(f"{where}: needs \"say\" (or \"answer\"): the words the robot should say")
        intents = item.get("intents", [])
        if not isinstance(intents, list) or not all(isinstance(i, dict) and isinstance(i.get("verb"), str)
                                                     for i in intents):
            raise RecordError(f"{where}: \"intents\" must be a list of objects with a \"verb\"")
        image = None
        if item.get("image"):
            picture = path.parent / item["image"]
            image = cv2.imread(str(picture), cv2.IMREAD_COLOR)
            if image is None:
                raise RecordError(f"{where}: cannot read the picture {picture}")
        examples.append(Example(image, item["question"].strip(), reply_json(say, intents),
                                tags={"ask": item.get("ask", "record"), "line": number}))
    if not examples:
        raise RecordError(f"{path}: no examples in it")
    return examples


def reply_json(say: str, intents: list[dict]) -> str:
    """The brain's reply format; keys in the order the reply schema writes them."""
    order = ("verb", "target", "point", "params")
    tidy = [{k: i[k] for k in order if k in i and i[k] not in (None, "", {})} for i in intents]
    return json.dumps({"say": say, "intents": tidy}, ensure_ascii=False)


def from_recording(bag: str | Path, config: Config | None = None) -> list[Example]:
    """One example per question in a recorded session: the picture then, what was said and done after it."""
    from rosbags.rosbag2 import Reader

    from ..bags import BagSource, make_typestore
    config = config or Config()
    topics = config.topics
    pictures: list[tuple[float, np.ndarray]] = []
    events: list[tuple[float, str, str]] = []                       # (time, kind, text)
    source = BagSource(bag, config)
    for frame in source:
        if isinstance(frame, ImageFrame):
            pictures.append((frame.stamp, frame.image))
        elif isinstance(frame, TextInput) and frame.text.strip():
            events.append((frame.stamp, "question", frame.text.strip()))
    outputs = {topics.transcript: "question", topics.reply: "reply", topics.intents: "intent"}
    store = make_typestore()
    with Reader(bag) as reader:
        wanted = [c for c in reader.connections if c.topic in outputs and c.msgtype == "std_msgs/msg/String"]
        for conn, ns, raw in reader.messages(connections=wanted):
            events.append((ns / 1e9, outputs[conn.topic], store.deserialize_cdr(raw, conn.msgtype).data))
    events.sort(key=lambda e: e[0])
    examples = []
    for i, (stamp, kind, text) in enumerate(events):
        if kind != "question" or _is_stop(text, config):
            continue
        after = []
        for later in events[i + 1:]:
            if later[1] == "question":
                break
            after.append(later)
        said = " ".join(t for _, k, t in after if k == "reply").strip()
        intents = [_intent(t) for _, k, t in after if k == "intent"]
        seen = [p for t, p in pictures if t <= stamp]
        if said:
            examples.append(Example(seen[-1] if seen else None, text, reply_json(said, [x for x in intents if x]),
                                    tags={"ask": "recording", "stamp": round(stamp, 3)}))
    if not examples:
        raise RecordError(f"{bag}: no answered questions in it (expected {topics.transcript} or {topics.text_in} "
                          f"followed by {topics.reply})")
    return examples


def _is_stop(text: str, config: Config) -> bool:
    return text.strip(" .!").lower() in {w.lower() for w in config.stop.words}


def _intent(text: str) -> dict | None:
    """A gated intent message (JSON) → the reply's intent form."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return None
    target = (payload.get("data") or {}).get("target") or {}
    out = {"verb": payload.get("intent")}
    if target.get("label"):
        out["target"] = target["label"]
    if target.get("point_norm"):
        out["point"] = [round(float(v), 2) for v in target["point_norm"]]
    return out if out["verb"] else None


def export_jsonl(examples: Iterable[Example], path: str | Path) -> Path:
    """Write examples as JSONL with their pictures beside it, for review and correction by hand."""
    path = Path(path)
    pictures = path.parent / f"{path.stem}-pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, example in enumerate(examples):
        reply = json.loads(example.response)
        item = {"question": example.question, "say": reply["say"], "intents": reply["intents"]}
        if example.image is not None:
            name = pictures / f"{n:05d}.png"
            cv2.imwrite(str(name), example.image)
            item = {"image": str(name.relative_to(path.parent)), **item}
        lines.append(json.dumps(item, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
