"""rosbag2 folders (sqlite3 and mcap) in and out, through `rosbags` (no ROS install needed).

`BagSource(path, config)` turns the messages robot_brain understands into frames, in bag order:
camera Image / CompressedImage → ImageFrame (BGR), CameraInfo → CameraInfoFrame, audio_common_msgs
AudioData / AudioDataStamped (16-bit PCM) → AudioChunk, String on the text topic → TextInput,
Empty on the stop topic → Stop. Anything it cannot use is skipped and counted in `source.report`,
never raised: a robot's recording is often imperfect.

`BagRecorder(path)` writes what the robot heard, said and intended as std_msgs/String topics.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


from . import messages
from .config import Config, TopicsConfig
from .frames import (ActionIntent, AudioChunk, CameraInfoFrame, Frame, ImageFrame, ReplySentence, Stop, TextInput,
                     Transcript)

log = logging.getLogger(__name__)

#: .msg definitions of types rosbags' typestore lacks (ros-drivers/audio_common ros2 branch, ros4hri).
CUSTOM_MSGS = {
    "audio_common_msgs/msg/AudioData": "uint8[] data\n",
    "audio_common_msgs/msg/AudioDataStamped": "std_msgs/Header header\naudio_common_msgs/AudioData audio\n",
    "audio_common_msgs/msg/AudioInfo": ("uint8 channels\nuint32 sample_rate\nstring sample_format\n"
                                        "uint32 bitrate\nstring coding_format\n"),
    "hri_msgs/msg/LiveSpeech": ("std_msgs/Header header\nstring incremental\nstring final\n"
                                "float64 confidence\nstring language\n"),
}

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
AUDIO_DATA = "audio_common_msgs/msg/AudioData"
AUDIO_DATA_STAMPED = "audio_common_msgs/msg/AudioDataStamped"
AUDIO_INFO = "audio_common_msgs/msg/AudioInfo"
STRING = "std_msgs/msg/String"
EMPTY = "std_msgs/msg/Empty"


class BagError(RuntimeError):
    """The bag cannot be opened at all (missing, not a rosbag2 folder, unreadable metadata)."""


def make_typestore(extra: dict[str, str] | None = None):
    """The ROS 2 Jazzy typestore plus the custom message types robot_brain reads and writes."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(Stores.ROS2_JAZZY)
    types: dict = {}
    for name, text in {**CUSTOM_MSGS, **(extra or {})}.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


@dataclass
class BagReport:
    """What was read, and what was skipped and why."""
    read: Counter = field(default_factory=Counter)        # topic → messages turned into frames
    skipped: Counter = field(default_factory=Counter)     # (topic, reason) → count
    ignored_topics: dict[str, str] = field(default_factory=dict)  # topic → type, not used by the pipeline
    error: str = ""                                       # set when reading stopped early

    def skip(self, topic: str, reason: str) -> None:
        if not self.skipped[(topic, reason)]:
            log.warning("skipping message(s) on %s: %s", topic, reason)
        self.skipped[(topic, reason)] += 1

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        lines = [f"read {sum(self.read.values())} messages: "
                 + (", ".join(f"{t} {n}" for t, n in sorted(self.read.items())) or "none")]
        for (topic, reason), n in sorted(self.skipped.items()):
            lines.append(f"skipped {n} on {topic}: {reason}")
        if self.ignored_topics:
            lines.append("ignored topics: " + ", ".join(f"{t} ({m})" for t, m in sorted(self.ignored_topics.items())))
        if self.error:
            lines.append(f"reading stopped early: {self.error}")
        return "\n".join(lines)


