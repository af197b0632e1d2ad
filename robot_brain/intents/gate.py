"""The safety gate: the only road from the brain's proposals to the robot's action intents.

Every proposal is checked against the skills file (allow-list, typed and clamped parameters), must
trace to a recent authorised user turn (typed text or a transcript: never text the camera sees),
must name a target the user named and that the brain located in a fresh frame (else the robot asks),
is rate limited, and — for risky verbs — waits for the user's yes. Stop passes at once and cancels
anything pending. Every decision, with its reason, goes to the event stream and the audit log.
"""
from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable


from ..frames import (ActionIntent, CameraInfoFrame, Confirmation, Frame, GateDecision, IntentProposal,
                      ReplySentence, Stop, Turn)
from ..pipeline import Stage
from .audit import AuditLog
from .checks import Rejected, check_params, check_point, clean_text, finite_number, shown, verb_of, words
from .skills import Skill

STOP_PRIORITY = 100
ACTION_PRIORITY = 50
AUTHORISED_SOURCES = ("voice", "typed")
# Targets that point at a person or at what was just talked about, rather than naming a thing.
DEICTIC = {"me", "you", "user", "person", "him", "her", "them", "it", "this", "that", "there", "here",
           "mich", "moi", "yo", "我", "나"}
FILLER = {"the", "a", "an", "at", "to", "of", "on", "in", "my", "your", "please", "and", "der", "die", "das",
          "le", "la", "el"}
YES = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed", "affirmative", "go",
       "ja", "oui", "sí", "si", "是", "是的", "好", "对", "네", "예", "はい"}
NO = {"no", "nope", "nah", "cancel", "don't", "dont", "negative", "nein", "non", "不", "不要", "아니", "아니요",
      "いいえ"}


def answer_of(text: str) -> bool | None:
    """True for a short yes, False for a short no, None for anything else."""
    tokens = re.findall(r"[\w']+", unicodedata.normalize("NFKC", text).casefold())
    if not tokens or len(tokens) > 4:
        return None
    if "not" in tokens or any(token in NO for token in tokens):     # "please don't" is a no
        return False
    if tokens[0] in YES:
        return True
    return None


class ConfirmationBoard:
    """Whether the gate is waiting for a yes/no, shared with turn taking so the answer reaches the gate."""

    def __init__(self) -> None:
        self._waiting = threading.Event()

    def waiting(self) -> bool:
        return self._waiting.is_set()

    def set(self, waiting: bool) -> None:
        (self._waiting.set if waiting else self._waiting.clear)()


@dataclass
class _Pending:
    intent: dict[str, Any]              # ActionIntent fields
    deadline: float
    asked_turn: int


