"""Blend two trainings of one model in weight space: a share of the fine-tuned weights, the rest from its start.

Fine-tuning on a narrow mix (look-alike questions) gains there and forgets a little elsewhere; the straight line
between the two weight sets keeps most of the gain and gives back most of what was lost (as in WiSE-FT). A part
of the model (named by the start of its weights' names) can take its own share, e.g. the vision encoder less of
the fine-tuning than the language model.
"""
from __future__ import annotations


def blend_state(base: dict, tuned: dict, tuned_share: float, part_shares: dict[str, float] | None = None) -> dict:
    """Each floating tensor as `(1 - share) * base + share * tuned`; other tensors from `tuned`.

    `share` is `tuned_share`, or the share of the longest name start in `part_shares` that the tensor's name has.
    """
    part_shares = part_shares or {}
    for share in (tuned_share, *part_shares.values()):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share {share} is not between 0 and 1")
    unused = [part for part in part_shares if not any(name.startswith(part) for name in tuned)]
    if unused:
        raise ValueError(f"no weight's name starts with {', '.join(unused)}")
    if base.keys() != tuned.keys():
        differ = sorted(base.keys() ^ tuned.keys())
        raise ValueError(f"the two models hold different weights ({', '.join(differ[:3])}, ...): "
                         "blend only a model with one trained from it")
    blended = {}
    for name, weight in tuned.items():
        start = base[name]
        if start.shape != weight.shape:
            raise ValueError(f"{name} is {tuple(start.shape)} in one model and {tuple(weight.shape)} in the other")
        if weight.is_floating_point():
            share = _share_of(name, tuned_share, part_shares)
            mixed = (1 - share) * start.float() + share * weight.float()
            blended[name] = mixed.to(weight.dtype).contiguous()
        else:
            blended[name] = weight.clone()
    return blended


def _share_of(name: str, tuned_share: float, part_shares: dict[str, float]) -> float:
    parts = [part for part in part_shares if name.startswith(part)]
    return part_shares[max(parts, key=len)] if parts else tuned_share


def parse_part_share(text: str) -> tuple[str, float]:
    """`PREFIX=SHARE` (as given on the command line) as (prefix, share); ValueError says what is wrong."""
    part, equals, value = text.rpartition("=")
    try:
        share = float(value)
    except ValueError:
        share = None
    if not equals or not part or share is None or not 0.0 <= share <= 1.0:
        raise ValueError(f"{text!r}: expected PREFIX=SHARE, a start of weight names and a share between 0 and 1")
    return part, share
