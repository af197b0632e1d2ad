"""The synthetic table-top world: deterministic scenes whose ground truth matches the picture, and answers the
brain's schema and the real safety gate accept."""
import json

import numpy as np
import pytest
from jsonschema import validate

from robot_brain.frames import GateDecision, IntentProposal, Turn
from robot_brain.intents.gate import Gate
from robot_brain.intents.skills import load_skills, response_schema
from robot_brain.sim import exchanges, make_scene
from robot_brain.sim.dialogue import (ASKS, act_on, anyone_there, counted_kind, how_many, look_alike_object,
                                      look_at_me, what_do_you_see, where_is)
from robot_brain.sim.world import COLOURS, HEIGHT, WIDTH

SEEDS = range(40)


def test_the_same_seed_gives_the_same_scene_and_picture():
    a, b = make_scene(7), make_scene(7)
    assert a.objects == b.objects and a.person == b.person and np.array_equal(a.image, b.image)
    assert not np.array_equal(make_scene(8).image, a.image)
    assert a.image.shape == (HEIGHT, WIDTH, 3) and a.image.dtype == np.uint8


def test_scenes_cover_the_world():
    scenes = [make_scene(seed) for seed in SEEDS]
    counts = {len(s.objects) for s in scenes}
    assert counts == {1, 2, 3, 4}
    assert {o.kind for s in scenes for o in s.objects} == {"cube", "ball", "cup", "bottle", "box"}
    assert len({o.colour for s in scenes for o in s.objects}) >= 6
    assert {(o.column, o.row) for s in scenes for o in s.objects} == {(c, r) for c in ("left", "centre", "right")
                                                                      for r in ("back", "front")}
    people = [s.person for s in scenes if s.person is not None]
    assert 0 < len(people) < len(scenes) and {p.waving for p in people} == {True, False}
    for s in scenes:
        assert len({o.name for o in s.objects}) == len(s.objects)          # one of each colour and kind at most


@pytest.mark.parametrize("seed", SEEDS)
def test_each_object_is_where_its_ground_truth_says(seed):
    scene = make_scene(seed)
    for obj in scene.objects:
        x, y = round(obj.point[0] * WIDTH), round(obj.point[1] * HEIGHT)
        x0, y0, x1, y1 = obj.box
        assert x0 <= x <= x1 and y0 <= y <= y1
        patch = scene.image[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3).astype(float)
        expected = np.array(COLOURS[obj.colour]) * scene.light
        # the centre shows the object's own colour (front objects may hide a back one's centre)
        hidden = any(o.row == "front" and o is not obj and o.box[0] <= x <= o.box[2] and o.box[1] <= y <= o.box[3]
                     for o in scene.objects)
        if not hidden:
            assert np.abs(np.median(patch, axis=0) - np.clip(expected, 0, 255)).max() < 25
        column = "left" if obj.point[0] < 0.36 else "right" if obj.point[0] > 0.64 else "centre"
        assert column == obj.column


def test_answers_fit_the_brains_schema_and_say_the_truth():
    schema = response_schema(load_skills())
    asked = set()
    for seed in SEEDS:
        scene = make_scene(seed)
        for exchange in exchanges(scene, np.random.default_rng(seed), n=6):
            asked.add(exchange.ask)
            validate(json.loads(exchange.response()), schema)
    assert asked == set(ASKS)
    scene = next(make_scene(s) for s in SEEDS if len(make_scene(s).objects) == 4 and make_scene(s).person)
    said = what_do_you_see(scene).say
    assert all(o.name in said for o in scene.objects) and "person" in said
    obj = scene.objects[0]
    assert where_is(scene, obj.colour, obj.kind).say == f"The {obj.name} is {obj.place}."
    assert act_on(scene, "point_at", obj.colour, obj.kind).say == f"Pointing at the {obj.name} {obj.place}."
    assert act_on(scene, "pick_up", obj.colour, obj.kind).say == f"I will pick up the {obj.name} {obj.place}."
    for kind in ("cube", "ball", "cup", "bottle", "box"):
        number = how_many(scene, kind).say.split()[2]
        assert ["no", "one", "two", "three", "four"].index(number) == len(scene.find(None, kind))
        assert counted_kind(how_many(scene, kind).question) == kind
    assert look_at_me(scene).intents[0]["point"] == [round(v, 2) for v in scene.person.point]
    assert anyone_there(scene).say.startswith("Yes")
    missing = next(c for c in COLOURS if not scene.find(c, "ball"))
    absent = act_on(scene, "point_at", missing, "ball")
    assert absent.intents == () and "don't see" in absent.say


def test_look_alike_questions_name_a_twin_or_a_near_miss():
    rng = np.random.default_rng(0)
    twins = near_misses = 0
    for seed in range(200):
        scene = make_scene(seed)
        for _ in range(3):
            colour, kind = look_alike_object(scene, rng)
            if scene.find(colour, kind):
                twins += 1
                assert any(o.kind != kind and o.colour == colour or o.kind == kind and o.colour != colour
                           for o in scene.objects)
            else:
                near_misses += 1
                assert scene.find(None, kind) or any(o.colour == colour for o in scene.objects)
    assert twins > 100 and near_misses > 100


def test_the_safety_gate_accepts_the_generated_pointing_intents():
    for seed in SEEDS:
        scene = make_scene(seed)
        for obj in scene.objects:
            exchange = act_on(scene, "point_at", obj.colour, obj.kind)
            gate = Gate(load_skills())
            gate.authorise(Turn(text=exchange.question, turn=1, source="voice"), now=0.0)
            intent = exchange.intents[0]
            decisions = [f for f in gate.propose(IntentProposal(verb=intent["verb"], target=intent["target"],
                                                                point=intent["point"], source="voice",
                                                                image_size=(WIDTH, HEIGHT), turn=1), now=0.1)
                         if isinstance(f, GateDecision)]
            assert [d.decision for d in decisions] == ["accepted"], decisions
            assert decisions[0].intent["target"]["point_norm"] == pytest.approx(obj.point, abs=0.0051)   # 2 decimals
