"""One demo session: inputs (camera, voice or text) → the pipeline → speaker, live view or status line, events.

Anything missing (camera, microphone, speaker, display) is said once and the demo goes on with what there
is; only when nothing can be asked at all does it stop, naming the flag to use.
"""
from __future__ import annotations

import dataclasses
import logging
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..config import Config
from ..events import EventLog, event_of
from ..frames import Frame, ImageFrame, Interrupt, Stop
from ..lineup import TINY_RANDOM, build_lineup
from ..pipeline import Pipeline, Stage
from ..speech.player import AudioSink, NullSink, WavSink, make_sink
from .camera import CameraError, CameraFeed, open_feed
from .push_to_talk import PushToTalk
from .state import DemoState
from .status import StatusPrinter
from .voice import MicrophoneVoice, TypedVoice, VoiceError, WavVoice

log = logging.getLogger("robot_brain.demo")

TINY_BANNER = "TINY RANDOM MODEL: its answers are noise (set brain.model / asr.model to real models)"


class DemoError(Exception):
    """The demo cannot start as asked; the message names the flag to use."""


@dataclass
class DemoOptions:
    camera: str | None = None          # webcam index, /dev path or name (default 0)
    video: Path | None = None
    images: Path | None = None
    mic: str | None = None             # microphone name or index (default: the system's)
    wav: Path | None = None
    text: bool = False
    wav_out: Path | None = None
    window: bool = True
    out: Path | None = None
    push_to_talk: bool = False
    max_fps: float = 15.0
    image_period_s: float = 2.0
    linger_s: float = 2.0              # with a file or piped text: quiet time after the last event before ending


@dataclass
class DemoResult:
    events: list[dict]
    out_dir: Path | None
    wav_out: Path | None
    reply_wav: Path | None
    camera_losses: int
    stuck: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e["type"] == kind)

    def account(self) -> str:
        """The closing lines: what happened and which files hold it."""
        lines = []
        if self.out_dir is not None:
            lines.append(f"{self.count('turn')} turns, {self.count('reply')} sentences said, "
                         f"{self.count('intent')} intents, {self.count('stop')} stops")
        if self.camera_losses:
            lines.append(f"the camera was lost {self.camera_losses} time(s) and the demo went on")
        if self.stuck:
            lines.append(f"stages that did not stop in time: {', '.join(self.stuck)}")
        files = [str(p) for p in (self.out_dir and Path(self.out_dir) / "events.jsonl", self.reply_wav, self.wav_out)
                 if p]
        if files:
            lines.append(f"wrote: {', '.join(files)}")
        return "\n".join(lines)


