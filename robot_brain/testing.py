"""Test doubles and tiny offline models, shipped so that users can test their own stages too.

- `Collector`: a pipeline sink that keeps what came out.
- `run_stage(stage, frames)`: run one stage over frames in a real pipeline, return what it emitted.
- `frames_from(...)`: a fake source turning lists/arrays into frames.
- `spoken(text)`: real espeak-ng speech as 16 kHz float32, for tests, benchmarks and training.
- `tiny_idefics3_vlm`, `tiny_llava`, `tiny_qwen2_vl`, `tiny_whisper`: random-weight models of the real
  architectures (SmolVLM v1 / Idefics3, LLaVA, Qwen2-VL, Whisper → CTranslate2 for faster-whisper),
  built offline with fixed seeds and cached on disk, so the real loading code is exercised.
  Their answers are noise; they test plumbing, not intelligence.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .frames import AudioChunk, Frame, ImageFrame, TextInput
from .pipeline import Pipeline, Stage

# ---- pipeline doubles --------------------------------------------------------------------------


class Collector:
    """A thread-safe sink: `pipeline.add_sink(collector)`, then read `collector.frames`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: list[Frame] = []

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            self.frames.append(frame)

    def of(self, kind: type) -> list:
        with self._lock:
            return [f for f in self.frames if isinstance(f, kind)]

    def kinds(self) -> list[str]:
        with self._lock:
            return [f.kind for f in self.frames]


def run_stage(stage: Stage, frames: Iterable[Frame], timeout: float = 30.0) -> list[Frame]:
    """Run `stage` alone over `frames` (in order, each to completion) and return what it emitted."""
    return run_stages([stage], frames, timeout)


def run_stages(stages: Sequence[Stage], frames: Iterable[Frame], timeout: float = 30.0) -> list[Frame]:
    """Run a pipeline of `stages` over `frames` (in order, each to completion) and return its output."""
    out = Collector()
    pipeline = Pipeline(list(stages))
    pipeline.add_sink(out)
    with pipeline:
        for frame in frames:
            pipeline.push(frame)
            if not pipeline.wait_idle(timeout):
                raise TimeoutError(f"the pipeline did not finish a {frame.kind} within {timeout} s")
    return out.frames


def frames_from(*, texts: Sequence[str] = (), images: Sequence[np.ndarray] = (),
                audio: np.ndarray | None = None, sample_rate: int = 16000, block: int = 512) -> list[Frame]:
    """A fake source: camera images, then audio in blocks, then typed texts (stamps count up)."""
    frames: list[Frame] = [ImageFrame(image=im, stamp=float(i)) for i, im in enumerate(images)]
    if audio is not None:
        audio = np.asarray(audio, np.float32)
        for start in range(0, len(audio), block):
            frames.append(AudioChunk(samples=audio[start:start + block].copy(), sample_rate=sample_rate,
                                     stamp=start / sample_rate))
    frames += [TextInput(text=t) for t in texts]
    return frames


# ---- tiny offline models -----------------------------------------------------------------------

_CORPUS = ["what do you see", "where is the red cup", "point at the blue ball", "pick up the green cube",
           "is anyone there", "look at me", "stop", "I see a red cup on the table", "turn left"] * 10

SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")

QWEN2_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


# ---- real synthetic speech ---------------------------------------------------------------------

def spoken(text: str, *, voice: str = "en-us", speed: int = 160, pitch: int = 50,
           sample_rate: int = 16000) -> np.ndarray:
    """espeak-ng speech of `text` as float32 mono at `sample_rate` (needs the espeak-ng program)."""
    import io

    import soundfile
    import soxr
    try:
        wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                             capture_output=True, check=True, timeout=30).stdout
    except FileNotFoundError as exc:
        raise RuntimeError("espeak-ng is not installed (apt install espeak-ng)") from exc
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return soxr.resample(audio, rate, sample_rate).astype(np.float32) if rate != sample_rate else audio


def _cache_root() -> Path:
    root = os.environ.get("ROBOT_BRAIN_TEST_CACHE") or Path(tempfile.gettempdir()) / "robot_brain-tiny-models"
    return Path(root)


def _cached(name: str, version: str, build: Callable[[Path], None], root: Path | None = None) -> Path:
    """Build into a fresh folder once per (name, version, library versions); later calls reuse it."""
    import tokenizers
    import transformers
    key = hashlib.sha1(f"{version}|{transformers.__version__}|{tokenizers.__version__}".encode()).hexdigest()[:10]
    target = (root or _cache_root()) / f"{name}-{key}"
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(staging)
        (staging / ".complete").write_text("ok\n")
        if target.exists() and not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if not (target / ".complete").exists():   # another process may have won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _bpe(vocab_size: int, special_tokens: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS, trainer)
    return tok


