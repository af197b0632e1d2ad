"""The training loop every robot_brain VLM goes through: the demo brain from scratch, and fine-tuning a profile.

AdamW with a linear warm-up and cosine decay, gradient clipping, batches of examples that all have a picture
or all have none, a fixed seed (the same data, order and weights for the same seed and settings), and a
wall-clock cap for machines slower than expected. `check` decodes held-out examples the way the brain does
(greedy, constrained to the reply schema) and counts exact replies, so a run reports what it learnt.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .vlm_data import Encoder, Example, collate


@dataclass(frozen=True)
class Settings:
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    seed: int = 0
    max_minutes: float = 60.0


@dataclass
class Trained:
    steps: int
    seconds: float
    losses: list[float]                  # mean reply loss of every `report_every` steps
    capped: bool                         # stopped by max_minutes before the last step
    extra_losses: list[float] = field(default_factory=list)    # the same for `extra_loss`, when given

    def as_dict(self) -> dict:
        return asdict(self)


def train(model, encoded: list[dict], settings: Settings, pad_id: int, *,
          progress: Callable[[int, float, float], None] = lambda step, loss, seconds: None,
          report_every: int = 0, extra_loss: Callable[[list[dict]], object] | None = None,
          extra_parameters: tuple = (), opening: list[int] = (), opening_steps: int = 0) -> Trained:
    """Train the parameters of `model` that require grad on `encoded` (Encoder.encode outputs), on its device.

    `extra_loss(batch_examples)`, called after each forward pass, is added to the reply loss (an auxiliary
    signal such as vision_probe.VisionProbe.loss); `extra_parameters` are trained with the model's.
    For the first `opening_steps` steps, batches come only from the examples numbered in `opening` (a
    curriculum: the skills the rest builds on first).
    The loss is reported (and kept) as the mean of every `report_every` steps (0: a tenth of the run, at most 50).
    """
    import torch
    report_every = report_every or max(1, min(50, settings.steps // 10))
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    def grouped(pool) -> list[list[int]]:        # a batch is all examples with a picture or all without
        groups = [[i for i in pool if ("pixel_values" in encoded[i]) == pictures] for pictures in (True, False)]
        return [g for g in groups if g]

    pools = [grouped(range(len(encoded))), grouped(opening) if opening_steps else []]
    device = next(model.parameters()).device
    trainable = [p for p in model.parameters() if p.requires_grad] + list(extra_parameters)
    optimiser = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)

    def rate(step: int) -> float:
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        done = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    queues = [[[] for _ in groups] for groups in pools]
    model.train()
    started, losses, window, step = time.monotonic(), [], [], 0
    extra_losses, extra_window = [], []
    capped = False
    for step in range(settings.steps):
        if time.monotonic() - started > settings.max_minutes * 60:
            capped = True
            break
        phase = int(step < opening_steps)
        groups, queue = pools[phase], queues[phase]
        g = int(rng.choice(len(groups), p=[len(x) / sum(map(len, groups)) for x in groups]))
        if len(queue[g]) < settings.batch_size:
            queue[g] += list(rng.permutation(groups[g]))
        picked, queue[g] = queue[g][:settings.batch_size], queue[g][settings.batch_size:]
        examples = [encoded[i] for i in picked]
        loss = model(**{k: v.to(device) for k, v in collate(examples, pad_id).items()}).loss
        total = loss
        if extra_loss is not None:
            extra = extra_loss(examples)
            extra_window.append(extra.item())
            total = loss + extra
        total.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad(set_to_none=True)
        window.append(loss.item())
        if len(window) == report_every or step + 1 == settings.steps:
            losses.append(round(sum(window) / len(window), 4))
            if extra_window:
                extra_losses.append(round(sum(extra_window) / len(extra_window), 4))
            window, extra_window = [], []
            progress(step + 1, losses[-1], time.monotonic() - started)
    model.eval()
    return Trained(step + (not capped), round(time.monotonic() - started, 1), losses, capped, extra_losses)


def check(model, processor, examples: list[Example], system_prompt: str, *, max_new_tokens: int = 120,
          pictures_after_text: bool = False) -> dict:
    """Greedy, schema-constrained replies to `examples`: the share whose say and intents match exactly, per ask."""
    import torch

    from ..brain.structured import JsonConstraint
    from ..intents.skills import load_skills, response_schema
    tokenizer = processor.tokenizer
    constraint = JsonConstraint(tokenizer, model.config.text_config.vocab_size, response_schema(load_skills()))
    encoder = Encoder(processor, system_prompt, pictures_after_text=pictures_after_text)
    device = next(model.parameters()).device
    by_ask: dict[str, list[int]] = {}
    wrong = []
    for example in examples:
        prompt = encoder.encode(Example(example.image, example.question, "", example.history, example.language))
        ids = prompt["input_ids"][:-1]                       # without the empty reply's end token
        inputs = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        for key in ("pixel_values", "pixel_attention_mask"):
            if key in prompt:
                inputs[key] = prompt[key][None]
        inputs = {k: v.to(device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                 logits_processor=[constraint.processor()])
        reply = tokenizer.decode(out[0, len(ids):].cpu(), skip_special_tokens=True)
        right = _same_reply(reply, example.response)
        tally = by_ask.setdefault(example.tags.get("ask", "?"), [0, 0])
        tally[0] += 1
        tally[1] += right
        if not right and len(wrong) < 20:
            wrong.append({"question": example.question, "want": example.response, "got": reply})
    total = sum(t[0] for t in by_ask.values())
    return {"exact": round(sum(t[1] for t in by_ask.values()) / max(1, total), 4), "n": total,
            "by_ask": {k: {"asked": v[0], "exact": v[1]} for k, v in sorted(by_ask.items())}, "wrong": wrong}


def _same_reply(got: str, want: str) -> bool:
    """Same say and the same intents, points within 0.05."""
    try:
        a, b = json.loads(got), json.loads(want)
    except json.JSONDecodeError:
        return False
    if a.get("say") != b.get("say") or len(a.get("intents", [])) != len(b.get("intents", [])):
        return False
    for x, y in zip(a["intents"], b["intents"]):
        if x.get("verb") != y.get("verb") or x.get("target") != y.get("target"):
            return False
        if "point" in y and (not isinstance(x.get("point"), list)
                             or max(abs(p - q) for p, q in zip(x["point"], y["point"])) > 0.05):
            return False
    return True
