"""A transformers vision-language model as a pipeline stage, streaming its reply sentence by sentence."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable

from ..frames import Frame, ImageFrame, ReplyDelta, ReplyDone, ReplySentence, Turn
from ..pipeline import Stage
from .sentences import SentenceChunker

DEFAULT_SYSTEM_PROMPT = ("You are the brain of a helpful robot. Answer in one or two short spoken sentences "
                         "about what the camera shows.")


class VLMBrain(Stage):
    """Answers each Turn about the latest camera frame with an `AutoModelForImageTextToText` model.

    Emits ReplyDelta for each streamed piece, ReplySentence for each complete sentence, and ReplyDone.
    Generation stops at the next token once the turn is cancelled (barge-in or stop).
    """

    accepts = (Turn, ImageFrame)

    def __init__(self, model_path: str | Path, *, device: str = "cpu", max_new_tokens: int = 48,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT, name: str = "brain") -> None:
        super().__init__(name)
        self.model_path = str(model_path)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.system_prompt = system_prompt
        self.latest_image: ImageFrame | None = None
        self.model = self.processor = None

    def open(self) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as exc:
            raise RuntimeError(f"the VLM brain needs torch and transformers ({exc}); "
                               "install them with: pip install -e '.[models]'") from None
        if not Path(self.model_path).exists():
            raise FileNotFoundError(f"no model folder at {self.model_path}")
        self.processor = AutoProcessor.from_pretrained(self.model_path)
        self.model = AutoModelForImageTextToText.from_pretrained(self.model_path).to(self.device).eval()

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, ImageFrame):
            self.latest_image = frame
            return
        if isinstance(frame, Turn):
            yield frame                      # later stages (the intent gate) need the authorised turn
            yield from self._answer(frame)
            return
        yield frame

    def _answer(self, turn: Turn) -> Iterable[Frame]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        ctx, number = self.ctx, turn.turn
        content = [{"type": "text", "text": turn.text}]
        images = None
        if self.latest_image is not None:
            content.insert(0, {"type": "image"})
            images = [self.latest_image.image[..., ::-1].copy()]          # BGR → RGB
        messages = [{"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
                    {"role": "user", "content": content}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(text=prompt, images=images, return_tensors="pt").to(self.device)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=60.0)
        abandoned = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return abandoned.is_set() or ctx.is_cancelled(number)

        failure: list[BaseException] = []

        def generate() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**inputs, streamer=streamer, max_new_tokens=self.max_new_tokens,
                                        do_sample=False, stopping_criteria=StoppingCriteriaList([_Cancelled()]))
            except BaseException as exc:  # surfaced in the stage thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=generate, name=f"{self.name}-generate", daemon=True)
        worker.start()
        chunker, index, whole = SentenceChunker(), 0, []
        try:
            for delta in streamer:
                if not delta:
                    continue
                ctx.mark(number, "first_token")
                whole.append(delta)
                yield ReplyDelta(text=delta, turn=number)
                for sentence in chunker.feed(delta):
                    ctx.mark(number, "first_sentence")
                    yield ReplySentence(text=sentence, index=index, turn=number)
                    index += 1
            if failure:
                raise RuntimeError(f"generation failed: {type(failure[0]).__name__}: {failure[0]}")
            rest = chunker.flush()
            if rest:
                ctx.mark(number, "first_sentence")
                yield ReplySentence(text=rest, index=index, turn=number)
            ctx.mark(number, "reply_done")
            yield ReplyDone(text="".join(whole).strip(), turn=number)
        finally:
            abandoned.set()
            worker.join(timeout=60.0)
