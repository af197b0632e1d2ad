"""The gate's rules as an attacker tries them: fail closed, motion asked for, named targets, one question per yes,
stop in its common forms, clean labels, and no input that makes it raise."""
import json
import math
import time

import pytest

from robot_brain.brain.structured import parse_response
from robot_brain.frames import (ActionIntent, CameraInfoFrame, Confirmation, GateDecision, IntentProposal,
                                ReplySentence, Stop, TextInput, Turn)
from robot_brain.intents.audit import AuditLog
from robot_brain.intents.gate import CANNOT_ACT, Gate, IntentGate
from robot_brain.intents.phrases import answer_of, is_stop
from robot_brain.intents.skills import SkillError, load_skills
from robot_brain.pipeline import Pipeline, Stage
from robot_brain.speech.stop_path import stop_intent
from robot_brain.turns import TurnTaker
from robot_brain.vision.calibration import CameraModel, default_file

SKILLS = load_skills()


def gate_with(text, turn=1, **kw):
    gate = Gate(SKILLS, camera=CameraModel.from_yaml(default_file("camera.yaml")), repeat_window_s=0.0, **kw)
    gate.authorise(Turn(text=text, source="voice", turn=turn), 0.0)
    return gate


def offer(gate, verb, target="", turn=1, now=1.0, **kw):
    kw.setdefault("point", [0.5, 0.5] if target else None)
    return gate.propose(IntentProposal(verb=verb, target=target, turn=turn, source="voice",
                                       image_size=kw.pop("image_size", (640, 480)), **kw), now)


def actions(out):
    return [f.verb for f in out if isinstance(f, ActionIntent)]


def test_motion_needs_the_users_own_words_in_that_turn():
    assert not actions(offer(gate_with("hello there"), "place", "there"))
    assert not actions(offer(gate_with("where is the cup"), "pick_up", "cup"))
    assert not actions(offer(gate_with("don't pick up the cup"), "pick_up", "cup"))
    assert not actions(offer(gate_with("不要拿杯子"), "pick_up", "杯子"))
    for text, target in [("pick the red cup up", "red cup"), ("拿起红色的杯子", "红色的杯子"), ("빨간 컵 집어줘", "빨간 컵")]:
        gate = gate_with(text)
        decisions = [f.decision for f in offer(gate, "pick_up", target) if isinstance(f, GateDecision)]
        assert decisions == ["awaiting_confirmation"], text        # asked for; risky, so it asks for a yes first
    assert SKILLS["place"].risky


def test_a_motion_skill_without_phrases_for_every_language_is_refused(tmp_path):
    path = tmp_path / "skills.yaml"
    path.write_text("skills: {stop: {kind: stop}, jump: {description: jump, asked_by: {en: [jump]}}}")
    with pytest.raises(SkillError, match="add asked_by phrases for zh, ko"):
        load_skills(path)


@pytest.mark.parametrize("said, target, ok", [
    ("what do you see", "me", False), ("look at me", "person", True), ("看着我", "user", True),
    ("hello there", "there", False), ("point at it", "it", False), ("look at you", "you", False),
    ("where is the red cup", "red cup", True), ("where is the red cup", "that red cup", True),
    ("where is the red cup", "knife", False)])
def test_gestures_need_a_named_target_or_the_user_who_spoke_of_themselves(said, target, ok):
    assert actions(offer(gate_with(said), "look_at", target)) == (["look_at"] if ok else [])


def test_a_target_named_in_the_turn_before_counts_but_not_earlier():
    gate = gate_with("where is the red cup")
    gate.authorise(Turn(text="point at it", source="voice", turn=2), 0.5)
    assert actions(offer(gate, "point_at", "red cup", turn=2)) == ["point_at"]
    gate.authorise(Turn(text="and now", source="voice", turn=3), 0.6)
    assert not actions(offer(gate, "point_at", "red cup", turn=3, now=5.0))


