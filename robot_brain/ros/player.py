"""`robot-brain replay BAG --ros`: publish a bag's input messages on their live topics, with /clock.

Running robot_brain nodes (best with use_sim_time:=true) process them as if a robot sent them. The
player listens to the nodes' outputs meanwhile and reports what the robot heard, said and intended.
Messages go out as recorded (CDR bytes); audio in a type this machine cannot load is re-wrapped in
`ros.audio_type`.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from ..bags import AUDIO_DATA, AUDIO_DATA_STAMPED, BagError, make_typestore
from ..config import Config
from .node import LATCHED, RELIABLE, message_class

log = logging.getLogger(__name__)

OUTPUTS = ("transcript", "reply", "intents", "speaking")


@dataclass
class PlayResult:
    published: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)      # topic → why it was not published
    heard: list[dict] = field(default_factory=list)              # {"topic", "data", "t"} from the nodes' outputs
    subscribers_found: bool = True


def _input_topics(config: Config) -> set[str]:
    t = config.topics
    return {t.image, t.compressed_image, t.camera_info, t.audio, t.audio_info, t.text_in, t.stop}


def play(bag: str | Path, config: Config | None = None, *, speed: float = 1.0, wait_s: float = 10.0,
         linger_s: float = 5.0, progress: bool = True) -> PlayResult:
    """Publish the bag's inputs in real time × `speed`, then listen `linger_s` more for the nodes' replies."""
    from rosbags.rosbag2 import Reader
    from rosgraph_msgs.msg import Clock
    from tqdm import tqdm

    config = config or Config()
    if speed <= 0:
        raise ValueError("speed must be positive")
    try:
        reader = Reader(Path(bag))
        reader.open()
    except Exception as exc:
        raise BagError(f"{bag}: cannot open bag: {exc}") from None
    result = PlayResult()
    own_context = not rclpy.ok()
    if own_context:
        rclpy.init()
    node = Node("robot_brain_replay")
    try:
        publishers, wanted = {}, []
        for conn in reader.connections:
            if conn.topic not in _input_topics(config):
                continue
            publisher = _publisher_for(node, conn, config, result)
            if publisher is not None:
                publishers[conn.topic] = publisher
                wanted.append(conn)
        clock = node.create_publisher(Clock, "/clock", QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE))
        _listen(node, config, result)
        result.subscribers_found = _wait_for_subscribers(node, list(publishers.values()), wait_s)
        total = sum(c.msgcount for c in wanted)
        started, first = time.monotonic(), None
        for conn, ns, raw in tqdm(reader.messages(connections=wanted), total=total, unit="msg", desc="replay --ros",
                                  disable=not progress, leave=False):
            first = ns if first is None else first
            delay = (ns - first) / 1e9 / speed - (time.monotonic() - started)
            if delay > 0:
                _spin_for(node, delay)
            clock.publish(Clock(clock=_time_msg(ns)))
            publisher, convert = publishers[conn.topic]
            try:
                publisher.publish(convert(bytes(raw)))
            except Exception as exc:       # a corrupt message in the bag
                result.skipped.setdefault(conn.topic, f"a message could not be published ({type(exc).__name__})")
                continue
            result.published[conn.topic] = result.published.get(conn.topic, 0) + 1
        _spin_for(node, linger_s)
    finally:
        reader.close()
        node.destroy_node()
        if own_context:
            rclpy.try_shutdown()
    return result


def _publisher_for(node: Node, conn, config: Config, result: PlayResult):
    """(publisher, bytes → what to publish), or None when this machine cannot publish the type."""
    qos = LATCHED if conn.topic == config.topics.audio_info else RELIABLE
    try:
        cls = message_class(conn.msgtype)
        return node.create_publisher(cls, conn.topic, qos), (lambda raw: raw)
    except (ImportError, AttributeError):
        pass
    if conn.msgtype in (AUDIO_DATA, AUDIO_DATA_STAMPED):
        try:
            target = message_class(config.ros.audio_type)
        except (ImportError, AttributeError):
            result.skipped[conn.topic] = f"neither {conn.msgtype} nor ros.audio_type {config.ros.audio_type} is installed"
            return None
        store = make_typestore({conn.msgtype: conn.msgdef.data} if getattr(conn.msgdef, "data", "") else None)

        def rewrap(raw: bytes, msgtype=conn.msgtype):
            msg = store.deserialize_cdr(raw, msgtype)
            pcm = bytes((msg.audio if msgtype == AUDIO_DATA_STAMPED else msg).data)
            out = target()
            holder = out.audio if hasattr(out, "audio") else out
            holder.data = pcm
            return out
        return node.create_publisher(target, conn.topic, qos), rewrap
    result.skipped[conn.topic] = f"{conn.msgtype} is not installed here"
    return None


def _listen(node: Node, config: Config, result: PlayResult) -> None:
    std = message_class("std_msgs/String")
    t = config.topics
    started = time.monotonic()

    def keep(topic):
        return lambda msg: result.heard.append({"topic": topic, "data": msg.data,
                                                "t": round(time.monotonic() - started, 3)})
    for topic in (t.transcript, t.reply, t.intents):
        node.create_subscription(std, topic, keep(topic), RELIABLE)
    node.create_subscription(message_class("std_msgs/Bool"), t.speaking, keep(t.speaking),
                             QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                                        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))


def _wait_for_subscribers(node: Node, publishers: list, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if publishers and all(p[0].get_subscription_count() > 0 for p in publishers):
            return True
        rclpy.spin_once(node, timeout_sec=0.1)
    found = any(p[0].get_subscription_count() > 0 for p in publishers)
    if not found:
        log.warning("no node subscribes to the bag's topics after %.0f s: is robot_brain running "
                    "(ros2 launch robot_brain robot_brain.launch.py use_sim_time:=true)?", wait_s)
    return found


def _spin_for(node: Node, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        rclpy.spin_once(node, timeout_sec=min(left, 0.05))


def _time_msg(ns: int):
    from builtin_interfaces.msg import Time
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def account(result: PlayResult) -> str:
    lines = ["published: " + (", ".join(f"{t} {n}" for t, n in sorted(result.published.items())) or "nothing")]
    lines += [f"not published {topic}: {why}" for topic, why in sorted(result.skipped.items())]
    if not result.subscribers_found:
        lines.append("no robot_brain node was listening")
    for item in result.heard:
        lines.append(f"{item['t']:7.2f} s  {item['topic']}: {item['data']!r}")
    return "\n".join(lines)


def write_heard(result: PlayResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for item in result.heard:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
