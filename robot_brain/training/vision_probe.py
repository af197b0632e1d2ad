"""An auxiliary loss that teaches a from-scratch VLM's vision encoder what each patch of the picture shows.

Trained only through its replies, the demo brain's vision encoder learnt the person behind the table (a large
shape that changes many replies) but not the small objects on it: after 2,000 steps every "what do you see"
got the same list whatever the picture. The probe is a linear layer on the encoder's patch features that
predicts, from the scene's ground truth, the colour, the kind and the place (column and row on the table) of
the object under each patch: an object straddles several image tokens, and a reply must say where it stands.
Its loss is added to the reply loss while training; the probe is then dropped, so the saved model is a plain
Idefics3. The "face_x" label is where across the picture, to the hundredth, the person's face is in the patch
that shows it: a face stands anywhere along the wall, and "look at me" writes its point that finely.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..sim.world import COLOURS, COLUMNS, HEIGHT, KINDS, ROWS, WIDTH, SceneObject

COLOUR_NAMES = tuple(COLOURS)
MIN_COVER = 0.2              # share of a patch an object must cover to label it
HUNDREDTHS = 100
LABELS = {"colour": len(COLOUR_NAMES), "kind": len(KINDS), "column": len(COLUMNS), "row": len(ROWS),
          "face_x": HUNDREDTHS}
# The words a reply uses for each class of each label (the centre column is said "in the middle"); an x of 0.56
# is written "0.56" and the class's word is what follows the point ("56"; "5" for 0.5), without a space before it.
WORDS = {"colour": COLOUR_NAMES, "kind": KINDS, "column": ("left", "middle", "right"), "row": ROWS,
         "face_x": tuple(str(round(k / HUNDREDTHS, 2))[2:] for k in range(HUNDREDTHS))}
SPACED = {"colour": True, "kind": True, "column": True, "row": True, "face_x": False}


def hundredths(fraction: float) -> int:
    """The class of an x (a fraction of the width) as the reply writes it: round(x, 2), in hundredths."""
    return min(HUNDREDTHS - 1, max(0, int(round(fraction * HUNDREDTHS))))


def patch_labels(objects: Iterable[SceneObject], grid: int, face: tuple[float, float] | None = None) -> np.ndarray:
    """[grid * grid, 5] class ids, row-major over the picture: (colour, kind, column, row, face_x), 1-based; 0
    where no object (or no face) is. `face`: the person's face in image fractions.

    The model's picture is the whole camera picture stretched to a square, so patch (r, c) covers the
    fractions [c / grid, (c + 1) / grid] of the width and [r / grid, (r + 1) / grid] of the height. An object
    labels the patches it covers by at least MIN_COVER and always the patch under its centre; front objects
    are drawn over back ones, and label over them too.
    """
    labels = np.zeros((grid, grid, len(LABELS)), np.int64)
    edges = np.arange(grid + 1) / grid
    for obj in sorted(objects, key=lambda o: ROWS.index(o.row)):
        x0, y0, x1, y1 = obj.box[0] / WIDTH, obj.box[1] / HEIGHT, obj.box[2] / WIDTH, obj.box[3] / HEIGHT
        across = np.clip(np.minimum(edges[1:], x1) - np.maximum(edges[:-1], x0), 0, None) * grid
        down = np.clip(np.minimum(edges[1:], y1) - np.maximum(edges[:-1], y0), 0, None) * grid
        covered = np.outer(down, across) >= MIN_COVER
        covered.flat[cell_of(obj.point, grid)] = True
        labels[covered] = (COLOUR_NAMES.index(obj.colour) + 1, KINDS.index(obj.kind) + 1,
                           COLUMNS.index(obj.column) + 1, ROWS.index(obj.row) + 1, 0)
    labels = labels.reshape(-1, len(LABELS))
    if face is not None:
        labels[cell_of(face, grid), list(LABELS).index("face_x")] = hundredths(face[0]) + 1
    return labels


def cell_of(point, grid: int) -> int:
    """Row-major index of the cell of a grid x grid picture that holds an image point (fractions)."""
    return min(grid - 1, int(point[1] * grid)) * grid + min(grid - 1, int(point[0] * grid))


class VisionProbe:
    """Keeps what one part of the model made of the picture on each forward pass and scores it against labels.

    at="encoder": the vision encoder's patches, scored against each example's "patch_labels";
    at="tokens": the image tokens the language model reads (the connector's output), against "token_labels".
    With `tokenizer` (at="tokens" only), a class is scored by how close the token is to the language model's own
    embedding of the word that names it (WORDS): the picture is then written in the words of the question, so
    "the red cup" finds the image token that shows it by likeness, and the reply can copy its place.
    """

    PARTS = {"encoder": ("vision_model", "patch_labels"), "tokens": ("connector", "token_labels")}

    def __init__(self, model, labels: tuple[str, ...] = tuple(LABELS), *, at: str = "encoder", tokenizer=None) -> None:
        import torch
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"no probe label {sorted(unknown)}; choose from {list(LABELS)}")
        if at not in self.PARTS:
            raise ValueError(f"no probe place {at!r}; choose from {list(self.PARTS)}")
        part, self.key = self.PARTS[at]
        module = getattr(model.model, part)
        config = model.config.vision_config if at == "encoder" else model.config.text_config
        width = config.hidden_size
        device = next(module.parameters()).device
        if tokenizer is not None and at != "tokens":
            raise ValueError("word-tied classes need the image tokens (at='tokens'), where words live")
        self.heads = {list(LABELS).index(name): torch.nn.Linear(width, LABELS[name] + 1, device=device)
                      if tokenizer is None else
                      _WordHead(model.get_input_embeddings(),
                                [tokenizer(" " * SPACED[name] + w, add_special_tokens=False).input_ids
                                 for w in WORDS[name]])
                      for name in labels}
        self._features = None
        self._hook = module.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        if hasattr(output, "last_hidden_state"):
            output = output.last_hidden_state
        self._features = output if hasattr(output, "shape") else output[0]

    def parameters(self) -> list:
        return [p for head in self.heads.values() for p in head.parameters()]

    def loss(self, encoded: list[dict]):
        """Cross-entropy of the last forward pass's patches (or tokens) against the batch's labels."""
        import torch
        import torch.nn.functional as F
        if self._features is None:
            raise RuntimeError("the probe has seen no picture: run the model on a batch with pictures first")
        features = self._features
        labels = torch.stack([torch.as_tensor(e[self.key]) for e in encoded]).to(features.device)
        if features.shape[:2] != labels.shape[:2]:
            raise ValueError(f"{features.shape[1]} places per picture, but {self.key} for {labels.shape[1]}")
        self._features = None
        return sum(F.cross_entropy(head(features).flatten(0, 1), labels[..., i].flatten())
                   for i, head in self.heads.items())

    def remove(self) -> None:
        self._hook.remove()


class _WordHead:
    """Class scores: cosine between a feature and each class word's embedding (mean over its pieces), scaled."""

    def __init__(self, embeddings, word_ids: list[list[int]]) -> None:
        import torch
        weight = embeddings.weight
        self.embeddings = embeddings
        self.word_ids = [torch.tensor(ids, device=weight.device) for ids in word_ids]
        self.none = torch.nn.Parameter(torch.randn(weight.shape[1], device=weight.device) * 0.02)   # no object
        self.scale = torch.nn.Parameter(torch.tensor(10.0, device=weight.device))

    def parameters(self) -> list:
        return [self.none, self.scale]      # the word embeddings are the model's own, trained with it

    def __call__(self, features):
        import torch
        import torch.nn.functional as F
        words = torch.stack([self.embeddings.weight[ids].mean(0) for ids in self.word_ids])
        classes = F.normalize(torch.cat([self.none[None], words]), dim=-1)
        return self.scale * F.normalize(features, dim=-1) @ classes.T