def test_a_yes_releases_only_the_question_it_answers():
    gate = gate_with("pick up the cup and grab the ball")
    offer(gate, "pick_up", "cup")
    first = gate.board.waiting()
    offer(gate, "pick_up", "ball")                      # a newer risky proposal asks anew
    assert gate.board.waiting() != first
    out = gate.confirm(Confirmation(accepted=True, text="yes", turn=2, question=first), 2.0)
    assert not actions(out) and gate.pending is not None
    out = gate.confirm(Confirmation(accepted=True, text="yes", turn=3, question=gate.board.waiting(),
                                    source="camera"), 2.5)
    assert not actions(out)                              # only the user's voice or typed text answers
    forged = gate.confirm(Confirmation(accepted=True, text="go away", turn=4, question=gate.board.waiting()), 2.6)
    assert not actions(forged)                           # "go away" is not a yes, whatever the flag says
    out = gate.confirm(Confirmation(accepted=True, text="yes", turn=5, question=gate.board.waiting()), 3.0)
    assert actions(out) == ["pick_up"] and [f.target["label"] for f in out if isinstance(f, ActionIntent)] == ["ball"]


@pytest.mark.parametrize("text", ["okay stop", "yes wait", "go away", "yes, no", "hold on", "wait"])
def test_these_are_not_yes(text):
    assert answer_of(text) is not True


@pytest.mark.parametrize("text", ["stop", "please stop", "stop now", "STOP!", "okay stop", "ｓｔｏｐ", "停", "停下", "停止",
                                  "别动", "멈춰", "멈춰요", "그만", "Stop, robot!", "s\u00adtop"])
def test_stop_in_its_common_forms(text):
    assert is_stop(text)


@pytest.mark.parametrize("text", ["stop the music and look at me", "where is the bus stop", "don't stop"])
def test_a_request_that_mentions_stop_is_not_a_stop(text):
    assert not is_stop(text)


def test_turn_taking_stops_on_a_stop_even_while_a_yes_is_awaited():
    from robot_brain.intents.gate import ConfirmationBoard
    from robot_brain.testing import run_stage
    board = ConfirmationBoard()
    board.set(7)
    out = run_stage(TurnTaker(stop_words=("stop",), confirmations=board),
                    [TextInput(text="okay stop"), TextInput(text="yes"), TextInput(text="yes wait")])
    assert [type(f).__name__ for f in out if not isinstance(f, ActionIntent)] == ["Stop", "Confirmation", "Turn"]
    assert [f.question for f in out if isinstance(f, Confirmation)] == [7]


def test_after_a_stop_nothing_else_from_that_reply_is_emitted():
    gate = gate_with("put the cup on the table")
    reply = parse_response('{"say": "ok", "intents": [{"verb": "stop"}, {"verb": "place", "target": "table", '
                           '"point": [0.5, 0.5]}]}', turn=1, source="voice", image_size=(640, 480))
    out = [f for proposal in reply.intents for f in gate.propose(proposal, 1.0)]
    assert actions(out) == ["stop"] and gate.pending is None


@pytest.mark.parametrize("label", ["red\U000e0041 cup", "red\u00ad cup", "re\u200dd cup", "red\ufe0f cup"])
def test_invisible_characters_never_reach_a_label(label):
    out = offer(gate_with("point at the red cup"), "point_at", label)
    assert [f.target["label"] for f in out if isinstance(f, ActionIntent)] == ["red cup"]


@pytest.mark.parametrize("verb, target", [("pіck_up", "cup"), ("point_at", "cuр"), ("point_at", "cup\x07")])
def test_look_alike_letters_and_control_characters_are_rejected(verb, target):
    out = offer(gate_with("pick up the cup, point at the cup"), verb, target)
    assert not actions(out) and [f.decision for f in out if isinstance(f, GateDecision)] == ["rejected"]