_SMOLVLM_IMAGE, _SMOLVLM_PATCH, _SMOLVLM_SCALE = 64, 16, 2
_SMOLVLM_IMAGE_TOKENS = (_SMOLVLM_IMAGE // _SMOLVLM_PATCH) ** 2 // _SMOLVLM_SCALE ** 2


def _tiny_smolvlm_family(config_class, model_class, extra_special: tuple[str, ...] = (), tok=None):
    """(tokenizer, random model) of the SmolVLM family (Idefics3 or SmolVLM v2), at the tiny test size; `tok`: a
    tokenizer to use instead of the 400-token toy (the image tokens are added to it)."""
    import torch
    from transformers import PreTrainedTokenizerFast
    special = (["<|pad|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                "<global-img>", *extra_special] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)])
    if tok is None:
        tok = PreTrainedTokenizerFast(tokenizer_object=_bpe(400, special), bos_token="<|im_start|>",
                                      eos_token="<end_of_utterance>", pad_token="<|pad|>")
    else:
        tok.add_special_tokens({"additional_special_tokens": [t for t in special[2:] if t not in tok.get_vocab()]})
        tok.eos_token, tok.pad_token = "<end_of_utterance>", tok.pad_token or "<|im_end|>"
    cfg = config_class(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=_SMOLVLM_IMAGE, patch_size=_SMOLVLM_PATCH),
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id),
        scale_factor=_SMOLVLM_SCALE, image_token_id=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    model = model_class(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return tok, model


def tiny_idefics3_vlm(root: Path | None = None) -> Path:
    """A random SmolVLM-v1 (Idefics3) model + processor folder, loadable with AutoModelForImageTextToText."""
    return _cached("idefics3", "1", lambda path: _save_tiny_idefics3(path), root)


def _save_tiny_idefics3(path: Path, tok=None) -> None:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
    tok, model = _tiny_smolvlm_family(Idefics3Config, Idefics3ForConditionalGeneration, tok=tok)
    images = Idefics3ImageProcessorPil(size={"longest_edge": _SMOLVLM_IMAGE},
                                       max_image_size={"longest_edge": _SMOLVLM_IMAGE}, do_image_splitting=False)
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, chat_template=SMOLVLM_CHAT_TEMPLATE,
                                  image_seq_len=_SMOLVLM_IMAGE_TOKENS)
    model.save_pretrained(path)
    processor.save_pretrained(path)


def tiny_idefics3_smollm2_tokenizer(gguf: Path, root: Path | None = None) -> Path:
    """A tiny random Idefics3 with SmolVLM's real tokenizer (SmolLM2's 49,152 tokens and the image tokens), read
    from SmolLM2-135M-Instruct's GGUF file: what an engine's tokenizer and grammar handling meet in a real model."""

    def build(path: Path) -> None:
        from transformers import AutoTokenizer
        _save_tiny_idefics3(path, AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name))

    return _cached("idefics3-smollm2-tokenizer", "1", build, root)


def tiny_llava(root: Path | None = None) -> Path:
    """A random LLaVA (CLIP vision tower + Llama) model + processor folder, loadable with AutoProcessor."""

    def build(path: Path) -> None:
        import torch
        from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
        tok = PreTrainedTokenizerFast(tokenizer_object=_bpe(400, ["<|pad|>", "<|im_start|>", "<end_of_utterance>",
                                                                  "<image>"]),
                                      bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|pad|>")
        cfg = LlavaConfig(
            vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=2, image_size=64, patch_size=16),
            text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                             eos_token_id=tok.eos_token_id),
            image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
            projector_hidden_act="gelu")
        torch.manual_seed(0)
        model = LlavaForConditionalGeneration(cfg)
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id
        images = CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
        processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=16,
                                   vision_feature_select_strategy="full", chat_template=SMOLVLM_CHAT_TEMPLATE)
        model.save_pretrained(path)
        processor.save_pretrained(path)

    return _cached("llava", "1", build, root)


def tiny_smolvlm2(root: Path | None = None) -> Path:
    """A random SmolVLM v2 folder laid out like the hub's: its processor declares a torchvision video processor."""

    def build(path: Path) -> None:
        import json

        from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration
        from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil
        tok, model = _tiny_smolvlm_family(SmolVLMConfig, SmolVLMForConditionalGeneration, ("<video>",))
        model.save_pretrained(path)
        SmolVLMImageProcessorPil(size={"longest_edge": _SMOLVLM_IMAGE}, max_image_size={"longest_edge": _SMOLVLM_IMAGE},
                                 do_image_splitting=False).save_pretrained(path)
        tok.save_pretrained(path)
        (path / "chat_template.jinja").write_text(SMOLVLM_CHAT_TEMPLATE)
        (path / "processor_config.json").write_text(json.dumps({"image_seq_len": _SMOLVLM_IMAGE_TOKENS,
                                                                "processor_class": "SmolVLMProcessor"}))
        (path / "video_preprocessor_config.json").write_text(json.dumps(
            {"video_processor_type": "SmolVLMVideoProcessor", "size": {"longest_edge": _SMOLVLM_IMAGE}}))

    return _cached("smolvlm2", "1", build, root)


