"""A transformers vision-language model as a pipeline stage, streaming its reply sentence by sentence."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from ..frames import Frame, ImageFrame, ReplyDelta, ReplyDone, ReplySentence, SpeechStarted, Turn
from ..pipeline import Stage
from .images import Keyframes, asks_about_motion, frame_problem, to_model_rgb
from .memory import Memory, language_instruction
from .engines import Generation
from .prompting import chat_messages, trained_prompt
from .sentences import SentenceChunker
from .structured import SayStream, parse_response

DEFAULT_SYSTEM_PROMPT = ("You are the brain of a helpful robot. Answer in one or two short spoken sentences "
                         "about what the camera shows.")
STRUCTURED_INSTRUCTIONS = (
    "Reply with one JSON object and nothing else: {{\"say\": what you say aloud, in the user's language, "
    "\"intents\": the actions to take, [] if none}}. Each intent is {{\"verb\": one of the skills below, "
    "\"target\": the object or person it is about, \"point\": [x, y] where the target is in the picture as "
    "fractions of its width and height, \"params\": {{...}}}}. Skills:\n{skills}")
TIMEOUT_APOLOGY = "Sorry, that took me too long to think about."
NO_VISION = "My camera view is not available right now, so I can't see."


class VLMBrain(Stage):
    """Answers each Turn about the latest camera frame with a VLM run by an engine (`brain.engines`).

    Emits ReplyDelta for each streamed piece, ReplySentence for each complete sentence, and ReplyDone.
    Generation stops at the next token once the turn is cancelled (barge-in or stop).
    """

    accepts = (Turn, ImageFrame, SpeechStarted)

    def __init__(self, model_path: str | Path, *, device: str = "cpu", max_new_tokens: int = 400,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT, structured: bool = True, skills_path: str = "",
                 timeout_s: float = 20.0, max_frame_age_s: float = 2.0, max_image_edge: int = 1024,
                 history_turns: int = 4, history_tokens: int = 512, quantisation: str = "auto",
                 warmup: bool = True, motion_keyframes: int = 3, fallbacks: Iterable[str | Path] = (),
                 cpu_threads: int | None = None, nice: int = 0, prefix_cache: bool = True,
                 picture_ahead: bool = True, engine: str = "transformers", name: str = "brain") -> None:
        super().__init__(name)
        self.nice = nice                                  # below the audio path (Stage.nice)
        self.model_path = str(model_path)
        self.fallbacks = [str(f) for f in fallbacks]      # smaller models to load if this one does not fit
        self.cpu_threads = cpu_threads                    # None: leave torch's setting alone; 0: one per core
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.system_prompt = system_prompt
        self.structured = structured
        self.timeout_s = timeout_s
        self.max_frame_age_s = max_frame_age_s
        self.max_image_edge = max_image_edge
        self.history_turns = history_turns
        self.quantisation = quantisation
        self.warmup = warmup
        self.history_tokens = history_tokens
        self.skills = None
        if structured:
            from ..intents.skills import load_skills, skills_prompt
            self.skills = load_skills(skills_path or None)
            self.system_prompt = f"{system_prompt}\n{STRUCTURED_INSTRUCTIONS.format(skills=skills_prompt(self.skills))}"
        self.keyframes = Keyframes(keep=max(1, motion_keyframes))
        self.motion_keyframes = motion_keyframes
        self.engine = self.constraint = self._applied = None
        self.engine_name = engine
        self.threads = None                               # CPU threads the model runs on (None: the library's choice)
        self.use_prefix_cache = prefix_cache
        self.use_picture_ahead = picture_ahead
        self.ahead_stats = {"encoded": 0, "used": 0, "changed": 0}      # of the last model, kept at close
        self.prefix_stats = {"hits": 0, "misses": 0, "builds": 0, "continued": 0}   # of the last model, kept at close
        self.last_prompt = ""
        self.pictures_after_text = False        # set from the model folder's trained prompt, when it has one

    @property
    def model(self):
        return self.engine.model if self.engine is not None else None

    @property
    def processor(self):
        return self.engine.processor if self.engine is not None else None

    @property
    def prefix_cache(self):
        return getattr(self.engine, "prefix_cache", None)

    @property
    def picture_ahead(self):
        return getattr(self.engine, "picture_ahead", None)

    @property
    def applied(self):
        """What the engine applied to the weights (kept after close, for reports)."""
        return self._applied

    def close(self) -> None:
        """Free the model (a ROS node's cleanup, a pipeline's shutdown)."""
        if self.engine is not None:
            stats = self.engine.stats()
            self.ahead_stats = stats.get("ahead", self.ahead_stats)
            self.prefix_stats = stats.get("prefix", self.prefix_stats)
            self.engine.close()
        self.engine = self.constraint = None

    def open(self) -> None:
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError as exc:
            raise RuntimeError(f"the VLM brain needs torch and transformers ({exc}); "
                               "install them with: pip install -e '.[models]'") from None
        if self.cpu_threads is not None and not self.device.startswith("cuda"):
            threads = self.cpu_threads or os.cpu_count() or 1
            torch.set_num_threads(threads)       # process-wide: the brain is the only torch user in the pipeline
            self.ctx.log.info("torch uses %d CPU thread(s)", threads)
            self.threads = threads
        candidates = [self.model_path, *self.fallbacks]
        for i, path in enumerate(candidates):
            try:
                self._load(path)
            except MemoryError as exc:
                if i + 1 == len(candidates):
                    raise RuntimeError(f"not enough memory to load {path} on {self.device} ({exc}); pick a smaller "
                                       "model profile (robot-brain models list) or another device") from None
                self.ctx.log.warning("not enough memory for %s on %s; trying the smaller %s", path, self.device,
                                     candidates[i + 1])
                continue
            break
        self._prepare_decoding()

    def _make_engine(self, name: str):
        from .engines import make_engine
        options = dict(device=self.device, quantisation=self.quantisation, prefix_cache=self.use_prefix_cache,
                       picture_ahead=self.use_picture_ahead, log=self.ctx.log)
        if name == "llama.cpp":
            options["threads"] = self.threads
        return make_engine(name, **options)

    def _load(self, path: str) -> None:
        from .engines import EngineError
        if not Path(path).exists():
            raise FileNotFoundError(f"no model folder at {path}")
        name = self.engine_name
        engine = self._make_engine(name)
        try:
            engine.load(path)
        except (EngineError, ImportError, ValueError) as exc:
            if name == "transformers":
                raise
            self.ctx.log.warning("the %s engine cannot run %s (%s); the transformers engine runs it instead",
                                 name, path, exc)
            engine.close()
            engine = self._make_engine("transformers")
            engine.load(path)
        self.engine, self.model_path, self.engine_name = engine, str(path), engine.name
        tokenizer = engine.processor.tokenizer
        turns, trained = self.history_turns, trained_prompt(path)
        if trained is not None:
            self.system_prompt, turns = trained.system_prompt, min(turns, trained.history_turns)
            self.pictures_after_text = trained.pictures_after_text
            self.ctx.log.info("using the prompt %s was trained with (remembering %d turn(s))", path, turns)
        self.memory = Memory(lambda text: len(tokenizer(text, add_special_tokens=False).input_ids),
                             turns=turns, budget=self.history_tokens)
        applied = self._applied = engine.applied
        self.ctx.log.info("model %s on %s with the %s engine: %s, %.0f MB of weights", path, self.device,
                          engine.name, applied.scheme, applied.weight_mb)

    def _encode_ahead(self) -> None:
        """The user started speaking: encode the newest usable frame now, while they talk."""
        if self.engine is None or self.latest_image is None:
            return
        if frame_problem(self.latest_image, time.monotonic(), self.max_frame_age_s):
            return
        picture = to_model_rgb(self.latest_image.image, self.max_image_edge)
        if picture is not None:
            self.engine.encode_ahead(picture)

    def _prepare_decoding(self) -> None:
        self.engine.prepare(f"{self.system_prompt}\n{language_instruction('')}")
        if self.structured:
            from ..intents.skills import response_schema
            from .structured import JsonConstraint
            self.constraint = JsonConstraint(self.processor.tokenizer, self.engine.vocab_size,
                                             response_schema(self.skills))
        if self.warmup:
            started = time.monotonic()
            self.engine.warm_up()
            self.ctx.log.info("warm-up generation took %.2f s", time.monotonic() - started)

    @property
    def latest_image(self) -> ImageFrame | None:
        return self.keyframes.latest

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, ImageFrame):
            self.keyframes.add(frame)
            return
        if isinstance(frame, SpeechStarted):
            yield frame                      # on its way at once (the demo shows "listening"), then the encoding
            self._encode_ahead()
            return
        if isinstance(frame, Turn):
            yield frame                      # later stages (the intent gate) need the authorised turn
            yield from self._answer(frame)
            return
        yield frame

    def _answer(self, turn: Turn) -> Iterable[Frame]:
        ctx, number = self.ctx, turn.turn
        text, images, no_vision = turn.text, [], False
        problem = frame_problem(self.latest_image, time.monotonic(), self.max_frame_age_s)
        picture = None if problem else to_model_rgb(self.latest_image.image, self.max_image_edge)
        if picture is None and not problem:
            problem = f"the camera frame is unusable ({self.latest_image.image.shape})"
        if picture is not None:
            images = [picture]
            if self.motion_keyframes > 1 and asks_about_motion(turn.text):
                earlier = [to_model_rgb(f.image, self.max_image_edge) for f in self.keyframes.recent()[:-1]]
                images = [im for im in earlier if im is not None] + images
        elif self.latest_image is not None:     # a camera exists but cannot be trusted now: say so first
            ctx.log.warning("turn %d: answering without vision: %s", number, problem)
            no_vision = True
            yield ReplySentence(text=NO_VISION, index=0, turn=number)
            text += " (The camera is not available; answer without it.)"
        system = f"{self.system_prompt}\n{language_instruction(turn.language)}"
        messages = chat_messages(system, self.memory.messages(), text, len(images),
                                 pictures_after_text=self.pictures_after_text)
        prompt = self.last_prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        generation = Generation(prompt=prompt, images=images, system=system, max_new_tokens=self.max_new_tokens,
                                timeout_s=self.timeout_s, constraint=self.constraint,
                                stop=lambda: ctx.is_cancelled(number),
                                first_token=lambda: ctx.mark(number, "first_token"))
        started = time.monotonic()
        pieces = self.engine.stream(generation)
        chunker, index, whole, said = SentenceChunker(), int(no_vision), [], [NO_VISION + " "] if no_vision else []
        say = SayStream() if self.constraint is not None else None
        try:
            for delta in pieces:
                if not delta:
                    continue
                ctx.mark(number, "first_token")
                whole.append(delta)
                yield ReplyDelta(text=delta, turn=number)
                spoken = say.feed(delta) if say is not None else delta
                said.append(spoken)
                for sentence in chunker.feed(spoken):
                    ctx.mark(number, "first_sentence")
                    yield ReplySentence(text=sentence, index=index, turn=number)
                    index += 1
            ctx.log.debug("turn %d: a prompt of %d tokens (%d from the cache) with %d picture(s)", number,
                          generation.info.get("prompt_tokens", 0), generation.info.get("cached_tokens", 0),
                          len(images))
            rest = chunker.flush()
            if rest:
                ctx.mark(number, "first_sentence")
                yield ReplySentence(text=rest, index=index, turn=number)
                index += 1
            text, reply = "".join(whole), "".join(said).strip()
            remembered = text.strip() if say is None else reply
            timed_out = time.monotonic() - started >= self.timeout_s and not ctx.is_cancelled(number)
            if timed_out:
                ctx.log.warning("turn %d: generation stopped after the %.1f s timeout", number, self.timeout_s)
                yield ReplySentence(text=TIMEOUT_APOLOGY, index=index, turn=number)
                reply = f"{reply} {TIMEOUT_APOLOGY}".strip()
            elif say is not None:
                seen = self.latest_image if picture is not None else None
                response = parse_response(text, turn=number, source=turn.source,
                                          image_size=(seen.image.shape[1], seen.image.shape[0]) if seen else None)
                if response.valid:
                    remembered = text.strip()       # the model sees its own earlier replies in its format
                else:
                    ctx.log.warning("turn %d: the reply was %s; no intents taken from it", number, response.problem)
                yield from response.intents
            if not text.strip():
                ctx.log.warning("turn %d: the model returned nothing", number)
            if not timed_out and not ctx.is_cancelled(number):
                self.memory.add(turn.text, remembered)
            ctx.mark(number, "reply_done")
            yield ReplyDone(text=reply, turn=number)
        finally:
            pieces.close()                  # ends the engine's generation at its next token