@pytest.mark.parametrize("reply", [
    "[" * 100_000 + "]" * 100_000,
    '{"say": "", "intents": [{"verb": "point_at", "target": "cup", "point": [0.5, ' + "9" * 5000 + "]}]}",
    '{"say": "", "intents": [{"verb": "navigate_to", "target": "door", "params": {"speed": ' + "9" * 400 + "}}]}",
    '{"say": "\\ud800", "intents": [{"verb": "point_at", "target": "cup\\udc00", "point": [0.5, 0.5]}]}',
    '{"say": "", "intents": [{"verb": "point_at", "target": "cup", "point": [NaN, Infinity]}]}'])
def test_no_model_output_makes_the_gate_raise_or_dawdle(tmp_path, reply):
    gate = gate_with("point at the cup and drive to the door")
    gate.audit = AuditLog(tmp_path / "audit.jsonl")
    started = time.perf_counter()
    response = parse_response(reply, turn=1, source="voice", image_size=(640, 480))
    out = [f for proposal in response.intents for f in gate.propose(proposal, 1.0)]
    assert time.perf_counter() - started < 0.05
    assert not actions(out)
    gate.audit.close()
    for line in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)


def test_a_bad_image_size_is_rejected_not_raised():
    for size in [(640,), (0, 480), ("640", 480), (10**9, 10**9), (640.5, 480)]:
        out = offer(gate_with("point at the cup"), "point_at", "cup", image_size=size)
        assert not actions(out) and "image_size" in out[-1].reason


def test_an_invalid_camera_info_is_rejected_and_the_last_valid_one_stays():
    gate = gate_with("point at the cup")
    good = CameraInfoFrame(width=640, height=480, k=(500.0, 0, 320, 0, 500, 240, 0, 0, 1), d=(0.0,) * 5)
    assert gate.camera_info(good) is None
    for bad in [CameraInfoFrame(width=640, height=480, k=good.k, d=(0.1, 0.0, 0.0)),
                CameraInfoFrame(width=640, height=480, k=(math.nan,) * 9),
                CameraInfoFrame(width=0, height=480, k=good.k), CameraInfoFrame(width=640, height=480, k=(1, 2)),
                CameraInfoFrame(width=640, height=480, k=good.k, distortion_model="unknown")]:
        decision = gate.camera_info(bad)
        assert decision.decision == "rejected" and "last valid calibration" in decision.reason
    out = offer(gate, "point_at", "cup", point=[0.25, 0.5])
    assert actions(out) == ["point_at"] and out[-1].target["ray_camera"][0] < 0


class _Brain(Stage):
    """Answers every turn with the proposals it was given."""
    accepts = (Turn,)

    def __init__(self, proposals):
        super().__init__("brain")
        self.proposals = proposals

    def process(self, frame):
        yield frame
        for fields in self.proposals if isinstance(frame, Turn) else ():
            yield IntentProposal(turn=frame.turn, source=frame.source, image_size=(640, 480), **fields)


class _BrokenGate(IntentGate):
    def open(self):
        raise RuntimeError("could not load the skills")


def test_a_gate_out_of_service_fails_closed_and_stop_still_works():
    gate = _BrokenGate(gate_with("point at the cup"), clock=lambda: 1.0)
    brain = _Brain([{"verb": "point_at", "target": "cup", "point": [0.5, 0.5]}, {"verb": "wave"}])
    out = []
    with Pipeline([TurnTaker(stop_words=("stop",)), brain, gate]) as pipeline:
        pipeline.add_sink(out.append)
        pipeline.push(TextInput(text="point at the cup and wave"))
        pipeline.push(ActionIntent(verb="pick_up", target={"label": "cup"}, priority=50, source="voice"))
        pipeline.wait_idle(5)
        assert not pipeline.health()["intent_gate"]
        pipeline.push(stop_intent("voice", 1.0, "heard 'stop'"))
        pipeline.push(Stop(source="voice"))
        pipeline.wait_idle(5)
    assert actions(out) == ["stop"]
    assert [f.text for f in out if isinstance(f, ReplySentence)] == [CANNOT_ACT]
    assert {f.decision for f in out if isinstance(f, GateDecision)} == {"rejected"}
