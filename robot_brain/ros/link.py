"""The authenticated link between the nodes of a split deployment (no rclpy here: tested and red-teamed without DDS).

A link message is JSON: {"v": 1, "body": "<frame JSON>", "mac": "<hex HMAC-SHA256 of body's UTF-8 bytes>"}.
The body holds the frame (robot_brain.ros.codec) and who sent it: the node's name, its role, a random id
of the sending process (`boot`), a sequence number that grows by one per message, and the wall time.

A receiver (`LinkGuard.accept`) drops, and counts by reason:
- unsigned or wrongly signed messages (every node reads one key file, `ros.link_key_file`);
- a kind the sender's role may not send (`MAY_SEND`, the one table of who sends what);
- replays: a sequence number not above the last one seen from that process, an earlier process of a
  sender that has since restarted, a wall time further than `max_age_s` from this computer's clock;
- a field of the wrong type or out of bounds (codec.FIELDS), a turn id above 2**53 or far ahead of
  every turn this node has seen. A Stop or Interrupt is never dropped for its turn: a watermark ahead of
  what this node has seen is cut down to it (it cancels turns that exist, not future ones).

`python -m robot_brain.ros.link --make-key PATH` writes a new key file (the launch file does it at first launch).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import secrets
import stat
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..frames import (ActionIntent, Confirmation, Frame, GateDecision, IntentProposal, Interrupt, ReplyDone,
                      ReplySentence, Speaking, Stop, Turn)
from . import codec

VERSION = 1
KEY_BYTES = 32                      # the least a key file may hold
KEY_ENV = "ROBOT_BRAIN_LINK_KEY_FILE"
MAX_MESSAGE = 65536                 # characters of one link message
MAX_TURN_AHEAD = 1000               # how far a frame's turn may run ahead of every turn this node has seen
MAX_SENDERS = 64                    # sender processes remembered for replay checks

#: The frame kinds each role of the split deployment sends on the link; receivers drop any other.
#: asr hosts turn taking (turns, yes/no answers, spoken and typed stops); the brain proposes and talks; the
#: gate decides, sends the intents it let through and its own questions; tts says when the voice plays.
#: A Stop reaching the gate's node becomes that node's stop intent there: no other role sends intents.
MAY_SEND: dict[str, frozenset[type[Frame]]] = {
    "asr": frozenset({Turn, Confirmation, Stop, Interrupt}),
    "brain": frozenset({IntentProposal, ReplySentence, ReplyDone, Stop, Interrupt}),
    "gate": frozenset({ActionIntent, GateDecision, ReplySentence, Stop, Interrupt}),
    "tts": frozenset({Speaking, Stop, Interrupt}),
}

# Why a message was dropped: the first word(s) of every reason (the part before ": "), counted apart.
TOO_LONG, MALFORMED, UNSIGNED, BAD_SIGNATURE = "too long", "malformed", "unsigned", "bad signature"
BAD_HEADER, WRONG_ROLE, REPLAYED, STALE = "bad header", "wrong role", "replayed", "stale"
BAD_FIELD, TURN_RANGE = "bad field", "turn out of range"
OWN = "own frame"                   # this node's own message coming back: ignored, not a rejection


class LinkKeyError(ValueError):
    """The link key file is missing, unreadable or too short (the message says what to do)."""


def default_key_path() -> Path:
    """Where the launch file keeps the key: $ROS_HOME/robot_brain/link.key (ROS_HOME defaults to ~/.ros)."""
    ros_home = os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")
    return Path(ros_home) / "robot_brain" / "link.key"


def key_path(configured: str = "") -> Path | None:
    """The key file to use: the configured path, else $ROBOT_BRAIN_LINK_KEY_FILE, else None."""
    path = configured or os.environ.get(KEY_ENV, "")
    return Path(os.path.expanduser(path)) if path else None


def make_key(path: str | os.PathLike) -> bool:
    """Write a new random key (mode 0600) at `path` unless a file is there already. True when it wrote one.

    Atomic: the key is written to a temporary file and linked into place, so nodes or launches racing to
    create it all end up reading the same key.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def load_key(path: str | os.PathLike | None, *, create: bool = False) -> bytes:
    """The key in `path` (its bytes, surrounding whitespace removed); `create`: make it first when missing.

    Raises LinkKeyError saying what to do when there is no path, no file, or the file is unreadable, too short
    or readable by other users.
    """
    if not path:
        raise LinkKeyError(f"the split deployment's link needs a key file: set ros.link_key_file (the launch file "
                           f"does, and creates {default_key_path()}) or ${KEY_ENV}")
    path = Path(os.path.expanduser(str(path)))
    if create:
        try:
            make_key(path)
        except OSError as exc:
            raise LinkKeyError(f"cannot create the link key file {path}: {exc.strerror or exc}; make its folder "
                               f"writable or set ros.link_key_file to another path") from None
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LinkKeyError(f"link key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise LinkKeyError(f"link key file {path} can be read by other users (mode {stat.S_IMODE(info.st_mode):o}):"
                               f" chmod 600 {path}")
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise LinkKeyError(f"link key file {path} does not exist: start the nodes with the launch file (it creates "
                           f"it), or run `python -m robot_brain.ros.link --make-key {path}`, and copy that same file "
                           f"to every computer of the split deployment") from None
    except OSError as exc:
        raise LinkKeyError(f"cannot read link key file {path}: {exc.strerror or exc}; give this user read access "
                           f"(mode 600, owned by the user running the nodes)") from None
    if len(key) < KEY_BYTES:
        raise LinkKeyError(f"link key file {path} holds {len(key)} bytes, fewer than {KEY_BYTES}: delete it and run "
                           f"`python -m robot_brain.ros.link --make-key {path}` (then copy it to every computer)")
    return key


