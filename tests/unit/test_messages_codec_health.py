"""The ROS adapter's parts that need no ROS: message → frame conversion, the link codec, the diagnostics."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from robot_brain import messages
from robot_brain.frames import (ActionIntent, Confirmation, GateDecision, ImageFrame, IntentProposal, Interrupt,
                                ReplyDone, ReplySentence, Speaking, Stop, Turn)
from robot_brain.pipeline import StageStats, Timeline, TurnCounter
from robot_brain.ros import codec, health


def image_msg(pixels: np.ndarray, encoding: str, step: int | None = None, big_endian=False, as_list=False):
    height, width = pixels.shape[:2]
    row = pixels[0].nbytes
    step = row if step is None else step
    data = bytearray(step * height)
    for y in range(height):
        data[y * step:y * step + row] = pixels[y].tobytes()
    header = SimpleNamespace(stamp=SimpleNamespace(sec=3, nanosec=500_000_000), frame_id="head_camera")
    return SimpleNamespace(width=width, height=height, encoding=encoding, step=step, is_bigendian=big_endian,
                           data=list(data) if as_list else np.frombuffer(bytes(data), np.uint8), header=header)


def test_padded_rows_are_read_by_step():
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    frame = messages.image_frame(image_msg(rgb, "rgb8", step=7 * 3 + 11), messages.stamp_of(image_msg(rgb, "rgb8")))
    assert isinstance(frame, ImageFrame) and frame.stamp == 3.5 and frame.frame_id == "head_camera"
    assert np.array_equal(frame.image, rgb[:, :, ::-1])             # BGR


def test_mono16_big_endian_and_list_data():
    mono = np.array([[0, 65535], [256, 32768]], dtype=">u2")
    frame = messages.image_frame(image_msg(mono, "mono16", big_endian=True, as_list=True), 0.0)
    assert frame.image.shape == (2, 2, 3) and frame.image[0, 1, 0] == 255 and frame.image[0, 0, 0] == 0


@pytest.mark.parametrize("change, reason", [
    (dict(step=10), "step 10 is shorter than a row"),
    (dict(encoding="weird16"), "unsupported image encoding 'weird16'"),
    (dict(width=0), "empty image"),
    (dict(data=np.zeros(5, np.uint8)), "image data too short"),
])
def test_unusable_images_say_why(change, reason):
    msg = image_msg(np.zeros((4, 6, 3), np.uint8), "bgr8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(messages.Unusable, match=reason):
        messages.image_frame(msg, 0.0)


def test_audio_decoder_checks_sample_layout():
    decoder = messages.AudioDecoder(16000, 2, 16000)
    with pytest.raises(messages.Unusable, match="not a whole number"):
        decoder(b"\x00\x01\x02", 0.0)
    with pytest.raises(messages.Unusable, match="16-bit"):
        decoder.info(SimpleNamespace(channels=1, sample_rate=16000, sample_format="F32LE"))
        decoder(b"\x00" * 64, 0.0)
    assert messages.audio_bytes(SimpleNamespace(audio=SimpleNamespace(data=[1, 2]))) == b"\x01\x02"


LINK_EXAMPLES = [
    Turn(text="pick up the cup", source="voice", language="en", turn=4),
    Confirmation(accepted=True, text="yes", source="typed", turn=5),
    IntentProposal(verb="point_at", params={"speed": float("nan")}, target="cup", point=[0.5, 0.25],
                   confidence=0.8, source="voice", image_size=(640, 480), turn=4),
    ActionIntent(verb="stop", params={"reason": "x"}, confidence=1.0, priority=100, source="voice", turn=3),
    ReplySentence(text="Hallo, 世界.", index=2, turn=4), ReplyDone(text="all", turn=4),
    GateDecision(verb="pick_up", decision="awaiting_confirmation", reason="risky", intent={"verb": "pick_up"}, turn=4),
    Speaking(active=True, turn=4), Stop(source="voice", reason="stop word", turn=0), Interrupt(reason="barge-in", turn=2),
]


@pytest.mark.parametrize("frame", LINK_EXAMPLES, ids=lambda f: f.kind)
def test_link_codec_round_trips_every_link_frame(frame):
    back, sender = codec.decode(codec.encode(frame, "/robot/asr"))
    assert sender == "/robot/asr" and type(back) is type(frame)
    for name in frame.__dataclass_fields__:
        if name == "t":
            continue
        want, got = getattr(frame, name), getattr(back, name)
        if name == "params" and isinstance(frame, IntentProposal):
            assert np.isnan(got["speed"])
        else:
            assert got == want, name


def test_link_codec_resolves_a_control_frames_turn_and_refuses_the_rest():
    assert codec.decode(codec.encode(Stop(source="voice"), "/a", turn=7))[0].turn == 7
    with pytest.raises(codec.CodecError):
        codec.encode(ImageFrame(image=np.zeros((2, 2, 3), np.uint8)), "/a")
    for bad in ["", "[]", "{}", json.dumps({"from": "/a", "kind": "Shutdown"}),
                json.dumps({"from": "/a", "kind": "Turn", "text": "x", "evil": 1}),
                json.dumps({"from": "/a", "kind": "Turn"})]:
        with pytest.raises(codec.CodecError):
            codec.decode(bad)


def test_turn_counter_observes_turns_begun_elsewhere():
    turns = TurnCounter()
    turns.observe(5)
    assert turns.begin() == 6
    turns.cancel()                       # "now" covers the observed turn too
    assert turns.is_cancelled(5) and turns.is_cancelled(6)


def test_diagnostics_report_health_inputs_and_the_last_turn():
    inputs = health.InputCounter()
    inputs.received_on("/camera/image_raw")
    assert inputs.rejected_on("/camera/image_raw", "bad step") is True
    assert inputs.rejected_on("/camera/image_raw", "bad step") is False     # logged once, counted twice
    broken = StageStats(healthy=False, last_error="open failed: no model")
    timeline = Timeline(4, {"speech_end": 1.0, "asr_done": 1.4, "first_audio_out": 2.5})
    statuses = {s.name: s for s in health.node_statuses("/rb", "active", {"brain": StageStats(processed=2, busy_s=0.5),
                                                                           "tts": broken}, inputs, timeline)}
    assert statuses["/rb: node"].level == health.ERROR
    assert statuses["/rb: inputs"].level == health.WARN
    assert statuses["/rb: inputs"].values["/camera/image_raw rejected: bad step"] == "2"
    assert statuses["/rb: stage brain"].values["mean_ms"] == "250.00"
    assert statuses["/rb: stage tts"].level == health.ERROR and "no model" in statuses["/rb: stage tts"].message
    assert statuses["/rb: last turn"].message == "turn 4: 1.50 s to first audio"
    again = {s.name: s for s in health.node_statuses("/rb", "active", {}, inputs, None)}
    assert again["/rb: inputs"].level == health.OK                           # no new rejects since the last report
    missing = health.InputCounter().report({"/audio": "audio_common_msgs is not installed"})
    assert missing.level == health.WARN and "/audio" in missing.message
