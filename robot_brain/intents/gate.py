"""The safety gate: the only road from the brain's proposals to the robot's action intents.

Every proposal is checked against the skills file (allow-list, typed and clamped parameters) and must trace
to a recent authorised user turn (typed text or a transcript: never text the camera sees). A motion skill
must be asked for in that turn's own words (skills.yaml `asked_by`); a target must be named by the user (this
turn or the one before) and located by the brain in a fresh frame, else the robot asks. Intents are rate
limited; risky ones wait for the user's yes to that one question. Stop passes at once, cancels anything
pending, and nothing else from the stopped reply follows. Every decision, with its reason, goes to the event
stream and the audit log; whatever the input, the gate decides or rejects, it never raises.
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable


from ..frames import (MAX_TURN, ActionIntent, CameraInfoFrame, Confirmation, Frame, GateDecision, IntentProposal,
                      ReplySentence, Stop, Turn)
from ..pipeline import Stage
from . import phrases, requests
from .audit import AuditLog
from .checks import Rejected, check_params, check_point, clean_text, finite_number, image_size, shown, verb_of
from .phrases import DEICTIC, FILLER, USER_LABELS, answer_of
from .skills import Skill

log = logging.getLogger(__name__)

STOP_PRIORITY = 100
ACTION_PRIORITY = 50
AUTHORISED_SOURCES = ("voice", "typed")
MAX_TURN_TEXT = 2000                    # characters of a turn the gate reads
CANNOT_ACT = "I can't act right now: my safety check is not working."


def _valid_turn(turn: Any) -> bool:
    return isinstance(turn, int) and not isinstance(turn, bool) and 0 < turn <= MAX_TURN


class ConfirmationBoard:
    """Which question the gate waits on a yes or no for (0: none), shared with turn taking so the answer reaches
    the gate bound to that question."""

    def __init__(self) -> None:
        self._question = 0
        self._lock = threading.Lock()

    def waiting(self) -> int:
        with self._lock:
            return self._question

    def set(self, question: int) -> None:
        """The question now open (0 or False: none); a split deployment sets it from the gate's decisions."""
        with self._lock:
            self._question = int(question) if _valid_turn(question) else 0


@dataclass
class _Pending:
    intent: dict[str, Any]              # ActionIntent fields
    deadline: float
    asked_turn: int
    question: int                       # the id the user's answer must carry


