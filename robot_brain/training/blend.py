"""Blend two trainings of one model in weight space: a share of the fine-tuned weights, the rest from its start.

Fine-tuning on a narrow mix (look-alike questions) gains there and forgets a little elsewhere; the straight line
between the two weight sets keeps most of the gain and gives back most of what was lost (as in WiSE-FT).
"""
from __future__ import annotations


def blend_state(base: dict, tuned: dict, tuned_share: float) -> dict:
    """Each floating tensor as `(1 - tuned_share) * base + tuned_share * tuned`; other tensors from `tuned`."""
    if not 0.0 <= tuned_share <= 1.0:
        raise ValueError(f"tuned_share {tuned_share} is not between 0 and 1")
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
            mixed = (1 - tuned_share) * start.float() + tuned_share * weight.float()
            blended[name] = mixed.to(weight.dtype).contiguous()
        else:
            blended[name] = weight.clone()
    return blended
