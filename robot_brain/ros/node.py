"""The lifecycle node that hosts robot_brain's pipeline (all stages, or one role of a split deployment).

configure: parameters → config, stages built and opened (models loaded), publishers made.
activate:  subscriptions made (input starts). deactivate: subscriptions removed.
cleanup:   the current turn cancelled (no intent from a half-processed turn), stages closed (models freed).

Subscription callbacks only convert and queue: inference runs in the pipeline's threads, never in
the executor. Outputs are published from those threads.

Split deployment: the nodes talk over topics.link, every message signed and checked by
robot_brain.ros.link.LinkGuard (key file ros.link_key_file); what it drops is counted in /diagnostics.
The gate's node publishes on topics.intents only the intents its own gate let through.
"""
from __future__ import annotations

import importlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable

from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data

from .. import messages
from ..config import Config, ConfigError
from ..frames import (ActionIntent, Frame, GateDecision, Interrupt, ReplySentence, Speaking, SpeechAudio, Stop,
                      Transcript)
from ..lineup import Shared, build_lineup
from ..pipeline import Pipeline
from ..speech.speaking import SpeakingState
from . import health
from . import link as link_auth
from .params import config_from_node, declare_config_parameters
from .session import type_name

log = logging.getLogger(__name__)

#: The stages each executable hosts. "composed" is the lowest-latency deployment; the others split
#: the pipeline so the VLM can run on another computer of the robot.
ROLES: dict[str, tuple[str, ...]] = {
    "composed": ("stop_path", "hearing", "asr", "turns", "brain", "intent_gate", "speech_out"),
    "asr": ("stop_path", "hearing", "asr", "turns"),
    "brain": ("brain",),
    "gate": ("intent_gate",),
    "tts": ("speech_out",),
}
#: The role each split node signs the link as (robot_brain.ros.link.MAY_SEND: what it may send).
LINK_ROLES = {"asr": "asr", "brain": "brain", "gate": "gate", "tts": "tts"}
DEFAULT_NAMES = {"composed": "robot_brain", "asr": "asr", "brain": "brain", "gate": "intent_gate", "tts": "tts"}

RELIABLE = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
AUDIO_INFO_TYPE = "audio_common_msgs/AudioInfo"
# Microphone audio: best effort (it matches reliable and best-effort publishers) with a history of seconds, not the
# sensor profile's 5 messages: a stall of the executor longer than 5 blocks (160 ms of 32 ms chunks) lost the speech
# in between — a stop word with it.
AUDIO_QOS = QoSProfile(depth=200, reliability=QoSReliabilityPolicy.BEST_EFFORT)


def message_class(name: str):
    """'std_msgs/UInt8MultiArray' (or 'std_msgs/msg/UInt8MultiArray') → the rclpy message class."""
    package, _, rest = name.partition("/")
    module = importlib.import_module(f"{package}.msg")
    return getattr(module, rest.rsplit("/", 1)[-1])


def _relative(topic: str) -> str:
    """Configured topics resolve in the node's namespace (with no namespace: the same absolute name)."""
    return topic.lstrip("/") or topic


