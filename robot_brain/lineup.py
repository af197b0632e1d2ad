"""The standard line-up of stages, in pipeline order, and which of them this version provides."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from .config import Config, ConfigError
from .intents.gate import ConfirmationBoard
from .pipeline import Stage
from .speech.player import AudioSink
from .speech.speaking import SpeakingState
from .turns import TurnTaker

log = logging.getLogger(__name__)


@dataclass
class Shared:
    """What several stages of one line-up share: the robot's speaking state, where its voice goes,
    whether the safety gate waits for a yes/no (so turn taking sends the answer to the gate), and the clock
    the gate's time windows run on (a replay's is the bag's time)."""
    speaking: SpeakingState
    sink: AudioSink | None = None        # None: from tts.output
    confirmations: ConfirmationBoard = field(default_factory=ConfirmationBoard)
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class StageSlot:
    name: str
    what: str
    build: Callable[[Config, Shared], Stage] | None = None   # None: not available in this version

    @property
    def available(self) -> bool:
        return self.build is not None


TINY_RANDOM = "tiny-random"
DEMO_EAR = "demo-ear"          # the ear shipped in models/demo-ear (robot_brain/training/asr.py)
DEMO_BRAIN = "demo-tabletop"   # the brain shipped in models/demo-tabletop (scripts/train_demo_vlm.py)


def _stop_path(config: Config, shared: Shared) -> Stage:
    from .config import ConfigError
    from .speech.stop_path import StopSpotter
    c = config.stop
    try:
        return StopSpotter(c.words, model=c.model, threshold=c.threshold, hop_s=c.hop_s)
    except (ValueError, OSError) as exc:   # the stop word is a safety feature: never run without it
        raise ConfigError(f"stop: {exc}") from None


def _hearing(config: Config, shared: Shared) -> Stage:
    from .speech.endpointer import EndpointSettings
    from .speech.hearing import Hearing
    c = config.hearing
    settings = EndpointSettings(threshold=c.threshold, release=min(c.release, c.threshold), pre_roll_s=c.pre_roll_s,
                                min_speech_s=c.min_speech_s, end_silence_s=c.end_silence_s,
                                max_utterance_s=c.max_utterance_s, pause_s=c.transcribe_ahead_s)
    return Hearing(settings, speaking=shared.speaking, barge_in=c.barge_in, barge_in_s=c.barge_in_s,
                   vad_model=c.vad_model)


def _asr(config: Config, shared: Shared) -> Stage:
    from .speech.asr import Guard, WhisperAsr
    c = config.asr
    model = c.model
    if model == TINY_RANDOM:
        from .testing import tiny_whisper
        model = str(tiny_whisper())
    else:
        from .brain.registry import shipped_folder
        shipped = shipped_folder(model)                  # demo-ear: the ear shipped in models/
        if model == DEMO_EAR and shipped is None:
            raise ConfigError("the demo ear (models/demo-ear) is missing from this install: restore it from "
                              "the repository, or set asr.model to a Whisper size such as base.en")
        model = str(shipped or model)
    guard = Guard(c.no_speech_threshold, c.logprob_threshold, c.compression_ratio_threshold)
    return WhisperAsr(model, device=c.device, compute_type=c.compute_type, language=c.language,
                      beam_size=c.beam_size, cpu_threads=c.cpu_threads, guard=guard)


def _turns(config: Config, shared: Shared) -> Stage:
    return TurnTaker("turns", stop_words=config.stop.words, confirmations=shared.confirmations)


def _brain(config: Config, shared: Shared) -> Stage:
    from .brain.vlm import VLMBrain
    from .brain.engines.choice import choose_engine
    from .brain.registry import RegistryError, registry_engines
    c = config.brain
    model, fallbacks, quantisation, profile = c.model, [], c.quantisation, None
    if model == TINY_RANDOM:
        from .testing import tiny_idefics3_vlm
        model = str(tiny_idefics3_vlm())
    else:
        from .brain.registry import load_registry, resolve_model, smaller_pulled
        from .config import ConfigError
        try:
            model, fallbacks = str(resolve_model(model)), smaller_pulled(model)
            profile = load_registry().get(c.model)
        except RegistryError as exc:
            raise ConfigError(f"brain.model: {exc}") from None
        if profile is not None and quantisation == "auto":   # the profile says what suits it per device
            quantisation = profile.quantisation.get("cuda" if c.device.startswith("cuda") else "cpu", "auto")
    try:
        table = registry_engines()
    except RegistryError as exc:
        log.warning("brain.engine: %s; the transformers engine runs the model", exc)
        table = {}
    engine, why = choose_engine(c.engine, c.device, model, table, profile.extra.get("engine") if profile else None)
    log.info("brain engine: %s (%s)", engine, why)
    return VLMBrain(model, device=c.device, max_new_tokens=c.max_new_tokens, structured=c.structured,
                    skills_path=c.skills, timeout_s=c.timeout_s, max_frame_age_s=c.max_frame_age_s,
                    max_image_edge=c.max_image_edge, history_turns=c.history_turns,
                    history_tokens=c.history_tokens, quantisation=quantisation,
                    motion_keyframes=c.motion_keyframes, fallbacks=fallbacks, cpu_threads=c.cpu_threads, nice=c.nice,
                    prefix_cache=c.prefix_cache, picture_ahead=c.picture_ahead, engine=engine)