class Demo:
    """Build with the options, then `run()` (or `start()`, `tick()` until False, `close()`)."""

    def __init__(self, config: Config, options: DemoOptions, *, swap: dict[str, Stage] | None = None,
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        """`swap`: stages to use instead of the line-up's stages of the same name (a stand-in at a seam)."""
        self.options = options
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.origin = time.monotonic()
        if options.out is not None and not config.gate.audit_log:
            config = dataclasses.replace(config, gate=dataclasses.replace(
                config.gate, audit_log=str(Path(options.out) / "audit.jsonl")))
        self.config = config
        self.notices: list[str] = []
        self.sink = self._speaker()
        self.voice = self._voice()
        self.feed = self._camera()
        self.ptt = PushToTalk() if options.push_to_talk else None
        swap = swap or {}
        stages, missing, lineup_notes = build_lineup(config, sink=self.sink, swap=swap)
        self.notices += [f"not available: {slot.name} ({slot.what})" for slot in missing]
        self.notices += lineup_notes
        notes = []
        if (config.brain.model == TINY_RANDOM and "brain" not in swap) or \
                (config.asr.model == TINY_RANDOM and "asr" not in swap):
            notes.append(TINY_BANNER)
        if self.ptt is not None:
            after = next((i + 1 for i, s in enumerate(stages) if s.name == "stop_path"), 0)
            stages = stages[:after] + [self.ptt] + stages[after:]
        self.pipeline = Pipeline(stages, queue_size=config.pipeline.queue_size,
                                 max_consecutive_errors=config.pipeline.max_consecutive_errors,
                                 shutdown_timeout_s=config.pipeline.shutdown_timeout_s)
        self.state = DemoState(self.pipeline.timelines, tuple(notes))
        self.pipeline.add_sink(self.state)
        self.pipeline.add_sink(self._note_activity)
        self.events: EventLog | None = None     # made once the models are loaded: its clock starts with the inputs
        self.window = None
        self.printer: StatusPrinter | None = None
        self._last_activity = time.monotonic()
        self._quit = False
        self._started = False

    # ---- what the demo has to work with -------------------------------------------------------

    def _speaker(self) -> AudioSink:
        c, o = self.config.tts, self.options
        if o.wav_out is not None:
            return WavSink(o.wav_out, realtime=True, keep=False)
        if c.output == "none":
            return NullSink(realtime=True)
        from ..speech.microphone import resolve_device
        try:
            resolve_device(None if c.output == "default" else c.output, "output")
        except RuntimeError as exc:
            self.notices.append(f"no speaker: {exc}. Replies are shown as subtitles only; --wav-out FILE keeps them.")
            return NullSink(realtime=True)
        return make_sink(c.output, block_s=c.block_s)

    def _voice(self):
        o = self.options
        push = self._push_input
        if o.wav is not None:
            try:
                return WavVoice(o.wav, push, clock_origin=self.origin)
            except VoiceError as exc:
                raise DemoError(str(exc)) from None
        if o.text:
            return TypedVoice(self.stdin, push, prompt=self.stdin.isatty(), clock_origin=self.origin,
                              ready=self.quiet)
        try:
            return MicrophoneVoice(o.mic, push, clock_origin=self.origin)
        except RuntimeError as exc:
            if not self.stdin.isatty():
                raise DemoError(f"no microphone: {exc}\nAsk with --wav FILE (a recording) or --text (typed "
                                "questions) instead.") from None
            self.notices.append(f"no microphone: {exc}. Type your questions here instead (--text).")
            return TypedVoice(self.stdin, push, prompt=True, clock_origin=self.origin, ready=self.quiet)

    def _camera(self) -> CameraFeed | None:
        o = self.options
        try:
            feed = open_feed(camera=o.camera, video=o.video, images=o.images, emit=self._push_input,
                             max_fps=o.max_fps, image_period_s=o.image_period_s, clock_origin=self.origin)
        except CameraError as exc:
            if o.video is not None or o.images is not None:
                raise DemoError(str(exc)) from None
            self.notices.append(f"{exc}; going on without vision")
            return None
        return feed

    # ---- running ----------------------------------------------------------------------------

    def start(self, progress: bool = True) -> None:
        from tqdm import tqdm
        names = [s.name for s in self.pipeline.stages]
        with tqdm(total=len(names), desc="loading", unit="stage", disable=not progress, file=sys.stderr,
                  leave=False) as bar:
            self.pipeline.start(on_open=lambda name: (bar.set_postfix_str(name), bar.update(1)))
        self._started = True
        unhealthy = [name for name, ok in self.pipeline.health().items() if not ok]
        for name in unhealthy:
            self.notices.append(f"stage {name} could not start ({self.pipeline.stats()[name].last_error}); "
                         "the rest runs without it")
        self._open_view()
        self._say(summary_line(self.pipeline.stages, self.config, self.feed, self.sink, self.options))
        for text in self.notices:
            self._say(f"note: {text}")
        if self.state.notes:
            self._say(f"*** {TINY_BANNER} ***")
        self.origin = time.monotonic()          # session time (t, stamps) counts from when the inputs start
        if self.options.out is not None:
            self.events = EventLog(Path(self.options.out) / "events.jsonl", stamp=lambda: time.monotonic() - self.origin)
            self.pipeline.add_sink(self.events)
        for source in (self.feed, self.voice):
            if source is not None:
                source.origin = self.origin
                source.start()

    def _open_view(self) -> None:
        if self.options.window:
            from .window import Window, display_problem
            problem = display_problem()
            if problem is None:
                try:
                    self.window = Window()
                except RuntimeError as exc:
                    problem = str(exc)
            if problem is not None:
                self.notices.append(f"{problem}: showing a status line instead of the window (--no-window)")
        if self.window is None:
            self.printer = StatusPrinter(self.stdout, in_place=self.stdout.isatty() and not isinstance(
                self.voice, TypedVoice))
            self._say("no window: Ctrl-C quits" + ("; type \"stop\" to stop the robot" if isinstance(
                self.voice, TypedVoice) else "; say \"stop\" to stop the robot"))

    def _say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def _push_input(self, frame: Frame) -> None:
        if self._started and not self._quit:
            self.pipeline.push(frame)

    def _note_activity(self, frame: Frame) -> None:
        if not isinstance(frame, ImageFrame) and event_of(frame) is not None:
            self._last_activity = time.monotonic()

    def stop_robot(self, source: str = "keyboard") -> None:
        """What the stop word does: cut speech and cancel the turn (Stop), and the stop intent for the gate."""
        from ..speech.stop_path import stop_intent
        self.pipeline.push(Stop(source=source, reason="stop key"))
        self.pipeline.push(stop_intent(source, 1.0, "stop key"))

    def quiet(self) -> bool:
        """Nothing in flight: the pipeline is idle, the robot is not speaking, and nothing happened for a while."""
        return (time.monotonic() - self._last_activity >= self.options.linger_s
                and self.state.snapshot().state in ("listening", "stopped") and self.pipeline.wait_idle(0.05))

    def done(self) -> bool:
        """A finite input (a file, piped text) has been used up and everything it asked was answered."""
        finite = isinstance(self.voice, WavVoice) or (isinstance(self.voice, TypedVoice) and not self.stdin.isatty())
        return finite and self.voice.finished.is_set() and self.quiet()

    def view(self):
        camera = self.feed.status.state if self.feed is not None else "none"
        fps = self.feed.status.fps if self.feed is not None else 0.0
        talk = "" if self.ptt is None else ("talking" if self.ptt.talking else "off")
        return self.state.snapshot(camera=camera, camera_fps=fps, push_to_talk=talk)

    def tick(self) -> bool:
        """One refresh of the view (about 30 ms with a window, 250 ms without); False once the demo should end."""
        if self._quit:
            return False
        view = self.view()
        if self.window is not None:
            from .overlay import render
            picture = self.feed.latest if self.feed is not None else None
            key = self.window.show(render(picture, view), wait_ms=30)
            self._key(key)
            if self.window.closed:
                self._quit = True
        else:
            self.printer.show(view)
            time.sleep(0.25)
        if self.done():
            self._quit = True
        return not self._quit

    def _key(self, key: int) -> None:
        from .window import KEY_QUIT, KEY_STOP, KEY_TALK
        if key == -1:
            return
        key &= 0xFF                      # some back-ends set modifier bits above the key code
        if key in KEY_QUIT:
            self._quit = True
        elif key in KEY_STOP:
            self.stop_robot()
        elif key in KEY_TALK and self.ptt is not None:
            if self.ptt.toggle() and self.state.snapshot().state in ("thinking", "speaking"):
                self.pipeline.push(Interrupt(reason="push-to-talk"))   # talking over the robot interrupts it

    def run(self, progress: bool = True) -> DemoResult:
        try:
            self.start(progress)
            while self.tick():
                pass
        except KeyboardInterrupt:
            pass
        return self.close()

    def close(self) -> DemoResult:
        self._quit = True
        if self.feed is not None:
            self.feed.stop()
        self.voice.stop()
        stuck = self.pipeline.close()            # also after a Ctrl-C while the stages were still opening
        self.sink.close()
        if self.window is not None:
            self.window.close()
        if self.printer is not None:
            self.printer.end()
        events: list[dict] = []
        reply_wav = None
        if self.events is not None:
            self.events.write_timelines(self.pipeline.timelines)
            self.events.close()
            events = self.events.events
            reply_wav = self.events.write_reply_wav(Path(self.options.out) / "reply.wav")
        return DemoResult(events=events, out_dir=self.options.out, wav_out=self.options.wav_out, reply_wav=reply_wav,
                          camera_losses=self.feed.status.losses if self.feed is not None else 0, stuck=stuck)


def summary_line(stages: list[Stage], config: Config, feed: CameraFeed | None, sink: AudioSink,
                 options: DemoOptions) -> str:
    """One line: which model runs where, with what quantisation, and how much memory the process holds."""
    parts = []
    by_name = {s.name: s for s in stages}
    brain = by_name.get("brain")
    if brain is not None and getattr(brain, "applied", None) is not None:
        parts.append(f"brain {config.brain.model} on {brain.device}, {brain.applied.scheme}, "
                     f"{brain.applied.weight_mb:.1f} MB weights")
    elif brain is not None:
        parts.append(f"brain {type(brain).__name__}")
    asr = by_name.get("asr")
    if asr is not None and hasattr(asr, "compute_type"):
        from ..speech.asr import resolve_compute_type
        parts.append(f"asr {config.asr.model} on {asr.device}, {resolve_compute_type(asr.device, asr.compute_type)}")
    voice = "a WAV file" if isinstance(sink, WavSink) else "nowhere" if isinstance(sink, NullSink) else \
        f"speaker {config.tts.output}"
    parts.append(f"voice {config.tts.backend} to {voice}")
    parts.append(f"camera {feed.name}" if feed is not None else "no camera")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts.append(f"peak memory {rss_mb:.0f} MB")
    return "ready: " + " · ".join(parts)
