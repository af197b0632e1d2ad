"""Training the demo ear (a Whisper from scratch on espeak-ng speech of the demo questions): the data generator
and the exact shortcuts of training."""
import numpy as np
import pytest

from robot_brain.sim import exchanges, make_scene
from robot_brain.training import asr, asr_data
from robot_brain.training.asr_data import (HELD_OUT_BASES, HELD_OUT_VARIANTS, HELD_OUT_VOICES, TRAIN_BASES,
                                           TRAIN_VARIANTS, voice_parts)


# ---- the data generator ------------------------------------------------------------------------------------

def test_the_questions_are_every_question_the_world_asks():
    questions = set(asr_data.demo_questions())
    assert len(questions) == 129
    rng = np.random.default_rng(0)
    asked = {e.question for seed in range(150) for e in exchanges(make_scene(seed), rng, n=6)}
    assert asked <= questions
    assert {"stop", "how many boxes", "point at the purple bottle", "what do you see"} <= questions


def test_the_training_plan_is_fixed_by_its_seed():
    a, b = asr_data.training_plan(0), asr_data.training_plan(0)
    assert a == b and a != asr_data.training_plan(1)
    assert {r.text for r in a} == set(asr_data.demo_questions())
    counts = {}
    for r in a:
        counts[r.text] = counts.get(r.text, 0) + 1
    assert counts["stop"] >= 160 and counts["point at the red cup"] >= 36


def test_held_out_voices_are_never_used_in_training():
    train_voices = {r.voice for seed in (0, 1, 2) for r in asr_data.training_plan(seed)}
    for voice in train_voices:
        base, variant = voice_parts(voice)
        assert base in TRAIN_BASES and (variant in TRAIN_VARIANTS or variant.startswith(asr_data.VARIANT_PREFIX))
        assert base not in HELD_OUT_BASES and variant not in HELD_OUT_VARIANTS
    assert not set(HELD_OUT_VOICES) & train_voices
    for voice in HELD_OUT_VOICES:
        base, variant = voice_parts(voice)
        assert base in HELD_OUT_BASES or variant in HELD_OUT_VARIANTS
    assert {r.voice for r in asr_data.heldout_plan(0)} == set(HELD_OUT_VOICES)


