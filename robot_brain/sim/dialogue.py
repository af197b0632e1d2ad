"""Spoken turns about a synthetic scene, each with the answer the brain should give: what it says and its intents.

The answer is exactly the brain's response format ({"say", "intents"}, robot_brain/intents/skills.py), so it is
both a training target and the truth an evaluation compares with.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .world import COLOURS, KINDS, Scene, SceneObject

ASKS = ("what do you see", "where is", "point at", "pick up", "is anyone there", "how many", "look at me", "stop")


@dataclass(frozen=True)
class Exchange:
    question: str
    say: str
    intents: tuple[dict, ...] = field(default_factory=tuple)
    ask: str = ""                                # which kind of question (one of ASKS)

    def response(self) -> str:
        """The brain's reply as JSON text (the decoding target)."""
        return json.dumps({"say": self.say, "intents": list(self.intents)}, ensure_ascii=False)


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _plural(kind: str) -> str:
    return kind + ("es" if kind.endswith("x") else "s")


def counted_kind(question: str) -> str:
    """The kind a "how many" question asks about: "how many boxes" → "box"."""
    word = question.split()[-1]
    return word[:-2] if word.endswith("xes") else word[:-1]


def _point(point: tuple[float, float]) -> list[float]:
    """An image point as the brain writes it: two decimals are finer than any target needs."""
    return [round(point[0], 2), round(point[1], 2)]


def _target(verb: str, obj: SceneObject) -> dict:
    return {"verb": verb, "target": obj.name, "point": _point(obj.point)}


def what_do_you_see(scene: Scene) -> Exchange:
    things = [f"{_a(o.name)} {o.place}" for o in scene.objects]
    if scene.person is not None:
        things.append("a person " + ("waving" if scene.person.waving else "behind the table"))
    return Exchange("what do you see", f"I see {_listing(things)}.", ask="what do you see")


def where_is(scene: Scene, colour: str, kind: str) -> Exchange:
    found = scene.find(colour, kind)
    question = f"where is the {colour} {kind}"
    if not found:
        return Exchange(question, f"I don't see {_a(f'{colour} {kind}')}.", ask="where is")
    return Exchange(question, f"The {colour} {kind} is {found[0].place}.", ask="where is")


def act_on(scene: Scene, verb: str, colour: str, kind: str) -> Exchange:
    """"point at the blue ball" / "pick up the green cube": the intent with the object's image point."""
    phrase = {"point_at": "point at", "pick_up": "pick up"}[verb]
    found = scene.find(colour, kind)
    question = f"{phrase} the {colour} {kind}"
    if not found:
        return Exchange(question, f"I don't see {_a(f'{colour} {kind}')}.", ask=phrase)
    # The reply says where the object stands before its intent gives the point: the robot tells the user which
    # one it means, and a small model then writes the point from the place it has just said.
    place = found[0].place
    say = f"Pointing at the {colour} {kind} {place}." if verb == "point_at" else \
        f"I will pick up the {colour} {kind} {place}."
    return Exchange(question, say, (_target(verb, found[0]),), ask=phrase)


def anyone_there(scene: Scene) -> Exchange:
    if scene.person is None:
        return Exchange("is anyone there", "No, I don't see anyone.", ask="is anyone there")
    say = "Yes, someone is waving at me." if scene.person.waving else "Yes, there is a person behind the table."
    return Exchange("is anyone there", say, ask="is anyone there")


def how_many(scene: Scene, kind: str) -> Exchange:
    n = len(scene.find(None, kind))
    words = ["no", "one", "two", "three", "four"]
    say = f"I see {words[n]} {kind if n == 1 else _plural(kind)}."
    return Exchange(f"how many {_plural(kind)}", say, ask="how many")


def look_at_me(scene: Scene) -> Exchange:
    if scene.person is None:
        return Exchange("look at me", "I can't see you.", ask="look at me")
    intent = {"verb": "look_at", "target": "person", "point": _point(scene.person.point)}
    return Exchange("look at me", "I'm looking at you.", (intent,), ask="look at me")


def stop() -> Exchange:
    return Exchange("stop", "Stopping.", ({"verb": "stop"},), ask="stop")


def look_alike_object(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """(colour, kind) of an object that shares its colour or kind with another one in `scene`, or, half of the
    time or when none does, of a missing object with the colour or the kind of one that is there."""
    shared = [o for o in scene.objects
              if any(p is not o and (p.colour == o.colour or p.kind == o.kind) for p in scene.objects)]
    if shared and rng.random() < 0.5:
        obj = shared[int(rng.integers(len(shared)))]
        return obj.colour, obj.kind
    obj = scene.objects[int(rng.integers(len(scene.objects)))]
    if rng.random() < 0.5:
        kinds = [k for k in KINDS if not scene.find(obj.colour, k)]
        return obj.colour, kinds[int(rng.integers(len(kinds)))]
    colours = [c for c in COLOURS if not scene.find(c, obj.kind)]
    return colours[int(rng.integers(len(colours)))], obj.kind


#: Questions that call for words only: no action.
WORDS_ONLY = ("what do you see", "where is", "is anyone there", "how many")


def exchanges(scene: Scene, rng: np.random.Generator, n: int = 4, asks: tuple[str, ...] = ASKS,
              look_alike: float = 0.0) -> list[Exchange]:
    """`n` questions about `scene`, asking about what is there most of the time and sometimes what is not.

    With chance `look_alike`, a where / point / pick-up question is a hard one (`look_alike_object`): about an
    object that shares its colour or kind with another, or about one that is not there but looks like one that is.
    """
    out = []
    for _ in range(n):
        ask = asks[int(rng.integers(len(asks)))]
        if ask in ("where is", "point at", "pick up"):
            if look_alike and scene.objects and rng.random() < look_alike:
                colour, kind = look_alike_object(scene, rng)
            elif scene.objects and rng.random() < 0.8:
                obj = scene.objects[int(rng.integers(len(scene.objects)))]
                colour, kind = obj.colour, obj.kind
            else:
                colour, kind = str(rng.choice(list(COLOURS))), str(rng.choice(KINDS))
            if ask == "where is":
                out.append(where_is(scene, colour, kind))
            else:
                out.append(act_on(scene, "point_at" if ask == "point at" else "pick_up", colour, kind))
        elif ask == "how many":
            out.append(how_many(scene, str(rng.choice(KINDS))))
        elif ask == "what do you see":
            out.append(what_do_you_see(scene))
        elif ask == "is anyone there":
            out.append(anyone_there(scene))
        elif ask == "look at me":
            out.append(look_at_me(scene))
        else:
            out.append(stop())
    return out