@dataclass
class _Said:
    when: float
    text: str                           # normalised (phrases.normalise)


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
        self._turns: dict[int, _Said] = {}
        self._sent: deque[float] = deque()
        self._last: dict[tuple[str, str], float] = {}
        self._questions = itertools.count(1)
        self._stopped_through = 0           # proposals of this turn and earlier come from a stopped reply
        self.pending: _Pending | None = None
        self.counts: dict[str, int] = {}

    # ---- inputs ----------------------------------------------------------------------------

    def authorise(self, turn: Turn, now: float) -> None:
        """Remember what the user said in `turn` (typed or spoken only), for the checks of its proposals."""
        if turn.source in AUTHORISED_SOURCES and _valid_turn(turn.turn) and isinstance(turn.text, str):
            self._turns[turn.turn] = _Said(now, phrases.normalise(turn.text[:MAX_TURN_TEXT]))
        for number in [n for n, said in self._turns.items() if now - said.when > self.turn_ttl_s]:
            del self._turns[number]
        while len(self._turns) > 256:
            del self._turns[min(self._turns)]

    def camera_info(self, info: CameraInfoFrame) -> GateDecision | None:
        """A CameraInfo from the stream replaces the intrinsics in use; an unusable one is rejected with the reason
        (returned, logged) and the last valid calibration stays in use."""
        from ..vision.calibration import CalibrationError, CameraModel
        try:
            self.camera = CameraModel.from_camera_info(info)
            return None
        except CalibrationError as exc:
            reason = f"{exc}; the last valid calibration stays in use"
        except Exception as exc:        # noqa: BLE001 - any junk in a CameraInfo is a rejection, never a crash
            reason = f"camera_info unusable ({type(exc).__name__}); the last valid calibration stays in use"
        log.error("rejected a CameraInfo: %s", reason)
        return self._decide(0, "camera_info", "rejected", reason)

    def propose(self, proposal: IntentProposal, now: float) -> list[Frame]:
        out = self.expire(now)
        try:
            out += self._propose(proposal, now)
        except Rejected as exc:
            out.append(self._decide(_turn_of(proposal), proposal.verb, "rejected", str(exc), proposal=proposal))
        except Exception as exc:        # noqa: BLE001 - fail closed: what the gate cannot check does not pass
            log.exception("the gate could not check a proposal")
            out.append(self._decide(_turn_of(proposal), proposal.verb, "rejected",
                                    f"the gate could not check it ({type(exc).__name__}); nothing was done"))
        return out

    def confirm(self, answer: Confirmation, now: float) -> list[Frame]:
        out = self.expire(now)
        pending = self.pending
        if pending is None:
            return out
        verb, turn = pending.intent["verb"], _turn_of(answer)
        heard = answer.text if isinstance(answer.text, str) else ""
        if answer.source not in AUTHORISED_SOURCES:
            return out + [self._decide(turn, verb, "rejected", f"an answer from {shown(answer.source)}: only the "
                                       "user's voice or typed text can answer", intent=pending.intent)]
        if answer.question != pending.question:
            return out + [self._decide(turn, verb, "rejected", "an answer to another question; asked again: "
                                       + self._question_text(pending), intent=pending.intent)]
        accepted = answer.accepted is True and answer_of(heard) is True
        if answer.accepted is True and not accepted:
            return out + [self._decide(turn, verb, "rejected", f"{shown(heard)} is not a plain yes",
                                       intent=pending.intent)]
        self._take_pending()
        if not accepted:
            return out + [self._decide(turn, verb, "declined", f"the user said {shown(heard)}", intent=pending.intent)]
        intent = ActionIntent(**{**pending.intent, "turn": turn})
        self._sent.append(now)
        self._last[(verb, _label(intent.target))] = now
        return out + [self._decide(turn, verb, "confirmed", f"the user said {shown(heard)}",
                                   intent=pending.intent), intent]

    def stop(self, frame: Frame, source: str, reason: str, now: float) -> list[Frame]:
        """A stop from elsewhere (the stop path, e-stop): cancel what is pending, audit it."""
        self._stopped_through = max([self._stopped_through, *self._turns])
        out = self._cancel_pending(0, f"stop ({source})")        # turn 0: not dropped with the stopped turn
        if isinstance(frame, ActionIntent):
            out.append(self._decide(frame.turn, "stop", "accepted", f"stop from {source}: {reason}".strip(),
                                    intent=_fields(frame)))
            out.append(frame)
        return out

    def foreign(self, intent: ActionIntent) -> list[Frame]:
        return [self._decide(_turn_of(intent), intent.verb, "rejected",
                             "an action intent that did not come through the gate", intent=_fields(intent))]

    def expire(self, now: float) -> list[Frame]:
        if self.pending is None or now <= self.pending.deadline:
            return []
        pending = self._take_pending()
        return [self._decide(pending.asked_turn, pending.intent["verb"], "expired",
                             f"no yes within {self.confirm_timeout_s:g} s", intent=pending.intent)]

    # ---- the checks ------------------------------------------------------------------------

    def _propose(self, proposal: IntentProposal, now: float) -> list[Frame]:
        skill = verb_of(proposal.verb, self.skills)
        if not _valid_turn(proposal.turn):
            raise Rejected(f"turn {shown(proposal.turn)} is not a turn id")
        if skill.kind == "stop":
            self._stopped_through = max(self._stopped_through, proposal.turn)
            return self._stop_now(proposal.turn, _source(proposal), "the brain proposed stop", now)
        if proposal.turn <= self._stopped_through:
            raise Rejected("the robot was stopped: nothing more from that reply")
        return self._check_and_route(skill, proposal, now)

    def _check_and_route(self, skill: Skill, proposal: IntentProposal, now: float) -> list[Frame]:
        said = self._turns.get(proposal.turn)
        if said is None or proposal.source not in AUTHORISED_SOURCES or now - said.when > self.turn_ttl_s:
            raise Rejected("it does not come from a recent authorised user turn (typed or spoken)")
        if skill.kind == "motion" and not requests.asks_for(skill.phrases, said.text):
            raise Rejected(f"{skill.name} moves the robot or an object, and the user's words did not ask for it "
                           f"(heard {shown(said.text, 60)})")
        confidence = finite_number(proposal.confidence, "confidence")
        if not 0.0 <= confidence <= 1.0:
            raise Rejected(f"confidence {confidence:g} is outside 0..1")
        params, clamped = check_params(skill, proposal.params)
        target, question = self._target(skill, proposal, said)
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
            out = self._cancel_pending(proposal.turn, "a newer risky intent replaced it: asked anew")
            self.pending = _Pending(intent, now + self.confirm_timeout_s, proposal.turn, next(self._questions))
            self.board.set(self.pending.question)
            question = self._question_text(self.pending)
            return out + [self._decide(proposal.turn, skill.name, "awaiting_confirmation",
                                       f"{skill.name} is risky: asked the user" + _clamp_note(clamped), intent=intent),
                          ReplySentence(text=question, index=1000, turn=proposal.turn)]
        self._sent.append(now)
        self._last[(skill.name, label)] = now
        decision = "clamped" if clamped else "accepted"
        return [self._decide(proposal.turn, skill.name, decision, "; ".join(clamped) or "passed every check",
                             intent=intent),
                ActionIntent(turn=proposal.turn, **intent)]

    def _target(self, skill: Skill, proposal: IntentProposal, said: _Said) -> tuple[dict | None, str]:
        """(target, clarifying question or ""). Raises Rejected for targets that must not be acted on."""
        raw = proposal.target
        size = image_size(proposal.image_size)
        if skill.target == "none":
            if raw not in ("", None) or proposal.point is not None:
                raise Rejected(f"{skill.name} takes no target, got {shown(raw)}")
            return None, ""
        label = clean_text(raw if raw is not None else "", "target")
        if not label:
            if skill.target == "required":
                return None, f"What should I {skill.name.replace('_', ' ')}?"
            return None, ""
        self._check_named(label, said, proposal.turn)
        if size is None:
            return None, f"I can't see the {label} right now. Can you show me?"
        point = check_point(proposal.point)
        if point is None:
            if self.require_point:
                return None, f"Where is the {label}? I can't find it in view."
            return {"label": label}, ""
        return self._locate(label, point, size), ""

    def _check_named(self, label: str, said: _Said, turn: int) -> None:
        """Rejected unless the user named `label` (this turn or the one before), or it is the user and they spoke
        of themselves. "it", "that", "there", "you" alone name nothing."""
        earlier = [n for n in self._turns if n < turn]
        texts = [said.text] + ([self._turns[max(earlier)].text] if earlier else [])
        wanted = phrases.normalise(label)
        content = [w for w in phrases.tokens(wanted) if w not in FILLER]
        if wanted in USER_LABELS or (content and all(w in USER_LABELS for w in content)):
            if any(phrases.mentions_user(text) for text in texts) or all(_named(w, texts) for w in content):
                return
            raise Rejected(f"a gesture at the user needs the user to speak of themselves (me, I, my); "
                           f"target {shown(label)}")
        named = [w for w in content if w not in DEICTIC]
        if not named:
            raise Rejected(f"{shown(label)} names nothing: a target must be named in the user's words")
        missing = [w for w in named if not _named(w, texts)]
        if missing:
            raise Rejected(f"the user did not name {shown(label)} (text in the camera view is not an instruction)")

    def _locate(self, label: str, point: tuple[float, float], size: tuple[int, int]) -> dict[str, Any]:
        width, height = size
        u, v = point[0] * width, point[1] * height
        target: dict[str, Any] = {"label": label, "point": [round(u, 1), round(v, 1)],
                                  "point_norm": [round(point[0], 4), round(point[1], 4)], "image_size": [width, height]}
        if self.camera is not None:
            direction = [float(x) for x in self.camera.scaled_to(width, height).ray(u, v)]
            if not all(map(math.isfinite, direction)):
                log.error("the camera model gave no ray through (%.1f, %.1f): intent sent without rays", u, v)
                return target
            target["ray_camera"] = [round(x, 5) for x in direction]
            if self.extrinsic is not None:
                origin, base = self.extrinsic.ray_to_base(direction)
                target["ray_base"] = {"frame": self.extrinsic.base_frame,
                                      "origin": [round(float(x), 4) for x in origin],
                                      "direction": [round(float(x), 5) for x in base]}
        return target

    # ---- decisions -------------------------------------------------------------------------

    def _question_text(self, pending: _Pending) -> str:
        skill = self.skills[pending.intent["verb"]]
        return f"Do you want me to {_phrase(skill, pending.intent['target'])}? Please say yes or no."

    def _stop_now(self, turn: int, source: str, reason: str, now: float) -> list[Frame]:
        out = self._cancel_pending(turn, "stop")
        intent = {"verb": "stop", "params": {}, "target": None, "confidence": 1.0, "priority": STOP_PRIORITY,
                  "source": source}
        out.append(self._decide(turn, "stop", "accepted", f"stop always passes ({reason})", intent=intent))
        out.append(ActionIntent(turn=turn, **intent))
        return out

    def _cancel_pending(self, turn: int, reason: str) -> list[Frame]:
        pending = self._take_pending()
        if pending is None:
            return []
        return [self._decide(turn, pending.intent["verb"], "cancelled", reason, intent=pending.intent)]

    def _take_pending(self) -> _Pending | None:
        """The pending intent, no longer pending: turn taking stops treating a yes as an answer."""
        pending, self.pending = self.pending, None
        self.board.set(0)
        return pending

    def _decide(self, turn: int, verb: Any, decision: str, reason: str, *, intent: dict | None = None,
                proposal: IntentProposal | None = None) -> GateDecision:
        verb_text = verb if isinstance(verb, str) and len(verb) <= 40 and verb.isprintable() else shown(verb)
        self.counts[decision] = self.counts.get(decision, 0) + 1
        record = dict(intent or {})
        question = self.pending.question if self.pending is not None else 0
        if self.audit is not None:
            entry = {"turn": turn, "verb": verb_text, "decision": decision, "reason": reason, "intent": record}
            if proposal is not None:
                entry["proposal"] = {"verb": shown(proposal.verb, 80), "target": shown(proposal.target, 80),
                                     "params": shown(proposal.params, 160), "point": shown(proposal.point, 60),
                                     "source": shown(proposal.source, 40)}
            try:
                self.audit.write(entry)
            except Exception:           # noqa: BLE001 - a full disk must not turn a decision into a crash
                log.exception("could not write the gate's audit log")
        return GateDecision(turn=turn, verb=verb_text, decision=decision, reason=reason, intent=record,
                            question=question)


