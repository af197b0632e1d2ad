"""Training examples for a VLM brain, encoded exactly as the brain prompts at run time.

An Example is one question about one camera picture with the reply the brain should give (the
{"say", "intents"} JSON), optionally after earlier exchanges it remembers. Examples come from the
synthetic world (`world_examples`) or from a robot's own data (robot_brain.training.records).
`encode` lays them out with the brain's own chat messages (robot_brain.brain.prompting) and the model's
chat template; only the reply's tokens (and the end of the utterance) are learnt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..brain.images import to_model_rgb
from ..brain.memory import language_instruction
from ..brain.prompting import chat_messages
from ..sim.dialogue import ASKS, exchanges
from ..sim.world import SIGNS, make_scene

IGNORE = -100                    # label of a token that is not learnt (the prompt)


@dataclass
class Example:
    image: np.ndarray | None     # the camera picture as the camera gives it (BGR); None: no picture
    question: str
    response: str                # the reply as JSON text: {"say": ..., "intents": [...]}
    history: tuple[tuple[str, str], ...] = ()      # earlier (question, reply JSON) pairs, oldest first
    language: str = ""           # the turn's language code ("" = unknown, as for typed text)
    tags: dict = field(default_factory=dict)       # where it came from (ask, seed, the scene's objects and face)


def world_examples(seeds: Iterable[int], *, per_scene: int = 4, history_turns: int = 1,
                   sign_share: float = 0.15, seed: int = 0, asks: tuple[str, ...] = ASKS,
                   look_alike: float = 0.0) -> Iterator[Example]:
    """`per_scene` questions about each generated scene; some with remembered turns and signs on the wall.

    `asks`: the kinds of question, each drawn with equal chance (repeat one to ask it more often).
    `look_alike`: share of object questions about look-alikes (robot_brain.sim.dialogue.exchanges).
    """
    rng = np.random.default_rng(seed)
    for scene_seed in seeds:
        sign = str(rng.choice(SIGNS)) if rng.random() < sign_share else ""
        scene = make_scene(scene_seed, sign=sign)
        asked = exchanges(scene, np.random.default_rng(scene_seed + 7919), per_scene + history_turns, asks,
                          look_alike)
        for i in range(history_turns, len(asked)):
            remembered = int(rng.integers(0, history_turns + 1))
            history = tuple((e.question, e.response()) for e in asked[i - remembered:i])
            yield Example(scene.image, asked[i].question, asked[i].response(), history,
                          language=str(rng.choice(["en", ""])), tags={"ask": asked[i].ask, "seed": scene_seed,
                                                                  "objects": scene.objects,
                                                                  "person": scene.person and scene.person.point})


def corpus(system_prompt: str, examples: Iterable[Example]) -> Iterator[str]:
    """Every text the model will read or write, for training its tokenizer."""
    yield system_prompt
    for code in ("", "en"):
        yield language_instruction(code)
    for e in examples:
        yield e.question
        yield e.response


class Encoder:
    """Examples → token ids, labels and pixel tensors for one processor and system prompt."""

    def __init__(self, processor, system_prompt: str, *, max_image_edge: int = 1024,
                 pictures_after_text: bool = False) -> None:
        self.processor = processor
        self.system_prompt = system_prompt
        self.pictures_after_text = pictures_after_text
        self.max_image_edge = max_image_edge
        self.eos_id = processor.tokenizer.convert_tokens_to_ids(processor.tokenizer.eos_token)
        self._pixels: dict[int, tuple] = {}      # id(picture) → (picture, its tensors)

    def prompt(self, example: Example) -> str:
        system = f"{self.system_prompt}\n{language_instruction(example.language)}"
        history = []
        for question, reply in example.history:
            history += [{"role": "user", "content": [{"type": "text", "text": question}]},
                        {"role": "assistant", "content": [{"type": "text", "text": reply}]}]
        messages = chat_messages(system, history, example.question, int(example.image is not None),
                                 pictures_after_text=self.pictures_after_text)
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def encode(self, example: Example) -> dict:
        """input_ids and labels (lists) and, with a picture, pixel_values / pixel_attention_mask tensors."""
        picture = None if example.image is None else to_model_rgb(example.image, self.max_image_edge)
        prompt = self.processor(text=self.prompt(example), images=[picture] if picture is not None else None,
                                return_tensors="pt")
        if picture is not None:     # questions about one picture share its tensors
            kept = self._pixels.setdefault(id(example.image), (example.image, prompt))
            prompt = {**prompt, "pixel_values": kept[1]["pixel_values"],
                      "pixel_attention_mask": kept[1].get("pixel_attention_mask")}
        # The reply is tokenised on its own, as the model writes it after the prompt at run time.
        reply = self.processor.tokenizer(example.response, add_special_tokens=False).input_ids + [self.eos_id]
        ids = prompt["input_ids"][0].tolist()
        out = {"input_ids": ids + reply, "labels": [IGNORE] * len(ids) + reply}
        for key in ("pixel_values", "pixel_attention_mask"):
            if prompt.get(key) is not None:
                out[key] = prompt[key][0]
        return out


def collate(encoded: list[dict], pad_id: int) -> dict:
    """Right-padded batch; every example of a batch has a picture or none has."""
    import torch
    width = max(len(e["input_ids"]) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e["input_ids"])
        ids[row, :n] = torch.tensor(e["input_ids"])
        labels[row, :n] = torch.tensor(e["labels"])
        mask[row, :n] = 1
    batch = {"input_ids": ids, "labels": labels, "attention_mask": mask}
    with_pictures = [e for e in encoded if "pixel_values" in e]
    if with_pictures and len(with_pictures) != len(encoded):
        raise ValueError("a batch mixes examples with and without pictures")
    for key in ("pixel_values", "pixel_attention_mask"):
        if with_pictures and key in with_pictures[0]:
            batch[key] = torch.stack([e[key] for e in with_pictures])
    return batch
