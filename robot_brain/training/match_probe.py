"""An auxiliary loss that teaches the language model's image tokens to tell whether they show what the question names.

With the question before the picture (prompting.chat_messages(pictures_after_text=True)), each image token can read
the question. The probe is a linear layer on one language-model layer's output at the image tokens that predicts,
from the scene's truth, whether that token holds the object the question names (the person's face for "look at
me"; every object of the asked kind for "how many"): the matching happens where the picture is, and the reply
then only has to look for (or count) the flagged tokens. Only questions that name something are scored; for an
absent object no token may say so. The probe is dropped after training, so the saved model is a plain Idefics3.
"""
from __future__ import annotations

from typing import Iterable

from ..sim.dialogue import counted_kind
from ..sim.world import SceneObject
from .attention_guide import NAMING, target_token
from .vision_probe import cell_of

SCORED = NAMING + ("look at me", "how many")


def matching_tokens(ask: str, question: str, objects: Iterable[SceneObject], person_point, grid: int) -> list[int]:
    """Row-major indices of the image tokens (on a grid x grid picture) that show what the question names."""
    if ask == "how many":
        kind = counted_kind(question)
        return sorted({cell_of(o.point, grid) for o in objects if o.kind == kind})
    token = target_token(ask, question, objects, person_point, grid)
    return [token] if token >= 0 else []


class MatchProbe:
    """Keeps one language-model layer's output on each forward pass and scores its image tokens against
    each example's "match_tokens" (matching_tokens above) for examples whose "ask" is in SCORED."""

    def __init__(self, model, *, layer: int) -> None:
        import torch
        text = model.model.text_model
        if not 0 <= layer < len(text.layers):
            raise ValueError(f"layer {layer}: the language model has layers 0..{len(text.layers) - 1}")
        self.image_token_id = model.config.image_token_id
        width = model.config.text_config.hidden_size
        self.head = torch.nn.Linear(width, 1, device=next(text.parameters()).device)
        self._hidden = None
        self._hook = text.layers[layer].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._hidden = output[0] if isinstance(output, tuple) else output

    def parameters(self) -> list:
        return list(self.head.parameters())

    def loss(self, encoded: list[dict]):
        """Binary cross-entropy of "this image token shows the named object" over the scored examples."""
        import torch
        import torch.nn.functional as F
        if self._hidden is None:
            raise RuntimeError("the probe has seen no forward pass: run the model on a batch first")
        hidden, self._hidden = self._hidden, None
        rows, labels = [], []
        for row, example in enumerate(encoded):
            if example.get("ask") not in SCORED:
                continue
            ids = torch.as_tensor(example["input_ids"], device=hidden.device)
            image = torch.nonzero(ids == self.image_token_id).flatten()
            if len(image) == 0:
                continue
            target = torch.zeros(len(image), device=hidden.device)
            target[list(example.get("match_tokens", ()))] = 1.0
            rows.append(self.head(hidden[row, image]).squeeze(-1))
            labels.append(target)
        if not rows:
            return hidden.sum() * 0.0
        return F.binary_cross_entropy_with_logits(torch.cat(rows), torch.cat(labels))

    def remove(self) -> None:
        self._hook.remove()