class RobotBrainNode(LifecycleNode):
    def __init__(self, role: str = "composed", name: str | None = None, record_dir: str | None = None,
                 **kwargs: Any) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        super().__init__(name or DEFAULT_NAMES[role], **kwargs)
        self.role, self.slots = role, set(ROLES[role])
        self.split = role != "composed"
        self._config_error = declare_config_parameters(self, record_dir=record_dir)
        self.config: Config | None = None
        self.pipeline: Pipeline | None = None
        self.shared: Shared | None = None
        self.inputs = health.InputCounter()
        self.missing_inputs: dict[str, str] = {}
        self._input_subs: list = []
        self._outputs: dict[str, Any] = {}
        self._foreign: OrderedDict[int, Frame] = OrderedDict()    # frames that came in from outside, by identity
        self.link: link_auth.LinkGuard | None = None              # split deployment: signs and checks the link
        self._link_lock = threading.Lock()
        self._foreign_lock = threading.Lock()
        self._diag_timer = None
        self._diag_pub = None
        self._recorder = None
        self._intent_msg = None
        self._last_turn = 0
        self._state = "unconfigured"

    # ---- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            if self._config_error:
                raise ConfigError(self._config_error)
            self.config = config = config_from_node(self)
            if self.split:                # before any model loads: a missing key is a quick, clear failure
                key = link_auth.load_key(link_auth.key_path(config.ros.link_key_file))
                self.link = link_auth.LinkGuard(LINK_ROLES[self.role], key, self.get_fully_qualified_name(),
                                                max_age_s=config.ros.link_max_age_s)
            self._build_pipeline(config)
            self._make_publishers(config)
            if config.ros.record_dir:
                from .session import SessionRecorder
                self._recorder = SessionRecorder(config.ros.record_dir, self.get_clock())
                self.get_logger().info(f"recording this session into {config.ros.record_dir}")
        except Exception as exc:          # rclpy would swallow it without a word
            if not isinstance(exc, (ConfigError, OSError, ImportError, ValueError, RuntimeError)):
                log.exception("configure failed")
            self.get_logger().error(f"configure failed: {type(exc).__name__}: {exc}")
            self._release()
            return TransitionCallbackReturn.FAILURE
        self._state = "inactive"
        self.get_logger().info(f"configured ({self.role}): stages {', '.join(s.name for s in self.pipeline.stages)}")
        return TransitionCallbackReturn.SUCCESS

    @property
    def _active(self) -> bool:
        return self._state == "active"

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._subscribe(self.config)
        self._state = "active"
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._state = "inactive"
        self._unsubscribe()
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.shut_down()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self.shut_down()
        return TransitionCallbackReturn.SUCCESS

    def shut_down(self) -> None:
        """From any state: stop input and output, cancel the current turn, free the models."""
        self._state = "finalized"
        self._unsubscribe()
        self._release()

    # ---- building ------------------------------------------------------------------------------

    def _build_pipeline(self, config: Config) -> None:
        if self.split and "hearing" in self.slots and "speech_out" not in self.slots and config.hearing.barge_in:
            # Barge-in compares the mic with the voice being played, which lives in the tts node.
            self.get_logger().warning("hearing.barge_in is off in the split deployment (the playback reference is "
                                      "in the tts node); the stop word still interrupts")
            config.hearing.barge_in = False
        self.shared = Shared(speaking=SpeakingState(tail_s=config.hearing.self_speech_tail_s))
        stages, missing, notes = build_lineup(config, only=self.slots, shared=self.shared)
        if missing:
            raise ConfigError("; ".join(f"{slot.name}: {slot.what}" for slot in missing))
        for note in notes:
            self.get_logger().warning(note)
        pipeline = Pipeline(stages, queue_size=config.pipeline.queue_size,
                            max_consecutive_errors=config.pipeline.max_consecutive_errors,
                            shutdown_timeout_s=config.pipeline.shutdown_timeout_s)
        pipeline.add_sink(self._on_output)
        pipeline.start()                          # opens every stage: the models load here
        self.pipeline = pipeline
        if not any(pipeline.health().values()):
            raise RuntimeError("no stage could start: " + "; ".join(
                f"{name}: {s.last_error}" for name, s in pipeline.stats().items()))

    def _make_publishers(self, config: Config) -> None:
        t = config.topics
        pub = self.create_lifecycle_publisher
        if "asr" in self.slots:
            self._outputs["transcript"] = pub(messages_std("String"), _relative(t.transcript), RELIABLE)
        if self.slots & {"brain", "intent_gate"}:
            self._outputs["reply"] = pub(messages_std("String"), _relative(t.reply), RELIABLE)
        if "intent_gate" in self.slots:
            self._intent_msg = self._intent_type(config)
            self._outputs["intents"] = pub(self._intent_msg or messages_std("String"), _relative(t.intents),
                                              RELIABLE)
        if "speech_out" in self.slots:
            self._outputs["speaking"] = pub(messages_std("Bool"), _relative(t.speaking), LATCHED)
            if config.ros.publish_tts_audio:
                self._outputs["tts_audio"] = pub(message_class(config.ros.audio_type), _relative(t.tts_audio),
                                                    RELIABLE)
        if self.split:
            self._outputs["link"] = self.create_publisher(messages_std("String"), _relative(t.link), RELIABLE)
        from diagnostic_msgs.msg import DiagnosticArray
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        from rclpy.clock import Clock, ClockType      # wall time: diagnostics go on while a bag's /clock is paused
        self._diag_timer = self.create_timer(config.ros.diagnostics_period_s, self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _intent_type(self, config: Config):
        if config.ros.intents_type == "json":
            return None
        try:
            return message_class("hri_actions_msgs/Intent")
        except (ImportError, AttributeError):
            self.get_logger().info("hri_actions_msgs is not installed: intents go out as JSON in std_msgs/String "
                                   "(same fields)")
            return None

    def _subscribe(self, config: Config) -> None:
        t, sub = config.topics, self.create_subscription
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        self.missing_inputs = {}
        subs = [sub(messages_std("Empty"), _relative(t.stop), self._on_estop, RELIABLE)]
        if "brain" in self.slots:
            subs.append(sub(Image, _relative(t.image), self._on_image, qos_profile_sensor_data))
            subs.append(sub(CompressedImage, _relative(t.compressed_image), self._on_compressed, qos_profile_sensor_data))
        if "intent_gate" in self.slots:
            subs.append(sub(CameraInfo, _relative(t.camera_info), self._on_camera_info, qos_profile_sensor_data))
        if "turns" in self.slots:
            subs.append(sub(messages_std("String"), _relative(t.text_in), self._on_text, RELIABLE))
        if self.slots & {"stop_path", "hearing"}:
            subs += self._audio_subscriptions(config)
        if self.split:
            subs.append(sub(messages_std("String"), _relative(t.link), self._on_link, RELIABLE))
        self._input_subs = subs
        self._expected_types = {sub.topic_name: type_name(sub.msg_type) for sub in subs}

    def _audio_subscriptions(self, config: Config) -> list:
        t, audio = config.topics, config.audio
        self._audio = messages.AudioDecoder(audio.input_sample_rate, audio.input_channels, audio.sample_rate,
                                            name=f"audio topic {t.audio}")
        try:
            msg_type = message_class(config.ros.audio_type)
        except (ImportError, AttributeError):
            why = (f"{config.ros.audio_type} is not installed: install its package "
                   f"(e.g. ros-jazzy-audio-common-msgs) or set ros.audio_type: std_msgs/UInt8MultiArray")
            self.get_logger().error(f"no audio input: {why}; typed input and the stop topic still work")
            self.missing_inputs[t.audio] = why
            return []
        subs = [self.create_subscription(msg_type, _relative(t.audio), self._on_audio, AUDIO_QOS)]
        try:
            subs.append(self.create_subscription(message_class(AUDIO_INFO_TYPE), _relative(t.audio_info),
                                                 self._on_audio_info, LATCHED))
        except (ImportError, AttributeError):
            pass        # no audio_info type: the format comes from audio.input_*
        return subs

    def _type_mismatches(self) -> dict[str, str]:
        """Inputs that someone publishes in another type (DDS never delivers those: say so)."""
        found = {}
        for topic, expected in getattr(self, "_expected_types", {}).items():
            others = {info.topic_type for info in self.get_publishers_info_by_topic(topic)} - {expected}
            if others:
                found[topic] = f"published as {', '.join(sorted(others))}; this node expects {expected}"
        return found

    def _unsubscribe(self) -> None:
        for subscription in self._input_subs:
            self.destroy_subscription(subscription)
        self._input_subs = []

    def _release(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.push(Interrupt(reason="node shutting down"))    # nothing from a half-processed turn
            stuck = pipeline.close()
            if stuck:
                self.get_logger().error(f"stages did not stop in time: {', '.join(stuck)}")
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        for publisher in list(self._outputs.values()) + [p for p in [self._diag_pub] if p is not None]:
            self.destroy_publisher(publisher)
        self._outputs, self._diag_pub = {}, None
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self.link = None

    # ---- input ---------------------------------------------------------------------------------

    def _take(self, topic: str, msg, make: Callable[[], Frame | None]) -> None:
        self.inputs.received_on(topic)
        if self._recorder is not None:
            self._recorder.write(topic, msg)
        try:
            frame = make()
        except messages.Unusable as exc:
            if self.inputs.rejected_on(topic, str(exc)):
                self.get_logger().warning(f"skipping message(s) on {topic}: {exc} (counted in /diagnostics)")
            return
        if frame is not None:
            self._push(frame)

    def _push(self, frame: Frame, foreign: bool = True) -> None:
        """Into the pipeline. foreign: it came from outside this node (a topic, the link), so it is never
        published again (and, if it is an intent, never published as one of this node's intents)."""
        pipeline = self.pipeline
        if pipeline is None or not self._active:
            return
        if foreign:
            with self._foreign_lock:
                self._foreign[id(frame)] = frame
                while len(self._foreign) > 2048:
                    self._foreign.popitem(last=False)
        pipeline.turns.observe(frame.turn)
        if self.link is not None:
            self.link.observe(frame.turn)
        pipeline.push(frame)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, msg) -> None:
        self._take(self.config.topics.image, msg, lambda: messages.image_frame(msg, messages.stamp_of(msg, self._now())))

    def _on_compressed(self, msg) -> None:
        self._take(self.config.topics.compressed_image, msg,
                   lambda: messages.compressed_image_frame(msg, messages.stamp_of(msg, self._now())))

    def _on_camera_info(self, msg) -> None:
        self._take(self.config.topics.camera_info, msg,
                   lambda: messages.camera_info_frame(msg, messages.stamp_of(msg, self._now())))

    def _on_text(self, msg) -> None:
        self._take(self.config.topics.text_in, msg, lambda: messages.text_input(msg, self._now()))

    def _on_audio(self, msg) -> None:
        self._take(self.config.topics.audio, msg,
                   lambda: self._audio(messages.audio_bytes(msg), messages.stamp_of(msg, self._now())))

    def _on_audio_info(self, msg) -> None:
        self._take(self.config.topics.audio_info, msg, lambda: self._audio.info(msg))

    def _on_estop(self, msg) -> None:
        from ..speech.stop_path import stop_intent
        topic = self.config.topics.stop
        self.inputs.received_on(topic)
        if self._recorder is not None:
            self._recorder.write(topic, msg)
        self._push(messages.estop())                     # every node: cut speech, cancel the turn
        if "intent_gate" in self.slots:                  # the gate's node turns it into the stop intent
            self._push(stop_intent("estop", 1.0, "stop topic"), foreign=False)
        if "speech_out" in self.slots and self._active:
            self._publish("speaking", messages_std("Bool")(data=False))

    def _on_link(self, msg) -> None:
        guard, topic = self.link, self.config.topics.link
        if guard is None:
            return
        frame, reason = guard.accept(msg.data)
        if reason == link_auth.OWN:
            return
        self.inputs.received_on(topic)
        if frame is None:
            if self.inputs.rejected_on(topic, link_auth.reason_kind(reason)):     # logged once per kind of drop
                self.get_logger().warning(f"dropping link message(s): {reason} (counted in /diagnostics)")
            return
        if isinstance(frame, GateDecision):
            if "intent_gate" not in self.slots:      # turn taking must know whether (which question) the gate asked
                self.shared.confirmations.set(frame.question)
            return
        if isinstance(frame, Speaking):
            if "speech_out" not in self.slots:       # the hearing stage ignores the robot's own voice
                (self.shared.speaking.start if frame.active else self.shared.speaking.stop)()
            return
        self._push(frame)
        for made in link_auth.made_here(LINK_ROLES[self.role], frame):    # the gate's stop intent for a Stop
            self._push(made, foreign=False)

    # ---- output ---------------------------------------------------------------------------------

    def _on_output(self, frame: Frame) -> None:
        """Pipeline sink (runs in pipeline threads)."""
        with self._foreign_lock:
            foreign = self._foreign.get(id(frame)) is frame
        if foreign:                       # came from outside: never published again, never as this node's intent
            return
        if isinstance(frame, ActionIntent) and "intent_gate" in self.slots:
            self._publish("intents", self._intent_message(frame))   # only what passed this node's gate
        String, Bool = messages_std("String"), messages_std("Bool")
        if isinstance(frame, Transcript) and frame.final:
            self._publish("transcript", String(data=frame.text))
        elif isinstance(frame, ReplySentence):
            self._publish("reply", String(data=frame.text))
        elif isinstance(frame, Speaking):
            self._publish("speaking", Bool(data=frame.active))
        elif isinstance(frame, SpeechAudio) and "tts_audio" in self._outputs:
            self._publish("tts_audio", self._audio_message(frame))
        if frame.turn:
            self._last_turn = max(self._last_turn, frame.turn)
        guard = self.link
        if guard is not None and guard.may_send(frame):
            turn = None
            if isinstance(frame, (Stop, Interrupt)) and not frame.turn and self.pipeline is not None:
                turn = self.pipeline.turns.cancelled_through       # what "now" meant here
            with self._link_lock:                                  # sequence numbers go out in order
                self._publish("link", String(data=guard.sign(frame, turn)))

    def _publish(self, key: str, msg) -> None:
        publisher = self._outputs.get(key)
        if publisher is None or not self._active:
            return
        try:
            publisher.publish(msg)
        except Exception as exc:      # a publisher destroyed during shutdown
            log.debug("publishing on %s failed: %s", key, exc)
            return
        if self._recorder is not None:
            self._recorder.write(publisher.topic_name, msg)

    def _intent_message(self, intent: ActionIntent):
        from ..bags import intent_payload
        payload = intent_payload(intent)
        if self._intent_msg is None:
            return messages_std("String")(data=json.dumps(payload))
        msg = self._intent_msg()
        msg.intent, msg.data = payload["intent"], json.dumps(payload["data"])
        msg.source, msg.modality = payload["source"], payload["modality"]
        msg.priority, msg.confidence = int(payload["priority"]), float(payload["confidence"])
        return msg

    def _audio_message(self, audio: SpeechAudio):
        import numpy as np
        import soxr
        rate = self.config.audio.sample_rate
        samples = soxr.resample(audio.samples, audio.sample_rate, rate) if audio.sample_rate != rate else audio.samples
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        cls = message_class(self.config.ros.audio_type)
        msg = cls()
        target = msg.audio if hasattr(msg, "audio") else msg
        target.data = list(pcm) if isinstance(target.data, list) else pcm
        return msg

    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
        pipeline = self.pipeline
        if pipeline is None or self._diag_pub is None:
            return
        last = pipeline.timelines.get(self._last_turn) if self._last_turn else None
        problems = {**self.missing_inputs, **(self._type_mismatches() if self._active else {})}
        guard = self.link
        statuses = health.node_statuses(self.get_fully_qualified_name(), self._state, pipeline.stats(), self.inputs,
                                        last, problems, link=guard.counts() if guard is not None else None)
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for s in statuses:
            array.status.append(DiagnosticStatus(level=bytes([s.level]), name=s.name, message=s.message,
                                                 hardware_id=self.get_fully_qualified_name(),
                                                 values=[KeyValue(key=k, value=v) for k, v in s.values.items()]))
        self._diag_pub.publish(array)


def messages_std(name: str):
    return message_class(f"std_msgs/{name}")
