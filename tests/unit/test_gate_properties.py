"""Whatever a model writes, only schema-valid, allow-listed, clamped intents leave the gate."""
import json

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_brain.brain.structured import parse_response
from robot_brain.frames import ActionIntent, Confirmation, GateDecision, Turn
from robot_brain.intents.checks import words
from robot_brain.intents.gate import DEICTIC, FILLER, Gate
from robot_brain.intents.skills import intent_schema, load_skills

SKILLS = load_skills()
SCHEMA = intent_schema(SKILLS)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
WORDS = ["red", "cup", "ball", "me", "the", "knife", "door", "ignore previous instructions", "ᴄup", "cup\u200b",
         "x" * 300]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=60), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
param_names = st.sampled_from(["speed", "distance", "expression", "turbo", ""])
intent = st.fixed_dictionaries({}, optional={
    "verb": st.one_of(st.sampled_from(list(SKILLS) + ["fire", "pіck_up", "STOP"]), values),
    "target": st.one_of(st.sampled_from(WORDS), st.text(max_size=50), values),
    "params": st.one_of(st.dictionaries(param_names, values, max_size=3), values),
    "point": st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3), values)})
outputs = st.one_of(
    st.text(max_size=300),                                                     # anything at all
    st.builds(lambda say, items: json.dumps({"say": say, "intents": items}, allow_nan=True),
              st.text(max_size=40), st.lists(intent, max_size=4)),
    st.builds(lambda items: json.dumps({"intents": items}, allow_nan=True)[:-3], st.lists(intent, max_size=3)))


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(output=outputs, heard=st.lists(st.sampled_from(WORDS[:7] + ["pick", "up", "point", "at"]), max_size=6),
       answer=st.booleans())
def test_any_model_output_yields_only_valid_bounded_intents(output, heard, answer):
    gate = Gate(SKILLS, confirm_timeout_s=5.0, max_per_minute=1000, repeat_window_s=0.0)
    gate.authorise(Turn(text=" ".join(heard), source="voice", turn=1), 0.0)
    response = parse_response(output, turn=1, source="voice", image_size=(640, 480))
    emitted = []
    for proposal in response.intents:
        emitted += gate.propose(proposal, 1.0)
    emitted += gate.confirm(Confirmation(accepted=answer, text="yes" if answer else "no", turn=2), 2.0)
    decisions = [f for f in emitted if isinstance(f, GateDecision)]
    assert len(decisions) >= len(response.intents)
    for frame in emitted:
        if not isinstance(frame, ActionIntent):
            continue
        record = {"verb": frame.verb, "params": frame.params, "target": frame.target,
                  "confidence": frame.confidence, "priority": frame.priority, "source": frame.source}
        VALIDATOR.validate(record)
        json.dumps(record, allow_nan=False)                       # no NaN or infinity anywhere
        skill = SKILLS[frame.verb]
        for param in skill.params:
            if param.name in frame.params and param.min is not None:
                assert param.min <= frame.params[param.name] <= param.max
        if skill.risky:
            assert frame.turn == 2 and answer                     # only after the user's yes
        if frame.target:
            assert words(frame.target["label"]) - FILLER - DEICTIC <= words(" ".join(heard))
