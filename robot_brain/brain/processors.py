"""Processors for VLM folders, including ones whose AutoProcessor needs torchvision for a video slot.

Qwen2-VL, Qwen2.5-VL, Qwen3-VL and SmolVLM v2 processors declare a video processor that cannot be
built without torchvision (which robot_brain never installs). The robot only sends images, so for those
families the processor is built from the image processor and tokenizer alone.
"""
from __future__ import annotations

import json
from pathlib import Path

_QWEN_PROCESSORS = {
    "qwen2_vl": ("transformers.models.qwen2_vl", "Qwen2VLProcessor"),
    "qwen2_5_vl": ("transformers.models.qwen2_5_vl", "Qwen2_5_VLProcessor"),
    "qwen3_vl": ("transformers.models.qwen3_vl", "Qwen3VLProcessor"),
}


def load_processor(path: str | Path):
    from transformers import AutoProcessor
    try:
        return AutoProcessor.from_pretrained(path)
    except ImportError as exc:
        if "torchvision" not in str(exc).lower():
            raise
        model_type = json.loads((Path(path) / "config.json").read_text()).get("model_type", "")
        if model_type == "smolvlm":
            return _image_only_smolvlm(path)
        if model_type not in _QWEN_PROCESSORS:
            raise ImportError(f"the processor of this {model_type or 'unknown'} model needs torchvision, which "
                              "robot_brain does not install; use a model family listed in models/registry.yaml") from exc
        return _image_only_qwen(path, *_QWEN_PROCESSORS[model_type])


def _image_only_qwen(path: str | Path, module: str, name: str):
    import importlib

    from transformers import AutoImageProcessor
    from transformers.processing_utils import ProcessorMixin

    base = getattr(importlib.import_module(module), name)

    class ImageOnly(base):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)
            self.video_processor = None
            for kind in ("image", "video"):
                token = getattr(tokenizer, f"{kind}_token", None) or f"<|{kind}_pad|>"
                setattr(self, f"{kind}_token", token)
                setattr(self, f"{kind}_token_id", getattr(tokenizer, f"{kind}_token_id", None)
                        or tokenizer.convert_tokens_to_ids(token))
            for edge in ("start", "end"):
                token = getattr(tokenizer, f"vision_{edge}_token", None) or f"<|vision_{edge}|>"
                setattr(self, f"vision_{edge}_token", token)
                setattr(self, f"vision_{edge}_token_id", tokenizer.convert_tokens_to_ids(token))

    tokenizer, template = _tokenizer_and_template(path)
    return ImageOnly(image_processor=AutoImageProcessor.from_pretrained(path), tokenizer=tokenizer,
                     chat_template=template)


def _image_only_smolvlm(path: str | Path):
    """SmolVLM v2 without its video processor (and without num2words, which only video prompts use)."""
    from transformers import AutoImageProcessor
    from transformers.models.smolvlm.processing_smolvlm import SmolVLMProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnly(SmolVLMProcessor):
        def __init__(self, image_processor=None, tokenizer=None, image_seq_len: int = 169, chat_template=None,
                     **kwargs):
            self.fake_image_token = getattr(tokenizer, "fake_image_token", "<fake_token_around_image>")
            self.image_token = getattr(tokenizer, "image_token", "<image>")
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.end_of_utterance_token = getattr(tokenizer, "end_of_utterance_token", "<end_of_utterance>")
            self.global_image_token = getattr(tokenizer, "global_image_token", "<global-img>")
            self.image_seq_len = image_seq_len
            self.video_token = getattr(tokenizer, "video_token", "<video>")
            self.video_processor = None
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

        def apply_chat_template(self, conversation, chat_template=None, **kwargs):
            return ProcessorMixin.apply_chat_template(self, conversation, chat_template, **kwargs)

    settings_file = Path(path) / "processor_config.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    tokenizer, template = _tokenizer_and_template(path)
    return ImageOnly(image_processor=AutoImageProcessor.from_pretrained(path), tokenizer=tokenizer,
                     image_seq_len=int(settings.get("image_seq_len", 169)), chat_template=template)


def _tokenizer_and_template(path: str | Path):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(path)
    template = tokenizer.chat_template
    template_file = Path(path) / "chat_template.jinja"
    if template is None and template_file.is_file():
        template = template_file.read_text()
    return tokenizer, template