def _turn_of(frame: Frame) -> int:
    return frame.turn if _valid_turn(frame.turn) else 0


def _source(proposal: IntentProposal) -> str:
    return proposal.source if proposal.source in AUTHORISED_SOURCES else "brain"


def _named(word: str, texts: list[str]) -> bool:
    """Whether `word` (of a target label) is among the user's words: a whole word in Latin script (a plural
    s or es aside), a substring of the text in Chinese or Korean."""
    if phrases.is_cjk(word):
        return any(phrases.compact(word) in phrases.compact(text) for text in texts)
    forms = {word, word + "s", word + "es", word[:-1] if word.endswith("s") else word,
             word[:-2] if word.endswith("es") else word}
    return any(forms & set(phrases.tokens(text)) for text in texts)


def _label(target: dict | None) -> str:
    return target.get("label", "") if target else ""


def _phrase(skill: Skill, target: dict | None) -> str:
    action = skill.name.replace("_", " ")
    return f"{action} the {target['label']}" if target and target.get("label") else action


def _clamp_note(clamped: list[str]) -> str:
    return f" (clamped: {'; '.join(clamped)})" if clamped else ""


def _fields(intent: ActionIntent) -> dict[str, Any]:
    return {"verb": shown(intent.verb) if not isinstance(intent.verb, str) else intent.verb[:40],
            "params": dict(intent.params) if isinstance(intent.params, dict) else {},
            "target": intent.target if isinstance(intent.target, dict) else None,
            "confidence": intent.confidence, "priority": intent.priority, "source": shown(intent.source, 40)}


