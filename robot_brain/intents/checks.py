"""Checks of one proposed intent against its skill: verb, parameters, target text, image point.

Everything here treats the model's output as untrusted data: any type, any size, any Unicode.
A check either returns a clean value or raises `Rejected` with a reason a person can read.
"""
from __future__ import annotations

import math
import unicodedata
from typing import Any

from ..vision.calibration import MAX_IMAGE_EDGE
from .phrases import mixed_scripts, visible
from .skills import Param, Skill

MAX_TEXT = 40                                   # characters in a target or a string parameter


class Rejected(ValueError):
    """The proposal cannot become an action; the message says why."""


def shown(value: Any, limit: int = 48) -> str:
    """A value as it may appear in a reason or the audit log: repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clean_text(value: Any, what: str) -> str:
    """NFKC-normalised text with format and invisible characters removed, at most MAX_TEXT long.

    Rejected: not text, too long, a control character or a lone surrogate left, letters of scripts that do not
    belong together (a Latin word with a Cyrillic letter in it).
    """
    if not isinstance(value, str):
        raise Rejected(f"{what} must be text, got {type(value).__name__}")
    if len(value) > 4 * MAX_TEXT:
        raise Rejected(f"{what} is {len(value)} characters long (at most {MAX_TEXT})")
    text = visible(value)
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c != " "]
    if bad:
        raise Rejected(f"{what} holds a control, private or unassigned character ({shown(bad[0])})")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        raise Rejected(f"{what} is {len(text)} characters long (at most {MAX_TEXT})")
    scripts = mixed_scripts(text)
    if scripts:
        raise Rejected(f"{what} {shown(text)} mixes scripts ({', '.join(sorted(scripts))}): a look-alike is not "
                       "the word it looks like")
    return text


def verb_of(value: Any, skills: dict[str, Skill]) -> Skill:
    """The skill `value` names exactly once it is cleaned; a look-alike letter makes a different, unknown verb."""
    if not isinstance(value, str):
        raise Rejected(f"the verb must be text, got {shown(value)}")
    verb = visible(value[:4 * MAX_TEXT])
    if verb not in skills:
        raise Rejected(f"unknown verb {shown(value)}; allowed: {', '.join(skills)}")
    return skills[verb]


def finite_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected(f"{what} must be a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise Rejected(f"{what} is a whole number too large for any range ({value.bit_length()} bits)") from None
    if not math.isfinite(number):
        raise Rejected(f"{what} is {value}, not a finite number")
    return number


def check_params(skill: Skill, params: Any) -> tuple[dict[str, Any], list[str]]:
    """(clean parameters, what was clamped). Extra, mistyped or out-of-choice parameters are rejected."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise Rejected(f"params must be an object, got {shown(params)}")
    declared = {p.name: p for p in skill.params}
    extra = [k for k in params if k not in declared]
    if extra:
        raise Rejected(f"{skill.name} takes no parameter {shown(extra[0])}"
                       + (f"; it takes {', '.join(declared)}" if declared else ""))
    clean, clamped = {}, []
    for name, value in params.items():
        clean[name], note = _check_param(declared[name], value)
        if note:
            clamped.append(note)
    return clean, clamped


def _check_param(param: Param, value: Any) -> tuple[Any, str]:
    what = f"parameter {param.name}"
    if param.choices:
        text = clean_text(value, what)
        for choice in param.choices:
            if text.casefold() == choice.casefold():
                return choice, ""
        raise Rejected(f"{what} = {shown(text)}; allowed: {', '.join(param.choices)}")
    if param.type == "boolean":
        if not isinstance(value, bool):
            raise Rejected(f"{what} must be true or false, got {shown(value)}")
        return value, ""
    if param.type == "string":
        return clean_text(value, what), ""
    number = finite_number(value, what)
    if param.type == "integer":
        if number != int(number):
            raise Rejected(f"{what} must be a whole number, got {shown(value)}")
    bounded = min(max(number, param.min if param.min is not None else -math.inf),
                  param.max if param.max is not None else math.inf)
    if param.type == "integer":
        bounded = int(bounded)
    note = f"{param.name} {number:g} → {bounded:g}{' ' + param.unit if param.unit else ''}" if bounded != number else ""
    return bounded, note


def check_point(value: Any) -> tuple[float, float] | None:
    """An image point [x, y] as fractions of the image (0..1), or None when there is none."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise Rejected(f"point must be [x, y], got {shown(value)}")
    x, y = (finite_number(v, "point") for v in value)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise Rejected(f"point {shown(value)} is outside the image (x and y are fractions 0..1)")
    return x, y


def image_size(value: Any) -> tuple[int, int] | None:
    """(width, height) of the picture the brain looked at, or None for none; anything else is rejected."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2 or \
            not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_EDGE for v in value):
        raise Rejected(f"image_size must be (width, height) in pixels, got {shown(value)}")
    return value[0], value[1]
