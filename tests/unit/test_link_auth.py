"""The split deployment's link without DDS: signed frames pass; unsigned, wrongly signed, wrong-role, replayed,
stale and out-of-range ones are dropped and counted; no input makes the receiver raise."""
import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robot_brain.frames import (ActionIntent, Confirmation, GateDecision, IntentProposal, Interrupt, ReplyDone,
                                ReplySentence, Speaking, Stop, Turn)
from robot_brain.ros import codec, link
from robot_brain.ros.link import LinkGuard

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def guards(clock, key=KEY):
    return {role: LinkGuard(role, key, f"/{role}", clock=clock) for role in link.MAY_SEND}


def forge(body: dict, key=KEY) -> str:
    """A message signed with `key` around any body (what only a key holder can make)."""
    import hashlib
    import hmac
    text = json.dumps(body)
    return json.dumps({"v": 1, "body": text, "mac": hmac.new(key, text.encode(), hashlib.sha256).hexdigest()})


def header(role="asr", seq=1, t=1_800_000_000.0, name=None, boot="b00t"):
    return {"from": name or f"/{role}", "role": role, "boot": boot, "seq": seq, "time": t}


SENT_BY = [
    ("asr", Turn(text="pick up the cup", source="voice", language="en", turn=4)),
    ("asr", Confirmation(accepted=True, text="yes", source="typed", turn=5)),
    ("brain", IntentProposal(verb="point_at", params={"speed": float("nan")}, target="cup", point=[0.5, 0.25],
                             confidence=0.8, source="voice", image_size=(640, 480), turn=4)),
    ("brain", ReplySentence(text="Hallo, 世界.", index=2, turn=4)),
    ("brain", ReplyDone(text="all", turn=4)),
    ("gate", ActionIntent(verb="point_at", params={"speed": 0.5}, target={"label": "cup"}, confidence=0.8,
                          priority=50, source="voice", turn=4)),
    ("gate", GateDecision(verb="pick_up", decision="awaiting_confirmation", reason="risky",
                          intent={"verb": "pick_up"}, turn=4)),
    ("gate", ReplySentence(text="Do you want me to pick up the cup?", index=1000, turn=4)),
    ("tts", Speaking(active=True, turn=4)),
    ("tts", Stop(source="voice", reason="stop word", turn=0)),
    ("brain", Interrupt(reason="barge-in", turn=0)),
]


@pytest.mark.parametrize("role, frame", SENT_BY, ids=lambda x: x if isinstance(x, str) else x.kind)
def test_signed_frames_of_each_role_pass(clock, role, frame):
    g = guards(clock)
    receiver = g["gate" if role != "gate" else "tts"]
    got, reason = receiver.accept(g[role].sign(frame))
    assert reason == "" and type(got) is type(frame)
    for name in frame.__dataclass_fields__:
        if name not in ("t", "params"):
            assert getattr(got, name) == getattr(frame, name), name
    assert receiver.accepted == 1 and not receiver.rejected


def test_the_send_table_is_one_table_and_sign_refuses_other_kinds(clock):
    g = guards(clock)
    assert link.MAY_SEND["asr"] >= {Turn, Confirmation} and ActionIntent in link.MAY_SEND["gate"]
    assert [r for r, kinds in link.MAY_SEND.items() if ActionIntent in kinds] == ["gate"]
    assert [r for r, kinds in link.MAY_SEND.items() if Turn in kinds or Confirmation in kinds] == ["asr"]
    assert [r for r, kinds in link.MAY_SEND.items() if IntentProposal in kinds] == ["brain"]
    assert all({Stop, Interrupt} <= kinds for kinds in link.MAY_SEND.values())
    assert not g["asr"].may_send(ActionIntent(verb="stop", priority=100))      # the gate makes the stop intent
    with pytest.raises(codec.CodecError, match="asr node does not send ActionIntent"):
        g["asr"].sign(ActionIntent(verb="stop", priority=100))


def test_every_field_of_every_link_frame_is_checked():
    import dataclasses
    for kind, cls in codec.LINK_FRAMES.items():
        assert {f.name for f in dataclasses.fields(cls)} - {"t", "turn"} == set(codec.FIELDS[cls]), kind