def is_stop_intent(frame: Frame) -> bool:
    """A stop intent from the stop path, the e-stop or typed/heard stop words (they pass the gate at once)."""
    return isinstance(frame, ActionIntent) and frame.verb == "stop" and isinstance(frame.priority, int) \
        and not isinstance(frame.priority, bool) and frame.priority >= STOP_PRIORITY


def clean_stop(frame: ActionIntent) -> ActionIntent:
    """The stop intent as it leaves the gate: only the fields a stop has, each of a sane type and size."""
    params = frame.params if isinstance(frame.params, dict) else {}
    reason = params.get("reason", "")
    source = frame.source if isinstance(frame.source, str) and frame.source.isprintable() else "unknown"
    return ActionIntent(turn=_turn_of(frame), verb="stop", params={"reason": reason[:200]} if isinstance(
        reason, str) and reason else {}, target=None, confidence=1.0, priority=STOP_PRIORITY, source=source[:40])


class IntentGate(Stage):
    """The gate as a pipeline stage. Decisions, intents and the gate's questions go on downstream.

    It fails closed: `process` never raises (what it cannot decide is rejected), and should the stage still be
    taken out of service (it could not open, or failed again and again), the pipeline does not route around it
    but calls `refuse`, which lets no action out but stop and says so.
    """

    accepts = (IntentProposal, ActionIntent, Turn, Confirmation, CameraInfoFrame)
    fail_closed = True

    def __init__(self, gate: Gate, name: str = "intent_gate", clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.gate = gate
        self.clock = clock
        self._refused_turns: set[int] = set()

    def process(self, frame: Frame) -> Iterable[Frame]:
        try:
            out = self._decide(frame)
        except Exception as exc:        # noqa: BLE001 - fail closed: nothing that was not decided passes
            log.exception("the gate could not handle a %s frame", frame.kind)
            out = [] if isinstance(frame, (IntentProposal, ActionIntent, Confirmation)) else [frame]
            out.append(GateDecision(turn=_turn_of(frame), verb=frame.kind, decision="rejected",
                                    reason=f"the gate could not handle it ({type(exc).__name__}); nothing was done"))
        yield from out

    def _decide(self, frame: Frame) -> list[Frame]:
        now = self.clock()
        gate = self.gate
        if isinstance(frame, IntentProposal):
            return [frame, *gate.propose(frame, now)]
        if isinstance(frame, ActionIntent):
            if is_stop_intent(frame):
                stop = clean_stop(frame)
                return gate.stop(stop, stop.source, str(stop.params.get("reason", "")), now)
            return gate.foreign(frame)
        if isinstance(frame, Stop):
            return gate.stop(frame, str(frame.source or "stop")[:40], str(frame.reason)[:200], now)
        if isinstance(frame, Confirmation):
            return [frame, *gate.confirm(frame, now)]
        if isinstance(frame, Turn):
            gate.authorise(frame, now)
            return [*gate.expire(now), frame]
        if isinstance(frame, CameraInfoFrame):
            rejected = gate.camera_info(frame)
            return [frame] if rejected is None else [rejected, frame]
        return [frame]

    def refuse(self, frame: Frame) -> Iterable[Frame]:
        """While out of service: stop intents pass, every other action is refused, and the robot says it cannot act."""
        if is_stop_intent(frame):
            yield clean_stop(frame)
            return
        if not isinstance(frame, (IntentProposal, ActionIntent, Confirmation)):
            yield frame
            return
        turn = _turn_of(frame)
        yield GateDecision(turn=turn, verb=frame.verb if isinstance(getattr(frame, "verb", None), str) else frame.kind,
                           decision="rejected", reason="the safety gate is out of service: no action until it is "
                                                      "restarted (see diagnostics)")
        if isinstance(frame, IntentProposal) and turn not in self._refused_turns:
            self._refused_turns.add(turn)
            yield ReplySentence(text=CANNOT_ACT, index=1000, turn=turn)

    def close(self) -> None:
        try:
            for frame in self.gate.expire(math.inf):
                self.ctx.log.info("at shutdown: %s %s (%s)", frame.verb, frame.decision, frame.reason)
        finally:
            if self.gate.audit is not None:
                self.gate.audit.close()
