"""Whatever a model writes, only schema-valid, allow-listed, clamped intents leave the gate."""
import json

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_brain.brain.structured import parse_response
from robot_brain.frames import ActionIntent, Confirmation, GateDecision, IntentProposal, Turn
from robot_brain.intents.gate import Gate
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
    emitted += gate.confirm(Confirmation(accepted=answer, text="yes" if answer else "no", turn=2,
                                         question=gate.board.waiting()), 2.0)
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
            label = set(frame.target["label"].casefold().split()) - {"the", "a", "my"}
            assert label <= set(heard) and label - {"me"}          # named by the user, and not only "me"


# ---- R2/R3: no intent leaves the gate without the user's words behind it -----------------------------------
# Utterances are built here from templates whose meaning is known by construction, so the oracle below does not
# reuse the gate's own phrase matching: a motion skill may come out only after an utterance built to ask for it,
# a target only when the utterance named it (or the user spoke of themselves and the target is the user).
OBJECTS = {"en": ["red cup", "blue ball", "green box", "door", "table"], "zh": ["红色的杯子", "蓝球", "门"],
           "ko": ["빨간 컵", "파란 공", "문"]}
ASKING = {
    "pick_up": {"en": ["pick up the {o}", "grab the {o}", "please pick the {o} up", "could you lift the {o}"],
                "zh": ["拿起{o}", "请把{o}捡起来"], "ko": ["{o} 집어줘", "{o}을 주워 주세요"]},
    "place": {"en": ["put it on the {o}", "place it on the {o}"], "zh": ["放在{o}上"], "ko": ["{o} 위에 놓아줘"]},
    "navigate_to": {"en": ["go to the {o}", "drive to the {o}", "please move to the {o}"], "zh": ["去{o}那里"],
                    "ko": ["{o}으로 가줘"]},
    "follow": {"en": ["follow me", "please follow me"], "zh": ["跟着我"], "ko": ["나를 따라와"]},
    "hand_over": {"en": ["give me the {o}", "bring me the {o}"], "zh": ["把{o}递给我"], "ko": ["{o} 가져다 줘"]},
}
NOT_ASKING = {"en": ["where is the {o}", "what do you see", "is the {o} on the table", "don't pick up the {o}",
                     "never go to the {o}", "hello there", "look at me", "point at the {o}", "what colour is the {o}",
                     "how far is the {o}", "wave at me", "the {o} is broken"],
              "zh": ["{o}在哪里", "不要拿{o}", "别去{o}那里", "你看到了什么", "看着我"],
              "ko": ["{o} 어디 있어", "{o} 집지 마", "뭐가 보여", "나를 봐"]}
USER_WORDS = ("me", "我", "나")
POINTING = {"the", "that", "there", "it", "this"}           # words of a label that name nothing
TARGETS = [o for objs in OBJECTS.values() for o in objs] + ["me", "person", "user", "it", "that", "there", "you",
                                                            "knife", "the cup there", "它", "那个", "그것", "거기"]

utterances = st.one_of(
    st.tuples(st.sampled_from(sorted(ASKING)), st.sampled_from(["en", "zh", "ko"])).flatmap(
        lambda vl: st.tuples(st.just(vl[0]), st.sampled_from(ASKING[vl[0]][vl[1]]), st.sampled_from(OBJECTS[vl[1]]))),
    st.sampled_from(["en", "zh", "ko"]).flatmap(
        lambda lang: st.tuples(st.none(), st.sampled_from(NOT_ASKING[lang]), st.sampled_from(OBJECTS[lang]))))
proposals = st.lists(st.fixed_dictionaries({"verb": st.sampled_from(sorted(SKILLS)),
                                            "target": st.sampled_from(TARGETS + [""]),
                                            "point": st.sampled_from([None, [0.4, 0.6]])}), min_size=1, max_size=3)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(utterance=utterances, previous=st.one_of(st.none(), utterances), items=proposals, yes=st.booleans())
def test_no_intent_leaves_without_the_users_words_behind_it(utterance, previous, items, yes):
    gate = Gate(SKILLS, confirm_timeout_s=5.0, max_per_minute=1000, repeat_window_s=0.0)
    turns = []
    for number, (asked, template, obj) in enumerate([u for u in (previous, utterance) if u], start=1):
        text = template.format(o=obj)
        gate.authorise(Turn(text=text, source="voice", turn=number), 0.0)
        turns.append((asked, text, obj if "{o}" in template else None))
    asked, text, _ = turns[-1]
    spoke_of_self = any(word in said for _, said, _ in turns for word in USER_WORDS)
    emitted = []
    for item in items:
        emitted += gate.propose(IntentProposal(turn=len(turns), source="voice", image_size=(640, 480), **item), 1.0)
    if yes:
        emitted += gate.confirm(Confirmation(accepted=True, text="yes", turn=len(turns) + 1,
                                             question=gate.board.waiting()), 2.0)
    for frame in emitted:
        if not isinstance(frame, ActionIntent) or frame.verb == "stop":
            continue
        skill = SKILLS[frame.verb]
        if skill.kind == "motion":                       # R2: asked for in this turn's own words
            assert frame.verb == asked, f"{frame.verb} after {text!r}"
        if frame.target:                                 # R3: named, or the user who spoke of themselves
            label = frame.target["label"]
            words = set(label.split()) - POINTING
            heard = {w for _, said, _ in turns for w in said.replace("?", "").split()}
            assert words and all(w in heard or any(w in said for _, said, _ in turns if not said.isascii())
                                 for w in words) \
                or (label in ("me", "person", "user") and spoke_of_self), \
                f"{frame.verb} {label!r} after {[t for _, t, _ in turns]}"
