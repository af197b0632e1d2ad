"""The message vocabulary: every stage exchanges only these frames.

Frames are immutable. Each carries `t`, the monotonic time it was made (for latency), and `turn`,
the id of the user turn it belongs to (0 = not tied to a turn: camera frames, raw audio).
Sensor frames also carry `stamp`, the sensor clock (ROS header / bag time) in seconds.

Control frames (Interrupt, Stop, Shutdown) overtake data frames in every queue.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

_frame = dataclass(frozen=True, kw_only=True, slots=True)
MAX_TURN = 2 ** 53          # the largest turn id (exact in every JSON reader); above it a forged "infinite" one


def _readonly(array: np.ndarray) -> np.ndarray:
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


@_frame
class Frame:
    turn: int = 0
    t: float = field(default_factory=time.monotonic)

    #: Queues keep only the newest frame of a class with this flag ("latest wins").
    latest_wins: ClassVar[bool] = False

    @property
    def kind(self) -> str:
        return type(self).__name__


# ---- control frames: overtake data ----------------------------------------------------------

@_frame
class ControlFrame(Frame):
    reason: str = ""


@_frame
class Interrupt(ControlFrame):
    """Cancel every turn up to and including `turn` (0: up to the newest turn)."""


@_frame
class Stop(ControlFrame):
    """Stop everything now: cut speech, cancel the turn, emit a stop intent."""
    source: str = ""            # "voice", "typed", "estop", ...


@_frame
class Shutdown(ControlFrame):
    """Sent by the pipeline to every stage when it closes."""


# ---- sensor frames ---------------------------------------------------------------------------

@_frame
class ImageFrame(Frame):
    image: np.ndarray           # H×W×3 uint8 BGR (OpenCV order) or H×W mono8
    stamp: float = 0.0
    frame_id: str = "camera"
    latest_wins: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.image, np.ndarray) or self.image.dtype != np.uint8 or self.image.ndim not in (2, 3):
            raise ValueError(f"ImageFrame.image must be a uint8 H×W or H×W×3 array, got {_describe(self.image)}")
        object.__setattr__(self, "image", _readonly(self.image))


@_frame
class CameraInfoFrame(Frame):
    width: int
    height: int
    k: tuple[float, ...]        # 3×3 intrinsics, row-major
    d: tuple[float, ...] = ()   # distortion coefficients
    distortion_model: str = "plumb_bob"
    stamp: float = 0.0
    frame_id: str = "camera"
    latest_wins: ClassVar[bool] = True


@_frame
class AudioChunk(Frame):
    samples: np.ndarray         # float32 mono in [-1, 1]
    sample_rate: int = 16000
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.samples, np.ndarray) or self.samples.dtype != np.float32 or self.samples.ndim != 1:
            raise ValueError(f"AudioChunk.samples must be a 1-D float32 array, got {_describe(self.samples)}")
        if self.sample_rate <= 0:
            raise ValueError(f"AudioChunk.sample_rate must be positive, got {self.sample_rate}")
        object.__setattr__(self, "samples", _readonly(self.samples))

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@_frame
class TextInput(Frame):
    """Typed user input (keyboard, a ROS String topic)."""
    text: str
    stamp: float = 0.0


# ---- hearing ---------------------------------------------------------------------------------

@_frame
class SpeechStarted(Frame):
    stamp: float = 0.0


@_frame
class SpeechEnded(Frame):
    audio: np.ndarray           # the turn's speech, float32 mono, pre-roll included
    sample_rate: int = 16000
    stamp: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "audio", _readonly(np.asarray(self.audio, dtype=np.float32)))


@_frame
class SpeechPaused(Frame):
    """The user has been silent a moment but the turn is not over: the speech so far, exactly as the SpeechEnded
    that follows would carry it if they say no more, so that recognition can start early. Newest wins."""
    latest_wins: ClassVar[bool] = True
    audio: np.ndarray
    sample_rate: int = 16000
    stamp: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "audio", _readonly(np.asarray(self.audio, dtype=np.float32)))


@_frame
class Transcript(Frame):
    text: str
    final: bool = True
    language: str = ""
    confidence: float = 1.0


# ---- thinking and answering ------------------------------------------------------------------

@_frame
class Turn(Frame):
    """One authorised user turn: what the brain answers."""
    text: str
    source: str = "voice"       # "voice" or "typed"
    language: str = ""


@_frame
class ReplyDelta(Frame):
    text: str


@_frame
class ReplySentence(Frame):
    text: str
    index: int = 0


@_frame
class ReplyDone(Frame):
    text: str = ""              # the whole reply


@_frame
class SpeechAudio(Frame):
    samples: np.ndarray         # float32 mono
    sample_rate: int
    sentence: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", _readonly(np.asarray(self.samples, dtype=np.float32)))


@_frame
class Speaking(Frame):
    """The robot's voice started (active=True) or stopped playing."""
    active: bool


@_frame
class ActionIntent(Frame):
    verb: str
    params: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    confidence: float = 1.0
    priority: int = 0
    source: str = ""            # modality that caused it: "voice", "typed", ...


@_frame
class IntentProposal(Frame):
    """An action the brain proposes. Only the safety gate turns a proposal into an ActionIntent."""
    verb: Any                   # the model's output, unchecked: the gate checks every field
    params: Any = field(default_factory=dict)
    target: Any = ""
    point: Any = None           # where the target is in the image, [x, y] as fractions of width and height
    confidence: Any = 1.0
    source: str = ""            # modality of the turn that led to it: "voice", "typed"
    image_size: tuple[int, int] | None = None   # (width, height) of the frame the brain looked at; None: no vision


@_frame
class Confirmation(Frame):
    """The user's yes or no to a question the safety gate asked; `turn` is the turn of that answer, `question`
    the id of the question that was open when the user answered (it releases that question's intent only)."""
    accepted: bool
    text: str = ""
    source: str = "voice"
    question: int = 0


@_frame
class GateDecision(Frame):
    """What the safety gate did with one proposal, and why (also written to the audit log)."""
    verb: str
    decision: str               # accepted, clamped, rejected, awaiting_confirmation, confirmed, declined,
                                # expired, cancelled, clarify
    reason: str = ""
    intent: dict[str, Any] = field(default_factory=dict)
    question: int = 0           # the question the gate waits on a yes for after this decision (0: none)


@_frame
class StageError(Frame):
    stage: str
    error: str
    fatal: bool = False         # True: the stage was taken out of service (unhealthy)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray(dtype={value.dtype}, shape={value.shape})"
    return type(value).__name__
