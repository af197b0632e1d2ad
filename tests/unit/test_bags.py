import json

import cv2
import numpy as np
import pytest

from robot_brain.bags import (AUDIO_DATA, AUDIO_DATA_STAMPED, AUDIO_INFO, CAMERA_INFO, COMPRESSED_IMAGE, EMPTY,
                              IMAGE, STRING, BagError, BagRecorder, BagSource, BagWriter, header)
from robot_brain.config import Config
from robot_brain.frames import (ActionIntent, AudioChunk, CameraInfoFrame, ImageFrame, ReplySentence, Stop, TextInput,
                                Transcript)

TOPICS = Config().topics
RNG = np.random.default_rng(0)
BGR = RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8)
MONO = RNG.integers(0, 255, (48, 64), dtype=np.uint8)
PCM = (np.sin(np.arange(1600) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2")


def image_msg(bag, stamp, encoding, pixels):
    T = bag.types
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    return T[IMAGE](header=header(bag.store, stamp, "cam"), height=h, width=w, encoding=encoding, is_bigendian=0,
                    step=w * channels, data=pixels.reshape(-1))


def write_sample(path, storage):
    with BagWriter(path, storage) as bag:
        T = bag.types
        for topic, msgtype in [(TOPICS.image, IMAGE), (TOPICS.compressed_image, COMPRESSED_IMAGE),
                               (TOPICS.camera_info, CAMERA_INFO), (TOPICS.audio, AUDIO_DATA_STAMPED),
                               (TOPICS.text_in, STRING), (TOPICS.stop, EMPTY), ("/tf_static", STRING)]:
            bag.add(topic, msgtype)
        bag.write(TOPICS.image, 0.0, image_msg(bag, 0.0, "bgr8", BGR))
        bag.write(TOPICS.image, 0.1, image_msg(bag, 0.1, "rgb8", BGR[..., ::-1].copy()))
        bag.write(TOPICS.image, 0.2, image_msg(bag, 0.2, "mono8", MONO))
        ok, png = cv2.imencode(".png", BGR)
        bag.write(TOPICS.compressed_image, 0.3,
                  T[COMPRESSED_IMAGE](header=header(bag.store, 0.3, "cam"), format="bgr8; png compressed bgr8",
                                      data=png.reshape(-1)))
        roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        bag.write(TOPICS.camera_info, 0.3, T[CAMERA_INFO](
            header=header(bag.store, 0.3, "cam"), height=48, width=64, distortion_model="plumb_bob", d=np.zeros(5),
            k=np.array([50.0, 0, 32, 0, 50, 24, 0, 0, 1]), r=np.eye(3).reshape(-1), p=np.zeros(12),
            binning_x=0, binning_y=0, roi=roi))
        bag.write(TOPICS.audio, 0.4, T[AUDIO_DATA_STAMPED](
            header=header(bag.store, 0.4, "mic"), audio=T[AUDIO_DATA](data=PCM.view(np.uint8))))
        bag.write(TOPICS.text_in, 0.5, T[STRING](data="what do you see"))
        bag.write(TOPICS.stop, 0.6, T[EMPTY]())
        bag.write("/tf_static", 0.6, T[STRING](data="ignored"))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_round_trip_keeps_exact_image_bytes_audio_and_text(tmp_path, storage):
    path = tmp_path / f"bag_{storage}"
    write_sample(path, storage)
    source = BagSource(path)
    frames = list(source)
    kinds = [f.kind for f in frames]
    assert kinds == ["ImageFrame", "ImageFrame", "ImageFrame", "ImageFrame", "CameraInfoFrame", "AudioChunk",
                     "TextInput", "Stop"]
    images = [f for f in frames if isinstance(f, ImageFrame)]
    assert np.array_equal(images[0].image, BGR)
    assert np.array_equal(images[1].image, BGR)                    # rgb8 arrives as BGR
    assert np.array_equal(images[2].image, np.stack([MONO] * 3, axis=-1))
    assert np.array_equal(images[3].image, BGR)                    # lossless PNG
    assert [im.stamp for im in images] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    info = next(f for f in frames if isinstance(f, CameraInfoFrame))
    assert info.k[0] == 50.0 and (info.width, info.height) == (64, 48)
    audio = next(f for f in frames if isinstance(f, AudioChunk))
    assert audio.sample_rate == 16000 and np.allclose(audio.samples * 32768, PCM)
    assert next(f for f in frames if isinstance(f, TextInput)).text == "what do you see"
    assert next(f for f in frames if isinstance(f, Stop)).source == "estop"
    assert source.report.skipped_total == 0
    assert source.report.ignored_topics == {"/tf_static": STRING}
    assert len(source) == 8


def test_bad_messages_are_skipped_and_counted(tmp_path):
    path = tmp_path / "bad"
    with BagWriter(path, "sqlite3") as bag:
        T = bag.types
        bag.add(TOPICS.image, IMAGE)
        bag.add(TOPICS.compressed_image, COMPRESSED_IMAGE)
        bag.add(TOPICS.audio, AUDIO_DATA)
        bag.add(TOPICS.audio_info, AUDIO_INFO)
        bag.add(TOPICS.text_in, IMAGE)                             # a topic of the wrong type
        bag.write(TOPICS.image, 0.0, image_msg(bag, 0.0, "weird16", BGR))
        short = image_msg(bag, 0.1, "bgr8", BGR)
        bag.write(TOPICS.image, 0.1, T[IMAGE](header=short.header, height=480, width=640, encoding="bgr8",
                                                is_bigendian=0, step=1920, data=short.data))
        raw = bag.store.serialize_cdr(image_msg(bag, 0.2, "bgr8", BGR), IMAGE)
        bag.write_raw(TOPICS.image, 0.2, raw[:40])                  # truncated message
        bag.write(TOPICS.image, 0.3, image_msg(bag, 0.3, "bgr8", BGR))
        bag.write(TOPICS.compressed_image, 0.3, T[COMPRESSED_IMAGE](
            header=header(bag.store, 0.3, "cam"), format="jpeg", data=np.frombuffer(b"notajpeg", np.uint8)))
        bag.write(TOPICS.audio, 0.4, T[AUDIO_DATA](data=np.zeros(5, np.uint8)))           # odd sample width
        bag.write(TOPICS.audio_info, 0.45, T[AUDIO_INFO](channels=2, sample_rate=48000, sample_format="S16LE",
                                                         bitrate=0, coding_format="wave"))
        left = np.full(4800, 8000, "<i2")                      # 0.1 s of stereo at 48 kHz, channels differing
        stereo_pcm = np.stack([left, left // 2], axis=1).reshape(-1)
        bag.write(TOPICS.audio, 0.5, T[AUDIO_DATA](data=stereo_pcm.view(np.uint8)))
        bag.write(TOPICS.text_in, 0.6, image_msg(bag, 0.6, "bgr8", BGR))
    source = BagSource(path)
    frames = list(source)
    assert [f.kind for f in frames] == ["ImageFrame", "AudioChunk"]
    stereo = frames[1]
    assert stereo.sample_rate == 16000 and 1000 < len(stereo.samples) <= 1600           # resampled at the edge
    assert np.median(stereo.samples) * 32768 == pytest.approx(6000, rel=0.02)            # channels mixed
    reasons = " | ".join(reason for _, reason in source.report.skipped)
    for part in ["unsupported image encoding 'weird16'", "image data too short", "truncated or corrupt",
                 "could not be decoded", "16-bit", "unexpected type sensor_msgs/msg/Image"]:
        assert part in reasons
    assert source.report.skipped_total == 6
    assert "skipped 1 on /camera/image_raw: truncated" in source.report.summary()


def test_missing_and_corrupt_bags_are_clear_errors(tmp_path):
    with pytest.raises(BagError, match="no such bag"):
        BagSource(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="metadata.yaml is missing"):
        BagSource(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9}\n")
    with pytest.raises(BagError, match="cannot open bag"):
        list(BagSource(broken))


def test_damaged_storage_file_keeps_what_was_read(tmp_path):
    path = tmp_path / "damaged"
    with BagWriter(path, "mcap") as bag:
        bag.add(TOPICS.text_in, STRING)
        for i in range(200):
            bag.write(TOPICS.text_in, i * 0.01, bag.types[STRING](data=f"message {i} " + "x" * 200))
    data_file = next(path.glob("*.mcap"))
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) // 2])
    try:
        source = BagSource(path)
        frames = list(source)
    except BagError as exc:                                 # refused at open: also a clear error
        assert "cannot open bag" in str(exc)
        return
    assert len(frames) < 200
    assert source.report.error or source.report.skipped_total


def test_recorder_writes_heard_said_intended(tmp_path):
    recorder = BagRecorder(tmp_path / "out", storage="sqlite3")
    recorder(Transcript(text="where is the cup", turn=1), 1.0)
    recorder(Transcript(text="where is", final=False, turn=1), 1.0)
    recorder(ReplySentence(text="It is on the left.", turn=1), 1.5)
    recorder(ActionIntent(verb="point_at", target={"label": "cup"}, turn=1, source="voice"), 1.6)
    recorder.close()
    from rosbags.rosbag2 import Reader
    from robot_brain.bags import make_typestore
    store = make_typestore()
    with Reader(tmp_path / "out") as reader:
        got = [(c.topic, store.deserialize_cdr(raw, c.msgtype).data) for c, _, raw in reader.messages()]
    assert got[0] == (TOPICS.transcript, "where is the cup")
    assert got[1] == (TOPICS.reply, "It is on the left.")
    intent = json.loads(got[2][1])
    assert got[2][0] == TOPICS.intents and intent["intent"] == "point_at" and intent["data"]["target"]["label"] == "cup"
    assert len(got) == 3