class Gate:
    """The gate's decisions, without threads: feed it frames, get back what to emit."""

    def __init__(self, skills: dict[str, Skill], *, confirm_timeout_s: float = 10.0, max_per_minute: int = 20,
                 repeat_window_s: float = 2.0, min_confidence: float = 0.3, require_point: bool = True,
                 turn_ttl_s: float = 60.0, camera=None, extrinsic=None, audit: AuditLog | None = None,
                 board: ConfirmationBoard | None = None) -> None:
        self.skills = skills
        self.confirm_timeout_s, self.max_per_minute = confirm_timeout_s, max_per_minute
        self.repeat_window_s, self.min_confidence = repeat_window_s, min_confidence
        self.require_point, self.turn_ttl_s = require_point, turn_ttl_s
        self.camera, self.extrinsic, self.audit = camera, extrinsic, audit
        self.board = board or ConfirmationBoard()
        self._turns: dict[int, tuple[float, str, set[str]]] = {}     # turn → (when, source, words)
        self._sent: deque[float] = deque()
        self._last: dict[tuple[str, str], float] = {}
        self.pending: _Pending | None = None
        self.counts: dict[str, int] = {}

    # ---- inputs ----------------------------------------------------------------------------

    def authorise(self, turn: Turn, now: float) -> None:
        if turn.source in AUTHORISED_SOURCES and turn.turn:
            self._turns[turn.turn] = (now, turn.source, words(turn.text))
        for number in [n for n, (when, _, _) in self._turns.items() if now - when > self.turn_ttl_s]:
            del self._turns[number]

    def camera_info(self, info: CameraInfoFrame) -> None:
        """A CameraInfo from the stream replaces the file's intrinsics; an unusable one is ignored."""
        from ..vision.calibration import CalibrationError, CameraModel
        try:
            self.camera = CameraModel.from_camera_info(info)
        except CalibrationError:
            pass

    def propose(self, proposal: IntentProposal, now: float) -> list[Frame]:
        out = self.expire(now)
        try:
            skill = verb_of(proposal.verb, self.skills)
            if skill.name == "stop":
                return out + self._stop_now(proposal.turn, proposal.source or "brain", "the brain proposed stop", now)
            out += self._check_and_route(skill, proposal, now)
        except Rejected as exc:
            out.append(self._decide(proposal.turn, proposal.verb, "rejected", str(exc), proposal=proposal))
        return out

    def confirm(self, answer: Confirmation, now: float) -> list[Frame]:
        out = self.expire(now)
        pending, self.pending = self.pending, None
        self.board.set(False)
        if pending is None:
            return out
        verb = pending.intent["verb"]
        if not answer.accepted:
            return out + [self._decide(answer.turn, verb, "declined", f"the user said {shown(answer.text)}",
                                       intent=pending.intent)]
        intent = ActionIntent(**{**pending.intent, "turn": answer.turn})
        self._sent.append(now)
        self._last[(verb, _label(intent.target))] = now
        return out + [self._decide(answer.turn, verb, "confirmed", f"the user said {shown(answer.text)}",
                                   intent=pending.intent), intent]

    def stop(self, frame: Frame, source: str, reason: str, now: float) -> list[Frame]:
        """A stop from elsewhere (the stop path, e-stop): cancel what is pending, audit it."""
        out = self._cancel_pending(0, f"stop ({source})")        # turn 0: not dropped with the stopped turn
        if isinstance(frame, ActionIntent):
            out.append(self._decide(frame.turn, "stop", "accepted", f"stop from {source}: {reason}".strip(),
                                    intent=_fields(frame)))
            out.append(frame)
        return out

    def foreign(self, intent: ActionIntent) -> list[Frame]:
        return [self._decide(intent.turn, intent.verb, "rejected",
                             "an action intent that did not come through the gate", intent=_fields(intent))]

    def expire(self, now: float) -> list[Frame]:
        if self.pending is None or now <= self.pending.deadline:
            return []
        pending, self.pending = self.pending, None
        self.board.set(False)
        return [self._decide(pending.asked_turn, pending.intent["verb"], "expired",
                             f"no yes within {self.confirm_timeout_s:g} s", intent=pending.intent)]

    # ---- the checks ------------------------------------------------------------------------

    def _check_and_route(self, skill: Skill, proposal: IntentProposal, now: float) -> list[Frame]:
        turn = self._turns.get(proposal.turn)
        if turn is None or proposal.source not in AUTHORISED_SOURCES or now - turn[0] > self.turn_ttl_s:
            raise Rejected("it does not come from a recent authorised user turn (typed or spoken)")
        confidence = finite_number(proposal.confidence, "confidence")
        if not 0.0 <= confidence <= 1.0:
            raise Rejected(f"confidence {confidence:g} is outside 0..1")
        params, clamped = check_params(skill, proposal.params)
        target, question = self._target(skill, proposal, turn[2])
        if question or confidence < self.min_confidence:
            question = question or f"I'm not sure what you want me to do. Should I {_phrase(skill, target)}?"
            return [self._decide(proposal.turn, skill.name, "clarify",
                                 question if confidence >= self.min_confidence else
                                 f"confidence {confidence:.2f} is below {self.min_confidence:g}", proposal=proposal),
                    ReplySentence(text=question, index=1000, turn=proposal.turn)]
        label = _label(target)
        if now - self._last.get((skill.name, label), -math.inf) < self.repeat_window_s:
            raise Rejected(f"a repeat of {skill.name} {label} within {self.repeat_window_s:g} s")
        while self._sent and now - self._sent[0] > 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.max_per_minute:
            raise Rejected(f"rate limit: {self.max_per_minute} action intents per minute")
        intent = {"verb": skill.name, "params": params, "target": target, "confidence": round(confidence, 3),
                  "priority": ACTION_PRIORITY, "source": proposal.source}
        if skill.risky:
            out = self._cancel_pending(proposal.turn, "a newer risky intent replaced it")
            self.pending = _Pending(intent, now + self.confirm_timeout_s, proposal.turn)
            self.board.set(True)
            question = f"Do you want me to {_phrase(skill, target)}? Please say yes or no."
            return out + [self._decide(proposal.turn, skill.name, "awaiting_confirmation",
                                       f"{skill.name} is risky: asked the user" + _clamp_note(clamped), intent=intent),
                          ReplySentence(text=question, index=1000, turn=proposal.turn)]
        self._sent.append(now)
        self._last[(skill.name, label)] = now
        decision = "clamped" if clamped else "accepted"
        return [self._decide(proposal.turn, skill.name, decision, "; ".join(clamped) or "passed every check",
                             intent=intent),
                ActionIntent(turn=proposal.turn, **intent)]

    def _target(self, skill: Skill, proposal: IntentProposal, said: set[str]) -> tuple[dict | None, str]:
        """(target, clarifying question or ""). Raises Rejected for targets that must not be acted on."""
        raw = proposal.target
        if skill.target == "none":
            if raw not in ("", None) or proposal.point is not None:
                raise Rejected(f"{skill.name} takes no target, got {shown(raw)}")
            return None, ""
        label = clean_text(raw if raw is not None else "", "target")
        if not label:
            if skill.target == "required":
                return None, f"What should I {skill.name.replace('_', ' ')}?"
            return None, ""
        named = words(label) - FILLER
        if not named or not named - DEICTIC <= said:
            raise Rejected(f"the user did not name {shown(label)} (text in the camera view is not an instruction)")
        if proposal.image_size is None:
            return None, f"I can't see the {label} right now. Can you show me?"
        point = check_point(proposal.point)
        if point is None:
            if self.require_point:
                return None, f"Where is the {label}? I can't find it in view."
            return {"label": label}, ""
        return self._locate(label, point, proposal.image_size), ""

    def _locate(self, label: str, point: tuple[float, float], size: tuple[int, int]) -> dict[str, Any]:
        width, height = size
        u, v = point[0] * width, point[1] * height
        target: dict[str, Any] = {"label": label, "point": [round(u, 1), round(v, 1)],
                                  "point_norm": [round(point[0], 4), round(point[1], 4)], "image_size": [width, height]}
        if self.camera is not None:
            direction = self.camera.scaled_to(width, height).ray(u, v)
            target["ray_camera"] = [round(float(x), 5) for x in direction]
            if self.extrinsic is not None:
                origin, base = self.extrinsic.ray_to_base(direction)
                target["ray_base"] = {"frame": self.extrinsic.base_frame,
                                      "origin": [round(float(x), 4) for x in origin],
                                      "direction": [round(float(x), 5) for x in base]}
        return target

    # ---- decisions -------------------------------------------------------------------------

    def _stop_now(self, turn: int, source: str, reason: str, now: float) -> list[Frame]:
        out = self._cancel_pending(turn, "stop")
        intent = {"verb": "stop", "params": {}, "target": None, "confidence": 1.0, "priority": STOP_PRIORITY,
                  "source": source}
        out.append(self._decide(turn, "stop", "accepted", f"stop always passes ({reason})", intent=intent))
        out.append(ActionIntent(turn=turn, **intent))
        return out

    def _cancel_pending(self, turn: int, reason: str) -> list[Frame]:
        if self.pending is None:
            return []
        pending, self.pending = self.pending, None
        self.board.set(False)
        return [self._decide(turn, pending.intent["verb"], "cancelled", reason, intent=pending.intent)]

    def _decide(self, turn: int, verb: Any, decision: str, reason: str, *, intent: dict | None = None,
                proposal: IntentProposal | None = None) -> GateDecision:
        verb_text = verb if isinstance(verb, str) and len(verb) <= 40 else shown(verb)
        self.counts[decision] = self.counts.get(decision, 0) + 1
        record = dict(intent or {})
        if self.audit is not None:
            entry = {"turn": turn, "verb": verb_text, "decision": decision, "reason": reason, "intent": record}
            if proposal is not None:
                entry["proposal"] = {"verb": shown(proposal.verb, 80), "target": shown(proposal.target, 80),
                                     "params": shown(proposal.params, 160), "point": shown(proposal.point, 60),
                                     "source": proposal.source}
            self.audit.write(entry)
        return GateDecision(turn=turn, verb=verb_text, decision=decision, reason=reason, intent=record)


