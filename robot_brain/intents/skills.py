"""Skills (allowed verbs and their parameters) loaded from YAML, and what is generated from them:
the JSON schema of one brain response and the skills paragraph of the brain's prompt."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

PARAM_TYPES = ("number", "integer", "string", "boolean")


class SkillError(ValueError):
    """A skills file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    description: str = ""

    def schema(self) -> dict[str, Any]:
        if self.choices:
            return {"enum": list(self.choices)}
        out: dict[str, Any] = {"type": self.type}
        if self.min is not None:
            out["minimum"] = self.min
        if self.max is not None:
            out["maximum"] = self.max
        if self.type == "string":
            out["maxLength"] = 40
        return out


KINDS = ("motion", "gesture", "speech", "stop")
LANGUAGES = ("en", "zh", "ko")          # asked_by must cover at least these


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    target: Literal["none", "optional", "required"] = "none"
    risky: bool = False
    params: tuple[Param, ...] = field(default_factory=tuple)
    kind: Literal["motion", "gesture", "speech", "stop"] = "motion"
    asked_by: tuple[tuple[str, tuple[str, ...]], ...] = ()      # (language, phrases) pairs

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every phrase that asks for this skill, all languages together."""
        return tuple(p for _, phrases in self.asked_by for p in phrases)


def default_skills_path() -> Path:
    return Path(str(resources.files("robot_brain.intents").joinpath("skills.yaml")))


def load_skills(path: str | Path | None = None) -> dict[str, Skill]:
    path = Path(path) if path else default_skills_path()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SkillError(f"{path}: cannot read skills file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise SkillError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("skills"), dict) or not data["skills"]:
        raise SkillError(f"{path}: expected a mapping 'skills:' with at least one skill")
    skills = {}
    for name, spec in data["skills"].items():
        where = f"{path}: skills.{name}"
        if not isinstance(spec, dict):
            raise SkillError(f"{where}: expected a mapping (description, target, risky, params)")
        unknown = set(spec) - {"description", "target", "risky", "params", "kind", "asked_by"}
        if unknown:
            raise SkillError(f"{where}: unknown keys {sorted(unknown)}")
        target = spec.get("target", "none")
        if target not in ("none", "optional", "required"):
            raise SkillError(f"{where}.target = {target!r}; allowed: none, optional, required")
        params = []
        for pname, pspec in (spec.get("params") or {}).items():
            pwhere = f"{where}.params.{pname}"
            if not isinstance(pspec, dict):
                raise SkillError(f"{pwhere}: expected a mapping")
            ptype = pspec.get("type", "string")
            if ptype not in PARAM_TYPES:
                raise SkillError(f"{pwhere}.type = {ptype!r}; allowed: {', '.join(PARAM_TYPES)}")
            lo, hi = pspec.get("min"), pspec.get("max")
            if lo is not None and hi is not None and lo > hi:
                raise SkillError(f"{pwhere}: min {lo} is above max {hi}")
            params.append(Param(pname, ptype, lo, hi, tuple(pspec.get("choices") or ()), str(pspec.get("unit", "")),
                                str(pspec.get("description", ""))))
        kind = spec.get("kind", "motion")
        if kind not in KINDS:
            raise SkillError(f"{where}.kind = {kind!r}; allowed: {', '.join(KINDS)}")
        if (kind == "stop") != (name == "stop"):
            raise SkillError(f"{where}: only the skill named stop is of kind stop")
        asked_by = _asked_by(spec.get("asked_by"), kind, where)
        skills[name] = Skill(name, str(spec.get("description", name)), target, bool(spec.get("risky", False)),
                             tuple(params), kind, asked_by)
    if "stop" not in skills:
        raise SkillError(f"{path}: the stop skill is missing (stop must always be possible)")
    return skills


def _asked_by(spec: Any, kind: str, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """asked_by: {language: [phrase, ...]}; a motion skill needs phrases in every language of LANGUAGES."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict) or not all(isinstance(v, list) and all(isinstance(p, str) and p.strip() for p in v)
                                             for v in spec.values()):
        raise SkillError(f"{where}.asked_by: expected a mapping language -> [phrase, ...]")
    if kind == "motion":
        missing = [lang for lang in LANGUAGES if not spec.get(lang)]
        if missing:
            raise SkillError(f"{where}: a motion skill moves the robot or an object, so the gate lets it out only "
                             f"when the user asks for it; add asked_by phrases for {', '.join(missing)} (e.g. "
                             f"asked_by: {{en: [pick up, grab], zh: [拿起], ko: [집어]}}), or set kind: gesture")
    elif spec:
        raise SkillError(f"{where}.asked_by: only motion skills are asked for (this one is kind {kind})")
    return tuple((str(lang), tuple(phrases)) for lang, phrases in spec.items())


def response_schema(skills: dict[str, Skill], *, max_say_chars: int = 240, max_intents: int = 3) -> dict[str, Any]:
    """JSON schema of one brain response: {"say": "...", "intents": [{"verb", "target", "params"}, ...]}."""
    variants = []
    for skill in skills.values():
        props: dict[str, Any] = {"verb": {"const": skill.name}}
        required = ["verb"]
        if skill.target != "none":
            props["target"] = {"type": "string", "maxLength": 40}
            props["point"] = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                              "minItems": 2, "maxItems": 2}
            if skill.target == "required":
                required.append("target")
        if skill.params:
            props["params"] = {"type": "object", "properties": {p.name: p.schema() for p in skill.params},
                               "additionalProperties": False}
        variants.append({"type": "object", "properties": props, "required": required, "additionalProperties": False})
    return {
        "type": "object",
        "properties": {
            "say": {"type": "string", "maxLength": max_say_chars},
            "intents": {"type": "array", "maxItems": max_intents, "items": {"anyOf": variants}},
        },
        "required": ["say", "intents"],
        "additionalProperties": False,
    }


def skills_prompt(skills: dict[str, Skill]) -> str:
    """The skills paragraph of the system prompt."""
    lines = []
    for s in skills.values():
        target = {"none": "", "optional": " [target: optional]", "required": " [target: what or whom]"}[s.target]
        params = "; ".join(
            f"{p.name}: {'|'.join(p.choices) if p.choices else p.type}"
            + (f" {p.min}..{p.max}" if p.min is not None or p.max is not None else "") + (f" {p.unit}" if p.unit else "")
            for p in s.params)
        lines.append(f"- {s.name}: {s.description}{target}{' (' + params + ')' if params else ''}")
    return "\n".join(lines)


def intent_schema(skills: dict[str, Skill]) -> dict[str, Any]:
    """JSON schema of one action intent the gate lets out (verb, params, target, confidence, priority, source)."""
    variants = []
    for skill in skills.values():
        params = {"type": "object", "properties": {p.name: p.schema() for p in skill.params},
                  "additionalProperties": False}
        target: dict[str, Any] = {"type": "null"} if skill.target == "none" else {
            "type": ["object", "null"] if skill.target == "optional" else "object",
            "required": ["label"],
            "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 40},
                           "point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                           "point_norm": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                                          "minItems": 2, "maxItems": 2},
                           "image_size": {"type": "array", "items": {"type": "integer"}},
                           "ray_camera": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
                           "ray_base": {"type": "object"}}}
        variants.append({"type": "object", "required": ["verb", "params", "confidence", "priority", "source"],
                         "properties": {"verb": {"const": skill.name}, "params": params, "target": target,
                                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                                        "priority": {"type": "integer", "minimum": 0, "maximum": 255},
                                        "source": {"type": "string"}}})
    return {"anyOf": variants}