class BagSource:
    """Frames from a rosbag2 folder, in recording order. Iterate it; then read `report`."""

    def __init__(self, path: str | Path, config: Config | None = None) -> None:
        self.path = Path(path)
        self.config = config or Config()
        self.report = BagReport()
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag (expected a rosbag2 folder with metadata.yaml)")
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            raise BagError(f"{self.path}: not a rosbag2 folder (metadata.yaml is missing)")
        audio = self.config.audio
        self._audio = messages.AudioDecoder(audio.input_sample_rate, audio.input_channels, audio.sample_rate,
                                            name=f"bag audio {self.path}")

    def __len__(self) -> int:
        """Messages on the topics robot_brain reads (from the bag's metadata)."""
        with self._open() as reader:
            return sum(c.msgcount for c in reader.connections if c.topic in self._handlers())

    def _open(self):
        from rosbags.rosbag2 import Reader
        try:
            reader = Reader(self.path)
            reader.open()
        except Exception as exc:
            raise BagError(f"{self.path}: cannot open bag: {exc}") from None
        return _Closing(reader)

    def _handlers(self) -> dict[str, tuple]:
        t: TopicsConfig = self.config.topics
        return {
            t.image: (IMAGE, self._image),
            t.compressed_image: (COMPRESSED_IMAGE, self._compressed_image),
            t.camera_info: (CAMERA_INFO, self._camera_info),
            t.audio: ((AUDIO_DATA, AUDIO_DATA_STAMPED), self._audio_chunk),
            t.audio_info: (AUDIO_INFO, self._audio_info),
            t.text_in: (STRING, self._text),
            t.stop: (EMPTY, self._stop),
        }

    def __iter__(self) -> Iterator[Frame]:
        handlers = self._handlers()
        with self._open() as reader:
            store = self._typestore_for(reader.connections)
            wanted = []
            for conn in reader.connections:
                handler = handlers.get(conn.topic)
                if handler is None:
                    self.report.ignored_topics[conn.topic] = conn.msgtype
                    continue
                expected, _ = handler
                if conn.msgtype not in (expected if isinstance(expected, tuple) else (expected,)):
                    self.report.skipped[(conn.topic, f"unexpected type {conn.msgtype}, expected {expected}")] \
                        += conn.msgcount
                    log.warning("skipping %s: type %s, expected %s", conn.topic, conn.msgtype, expected)
                    continue
                wanted.append(conn)
            stream = reader.messages(connections=wanted)
            while True:
                try:
                    conn, ns, raw = next(stream)
                except StopIteration:
                    break
                except Exception as exc:  # a damaged file: keep what was read
                    self.report.error = f"{type(exc).__name__}: {exc}"
                    log.error("bag %s: reading stopped early: %s", self.path, self.report.error)
                    break
                try:
                    msg = store.deserialize_cdr(bytes(raw), conn.msgtype)
                except Exception as exc:
                    self.report.skip(conn.topic, f"truncated or corrupt message ({type(exc).__name__})")
                    continue
                try:
                    frame = handlers[conn.topic][1](msg, ns / 1e9, conn.msgtype)
                except messages.Unusable as skip:
                    self.report.skip(conn.topic, str(skip))
                    continue
                self.report.read[conn.topic] += 1
                if frame is not None:
                    yield frame

    def _typestore_for(self, connections):
        """Prefer the bag's own definitions of audio_common types (two packages share that name)."""
        extra = {conn.msgtype: conn.msgdef.data for conn in connections
                 if conn.msgtype.startswith("audio_common_msgs/") and getattr(conn.msgdef, "data", "")}
        try:
            return make_typestore(extra)
        except Exception as exc:
            log.warning("bag %s: its audio message definitions do not parse (%s); using the standard ones",
                        self.path, exc)
            return make_typestore()

    # ---- message → frame ----

    def _image(self, msg, stamp: float, _msgtype: str) -> ImageFrame:
        return messages.image_frame(msg, stamp)

    def _compressed_image(self, msg, stamp: float, _msgtype: str) -> ImageFrame:
        return messages.compressed_image_frame(msg, stamp)

    def _camera_info(self, msg, stamp: float, _msgtype: str) -> CameraInfoFrame:
        return messages.camera_info_frame(msg, stamp)

    def _audio_info(self, msg, _stamp: float, _msgtype: str) -> None:
        self._audio.info(msg)

    def _audio_chunk(self, msg, stamp: float, _msgtype: str) -> AudioChunk | None:
        return self._audio(messages.audio_bytes(msg), stamp)

    def _text(self, msg, stamp: float, _msgtype: str) -> TextInput:
        return messages.text_input(msg, stamp)

    def _stop(self, _msg, _stamp: float, _msgtype: str) -> Stop:
        return messages.estop()


