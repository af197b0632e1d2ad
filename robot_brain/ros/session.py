"""Recording a live session as a rosbag2 (mcap): the messages a node took in and the ones it published.

Off unless asked for (`ros.record_dir`, `--record DIR`): it stores camera images, microphone audio,
typed text, transcripts, replies, intents and the speaking state. Messages are stored exactly as they
travelled (CDR), so the bag replays with `robot-brain replay` and `robot-brain replay --ros`.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..bags import BagWriter

log = logging.getLogger(__name__)


def type_name(cls) -> str:
    """'sensor_msgs/msg/Image' for an rclpy message class."""
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


class SessionRecorder:
    def __init__(self, path: str | Path, clock) -> None:
        self.path = Path(path)
        self._bag = BagWriter(self.path, "mcap")          # refuses an existing folder: nothing is overwritten
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self.written = 0
        self.unrecordable: set[str] = set()

    def write(self, topic: str, msg) -> None:
        from rclpy.serialization import serialize_message
        data = serialize_message(msg)
        stamp = self._clock.now().nanoseconds * 1e-9
        with self._lock:
            if self._closed:
                return
            try:
                self._bag.add(topic, type_name(type(msg)))
            except Exception as exc:       # a type the bag's type store does not know
                if topic not in self.unrecordable:
                    self.unrecordable.add(topic)
                    log.warning("cannot record %s (%s): %s", topic, type_name(type(msg)), exc)
                return
            self._bag.write_raw(topic, stamp, data)
            self.written += 1

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._bag.close()
