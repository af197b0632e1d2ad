"""The shipped tiny-model builders produce folders the real loading code accepts."""
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow


def test_tiny_smolvlm_family_loads_through_auto_classes_and_generates(tiny_vlm_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    assert type(model).__name__ == "Idefics3ForConditionalGeneration"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what do you see"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=prompt, images=[np.zeros((240, 320, 3), np.uint8)], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6


def test_tiny_qwen2_vl_loads_without_a_video_processor(tiny_qwen_dir):
    from transformers import AutoModelForImageTextToText, AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    model = AutoModelForImageTextToText.from_pretrained(tiny_qwen_dir).eval()
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    images = Qwen2VLImageProcessorPil.from_pretrained(tiny_qwen_dir)(images=[np.zeros((240, 320, 3), np.uint8)],
                                                                    return_tensors="pt")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what do you see"}]}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    merge = model.config.vision_config.spatial_merge_size ** 2
    prompt = prompt.replace("<|image_pad|>", "<|image_pad|>" * (int(images["image_grid_thw"].prod()) // merge))
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, **images, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 4


def test_tiny_whisper_runs_in_faster_whisper(tiny_whisper_dir):
    from faster_whisper import WhisperModel
    model = WhisperModel(str(tiny_whisper_dir), device="cpu", compute_type="int8", cpu_threads=2)
    assert model.model.is_multilingual
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32)
    segments, info = model.transcribe(audio, beam_size=1, temperature=0.0, language="en",
                                      condition_on_previous_text=False)
    segments = list(segments)
    assert info.duration == pytest.approx(1.0) and info.language == "en"
    assert all(isinstance(s.text, str) for s in segments)


def test_builders_cache_their_folders(model_cache, tiny_vlm_dir):
    from robot_brain.testing import tiny_idefics3_vlm
    assert tiny_idefics3_vlm(model_cache) == tiny_vlm_dir
    assert (tiny_vlm_dir / ".complete").exists()


def test_smolvlm2_processor_is_built_without_its_torchvision_video_slot(tiny_smolvlm2_dir):
    from transformers import AutoProcessor

    from robot_brain.brain.processors import load_processor
    with pytest.raises(ImportError, match="Torchvision"):
        AutoProcessor.from_pretrained(tiny_smolvlm2_dir)      # what a user without torchvision would hit
    processor = load_processor(tiny_smolvlm2_dir)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what do you see"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=prompt, images=[np.zeros((48, 64, 3), np.uint8)], return_tensors="pt")
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == processor.image_seq_len
    assert inputs["pixel_values"].shape[-2:] == (64, 64)
