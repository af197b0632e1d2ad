"""The camera frame encoded while the user is still speaking, so that the picture is ready when the words are.

When speech starts, the brain runs the model's vision encoder on the newest frame and keeps the result with a
small grey thumbnail of that frame. At the turn, if the newest frame still shows the same scene (the thumbnails
differ by less than `same_scene` grey levels on average) the kept encoding goes to the language model instead
of the pixels; otherwise the turn encodes its own frame as before. Works for models whose forward takes
`mm_encoder_outputs` (Idefics3/SmolVLM, Llava, Qwen2-VL in transformers 5); others simply encode at the turn.
"""
from __future__ import annotations

import inspect
import logging

import numpy as np

log = logging.getLogger(__name__)

PIXELS = ("pixel_values", "pixel_attention_mask")        # what the encoder reads and the turn then leaves out


def thumbnail(image: np.ndarray, size: tuple[int, int] = (24, 32)) -> np.ndarray:
    """A coarse grey version of an RGB/BGR/grey frame (area means), for telling whether the scene changed."""
    import cv2
    grey = image.astype(np.float32) if image.ndim == 2 else image[..., :3].astype(np.float32).mean(axis=2)
    return cv2.resize(grey, (size[1], size[0]), interpolation=cv2.INTER_AREA)


class PictureAhead:
    def __init__(self, model, processor, device: str = "cpu", same_scene: float = 6.0) -> None:
        self.model, self.processor, self.device = model, processor, device
        self.same_scene = same_scene
        self._kept = None                   # (thumbnail, encoder output)
        self.encoded = self.used = self.changed = 0
        encoder = getattr(getattr(model, "model", None), "get_image_features", None)
        forward = inspect.signature(getattr(model, "model", model).forward).parameters
        self.supported = encoder is not None and "mm_encoder_outputs" in forward
        self._encoder_args = set(inspect.signature(encoder).parameters) if encoder is not None else set()

    def encode(self, picture: np.ndarray) -> None:
        """Run the vision encoder on `picture` (the RGB array the turn would show) and keep the result."""
        import torch
        if not self.supported:
            return
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(text=prompt, images=[picture], return_tensors="pt").to(self.device)
        try:
            with torch.inference_mode():
                features = self.features(inputs)
        except Exception as exc:            # a model this does not fit: encode at the turn from now on
            self.supported = False
            log.warning("cannot encode pictures ahead with this model (%s: %s); each turn encodes its own",
                        type(exc).__name__, exc)
            return
        self._kept = (thumbnail(picture), features)
        self.encoded += 1

    def features(self, inputs):
        """The vision encoder's output for processor `inputs` holding pictures."""
        args = {k: v for k, v in inputs.items() if k in self._encoder_args and k != "input_ids"}
        if "return_dict" in self._encoder_args or "kwargs" in self._encoder_args:
            args["return_dict"] = True
        return self.model.model.get_image_features(**args)

    def forget(self) -> None:
        """Drop the kept encoding: the next turn encodes its own picture."""
        self._kept = None

    def kept_for(self, picture: np.ndarray):
        """The kept encoder output if `picture` shows the same scene as the encoded one, else None."""
        if self._kept is None:
            return None
        shown, features = self._kept
        if float(np.abs(thumbnail(picture) - shown).mean()) > self.same_scene:
            self.changed += 1
            return None
        self.used += 1
        return features

    def use(self, picture: np.ndarray, inputs: dict) -> dict:
        """`inputs` for a turn showing only `picture`: with the kept encoding in place of the pixels when the scene
        is the same, else unchanged."""
        if self._kept is None or not any(k in inputs for k in PIXELS):
            return inputs
        features = self.kept_for(picture)
        if features is None:
            return inputs
        out = {k: v for k, v in inputs.items() if k not in PIXELS}
        out["mm_encoder_outputs"] = {"image": features}
        return out