def _label(target: dict | None) -> str:
    return target.get("label", "") if target else ""


def _phrase(skill: Skill, target: dict | None) -> str:
    action = skill.name.replace("_", " ")
    return f"{action} the {target['label']}" if target and target.get("label") else action


def _clamp_note(clamped: list[str]) -> str:
    return f" (clamped: {'; '.join(clamped)})" if clamped else ""


def _fields(intent: ActionIntent) -> dict[str, Any]:
    return {"verb": intent.verb, "params": dict(intent.params), "target": intent.target,
            "confidence": intent.confidence, "priority": intent.priority, "source": intent.source}


class IntentGate(Stage):
    """The gate as a pipeline stage. Decisions, intents and the gate's questions go on downstream."""

    accepts = (IntentProposal, ActionIntent, Turn, Confirmation, CameraInfoFrame)

    def __init__(self, gate: Gate, name: str = "intent_gate", clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.gate = gate
        self.clock = clock

    def process(self, frame: Frame) -> Iterable[Frame]:
        now = self.clock()
        gate = self.gate
        if isinstance(frame, IntentProposal):
            yield frame
            yield from gate.propose(frame, now)
        elif isinstance(frame, ActionIntent):
            if frame.verb == "stop" and frame.priority >= STOP_PRIORITY:
                yield from gate.stop(frame, frame.source, str(frame.params.get("reason", "")), now)
            else:
                yield from gate.foreign(frame)
        elif isinstance(frame, Stop):
            yield from gate.stop(frame, frame.source or "stop", frame.reason, now)
        elif isinstance(frame, Confirmation):
            yield frame
            yield from gate.confirm(frame, now)
        elif isinstance(frame, Turn):
            gate.authorise(frame, now)
            yield from gate.expire(now)
            yield frame
        elif isinstance(frame, CameraInfoFrame):
            gate.camera_info(frame)
            yield frame
        else:
            yield frame

    def close(self) -> None:
        for frame in self.gate.expire(math.inf):
            self.ctx.log.info("at shutdown: %s %s (%s)", frame.verb, frame.decision, frame.reason)
        if self.gate.audit is not None:
            self.gate.audit.close()
