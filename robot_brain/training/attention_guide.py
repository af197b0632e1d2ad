"""An auxiliary loss that teaches a from-scratch VLM's language model to look at what the question names.

With probes, the demo brain's image tokens came to say what each place on the table holds (colour, kind,
column and row, near-perfectly), yet "where is the red cup", "point at ..." and "pick up ..." stayed at chance:
the language model did not learn in 4,000 steps to find the token that shows the object the question names.
The guide picks one attention head and, while the reply is written, pulls its attention onto the image token
that holds the named object (the person's face for "look at me"). Only the weights change: the saved model
is a plain Idefics3 that looks at the right place by itself.

Measured at 4,000 steps on the demo (`scripts/train_demo_vlm.py --guide-weight 1`): the guided head put 0.84 of
its attention on the named object's token, and with the reply given up to the place word the model said the
right row for 47 of 60 held-out "where is" questions (41 without the guide). Its own replies, though, were
exact for 52.5 % of held-out questions against 62.5 % without it, so the script leaves it off by default.
At weight 0.3 the held-out "where is" answers rose from 8 to 16 of 22 and the whole stayed at 61.5 %.
"""
from __future__ import annotations

from typing import Iterable

from ..sim.world import SceneObject
from .vision_probe import cell_of

NAMING = ("where is", "point at", "pick up")


def target_token(ask: str, question: str, objects: Iterable[SceneObject], person_point, grid: int) -> int:
    """Row-major index of the image token (on a grid x grid picture) the reply must look at; -1 for none."""
    if ask == "look at me":
        point = person_point
    elif ask in NAMING:
        colour, kind = question.split()[-2:]
        found = [o for o in objects if o.colour == colour and o.kind == kind]
        point = found[0].point if found else None
    else:
        point = None
    if point is None:
        return -1
    return cell_of(point, grid)


class AttentionGuide:
    """Keeps one head's attention weights on each forward pass and scores them against each example's target.

    Each encoded example carries "target_token" (target_token above). The model must run with eager attention
    (`model.set_attn_implementation("eager")`) while guided, so that its layers hand out their weights.
    """

    def __init__(self, model, *, layer: int, head: int = 0) -> None:
        text = model.model.text_model
        if not 0 <= layer < len(text.layers):
            raise ValueError(f"layer {layer}: the language model has layers 0..{len(text.layers) - 1}")
        self.head = head
        self.image_token_id = model.config.image_token_id
        self._weights = None
        self._hook = text.layers[layer].self_attn.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._weights = output[1]

    def parameters(self) -> list:
        return []                       # it trains the model's own attention

    def loss(self, encoded: list[dict]):
        """Mean -log(attention on the target image token) over the reply's positions of guided examples."""
        import torch
        if self._weights is None:
            raise RuntimeError("the guide has no attention weights: run the model with eager attention first")
        weights, self._weights = self._weights[:, self.head], None          # [B, queries, keys]
        terms = []
        for row, example in enumerate(encoded):
            target = example.get("target_token", -1)
            if target < 0:
                continue
            ids = torch.as_tensor(example["input_ids"])
            image = torch.nonzero(ids == self.image_token_id).flatten()
            learnt = torch.nonzero(torch.as_tensor(example["labels"]) != -100).flatten() - 1   # positions that predict
            terms.append(-torch.log(weights[row, learnt, image[target]] + 1e-6).mean())
        if not terms:
            return weights.sum() * 0.0
        return torch.stack(terms).mean()

    def remove(self) -> None:
        self._hook.remove()