def _intent_gate(config: Config, shared: Shared) -> Stage:
    from .config import ConfigError
    from .intents.audit import AuditLog
    from .intents.gate import Gate, IntentGate
    from .intents.skills import SkillError, load_skills
    from .vision.calibration import CalibrationError, CameraModel, Extrinsic, default_file
    c = config.gate
    try:
        skills = load_skills(config.brain.skills or None)
        camera = CameraModel.from_yaml(c.camera or default_file("camera.yaml"))
        extrinsic = Extrinsic.from_yaml(c.extrinsics or default_file("extrinsics.yaml"))
    except (SkillError, CalibrationError) as exc:
        raise ConfigError(f"gate: {exc}") from None
    try:
        audit = AuditLog(c.audit_log) if c.audit_log else None
    except OSError as exc:
        raise ConfigError(f"gate.audit_log: cannot append to {c.audit_log} ({exc.strerror or exc})") from None
    gate = Gate(skills, confirm_timeout_s=c.confirm_timeout_s, max_per_minute=c.max_per_minute,
                repeat_window_s=c.repeat_window_s, min_confidence=c.min_confidence, require_point=c.require_point,
                turn_ttl_s=c.turn_ttl_s, camera=camera, extrinsic=extrinsic, audit=audit, board=shared.confirmations)
    return IntentGate(gate, clock=shared.clock)


def _speech_out(config: Config, shared: Shared) -> Stage:
    from .speech.player import make_sink
    from .speech.speech_out import SpeechOut
    from .speech.tts import make_voice
    c = config.tts
    voice = make_voice(c.backend, voice=c.voice, rate=c.rate)
    sink = shared.sink if shared.sink is not None else make_sink(c.output, block_s=c.block_s)
    return SpeechOut(voice, sink, speaking=shared.speaking, block_s=c.block_s)


LINEUP: tuple[StageSlot, ...] = (
    StageSlot("stop_path", "the stop word, spotted on every audio block", _stop_path),
    StageSlot("hearing", "voice activity detection and end of turn", _hearing),
    StageSlot("asr", "Whisper speech recognition", _asr),
    StageSlot("turns", "turn taking (typed text and final transcripts become turns)", _turns),
    StageSlot("brain", "the vision-language model that answers", _brain),
    StageSlot("intent_gate", "action intents and the safety gate", _intent_gate),
    StageSlot("speech_out", "text-to-speech and playback", _speech_out),
)


def build_lineup(config: Config, *, sink: AudioSink | None = None, only: set[str] | None = None,
                 shared: Shared | None = None, swap: dict[str, Stage] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> tuple[list[Stage], list[StageSlot], list[str]]:
    """The stages this version can build, the slots it cannot, and notes the user must see.

    `sink`: where the robot's voice goes (default: tts.output). `only`: build just these slots.
    `shared`: state the caller wants to reach too (e.g. a node that learns the speaking state over a topic).
    `swap`: stages to use in place of the slots of the same name (stand-ins at a seam); they are not built.
    `clock`: seconds for the safety gate's windows (repeats, rate limit, confirmation timeout).
    """
    shared = shared or Shared(speaking=SpeakingState(tail_s=config.hearing.self_speech_tail_s), sink=sink,
                              clock=clock)
    swap = swap or {}
    stages, missing, notes = [], [], []
    for slot in LINEUP:
        if only is not None and slot.name not in only:
            continue
        if slot.name in swap:
            stages.append(swap[slot.name])
            continue
        if not slot.available:
            missing.append(slot)
            continue
        try:
            stages.append(slot.build(config, shared))
        except ImportError as exc:
            missing.append(StageSlot(slot.name, f"{slot.what}; cannot be built here: {exc}"))
    built = {s.name for s in stages} - set(swap)
    if config.brain.model == TINY_RANDOM and "brain" in built:
        notes.append("the brain is a tiny random SmolVLM-shaped model: its answers are noise. "
                     "Set brain.model to a model folder for real answers.")
    if config.brain.model == DEMO_BRAIN and "brain" in built:
        notes.append("the brain is the demo brain: it knows only the synthetic table-top world of the demo "
                     "(coloured cubes, balls, cups, bottles and boxes on a table). Set brain.model to a profile such "
                     "as smolvlm-256m for a real camera.")
    if config.asr.model == TINY_RANDOM and "asr" in built:
        notes.append("speech recognition is a tiny random Whisper-shaped model: it hears noise, and its guard "
                     "drops most of it. Set asr.model to a Whisper size or folder for real transcripts; "
                     "the stop word works regardless.")
    if config.asr.model == DEMO_EAR and "asr" in built:
        notes.append("speech recognition is the demo ear: it knows only the demo's questions about the table, "
                     "and often hears other speech as one of them. Set asr.model to a Whisper size (base.en, "
                     "small, ...) for open speech.")
    return stages, missing, notes