def reason_kind(reason: str) -> str:
    """The counted part of a drop reason ("replayed: seq 4 after 9" → "replayed")."""
    return reason.split(":", 1)[0]


@dataclass
class _Sender:
    boot: str
    seq: int
    time: float
    max_turn: int


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class LinkGuard:
    """Signs what one node sends on the link and checks what it receives (thread-safe).

    role: the node's role (asr, brain, gate, tts); key: the shared key's bytes; name: the node's fully
    qualified name. max_age_s: the most a message's wall time may differ from this computer's (0: not checked;
    replays are still caught within this process's life). clock: wall time in seconds.
    """

    def __init__(self, role: str, key: bytes, name: str, *, max_age_s: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        if role not in MAY_SEND:
            raise ValueError(f"role must be one of {', '.join(MAY_SEND)}, got {role!r}")
        if not isinstance(key, (bytes, bytearray)) or len(key) < KEY_BYTES:
            raise ValueError(f"the link key must be at least {KEY_BYTES} bytes")
        self.role, self.name = role, name
        self._key = bytes(key)
        self.max_age_s = max_age_s
        self.clock = clock
        self.boot = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._seq = 0
        self._senders: OrderedDict[tuple[str, str], _Sender] = OrderedDict()
        self.seen_turn = 0                      # the highest turn this node has seen (sent, received, observed)
        self.accepted = 0
        self.rejected: Counter = Counter()      # reason_kind → count
        self.clamped = 0                        # Stop / Interrupt watermarks cut down to seen_turn

    def __repr__(self) -> str:                  # never shows the key
        return f"LinkGuard(role={self.role!r}, name={self.name!r})"

    # ---- sending -------------------------------------------------------------------------------

    def may_send(self, frame: Frame) -> bool:
        return codec.crosses_link(frame) and type(frame) in MAY_SEND[self.role]

    def sign(self, frame: Frame, turn: int | None = None) -> str:
        """The signed link message for `frame`; `turn` replaces its turn id (a Stop's resolved watermark).
        Raises codec.CodecError for a frame this role does not send."""
        if not self.may_send(frame):
            raise codec.CodecError(f"the {self.role} node does not send {frame.kind} frames on the link")
        fields = codec.frame_fields(frame, turn)
        with self._lock:
            self._seq += 1
            self.seen_turn = max(self.seen_turn, min(fields["turn"], codec.MAX_TURN))
            header = {"from": self.name, "role": self.role, "boot": self.boot, "seq": self._seq,
                      "time": round(self.clock(), 6)}
            body = json.dumps({**header, **fields}, ensure_ascii=False, allow_nan=True)
        return seal(body, self._key)

    def observe(self, turn: int) -> None:
        """A turn this node saw elsewhere (begun here, or on a local input)."""
        if type(turn) is int and 0 < turn <= codec.MAX_TURN:
            with self._lock:
                self.seen_turn = max(self.seen_turn, turn)

    # ---- receiving -----------------------------------------------------------------------------

    def accept(self, text: Any) -> tuple[Frame | None, str]:
        """(frame, "") for a message to act on; (None, reason) for one to drop. Never raises.

        reason_kind(reason) is what to count: too long, malformed, unsigned, bad signature, bad header, wrong
        role, replayed, stale, bad field, turn out of range; OWN (this node's own message) is no rejection.
        """
        try:
            frame, reason = self._accept(text)
        except Exception as exc:        # a check this code missed: still a counted drop, never a crash
            frame, reason = None, f"{MALFORMED}: {type(exc).__name__}"
        with self._lock:
            if frame is not None:
                self.accepted += 1
            elif reason != OWN:
                self.rejected[reason_kind(reason)] += 1
        return frame, reason

    def _accept(self, text: Any) -> tuple[Frame | None, str]:
        if not isinstance(text, str):
            return None, f"{MALFORMED}: not text"
        if len(text) > MAX_MESSAGE:
            return None, f"{TOO_LONG}: {len(text)} characters (at most {MAX_MESSAGE})"
        try:
            envelope = json.loads(text)
        except (ValueError, RecursionError):
            return None, f"{MALFORMED}: not JSON"
        if not isinstance(envelope, dict) or "mac" not in envelope or "body" not in envelope:
            return None, f"{UNSIGNED}: no signature"
        body, mac = envelope["body"], envelope["mac"]
        if set(envelope) != {"v", "body", "mac"} or envelope["v"] != VERSION or not isinstance(body, str) \
                or not isinstance(mac, str):
            return None, f"{MALFORMED}: not a version {VERSION} signed message"
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            return None, f"{MALFORMED}: body is not UTF-8"
        if not hmac.compare_digest(mac_of(raw, self._key), mac):
            return None, f"{BAD_SIGNATURE}: signed with another key, or altered (every node needs the same key file)"
        # ---- signed by a holder of the key from here on: the reasons may say more ----
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None, f"{MALFORMED}: the signed body is not JSON"
        if not isinstance(data, dict):
            return None, f"{MALFORMED}: the signed body is not an object"
        header = self._header(data)
        if isinstance(header, str):
            return None, f"{BAD_HEADER}: {header}"
        name, role, boot, seq, sent = header
        if name == self.name and boot == self.boot:
            return None, OWN
        kind = data.get("kind")
        cls = codec.LINK_FRAMES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            return None, f"{BAD_FIELD}: not a link frame kind: {_shown(kind)}"
        if cls not in MAY_SEND[role]:
            return None, f"{WRONG_ROLE}: the {role} node ({_shown(name)}) may not send {cls.__name__}"
        now = self.clock()
        if self.max_age_s > 0 and abs(now - sent) > self.max_age_s:
            return None, (f"{STALE}: sent {now - sent:+.1f} s from this computer's clock (over ros.link_max_age_s "
                          f"{self.max_age_s:g}; replayed, or clocks not in sync: run chrony, or set it to 0)")
        try:
            frame = codec.frame_from(data)
        except codec.CodecError as exc:
            return None, f"{BAD_FIELD}: {exc}"
        with self._lock:
            known = self._senders.get((name, role))
            if known is not None and known.boot == boot and seq <= known.seq:
                return None, f"{REPLAYED}: seq {seq} from {_shown(name)} after {known.seq}"
            if known is not None and known.boot != boot and sent <= known.time:
                return None, f"{REPLAYED}: from an earlier run of {_shown(name)}"
            if isinstance(frame, (Stop, Interrupt)):
                if frame.turn > self.seen_turn:
                    frame = dataclasses.replace(frame, turn=self.seen_turn)
                    self.clamped += 1
            elif frame.turn:
                limit = max(self.seen_turn, known.max_turn if known is not None and known.boot == boot else 0)
                fresh = known is None or known.boot != boot     # a new sender (or this node) sets its baseline
                if not fresh and frame.turn > limit + MAX_TURN_AHEAD:
                    return None, (f"{TURN_RANGE}: turn {frame.turn} is over {MAX_TURN_AHEAD} ahead of turn "
                                  f"{limit}, the newest this node has seen")
            state = known if known is not None and known.boot == boot else _Sender(boot, 0, sent, 0)
            state.seq, state.time = seq, max(state.time, sent)
            state.max_turn = max(state.max_turn, frame.turn)
            self._senders[(name, role)] = state
            self._senders.move_to_end((name, role))
            while len(self._senders) > MAX_SENDERS:
                self._senders.popitem(last=False)
            if not isinstance(frame, (Stop, Interrupt)):
                self.seen_turn = max(self.seen_turn, frame.turn)
        return frame, ""

    @staticmethod
    def _header(data: dict) -> tuple[str, str, str, int, float] | str:
        name, role, boot = data.pop("from", None), data.pop("role", None), data.pop("boot", None)
        seq, sent = data.pop("seq", None), data.pop("time", None)
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            return "no sender name"
        if role not in MAY_SEND:
            return f"unknown role {_shown(role)}"
        if not isinstance(boot, str) or not 0 < len(boot) <= 64:
            return "no process id"
        if type(seq) is not int or not 0 < seq <= codec.MAX_TURN:
            return f"sequence number {_shown(seq)} is not an integer in 1..2**53"
        if type(sent) not in (int, float) or not math.isfinite(sent) or not 0 <= sent < 1e11:
            return f"time {_shown(sent)} is not a finite wall time"
        return name, role, boot, seq, float(sent)

    # ---- reporting -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """accepted, each drop reason, and clamped stops: for diagnostics."""
        with self._lock:
            out = {"accepted": self.accepted, **{f"dropped {k}": n for k, n in sorted(self.rejected.items())}}
            if self.clamped:
                out["stop watermarks cut to the newest turn seen"] = self.clamped
            return out


def mac_of(raw: bytes, key: bytes) -> str:
    """HMAC-SHA256 of a message body's bytes, in hex."""
    return hmac.new(key, raw, hashlib.sha256).hexdigest()


def seal(body: str, key: bytes) -> str:
    """The link message that carries `body` (the frame's JSON with its sender header), signed with `key`."""
    return json.dumps({"v": VERSION, "body": body, "mac": mac_of(body.encode("utf-8", "surrogatepass"), key)},
                      ensure_ascii=False)


def made_here(role: str, frame: Frame) -> list[Frame]:
    """What a node of `role` makes itself for a frame it accepted from the link (besides pushing that frame into
    its pipeline): the gate's node turns a Stop into its own stop intent, the one its gate lets through and
    publishes (no other role sends intents)."""
    if role == "gate" and isinstance(frame, Stop):
        from ..speech.stop_path import stop_intent
        return [stop_intent(frame.source or "link", 1.0, frame.reason)]
    return []


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m robot_brain.ros.link",
        description="Make the key file the nodes of a split deployment sign the link with.")
    parser.add_argument("--make-key", metavar="PATH", required=True,
                        help=f"write a new key here (mode 600) unless one exists; e.g. {default_key_path()}")
    args = parser.parse_args(argv)
    try:
        wrote = make_key(args.make_key)
        load_key(args.make_key)
    except (OSError, LinkKeyError) as exc:
        parser.exit(1, f"error: {exc}\n")
    print(f"{'wrote a new key to' if wrote else 'kept the key already in'} {args.make_key}: copy this file (mode 600) "
          "to every computer of the split deployment")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