def tiny_qwen2_vl(root: Path | None = None) -> Path:
    """A random Qwen2-VL model folder: weights, image processor and tokenizer (no video processor)."""

    def build(path: Path) -> None:
        import torch
        from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
        special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                   "<|image_pad|>", "<|video_pad|>"]
        tok = PreTrainedTokenizerFast(tokenizer_object=_bpe(400, special), eos_token="<|im_end|>",
                                      pad_token="<|endoftext|>")
        tok.chat_template = QWEN2_VL_CHAT_TEMPLATE
        ids = {t: tok.convert_tokens_to_ids(t) for t in special}
        cfg = Qwen2VLConfig(
            vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14,
                               spatial_merge_size=2, temporal_patch_size=2, in_chans=3),
            text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                             rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
                             bos_token_id=None, pad_token_id=ids["<|endoftext|>"],
                             eos_token_id=ids["<|im_end|>"]),
            image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
        torch.manual_seed(0)
        model = Qwen2VLForConditionalGeneration(cfg)
        model.generation_config.eos_token_id = ids["<|im_end|>"]
        model.generation_config.pad_token_id = ids["<|endoftext|>"]
        model.save_pretrained(path)
        Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(path)
        tok.save_pretrained(path)

    return _cached("qwen2-vl", "1", build, root)


#: (d_model, layers, heads, ffn) of random Whisper models: "test" is tiny for tests; "tiny" and "base"
#: have the real whisper-tiny / whisper-base shapes, for speed measurements.
WHISPER_SHAPES = {"test": (64, 2, 2, 128), "tiny": (384, 4, 6, 1536), "base": (512, 6, 8, 2048)}


def tiny_whisper(root: Path | None = None, shape: str = "test") -> Path:
    """A random multilingual Whisper converted to CTranslate2 int8: a folder faster_whisper.WhisperModel loads."""
    d_model, layers, heads, ffn = WHISPER_SHAPES[shape]

    def build(path: Path) -> None:
        import ctranslate2
        import torch
        from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
                                  WhisperTokenizer)
        from transformers.models.whisper.tokenization_whisper import LANGUAGES
        languages = list(LANGUAGES)[:99]
        state = json.loads(_bpe(300, []).to_str())["model"]
        vocab = dict(state["vocab"])
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
        filler = 0
        while len(vocab) < 50256:                      # Whisper's text vocabulary is 50,257 ids
            vocab.setdefault(f"\u0120filler{filler}", len(vocab))
            filler += 1
        vocab[""] = 50256                              # CTranslate2 reads this as "multilingual"
        specials = (["<|startoftranscript|>"] + [f"<|{code}|>" for code in languages]
                    + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                       "<|notimestamps|>"])
        tok = WhisperTokenizer(vocab=vocab, merges=merges, extra_special_tokens=specials)
        tok.add_tokens(["<|%.2f|>" % (k * 0.02) for k in range(1501)])
        cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=d_model, encoder_layers=layers,
                            decoder_layers=layers, encoder_attention_heads=heads, decoder_attention_heads=heads,
                            encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_source_positions=1500, max_target_positions=448,
                            pad_token_id=50257, bos_token_id=50257, eos_token_id=50257,
                            decoder_start_token_id=50258, suppress_tokens=[], begin_suppress_tokens=[50257])
        hf = path / "hf"
        torch.manual_seed(0)
        WhisperForConditionalGeneration(cfg).save_pretrained(hf)
        tok.save_pretrained(hf)
        WhisperFeatureExtractor(feature_size=80).save_pretrained(hf)
        ct2 = path / "ct2"
        ctranslate2.converters.TransformersConverter(
            str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(
                str(ct2), quantization="int8", force=True)
        config_path = ct2 / "config.json"
        config = json.loads(config_path.read_text())
        config["lang_ids"] = [tok.convert_tokens_to_ids(f"<|{code}|>") for code in languages]
        config_path.write_text(json.dumps(config))
        shutil.rmtree(hf)
        for item in ct2.iterdir():
            item.rename(path / item.name)
        ct2.rmdir()

    return _cached("whisper" if shape == "test" else f"whisper-{shape}", "1", build, root)