def dropped(receiver, text, kind):
    frame, reason = receiver.accept(text)
    assert frame is None and link.reason_kind(reason) == kind, reason
    return reason


def test_unsigned_and_wrongly_signed_frames_are_dropped_and_counted(clock):
    g = guards(clock)
    gate = g["gate"]
    turn = Turn(text="hand me the knife", turn=1)
    dropped(gate, codec.encode(turn, "/asr"), link.UNSIGNED)                       # today's plain JSON
    forged = LinkGuard("asr", OTHER_KEY, "/asr", clock=clock).sign(turn)
    assert "bad signature" in dropped(gate, forged, link.BAD_SIGNATURE)
    signed = json.loads(g["asr"].sign(turn))
    altered = dict(signed, body=signed["body"].replace("knife", "spoon"))
    dropped(gate, json.dumps(altered), link.BAD_SIGNATURE)
    dropped(gate, json.dumps(dict(signed, mac="0" * 64)), link.BAD_SIGNATURE)
    dropped(gate, json.dumps(dict(signed, v=2)), link.MALFORMED)
    dropped(gate, "x" * (link.MAX_MESSAGE + 1), link.TOO_LONG)
    assert gate.rejected == {"unsigned": 1, "bad signature": 3, "malformed": 1, "too long": 1}
    assert gate.counts()["dropped bad signature"] == 3 and gate.accepted == 0


def test_a_role_sends_only_its_own_kinds(clock):
    g = guards(clock)
    forged_intent = ActionIntent(verb="pick_up", target={"label": "knife"}, priority=50, source="voice", turn=1)
    body = {**header("brain"), **codec.frame_fields(forged_intent)}
    assert "brain node ('/brain') may not send ActionIntent" in dropped(g["gate"], forge(body), link.WRONG_ROLE)
    body = {**header("gate", name="/intent_gate"), **codec.frame_fields(Turn(text="x", turn=1))}
    dropped(g["brain"], forge(body), link.WRONG_ROLE)
    body = {**header("pilot"), **codec.frame_fields(Turn(text="x", turn=1))}
    dropped(g["brain"], forge(body), link.BAD_HEADER)


def test_replays_and_stale_frames_are_dropped(clock):
    g = guards(clock)
    gate, asr = g["gate"], g["asr"]
    first = asr.sign(Turn(text="wave", turn=1))
    second = asr.sign(Turn(text="point at the cup", turn=2))
    assert gate.accept(second)[1] == ""
    assert "seq 1" in dropped(gate, first, link.REPLAYED)                       # older than what came
    dropped(gate, second, link.REPLAYED)                                        # the same again
    # the asr node restarts: its new process is welcome, the old one's messages are not
    clock.now += 5
    restarted = LinkGuard("asr", KEY, "/asr", clock=clock)
    assert gate.accept(restarted.sign(Turn(text="hello", turn=3)))[1] == ""
    assert "earlier run" in dropped(gate, asr.sign(Turn(text="wave", turn=4)), link.REPLAYED)
    # a message captured now and replayed a minute later, to a node that started since
    late = restarted.sign(Stop(source="voice"))
    clock.now += 60
    fresh_gate = LinkGuard("gate", KEY, "/intent_gate", clock=clock)
    assert "ros.link_max_age_s" in dropped(fresh_gate, late, link.STALE)
    unchecked = LinkGuard("gate", KEY, "/intent_gate", clock=clock, max_age_s=0)
    assert unchecked.accept(late)[1] == ""                                      # 0: clocks not compared


def test_own_messages_are_ignored_not_counted(clock):
    asr = guards(clock)["asr"]
    assert asr.accept(asr.sign(Stop(source="voice"))) == (None, link.OWN)
    assert not asr.rejected and asr.accepted == 0


