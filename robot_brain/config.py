"""Configuration: dataclasses loaded from YAML and validated at load.

`load_config(path, overrides)` reads the packaged defaults (robot_brain/default_config.yaml),
then the user's file, then overrides such as {"pipeline.queue_size": 32} from CLI flags.
An unknown key or a bad value raises ConfigError naming the file, the key and what is allowed.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml


class ConfigError(ValueError):
    """A configuration problem, worded for the person who has to fix the file."""


def _opt(default: Any, help: str, *, min: float | None = None, max: float | None = None) -> Any:
    meta = {"help": help, "min": min, "max": max}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class PipelineConfig:
    queue_size: int = _opt(64, "data frames each stage may have waiting before the oldest is dropped", min=1)
    max_consecutive_errors: int = _opt(5, "failures in a row before a stage is taken out of service", min=1)
    shutdown_timeout_s: float = _opt(5.0, "how long shutdown waits for each stage to stop", min=0.1)


@dataclass
class TopicsConfig:
    image: str = _opt("/camera/image_raw", "camera image (sensor_msgs/Image)")
    compressed_image: str = _opt("/camera/image_raw/compressed", "camera image (sensor_msgs/CompressedImage)")
    camera_info: str = _opt("/camera/camera_info", "camera intrinsics (sensor_msgs/CameraInfo)")
    audio: str = _opt("/audio", "microphone audio (audio_common_msgs AudioData or AudioDataStamped)")
    audio_info: str = _opt("/audio/audio_info", "audio format (audio_common_msgs/AudioInfo), optional")
    text_in: str = _opt("/robot_brain/text_in", "typed user input (std_msgs/String)")
    stop: str = _opt("/robot_brain/stop", "emergency stop (std_msgs/Empty)")
    transcript: str = _opt("/robot_brain/transcript", "output: what the robot heard (std_msgs/String)")
    reply: str = _opt("/robot_brain/reply", "output: what the robot says, per sentence (std_msgs/String)")
    intents: str = _opt("/robot_brain/intents", "output: gated action intents, JSON (std_msgs/String)")
    speaking: str = _opt("/robot_brain/speaking", "output: whether the robot's voice is playing (std_msgs/Bool)")
    tts_audio: str = _opt("/robot_brain/tts_audio", "output: the robot's voice, 16-bit PCM at audio.sample_rate "
                                                    "(ros.audio_type), when ros.publish_tts_audio is on")
    link: str = _opt("/robot_brain/link", "between the nodes of the per-stage deployment: turns, proposals, "
                                          "reply sentences, gate decisions, stops (JSON in std_msgs/String)")


@dataclass
class AudioConfig:
    sample_rate: int = _opt(16000, "sample rate the pipeline works at (Hz)", min=8000, max=48000)
    input_sample_rate: int = _opt(16000, "rate of recorded/streamed audio when no audio_info says otherwise",
                                  min=8000, max=192000)
    input_channels: int = _opt(1, "channels of recorded/streamed audio when no audio_info says otherwise",
                               min=1, max=16)


@dataclass
class ReplayConfig:
    pace: Literal["bag", "realtime"] = _opt(
        "bag", "bag: each message is fed once the pipeline is idle (deterministic, as fast as the stages allow); "
               "realtime: messages are fed at the bag's own pace")
    speed: float = _opt(1.0, "speed factor for pace=realtime", min=0.01, max=100.0)


@dataclass
class BrainConfig:
    model: str = _opt("tiny-random", "model folder, or tiny-random: a random SmolVLM-shaped model whose answers "
                                     "are noise (for plumbing checks when no trained model is at hand)")
    device: str = _opt("cpu", "torch device for the model: cpu, cuda, cuda:1, ...")
    engine: Literal["auto", "transformers", "llama.cpp"] = _opt(
        "auto", "what runs the model: auto = the registry's engine for this device profile (llama.cpp on CPUs for "
                "Llama-text VLMs such as SmolVLM, transformers otherwise); transformers runs any Hugging Face VLM")
    max_new_tokens: int = _opt(400, "longest reply, in tokens (JSON included when structured)", min=1, max=4096)
    structured: bool = _opt(True, "reply as grammar-constrained JSON {say, intents} (false: free text, no intents)")
    skills: str = _opt("", "skills YAML (verbs the brain may propose); empty: the bundled robot_brain/intents/skills.yaml")
    timeout_s: float = _opt(20.0, "a reply taking longer is cut short with a spoken apology (s)", min=0.1, max=600.0)
    max_frame_age_s: float = _opt(2.0, "an older camera frame is not shown to the model; the robot says it "
                                       "cannot see (s)", min=0.05, max=3600.0)
    quantisation: Literal["auto", "none", "bf16", "fp16", "int8-dynamic", "int8-dynamic-all", "int8", "4bit"] = _opt(
        "auto", "weights: auto = int8-dynamic-all (every linear layer) on CPU, fp16 on CUDA; int8/4bit need CUDA + bitsandbytes")
    motion_keyframes: int = _opt(3, "frames (0.5 s apart, the latest last) shown for questions about motion; "
                                     "1: always the latest frame only", min=1, max=8)
    history_turns: int = _opt(4, "earlier turns (question and reply) the brain remembers", min=0, max=64)
    history_tokens: int = _opt(512, "token budget for those turns; the oldest are left out first", min=0, max=32768)
    max_image_edge: int = _opt(1024, "frames are shrunk to this longer side before the model's own resizing (px)",
                               min=32, max=8192)
    cpu_threads: int = _opt(0, "threads for the model on CPU (torch and llama.cpp); 0 = one per core: they run "
                               "brain.nice steps below the always-on audio path (stop word, VAD), which keeps its "
                               "latency", min=0, max=256)
    prefix_cache: bool = _opt(True, "keep the prefilled system prompt (with the skills list) and reuse it every turn")
    picture_ahead: bool = _opt(True, "encode the newest camera frame when the user starts speaking; the turn uses it "
                                     "if the scene has not changed since")
    nice: int = _opt(10, "the model's threads run this many nice steps below the audio path, so the stop word "
                         "keeps its latency when the model has every core busy (Linux; 0: same priority)",
                     min=0, max=19)


@dataclass
class HearingConfig:
    vad_model: str = _opt("", "Silero VAD ONNX file; empty: the one faster-whisper ships")
    threshold: float = _opt(0.5, "speech probability at which speech starts", min=0.05, max=0.99)
    release: float = _opt(0.35, "probability below which a speech block counts as silence", min=0.01, max=0.99)
    pre_roll_s: float = _opt(0.4, "audio kept from before speech started (s)", min=0.0, max=2.0)
    min_speech_s: float = _opt(0.25, "shorter speech is ignored as noise (s)", min=0.03, max=5.0)
    end_silence_s: float = _opt(0.5, "silence that ends the user's turn (s)", min=0.1, max=5.0)
    transcribe_ahead_s: float = _opt(0.15, "after this much silence the speech so far is transcribed at once; if the "
                                           "turn then ends with nothing more said, its transcript is ready (0: off)",
                                     min=0.0, max=5.0)
    max_utterance_s: float = _opt(20.0, "longer speech is cut into pieces of this length (s)", min=1.0, max=30.0)
    barge_in: bool = _opt(True, "user speech while the robot talks interrupts it (needs an echo-cancelled mic, "
                                "a headset, or a speaker the mic cannot hear)")
    barge_in_s: float = _opt(0.5, "speech needed to interrupt the robot (s)", min=0.05, max=5.0)
    self_speech_tail_s: float = _opt(0.3, "after the robot stops talking, audio is still treated as its echo "
                                           "for this long (s)", min=0.0, max=3.0)


@dataclass
class AsrConfig:
    model: str = _opt("tiny-random", "faster-whisper model: a size (tiny, base.en, small, ...; downloaded once), "
                                     "a CTranslate2 folder, demo-ear (shipped: the demo's questions only), or "
                                     "tiny-random (random weights: transcripts are noise)")
    device: str = _opt("cpu", "cpu, cuda, cuda:1, or auto")
    compute_type: str = _opt("auto", "CTranslate2 compute type; auto: int8 on CPU, float16 on CUDA")
    language: str = _opt("", "spoken language code (en, de, zh, ...); empty: detect per utterance")
    beam_size: int = _opt(1, "beam width (1: greedy, fastest)", min=1, max=10)
    cpu_threads: int = _opt(0, "CPU threads for Whisper (0: one per core, up to 8)", min=0, max=256)
    no_speech_threshold: float = _opt(0.6, "drop a segment Whisper thinks is not speech above this probability",
                                      min=0.0, max=1.0)
    logprob_threshold: float = _opt(-1.0, "drop a segment whose mean token log-probability is lower", max=0.0)
    compression_ratio_threshold: float = _opt(2.4, "drop a segment that repeats itself (gzip ratio above this)",
                                              min=1.0)


@dataclass
class StopConfig:
    words: tuple[str, ...] = _opt(("stop", "halt", "停", "멈춰"), "words that stop the robot at once "
                                  "(each must be a label of the spotter model)")
    model: str = _opt("", "stop-word spotter (.npz from scripts/train_stop_spotter.py); empty: the bundled one")
    threshold: float = _opt(0.9, "spotter probability that counts as a stop word", min=0.05, max=0.999)
    hop_s: float = _opt(0.04, "how often the spotter looks at the last second of audio (s)", min=0.01, max=0.5)


@dataclass
class TtsConfig:
    backend: Literal["pyttsx3"] = _opt("pyttsx3", "speech synthesiser (pyttsx3 = espeak-ng on Linux, SAPI5 on "
                                                  "Windows, NSSpeech on macOS)")
    voice: str = _opt("", "voice id or name for the back-end; empty: its default")
    rate: int = _opt(0, "speaking rate in words per minute (0: the back-end's default)", min=0, max=600)
    output: str = _opt("default", "playback device (name or index), default, or none (no speaker)")
    block_s: float = _opt(0.02, "playback block: the longest it takes to cut speech (s)", min=0.005, max=0.05)


@dataclass
class GateConfig:
    confirm_timeout_s: float = _opt(10.0, "a risky intent not confirmed (yes/no) within this is dropped (s)",
                                    min=1.0, max=120.0)
    max_per_minute: int = _opt(20, "action intents let through per minute at most (stop is never limited)",
                               min=1, max=600)
    repeat_window_s: float = _opt(2.0, "the same verb and target again within this is dropped as a repeat (s)",
                                  min=0.0, max=60.0)
    min_confidence: float = _opt(0.3, "a less confident intent becomes a clarifying question", min=0.0, max=1.0)
    require_point: bool = _opt(True, "an intent with a target needs an image point in the frame the brain "
                               "looked at (fresh: brain.max_frame_age_s), else the robot asks where it is")
    turn_ttl_s: float = _opt(60.0, "a proposal must come from a user turn this recent (s)", min=1.0, max=3600.0)
    camera: str = _opt("", "camera intrinsics YAML (camera_calibration_parsers format); empty: the bundled "
                       "calibration/camera.yaml; a CameraInfo in the stream wins")
    extrinsics: str = _opt("", "camera → base extrinsic YAML; empty: the bundled calibration/extrinsics.yaml")
    audit_log: str = _opt("", "append every gate decision to this JSON-lines file (replay: DIR/audit.jsonl)")


@dataclass
class RosConfig:
    audio_type: Literal["audio_common_msgs/AudioData", "audio_common_msgs/AudioDataStamped",
                        "std_msgs/UInt8MultiArray"] = _opt(
        "audio_common_msgs/AudioData", "message type of topics.audio (and topics.tts_audio): 16-bit PCM in a uint8[] "
                                       "field; rate and channels from topics.audio_info or audio.input_*")
    intents_type: Literal["auto", "json"] = _opt(
        "auto", "auto: hri_actions_msgs/Intent when that package is installed, else JSON in std_msgs/String; "
                "json: always JSON (same fields)")
    diagnostics_period_s: float = _opt(0.5, "how often /diagnostics is published (s)", min=0.05, max=10.0)
    publish_tts_audio: bool = _opt(False, "publish the robot's voice on topics.tts_audio")
    record_dir: str = _opt("", "record the session (inputs and outputs) as a rosbag2 into this new folder; "
                               "empty: no recording (the default: camera, voice and words stay private)")
    link_key_file: str = _opt("", "key file the split deployment's nodes sign topics.link with (HMAC-SHA256; the "
                                  "same file on every computer, mode 600); empty: $ROBOT_BRAIN_LINK_KEY_FILE. The "
                                  "launch file creates $ROS_HOME/robot_brain/link.key at first launch. Not used by "
                                  "the composed node")
    link_max_age_s: float = _opt(30.0, "a link message whose wall time differs more than this from this computer's "
                                       "clock is dropped as a replay (s); 0: not checked (clocks not in sync)",
                                 min=0.0, max=3600.0)


@dataclass
class Config:
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    brain: BrainConfig = field(default_factory=BrainConfig)
    hearing: HearingConfig = field(default_factory=HearingConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    ros: RosConfig = field(default_factory=RosConfig)
    source: str = field(default="<defaults>", compare=False, repr=False)


def default_config_text() -> str:
    return resources.files("robot_brain").joinpath("default_config.yaml").read_text()


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Defaults, then the file at `path` (if any), then `overrides` ({"section.key": value})."""
    merged: dict[str, Any] = {}
    _merge(merged, _parse(default_config_text(), "robot_brain/default_config.yaml"))
    source = "robot_brain/default_config.yaml"
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
        _merge(merged, _parse(text, str(path)))
        source = str(path)
    config = _build(Config, merged, "", source)
    for dotted, value in (overrides or {}).items():
        config = _override(config, dotted, value)
    config.source = source
    return config


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["pipeline.queue_size=32", ...] (from `--set`) → {"pipeline.queue_size": 32}; values are YAML scalars."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. pipeline.queue_size=32")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def describe(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, help) for every setting: the source of the docs and `--help` text."""
    rows = []
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            rows += describe(hint, f"{prefix}{f.name}.")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            rows.append((prefix + f.name, default, f.metadata.get("help", "")))
    return rows


# ---- internals ----

def _parse(text: str, where: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _build(cls: type, data: Any, prefix: str, source: str):
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{where}' must be a mapping, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key '{prefix}{unknown[0]}'; allowed keys in {where}: "
                          f"{', '.join(sorted(fields))}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{prefix}{name}.", source)
        else:
            values[name] = _coerce(value, hint, fields[name], prefix + name, source)
    return cls(**values)


def _coerce(value: Any, hint: Any, f: dataclasses.Field, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{source}: {key} = {_show(value)} is not allowed; allowed values: "
                              f"{', '.join(map(str, allowed))}")
        return value
    if origin is tuple and typing.get_args(hint) == (str, Ellipsis):
        if isinstance(value, str):          # from --set: comma-separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {key} must be a list of strings, got {_show(value)}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {_show(value)}")
        return value
    if hint in (int, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if hint is int and ok and float(value) != int(value):
            ok = False
        if not ok or value != value:  # NaN
            raise ConfigError(f"{source}: {key} must be {'an integer' if hint is int else 'a number'}, "
                              f"got {_show(value)}")
        value = hint(value)
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
            raise ConfigError(f"{source}: {key} = {value} is out of range; it must be {bounds}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {_show(value)}")
        return value
    raise TypeError(f"config field {key} has an unsupported type {hint!r}")


def _override(config: Config, dotted: str, value: Any) -> Config:
    section, _, key = dotted.partition(".")
    sections = {f.name for f in dataclasses.fields(Config) if f.name != "source"}
    if section not in sections or not key:
        raise ConfigError(f"override {dotted!r}: expected SECTION.KEY with SECTION one of {', '.join(sorted(sections))}")
    current = dataclasses.asdict(getattr(config, section))
    current[key] = value
    rebuilt = _build(typing.get_type_hints(Config)[section], current, f"{section}.", f"override {dotted}")
    return dataclasses.replace(config, **{section: rebuilt})


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
