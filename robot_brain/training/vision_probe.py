"""An auxiliary loss that teaches a from-scratch VLM's vision encoder what each patch of the picture shows.

Trained only through its replies, the demo brain's vision encoder learnt the person behind the table (a large
shape that changes many replies) but not the small objects on it: after 2,000 steps every "what do you see"
got the same list whatever the picture. The probe is a linear layer on the encoder's patch features that
predicts, from the scene's ground truth, the colour and the kind of the object under each patch. Its loss is
added to the reply loss while training; the probe is then dropped, so the saved model is a plain Idefics3.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..sim.world import COLOURS, HEIGHT, KINDS, ROWS, WIDTH, SceneObject

COLOUR_NAMES = tuple(COLOURS)
MIN_COVER = 0.2              # share of a patch an object must cover to label it


def patch_labels(objects: Iterable[SceneObject], grid: int) -> np.ndarray:
    """[grid * grid, 2] class ids, row-major over the picture: (colour, kind), 1-based; 0 where no object is.

    The model's picture is the whole camera picture stretched to a square, so patch (r, c) covers the
    fractions [c / grid, (c + 1) / grid] of the width and [r / grid, (r + 1) / grid] of the height. An object
    labels the patches it covers by at least MIN_COVER and always the patch under its centre; front objects
    are drawn over back ones, and label over them too.
    """
    labels = np.zeros((grid, grid, 2), np.int64)
    edges = np.arange(grid + 1) / grid
    for obj in sorted(objects, key=lambda o: ROWS.index(o.row)):
        x0, y0, x1, y1 = obj.box[0] / WIDTH, obj.box[1] / HEIGHT, obj.box[2] / WIDTH, obj.box[3] / HEIGHT
        across = np.clip(np.minimum(edges[1:], x1) - np.maximum(edges[:-1], x0), 0, None) * grid
        down = np.clip(np.minimum(edges[1:], y1) - np.maximum(edges[:-1], y0), 0, None) * grid
        covered = np.outer(down, across) >= MIN_COVER
        row = min(grid - 1, int(obj.point[1] * grid))
        column = min(grid - 1, int(obj.point[0] * grid))
        covered[row, column] = True
        labels[covered] = (COLOUR_NAMES.index(obj.colour) + 1, KINDS.index(obj.kind) + 1)
    return labels.reshape(-1, 2)


class VisionProbe:
    """Keeps the vision encoder's output on each forward pass and scores it against patch labels."""

    def __init__(self, model) -> None:
        import torch
        vision = model.model.vision_model
        width = vision.config.hidden_size
        self.colour = torch.nn.Linear(width, len(COLOUR_NAMES) + 1)
        self.kind = torch.nn.Linear(width, len(KINDS) + 1)
        self._features = None
        self._hook = vision.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._features = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]

    def parameters(self) -> list:
        return [*self.colour.parameters(), *self.kind.parameters()]

    def loss(self, encoded: list[dict]):
        """Cross-entropy of the last forward pass's patches against the batch's "patch_labels"."""
        import torch
        import torch.nn.functional as F
        if self._features is None:
            raise RuntimeError("the probe has seen no picture: run the model on a batch with pictures first")
        labels = torch.stack([torch.as_tensor(e["patch_labels"]) for e in encoded])       # [B, patches, 2]
        features = self._features
        if features.shape[:2] != labels.shape[:2]:
            raise ValueError(f"{features.shape[1]} patches per picture, but labels for {labels.shape[1]}")
        self._features = None
        return (F.cross_entropy(self.colour(features).flatten(0, 1), labels[..., 0].flatten())
                + F.cross_entropy(self.kind(features).flatten(0, 1), labels[..., 1].flatten()))

    def remove(self) -> None:
        self._hook.remove()