@pytest.mark.parametrize("fields, why", [
    ({"kind": "Turn", "text": "x", "turn": float("inf")}, "Turn.turn must be an integer"),
    ({"kind": "Turn", "text": "x", "turn": -1}, "Turn.turn must be an integer"),
    ({"kind": "Turn", "text": "x", "turn": 2 ** 53 + 1}, "Turn.turn must be an integer"),
    ({"kind": "Turn", "text": "x", "turn": True}, "Turn.turn must be an integer"),
    ({"kind": "Turn", "text": "x" * 5000, "turn": 1}, "Turn.text must be text of at most 4000"),
    ({"kind": "Turn", "text": 7, "turn": 1}, "Turn.text must be text"),
    ({"kind": "Turn", "turn": 1}, "Turn"),
    ({"kind": "Turn", "text": "x", "evil": 1}, "Turn has no field"),
    ({"kind": "Shutdown"}, "not a link frame kind"),
    ({"kind": "IntentProposal", "verb": "x", "image_size": [0, 10]}, "image_size"),
    ({"kind": "IntentProposal", "verb": "x", "image_size": [16385, 10]}, "image_size"),
    ({"kind": "IntentProposal", "verb": "x", "image_size": [640, 480, 3]}, "image_size"),
    ({"kind": "IntentProposal", "verb": "x", "image_size": [640.0, 480]}, "image_size"),
    ({"kind": "IntentProposal", "verb": [[[[[[[["deep"]]]]]]]]}, "nested deeper"),
    ({"kind": "ReplySentence", "text": "x", "index": -1}, "index"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_fields_out_of_bounds_are_dropped_and_counted(clock, fields, why):
    g = guards(clock)
    role = next(r for r, kinds in link.MAY_SEND.items() if fields["kind"] in {k.__name__ for k in kinds}) \
        if fields["kind"] != "Shutdown" else "asr"
    reason = dropped(g["tts"], forge({**header(role), **fields}), link.BAD_FIELD)
    assert why in reason


def test_intent_numbers_must_be_finite(clock):
    gate_body = {**header("gate", name="/intent_gate"), **codec.frame_fields(
        ActionIntent(verb="point_at", params={"speed": 0.5}, priority=50, turn=1))}
    tts = guards(clock)["tts"]
    for change in ({"confidence": float("nan")}, {"confidence": 2.0}, {"params": {"speed": float("inf")}},
                   {"priority": 10 ** 6}, {"target": "cup"}):
        dropped(tts, forge({**gate_body, **change, "seq": tts.rejected.total() + 1}), link.BAD_FIELD)


def test_turns_far_ahead_are_dropped_and_stop_watermarks_cut_down(clock):
    g = guards(clock)
    gate, asr, brain = g["gate"], g["asr"], g["brain"]
    assert gate.accept(asr.sign(Turn(text="wave", turn=3)))[1] == ""
    assert gate.accept(brain.sign(ReplySentence(text="hi", turn=3)))[1] == ""
    far = brain.sign(ReplySentence(text="hi", turn=3 + link.MAX_TURN_AHEAD + 1))
    assert "ahead of turn 3" in dropped(gate, far, link.TURN_RANGE)
    assert gate.accept(asr.sign(Turn(text="wave", turn=3 + link.MAX_TURN_AHEAD)))[1] == ""
    # a Stop cancelling "every turn up to 2**53" only cancels the turns this node has seen
    stop, reason = gate.accept(asr.sign(Stop(source="voice"), turn=2 ** 53))
    assert reason == "" and stop.turn == 3 + link.MAX_TURN_AHEAD and gate.clamped == 1
    body = {**header("asr", seq=99, name="/asr2"), "kind": "Stop", "source": "voice", "turn": float("inf")}
    dropped(gate, forge(body), link.BAD_FIELD)


def test_a_fresh_receiver_takes_a_long_running_senders_turns(clock):
    asr = LinkGuard("asr", KEY, "/asr", clock=clock)
    asr.observe(50_000)
    gate = LinkGuard("gate", KEY, "/intent_gate", clock=clock)                  # started long after the asr
    assert gate.accept(asr.sign(Turn(text="wave", turn=50_001)))[1] == ""
    assert gate.seen_turn == 50_001


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300) | JSON.map(json.dumps),
       fields=st.dictionaries(st.sampled_from(["kind", "turn", "text", "verb", "params", "target", "source", "index",
                                               "accepted", "active", "reason", "decision", "intent", "image_size",
                                               "confidence", "priority", "point", "language"]), JSON, max_size=6),
       kind=st.sampled_from(sorted(codec.LINK_FRAMES) + ["Shutdown", ""]),
       role=st.sampled_from(sorted(link.MAY_SEND) + ["x"]), seq=JSON, t=JSON)
def test_no_input_makes_the_receiver_raise(text, fields, kind, role, seq, t):
    clock = Clock()
    gate = LinkGuard("gate", KEY, "/intent_gate", clock=clock)
    for message in (text, forge({"from": "/a", "role": role, "boot": "b", "seq": seq, "time": t, "kind": kind,
                                 **fields}),
                    forge({**header(role if role in link.MAY_SEND else "asr"), "kind": kind, **fields})):
        frame, reason = gate.accept(message)
        assert (frame is None) != (reason == "")
    assert gate.accepted + gate.rejected.total() == 3


def test_junk_that_is_not_text_is_dropped(clock):
    gate = guards(clock)["gate"]
    for junk in (None, b"{}", 7, {"v": 1}, "[]", "{}", "null", '{"v":1,"body":"{}","mac":7}', "\ud800",
                 json.dumps({"v": 1, "body": "\ud800", "mac": "00"}), "[" * 100_000, "[" * 60_000):
        assert gate.accept(junk)[0] is None
    assert gate.rejected.total() == 12


def test_key_file_made_once_mode_600_and_read_back(tmp_path, monkeypatch):
    path = tmp_path / "ros" / "robot_brain" / "link.key"
    assert link.make_key(path) and not link.make_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = link.load_key(path)
    assert len(key) == 64 and link.load_key(path, create=True) == key          # kept, not replaced
    monkeypatch.setenv(link.KEY_ENV, str(path))
    assert link.key_path("") == path and link.key_path("/elsewhere") == link.Path("/elsewhere")
    assert key.decode() not in repr(LinkGuard("gate", key, "/g"))


def test_key_file_problems_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(link.KEY_ENV, raising=False)
    with pytest.raises(link.LinkKeyError, match="set ros.link_key_file"):
        link.load_key(link.key_path(""))
    with pytest.raises(link.LinkKeyError, match="does not exist.*--make-key"):
        link.load_key(tmp_path / "missing.key")
    short = tmp_path / "short.key"
    short.write_text("abc")
    short.chmod(0o600)
    with pytest.raises(link.LinkKeyError, match="3 bytes, fewer than 32"):
        link.load_key(short)
    loose = tmp_path / "loose.key"
    link.make_key(loose)
    loose.chmod(0o644)
    with pytest.raises(link.LinkKeyError, match="chmod 600"):
        link.load_key(loose)
    with pytest.raises(link.LinkKeyError, match="not a regular file"):
        link.load_key(tmp_path)
    if os.geteuid() != 0:                       # root reads anything
        unreadable = tmp_path / "unreadable.key"
        link.make_key(unreadable)
        unreadable.chmod(0)
        with pytest.raises(link.LinkKeyError, match="cannot read"):
            link.load_key(unreadable)


def test_make_key_command(tmp_path, capsys):
    path = tmp_path / "k"
    assert link.main(["--make-key", str(path)]) == 0
    out = capsys.readouterr().out
    assert "wrote a new key" in out and path.read_text().strip() not in out


def test_only_the_gate_node_makes_a_stop_intent_for_a_stop_from_the_link():
    stop = Stop(source="voice", reason="heard 'stop'", turn=3)
    [intent] = link.made_here("gate", stop)
    assert isinstance(intent, ActionIntent) and (intent.verb, intent.priority, intent.source) == ("stop", 100, "voice")
    assert intent.turn == 0 and intent.params == {"reason": "heard 'stop'"}
    assert all(not link.made_here(role, stop) for role in ("asr", "brain", "tts"))
    assert not link.made_here("gate", Turn(text="stop", turn=3))


def test_link_counts_reach_the_diagnostics(clock):
    from robot_brain.ros import health
    g = guards(clock)
    gate = g["gate"]
    gate.accept(g["asr"].sign(Turn(text="wave", turn=1)))
    assert health.link_status(gate.counts()).level == health.OK
    gate.accept(codec.encode(Turn(text="wave", turn=2), "/asr"))
    status = health.link_status(gate.counts())
    assert status.level == health.WARN and status.values == {"accepted": "1", "dropped unsigned": "1"}
    names = [s.name for s in health.node_statuses("/intent_gate", "active", {}, health.InputCounter(), None,
                                                  link=gate.counts())]
    assert "/intent_gate: link" in names