class _Closing:
    def __init__(self, reader) -> None:
        self.reader = reader

    def __enter__(self):
        return self.reader

    def __exit__(self, *exc) -> None:
        self.reader.close()


class BagWriter:
    """A thin rosbag2 writer: `add(topic, msgtype)` once, then `write(topic, stamp_s, msg)`."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        plugins = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise ValueError(f"storage must be one of {', '.join(plugins)}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists; choose a new output folder")
        self.store = make_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=plugins[storage])
        self._writer.open()
        self._connections: dict[str, Any] = {}

    @property
    def types(self):
        return self.store.types

    def add(self, topic: str, msgtype: str) -> None:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.store)

    def write(self, topic: str, stamp_s: float, msg) -> None:
        self.write_raw(topic, stamp_s, self.store.serialize_cdr(msg, self._connections[topic].msgtype))

    def write_raw(self, topic: str, stamp_s: float, data: bytes) -> None:
        """Write already serialised (CDR) bytes, e.g. a message copied from another bag."""
        self._writer.write(self._connections[topic], int(round(stamp_s * 1e9)), data)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def header(store, stamp_s: float, frame_id: str):
    """A std_msgs/Header for `stamp_s` seconds."""
    T = store.types
    ns = int(round(stamp_s * 1e9))
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                    frame_id=frame_id)


class BagRecorder:
    """Records the pipeline's output (heard, said, intended) as std_msgs/String topics in a new bag.

    Call it from any thread (it is a pipeline sink); messages are written by `flush()` and `close()`
    in the thread that created it, because the sqlite3 storage is bound to its creating thread.
    """

    def __init__(self, path: str | Path, topics: TopicsConfig | None = None, storage: str = "mcap") -> None:
        self.topics = topics or TopicsConfig()
        self._bag = BagWriter(path, storage)
        self._stop_topic = self.topics.stop + "_events"
        for topic in (self.topics.transcript, self.topics.reply, self.topics.intents, self._stop_topic):
            self._bag.add(topic, STRING)
        self._pending: list[tuple[str, float, str]] = []
        self._lock = threading.Lock()
        self.written = 0

    def __call__(self, frame: Frame, stamp_s: float) -> None:
        if isinstance(frame, Transcript) and frame.final:
            item = (self.topics.transcript, frame.text)
        elif isinstance(frame, ReplySentence):
            item = (self.topics.reply, frame.text)
        elif isinstance(frame, ActionIntent):
            item = (self.topics.intents, json.dumps(intent_payload(frame)))
        elif isinstance(frame, Stop):
            item = (self._stop_topic, json.dumps({"source": frame.source, "reason": frame.reason}))
        else:
            return
        with self._lock:
            self._pending.append((item[0], stamp_s, item[1]))

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for topic, stamp_s, text in pending:
            self._bag.write(topic, stamp_s, self._bag.types[STRING](data=text))
            self.written += 1

    def close(self) -> None:
        self.flush()
        self._bag.close()


# hri_actions_msgs/Intent's modality constants, by the robot_brain source that caused the intent.
MODALITIES = {"voice": "__modality_speech__", "typed": "__modality_other__", "estop": "__modality_other__",
              "brain": "__modality_internal__"}
UNKNOWN_AGENT = "__unknown_agent__"         # hri_actions_msgs/Intent.source: the user is not identified


def intent_payload(intent: ActionIntent) -> dict:
    """An intent in the field layout of hri_actions_msgs/Intent (data as a JSON-able dict), plus the turn."""
    return {"intent": intent.verb, "data": {**intent.params, **({"target": intent.target} if intent.target else {})},
            "source": UNKNOWN_AGENT, "modality": MODALITIES.get(intent.source, "__modality_other__"),
            "priority": intent.priority, "confidence": intent.confidence, "turn": intent.turn,
            "input": intent.source}
