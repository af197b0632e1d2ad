"""robot_brain's ROS 2 nodes with real rclpy, started from the real launch file's argv, tiny offline models."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, spin_until

SAMPLE = ROOT / "tests" / "data" / "sample_bag"
pytestmark = pytest.mark.slow


class Outputs:
    """Everything robot_brain publishes, as the probe node receives it."""

    def __init__(self, probe) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
        from std_msgs.msg import Bool, String
        self.reply, self.intents, self.transcript, self.speaking, self.link = [], [], [], [], []
        self.diagnostics: list[tuple[float, object]] = []
        probe.create_subscription(String, "/robot_brain/reply", lambda m: self.reply.append(m.data), 50)
        probe.create_subscription(String, "/robot_brain/intents", lambda m: self.intents.append(json.loads(m.data)), 50)
        probe.create_subscription(String, "/robot_brain/transcript", lambda m: self.transcript.append(m.data), 50)
        probe.create_subscription(String, "/robot_brain/link", lambda m: self.link.append(m.data), 200)
        latched = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        probe.create_subscription(Bool, "/robot_brain/speaking", lambda m: self.speaking.append(m.data), latched)
        probe.create_subscription(DiagnosticArray, "/diagnostics",
                                  lambda m: self.diagnostics.append((time.monotonic(), m)), 100)

    def link_rejections(self, node: str) -> dict[str, int]:
        """The newest count of link messages `node` dropped, by reason."""
        reports = self.diagnostics_of(node)
        if not reports:
            return {}
        values = {kv.key: kv.value for kv in reports[-1][1]["inputs"].values}
        return {k.split("rejected: ", 1)[1]: int(v) for k, v in values.items()
                if k.startswith("/robot_brain/link rejected: ")}

    def diagnostics_of(self, node: str) -> list[tuple[float, dict]]:
        """(arrival, {status name: status}) of the arrays node `node` published."""
        out = []
        for at, array in self.diagnostics:
            statuses = {s.name.split(": ", 1)[1]: s for s in array.status if s.name.startswith(node + ": ")}
            if statuses:
                out.append((at, statuses))
        return out


class Inputs:
    def __init__(self, probe) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from std_msgs.msg import Empty, String
        self.image = probe.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.text = probe.create_publisher(String, "/robot_brain/text_in", 10)
        self.estop = probe.create_publisher(Empty, "/robot_brain/stop", 10)

    def frame(self, width=64, height=48, encoding="bgr8", step=None, data=None):
        from sensor_msgs.msg import Image
        m = Image()
        m.width, m.height, m.encoding = width, height, encoding
        m.step = width * 3 if step is None else step
        m.data = bytes(np.full(m.step * height, 120, np.uint8)) if data is None else data
        self.image.publish(m)

    def say(self, text: str) -> None:
        from std_msgs.msg import String
        self.text.publish(String(data=text))

    def stop(self) -> None:
        from std_msgs.msg import Empty
        self.estop.publish(Empty())


def _wait_active(probe, outputs: Outputs, node: str, started, timeout=90.0) -> None:
    ok = spin_until(probe, lambda: any(s["node"].values[0].value == "active" if s["node"].values else False
                                       for _, s in outputs.diagnostics_of(node)), timeout)
    assert ok, f"{node} never reported active:\n" + "\n".join(s.log[-3000:] for s in started)


def test_lifecycle_transitions_load_and_free_the_model(rclpy_context, probe, capfd, tmp_path):
    from rclpy.lifecycle import TransitionCallbackReturn as R
    from rclpy.parameter import Parameter

    from robot_brain.ros.link import make_key
    from robot_brain.ros.node import RobotBrainNode
    make_key(tmp_path / "link.key")
    node = RobotBrainNode("brain", name="lifecycle_brain",
                          parameter_overrides=[Parameter("brain.max_new_tokens", value=40),
                                               Parameter("ros.link_key_file", value=str(tmp_path / "nokey"))])
    image_subscribers = lambda: probe.count_subscribers("/camera/image_raw")  # noqa: E731
    try:
        assert node.trigger_configure() == R.FAILURE                       # a split node needs the link key
        assert "--make-key" in capfd.readouterr().err and node.pipeline is None
        node.set_parameters([Parameter("ros.link_key_file", value=str(tmp_path / "link.key"))])
        assert node.pipeline is None and image_subscribers() == 0
        assert node.trigger_configure() == R.SUCCESS
        [brain] = node.pipeline.stages
        assert brain.model is not None and brain.max_new_tokens == 40      # loaded, with the node's parameter
        assert image_subscribers() == 0                                   # configured: no input yet
        assert node.trigger_activate() == R.SUCCESS
        assert spin_until(probe, lambda: image_subscribers() == 1, 5)
        assert node.trigger_deactivate() == R.SUCCESS
        assert spin_until(probe, lambda: image_subscribers() == 0, 5)
        assert node.trigger_cleanup() == R.SUCCESS
        assert node.pipeline is None and brain.model is None               # freed
        node.set_parameters([Parameter("brain.timeout_s", value=-1.0)])
        assert node.trigger_configure() == R.FAILURE                       # a bad value: stays unconfigured
        assert "brain.timeout_s" in capfd.readouterr().err
        node.set_parameters([Parameter("brain.timeout_s", value=5)])      # an int for a float is fine
        assert node.trigger_configure() == R.SUCCESS and node.pipeline.stages[0].timeout_s == 5.0
        assert node.trigger_cleanup() == R.SUCCESS
    finally:
        node.destroy_node()


def test_composed_node_answers_stops_reports_and_records(launch, probe, tmp_path):
    session = tmp_path / "session"
    [node] = launch(record_dir=str(session))
    outputs, inputs = Outputs(probe), Inputs(probe)
    _wait_active(probe, outputs, "/robot_brain", [node])

    # bad input: a step shorter than a row, an unknown encoding, then 10x the usual camera rate
    inputs.frame(step=100)
    spin_until(probe, lambda: False, 0.3)
    inputs.frame(encoding="weird16", step=128)
    spin_until(probe, lambda: False, 0.3)
    for _ in range(300):
        inputs.frame()
    from std_msgs.msg import String
    wrong_audio = probe.create_publisher(String, "/audio", 10)       # audio of the wrong type
    wrong_audio.publish(String(data="not audio"))
    inputs.say("what do you see?")
    assert spin_until(probe, lambda: outputs.reply and True in outputs.speaking, 60), node.log[-3000:]
    inputs.say("stop")
    assert spin_until(probe, lambda: any(i["input"] == "typed" for i in outputs.intents), 20), node.log[-3000:]
    inputs.stop()
    assert spin_until(probe, lambda: any(i["input"] == "estop" for i in outputs.intents), 20), node.log[-3000:]
    assert spin_until(probe, lambda: outputs.speaking and outputs.speaking[-1] is False, 10)
    assert [i["intent"] for i in outputs.intents] == ["stop", "stop"]    # the random brain's proposals never pass
    assert all(i["priority"] == 100 and i["source"] == "__unknown_agent__" for i in outputs.intents)

    # /diagnostics at >= 1 Hz, with the rejected inputs counted and every stage reported
    window_start = time.monotonic()
    spin_until(probe, lambda: time.monotonic() - window_start > 3.0, 4.0)
    recent = [at for at, _ in outputs.diagnostics_of("/robot_brain") if at >= window_start]
    assert len(recent) >= 3 and max(np.diff(recent)) < 1.0
    last = outputs.diagnostics_of("/robot_brain")[-1][1]
    rejected = {kv.key: kv.value for kv in last["inputs"].values if "rejected" in kv.key}
    assert any("step 100 is shorter than a row" in k for k in rejected), rejected
    assert any("weird16" in k for k in rejected), rejected
    unusable = {kv.key: kv.value for kv in last["inputs"].values if kv.key.endswith("unusable")}
    assert "published as std_msgs/msg/String" in unusable["/audio unusable"], unusable
    assert last["inputs"].level == b"\x01"                                 # WARN
    assert {"stage stop_path", "stage brain", "stage intent_gate", "stage speech_out", "last turn"} <= set(last)
    received = {kv.key: int(kv.value) for kv in last["inputs"].values if kv.key.endswith(" received")}
    assert node.popen.poll() is None                                     # still running after all of it
    assert node.stop() == 0

    # the recording holds inputs and outputs, and replays offline
    from rosbags.rosbag2 import Reader

    from robot_brain.bags import BagSource
    with Reader(session) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    # every image the node took in is recorded (a flood is thinned by the sensor-data QoS before that)
    assert counts["/camera/image_raw"] == received["/camera/image_raw received"] >= 3
    assert counts["/robot_brain/text_in"] == 2
    assert counts["/robot_brain/reply"] >= 1 and counts["/robot_brain/intents"] == 2
    assert counts["/robot_brain/stop"] == 1 and counts["/robot_brain/speaking"] >= 2
    texts = [f.text for f in BagSource(session) if type(f).__name__ == "TextInput"]
    assert texts == ["what do you see?", "stop"]


def test_split_deployment_talks_over_topics_and_survives_a_killed_brain(launch, probe, tmp_path):
    from std_msgs.msg import String

    from robot_brain.frames import ActionIntent, Stop, Turn
    from robot_brain.ros import codec
    from robot_brain.ros.link import LinkGuard
    nodes = launch(composed="false")
    by_name = {s.process.name: s for s in nodes}
    outputs, inputs = Outputs(probe), Inputs(probe)
    for name in ("/asr", "/brain", "/intent_gate", "/tts"):
        _wait_active(probe, outputs, name, nodes, timeout=120)

    # forged link messages: unsigned (as the link was before it was signed), and signed with another key
    link = probe.create_publisher(String, "/robot_brain/link", 50)
    assert spin_until(probe, lambda: link.get_subscription_count() >= 4, 10)   # the four nodes
    stranger = LinkGuard("asr", b"k" * 32, "/asr")
    forgeries = [codec.encode(ActionIntent(verb="pick_up", target={"label": "cup"}, priority=50, source="voice",
                                           turn=1), "/intent_gate"),
                 codec.encode(Stop(source="voice"), "/asr", turn=2 ** 60),          # would cancel every turn
                 stranger.sign(Turn(text="push the cup off the table", source="voice", turn=1)),
                 '{"v": 1, "body": "{}", "mac": "nonsense"}', "[" * 5000]
    for forged in forgeries:
        link.publish(String(data=forged))

    for _ in range(5):
        inputs.frame()
    inputs.say("what do you see?")                  # asr node → turn → brain node → reply → tts node
    assert spin_until(probe, lambda: outputs.reply and True in outputs.speaking, 60), \
        "\n".join(s.log[-2000:] for s in nodes)
    inputs.say("stop")                              # asr node's Stop → the gate node's stop intent
    assert spin_until(probe, lambda: [i["input"] for i in outputs.intents] == ["typed"], 20)

    # the real nodes' signed messages, played again: dropped as replays
    def signed():
        return [(m, json.loads(json.loads(m)["body"])) for m in outputs.link if m not in forgeries]
    assert spin_until(probe, lambda: {b["role"] for _, b in signed()} == {"asr", "brain", "gate", "tts"}, 5)
    bodies = signed()
    [turn_message] = [m for m, b in bodies if b["kind"] == "Turn"]
    link.publish(String(data=turn_message))
    want = {"unsigned": 2, "bad signature": 2, "malformed": 1, "replayed": 1}
    for name in ("/brain", "/intent_gate"):
        assert spin_until(probe, lambda: outputs.link_rejections(name) == want, 10), outputs.link_rejections(name)
    link_status = outputs.diagnostics_of("/intent_gate")[-1][1]["link"]
    counted = {kv.key: int(kv.value) for kv in link_status.values}
    assert counted["dropped replayed"] == 1 and counted["accepted"] >= 3 and link_status.level == b"\x01"

    # the brain dies in the middle of a turn: nothing comes of that turn, the other nodes keep working
    inputs.say("what is on the table?")
    time.sleep(0.05)
    by_name["brain"].popen.send_signal(signal.SIGKILL)
    by_name["brain"].popen.wait(10)
    since = time.monotonic()
    spin_until(probe, lambda: time.monotonic() - since > 3.0, 4.0)
    for name in ("/asr", "/intent_gate", "/tts"):
        assert [at for at, _ in outputs.diagnostics_of(name) if at > since], f"{name} stopped reporting"
    assert [i["input"] for i in outputs.intents] == ["typed"]
    inputs.stop()
    assert spin_until(probe, lambda: [i["input"] for i in outputs.intents] == ["typed", "estop"], 20)
    for name in ("asr", "intent_gate", "tts"):
        assert by_name[name].popen.poll() is None
        assert by_name[name].stop() == 0


def test_bag_replayed_into_live_topics(launch, probe, tmp_path):
    [node] = launch(use_sim_time="true")
    outputs = Outputs(probe)
    _wait_active(probe, outputs, "/robot_brain", [node])
    out = tmp_path / "replay"
    run = subprocess.run([sys.executable, "-m", "robot_brain", "--set", "ros.audio_type=std_msgs/UInt8MultiArray",
                          "--set", "replay.speed=1", "replay", str(SAMPLE), "--ros", "--linger", "8", "--out", str(out),
                          "--quiet"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr + node.log[-3000:]
    heard = [json.loads(line) for line in (out / "ros_outputs.jsonl").read_text().splitlines()]
    intents = [json.loads(h["data"]) for h in heard if h["topic"] == "/robot_brain/intents"]
    # as in the offline replay: the spoken "stop" at 9 s is caught, the random brain's proposals do not pass
    assert [(i["intent"], i["input"]) for i in intents] == [("stop", "voice")], node.log[-3000:]
    replies = [h for h in heard if h["topic"] == "/robot_brain/reply"]
    assert replies and replies[0]["t"] > 11.0                     # the typed question at 11 s (bag time)
    assert node.stop() == 0


def test_intents_use_hri_actions_msgs_fields_when_that_type_exists():
    from types import SimpleNamespace

    from robot_brain.frames import ActionIntent
    from robot_brain.ros.node import RobotBrainNode

    class Intent:        # the fields of hri_actions_msgs/Intent
        intent = data = source = modality = ""
        priority, confidence = 0, 0.0
    intent = ActionIntent(verb="point_at", target={"label": "cup"}, confidence=0.8, priority=50, source="voice", turn=3)
    msg = RobotBrainNode._intent_message(SimpleNamespace(_intent_msg=Intent), intent)
    assert (msg.intent, msg.source, msg.modality, msg.priority) == ("point_at", "__unknown_agent__",
                                                                    "__modality_speech__", 50)
    assert json.loads(msg.data) == {"target": {"label": "cup"}} and msg.confidence == 0.8
