"""ROS message → frame conversion, shared by bag replay (rosbags messages) and live topics (rclpy messages).

Both kinds of message have the same field names, so every function here reads fields only. A
message that cannot be used raises `Unusable` with a reason for the log and the counters; the
caller skips it and goes on.
"""
from __future__ import annotations

import numpy as np

from .frames import AudioChunk, CameraInfoFrame, ImageFrame, Stop, TextInput


class Unusable(ValueError):
    """This message cannot become a frame; the text says why."""


def stamp_of(msg, default: float = 0.0) -> float:
    """The header stamp in seconds, or `default` for messages without one (or with a zero stamp)."""
    header = getattr(msg, "header", None)
    if header is None:
        return default
    seconds = header.stamp.sec + header.stamp.nanosec * 1e-9
    return seconds or default


def _frame_id(msg) -> str:
    header = getattr(msg, "header", None)
    return (header.frame_id if header is not None else "") or "camera"


def _buffer(data) -> memoryview:
    """The bytes of a uint8[] field without copying (numpy array, array.array, bytes; a list is copied)."""
    return memoryview(bytes(data) if isinstance(data, list) else data).cast("B")


def image_frame(msg, stamp: float) -> ImageFrame:
    """sensor_msgs/Image (any encoding OpenCV can convert, padded rows allowed) → BGR ImageFrame."""
    from rosbags.image.image import ImageConversionError, ImageFormatError, convert_color, to_cvtype
    try:
        _, _, typestr, channels = to_cvtype(msg.encoding)
    except ImageFormatError:
        raise Unusable(f"unsupported image encoding {msg.encoding!r}") from None
    dtype = np.dtype(typestr).newbyteorder(">" if msg.is_bigendian else "<")
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    row = width * channels * dtype.itemsize
    if width == 0 or height == 0:
        raise Unusable(f"empty image ({width}x{height})")
    if step < row:
        raise Unusable(f"step {step} is shorter than a row of {width} {msg.encoding} pixels ({row} bytes)")
    data = _buffer(msg.data)
    if len(data) < step * (height - 1) + row:
        raise Unusable(f"image data too short ({len(data)} bytes for {width}x{height}, step {step})")
    shape = (height, width) if channels == 1 else (height, width, channels)
    strides = (step, dtype.itemsize) if channels == 1 else (step, channels * dtype.itemsize, dtype.itemsize)
    pixels = np.ndarray(shape=shape, dtype=dtype, buffer=data, strides=strides)
    pixels = np.ascontiguousarray(pixels.astype(dtype.newbyteorder("="), copy=False))
    try:
        image = convert_color(pixels, msg.encoding, "bgr8")
    except (ImageConversionError, ImageFormatError) as exc:
        raise Unusable(f"unsupported image encoding {msg.encoding!r} ({exc})") from None
    except Exception as exc:   # OpenCV refuses odd channel counts for a known name
        raise Unusable(f"image in {msg.encoding!r} could not be converted ({type(exc).__name__})") from None
    return ImageFrame(image=np.ascontiguousarray(image), stamp=stamp, frame_id=_frame_id(msg))


def compressed_image_frame(msg, stamp: float) -> ImageFrame:
    """sensor_msgs/CompressedImage (JPEG, PNG, ...) → BGR ImageFrame."""
    import cv2
    data = np.frombuffer(_buffer(msg.data), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise Unusable(f"compressed image could not be decoded (format {msg.format!r})")
    return ImageFrame(image=image, stamp=stamp, frame_id=_frame_id(msg))


def camera_info_frame(msg, stamp: float) -> CameraInfoFrame:
    return CameraInfoFrame(width=int(msg.width), height=int(msg.height), k=tuple(map(float, msg.k)),
                           d=tuple(map(float, msg.d)), distortion_model=msg.distortion_model, stamp=stamp,
                           frame_id=_frame_id(msg))


def text_input(msg, stamp: float) -> TextInput:
    text = msg.data.strip() if isinstance(msg.data, str) else ""
    if not text:
        raise Unusable("empty text")
    return TextInput(text=text, stamp=stamp)


def estop(reason: str = "stop topic") -> Stop:
    return Stop(source="estop", reason=reason)


class AudioDecoder:
    """16-bit PCM bytes at the stream's rate and channel count → AudioChunks at the pipeline's rate.

    The format comes from an audio_info message when the stream has one (`info`), else from the config.
    """

    def __init__(self, sample_rate: int, channels: int, target_rate: int, name: str = "audio") -> None:
        self.rate, self.channels, self.format = sample_rate, channels, "S16LE"
        self.target_rate, self.name = target_rate, name
        self._conform = None

    def info(self, msg) -> None:
        """audio_common_msgs/AudioInfo: channels, sample_rate, sample_format."""
        if msg.channels < 1 or msg.sample_rate < 1:
            raise Unusable(f"audio_info with {msg.channels} channels at {msg.sample_rate} Hz")
        self.rate, self.channels = int(msg.sample_rate), int(msg.channels)
        self.format = (msg.sample_format or "S16LE").upper()

    def __call__(self, data, stamp: float) -> AudioChunk | None:
        """None while the resampler is still filling up."""
        data = bytes(data)
        if self.format != "S16LE":
            raise Unusable(f"sample format {self.format} not supported (16-bit little-endian PCM only)")
        frame_bytes = 2 * self.channels
        if not data or len(data) % frame_bytes:
            raise Unusable(f"{len(data)} bytes is not a whole number of 16-bit x {self.channels}-channel samples")
        pcm = np.frombuffer(data, "<i2").reshape(-1, self.channels)
        if self._conform is None:
            from .speech.audio import AudioConformer
            self._conform = AudioConformer(self.target_rate, remove_dc=False, name=self.name)
        samples = self._conform(pcm, self.rate)     # mono, at the pipeline's rate
        if not samples.size:
            return None
        return AudioChunk(samples=samples, sample_rate=self._conform.target_rate, stamp=stamp)


def audio_bytes(msg) -> bytes:
    """The PCM bytes of an audio message: audio_common_msgs AudioData / AudioDataStamped or a
    std_msgs UInt8MultiArray (all keep them in a uint8[] field `data`)."""
    payload = getattr(msg, "audio", msg)           # AudioDataStamped wraps AudioData
    if not hasattr(payload, "data"):
        raise Unusable(f"audio message layout not supported: {type(msg).__name__}")
    return bytes(payload.data)