def test_augmentation_is_deterministic_and_bounded():
    speech = (np.sin(np.arange(24000) * 0.05) * 12000).astype(np.int16)
    one = [asr_data.augment(speech, np.random.default_rng(5)) for _ in range(2)]
    assert np.array_equal(one[0], one[1])
    assert not np.array_equal(one[0], asr_data.augment(speech, np.random.default_rng(6)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        audio = asr_data.augment(speech, rng)
        assert audio.dtype == np.float32 and len(audio) <= asr_data.MAX_SECONDS * asr_data.RATE
        assert np.abs(audio).max() <= 1.0
    bank = asr_data.MelBank([speech], seed=0, noises=2, noise_seconds=1.0)
    a, b = bank.example(0, np.random.default_rng(9)), bank.example(0, np.random.default_rng(9))
    assert np.array_equal(a, b) and a.shape[0] == 80 and a.shape[1] <= asr_data.MAX_SECONDS * 100


def test_features_are_faster_whispers():
    from faster_whisper.feature_extractor import FeatureExtractor
    rng = np.random.default_rng(0)
    audio = (np.sin(np.arange(30000) * 0.03) * 0.3 + rng.standard_normal(30000) * 0.01).astype(np.float32)
    reference = FeatureExtractor(feature_size=80)(audio)[:, :-1]    # transcribe() leaves the last frame out
    assert np.abs(asr_data.log_mel(audio) - reference).max() < 1e-4
    padded = asr_data.log_mel(audio, 400)
    assert padded.shape == (80, 400) and not padded[:, reference.shape[1]:].any()


# ---- the exact shortcuts of training ------------------------------------------------------------------------

@pytest.mark.parametrize("window", [0, 120])
def test_the_compact_model_equals_the_exported_whisper(window):
    import torch
    from robot_brain.training.whisper_compact import CompactWhisper, Shape, check_equivalence
    torch.manual_seed(0)
    model = CompactWhisper(Shape(d_model=32, encoder_layers=2, decoder_layers=1, heads=2, ffn=64, window=window),
                           [5, 17, 300, 50257, 50258, 50259, 50359, 50363])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)          # far from the initialisation, so differences would show
    hf = model.to_hf({"<|endoftext|>": 50257, "<|startoftranscript|>": 50258})
    rng = np.random.default_rng(0)
    for seconds in (0.6, 2.1):
        n = int(seconds * 16000)
        audio = (np.sin(np.arange(n) * 0.05) * 0.3 + rng.standard_normal(n) * 0.02).astype(np.float32)
        features = torch.from_numpy(asr_data.log_mel(audio))
        tokens = torch.tensor([[50258, 50259, 50359, 50363, 5, 17, 300]])
        assert check_equivalence(model, hf, features, tokens) < 1e-3


def test_a_batch_gives_each_utterance_what_it_gives_alone():
    import torch
    from robot_brain.training.whisper_compact import CompactWhisper, Shape
    torch.manual_seed(0)
    model = CompactWhisper(Shape(d_model=32, encoder_layers=2, decoder_layers=1, heads=2, ffn=64),
                           [5, 17, 50257, 50258]).eval()
    frames = torch.tensor([57, 130, 88])
    mel = torch.zeros(3, 80, model.input_frames(130))
    for row, n in enumerate(frames.tolist()):
        mel[row, :, :n] = torch.randn(80, n)
    tokens = torch.tensor([[50258, 5, 17]] * 3)
    with torch.no_grad():
        together = model.decode(tokens, model.encode(mel, frames))
        for row, n in enumerate(frames.tolist()):
            alone = model.decode(tokens[row:row + 1], model.encode(mel[row:row + 1, :, :model.input_frames(n)],
                                                                    frames[row:row + 1]))
            assert (together[row] - alone[0]).abs().max() < 1e-4


def test_every_demo_word_is_one_token_in_whispers_layout():
    tok = asr.build_tokenizer(asr_data.demo_questions())
    assert len(tok) == 51865
    ids = asr.special_ids(tok)
    assert [ids[t] for t in asr.PROMPT_TOKENS] == [50258, 50259, 50359, 50363]
    for q in asr_data.demo_questions():
        assert len(asr.text_ids(tok, q)) == len(q.split())
        assert tok.decode(asr.text_ids(tok, q)) == " " + q


# ---- other speech (not a demo question) ---------------------------------------------------------------------

def _content_words(sentences):
    common = set(asr_data.FUNCTION_WORDS) | {w for q in asr_data.demo_questions() for w in q.split()}
    return {w for s in sentences for w in s.split()} - common


def test_other_speech_is_fixed_by_its_seed_and_never_a_demo_question():
    train = asr_data.oov_sentences("train", 2464, seed=0, with_kinds=True)
    assert train == asr_data.oov_sentences("train", 2464, seed=0, with_kinds=True)
    assert train != asr_data.oov_sentences("train", 2464, seed=1, with_kinds=True)
    assert [t for _, t in train[:300]] == asr_data.oov_sentences("train", 300, seed=0)     # a longer list extends
    heldout = asr_data.oov_sentences("heldout", seed=0, with_kinds=True)
    assert heldout == asr_data.oov_sentences("heldout", seed=0, with_kinds=True)
    questions = asr_data.demo_questions()
    for sentences in (train, heldout):
        texts = [t for _, t in sentences]
        assert len(set(texts)) == len(texts)
        assert not set(texts) & set(questions)
        assert all(asr_data.is_other_speech(t) and 1 <= len(t.split()) <= asr_data.OOV_MAX_WORDS for t in texts)
        assert {k for k, _ in sentences} == set(asr_data.OOV_KINDS)
    assert not asr_data.is_other_speech("stop") and not asr_data.is_other_speech("please point at the red cup")
    assert asr_data.is_other_speech("stop the music") and asr_data.is_other_speech("pick up the pink cup")
    assert {"pick up the phone", "open the door", "can you tell me a joke"} <= {t for _, t in heldout}
    assert len(heldout) == 3 * asr_data.OOV_HELDOUT_PER_KIND


def test_held_out_other_speech_shares_no_sentence_and_no_content_word_with_training():
    train = asr_data.oov_sentences("train", 2464, seed=0)
    for seed in (0, 1):
        heldout = asr_data.oov_sentences("heldout", seed=seed)
        assert not set(train) & set(heldout)
        assert not _content_words(train) & _content_words(heldout)
        assert all(set(t.split()) & asr_data.HELDOUT_WORDS for t in heldout)
    plan = asr_data.oov_plan(0, 200)
    assert plan == asr_data.oov_plan(0, 200) and [r.text for r in plan] == train[:200]
    assert not {r.text for r in asr_data.oov_plan(0, 64, offset=2400)} & set(train[:2400])
    for render in plan:
        base, variant = voice_parts(render.voice)
        assert base in TRAIN_BASES and (variant in TRAIN_VARIANTS or variant.startswith(asr_data.VARIANT_PREFIX))
    assert {r.voice for r in asr_data.oov_heldout_plan(0)} == set(HELD_OUT_VOICES)


def test_other_speech_and_background_get_the_no_speech_target():
    from dataclasses import replace
    from robot_brain.training.whisper_compact import UNSURE, CompactWhisper, Shape
    tok = asr.build_tokenizer(asr_data.demo_questions())
    ids = asr.special_ids(tok)
    plan = [asr_data.Render("stop", "en-us", 160, 50), asr_data.Render("how many cups", "en-us", 160, 50)]
    speech = [(np.sin(np.arange(n) * 0.05) * 12000).astype(np.int16) for n in (9000, 14000, 20000)]
    model = CompactWhisper(Shape(d_model=16, encoder_layers=1, decoder_layers=1, heads=2, ffn=32),
                           asr.used_ids(tok, asr_data.demo_questions()))
    bank = asr_data.MelBank(speech, seed=0, noises=2, noise_seconds=1.0)
    no_speech = [ids[asr.NO_SPEECH], -100, -100, UNSURE, ids[asr.EOT]]
    for field, prefixes in (("oov_fraction", True), ("oov_fraction", False), ("noise_fraction", True)):
        settings = replace(asr.Settings(), batch=4, oov_prefixes=prefixes,
                           **{"noise_fraction": 0.0, "oov_fraction": 0.0, field: 1.0})
        batches = asr.Batches(speech[:2], plan, tok, model, settings, bank=bank, oov_renders=speech[2:])
        mel, frames, tokens, targets, (words, lengths, counted) = batches.next()
        assert mel.shape[0] == 4 and (lengths == 0).all()
        assert counted.tolist() == [field == "noise_fraction"] * 4           # other speech: no CTC loss
        for row in range(4):
            forced = int((targets[row] == UNSURE).sum())                     # words forced after the prompt
            assert forced == 1 or (field == "oov_fraction" and prefixes)
            assert targets[row, :4 + forced].tolist() == no_speech[:3] + [UNSURE] * forced + [ids[asr.EOT]]
            assert (targets[row, 4 + forced:] == -100).all()
            assert tokens[row, :4].tolist() == [ids[t] for t in asr.PROMPT_TOKENS]
            spoken = tok.decode(tokens[row, 4:4 + forced].tolist()).strip()
            assert any((q + " ").startswith(spoken + " ") or spoken in q.split() for q in asr_data.demo_questions())
        loss, _ = model.loss(mel, frames, tokens, targets, (words, lengths, counted), 0.3)
        assert bool(loss.isfinite())
    settings = replace(asr.Settings(), batch=4, noise_fraction=0.0, oov_fraction=0.0)
    _, _, _, targets, (_, lengths, counted) = asr.Batches(speech[:2], plan, tok, model, settings, bank=bank,
                                                          oov_renders=speech[2:]).next()
    assert (targets[:, 0] == ids["<|en|>"]).all() and (lengths > 0).all() and counted.all()


# ---- the shipped ear in a line-up ----------------------------------------------------------------------------

def test_demo_ear_resolves_to_the_shipped_folder_and_a_missing_one_says_what_to_do(monkeypatch):
    from robot_brain.brain import registry
    from robot_brain.config import Config, ConfigError
    from robot_brain.lineup import build_lineup
    folder = registry.shipped_folder("demo-ear")
    assert folder is not None and (folder / "model.bin").is_file() and (folder / "training.json").is_file()
    monkeypatch.setattr(registry, "shipped_folder", lambda name: None)
    config = Config()
    config.asr.model = "demo-ear"
    with pytest.raises(ConfigError, match="demo ear .*missing.*base.en"):
        build_lineup(config, only={"asr"})
