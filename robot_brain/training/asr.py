"""The demo ear: a small Whisper trained from scratch on espeak-ng speech of the demo questions, shipped as a
CTranslate2 folder that robot_brain.speech.asr.WhisperAsr (faster-whisper) loads unchanged.

Recipe (scripts/train_demo_asr.py runs it; the figures of the shipped model are in models/demo-ear/training.json):

* Vocabulary: the 129 questions of robot_brain.sim ("point at the red cup", "how many boxes", "stop", ...).
  A byte-level BPE trained on them makes every word one token; it is laid out like multilingual Whisper's
  (50,257 text ids, the "" id, <|endoftext|>, <|startoftranscript|>, 99 languages, task and timestamp tokens),
  so faster-whisper's prompt <|startoftranscript|><|en|><|transcribe|><|notimestamps|> works as for OpenAI's models.
  It is a closed vocabulary: anything else is to come out as no text at all.
* Speech: every question rendered 36 times (each of the 8 question forms, "stop" too, at least 160 times;
  5,140 renders, cached) by
  7 espeak-ng accents with 96 voice variants, half of them with one of 400 invented variants (random vocal
  tracts, asr_data.random_variant), at random speed (120-220 wpm), pitch and word gap; then augmented per step:
  0.05-0.5 s of silence before and 0.1-0.6 s after it, tempo and formant shift, microphone colour, room echo, gain, and
  white/pink/brown noise or mains hum at 0-45 dB SNR.
* No speech, trained to <|nocaptions|> and an empty transcript (a guessed first word with a uniform target,
  so the guard's avg_logprob test drops it): 5 % of the examples are background alone, and 20 % are other
  speech, 2,400 distinct sentences that are no demo question (asr_data.oov_sentences: near misses such as
  "pick up the phone", "look at the red car", "stop the music", "pick up the pink cup"; everyday sentences;
  random words), one render each by the same training voices and with the same augmentation as the questions.
  Without them every utterance came out as some question ("open the door" -> "point at the black ball").
  Other speech is left out of the encoder's auxiliary CTC loss (it has no words to align).
* Held out, never trained on: 5 voice variants (m6, f4, klatt3, Alicia, robert) and one accent
  (en-gb-x-gbcwmd), and 66 sentences of other speech from other templates and other content words.
* Model: Whisper (HF layout) with d_model 96, 3 encoder and 2 decoder layers, 4 heads, ffn 384, 80 mel bins.
  It is trained through whisper_compact.CompactWhisper, which computes exactly what the 1500-position model
  computes on faster-whisper's zero-padded 3000-frame input while running only the positions that see speech
  plus one (see there): training is many times cheaper and the exported model is a plain Whisper. The loss
  covers the language token or <|nocaptions|> after <|startoftranscript|> (so no_speech_prob is low on the
  questions and high on anything else), the words and <|endoftext|>.
  The model has only ever heard English, so its config declares English as its only language
  (`lang_ids`): language detection (asr.language "") always answers "en".
* Training: 5,200 steps of 32 examples, AdamW, cosine schedule: 27 min on one CPU core with one thread, and
  10 min of evaluation (models/demo-ear/training.json). Other speech is only partly learnt: the shipped
  model's no_speech_prob separates it from the questions, but its decoder still writes a confident question
  for much of it (training.json "other_speech"); `Settings.oov_prefixes` (--oov-prefixes) trains the decoder
  to stay unsure after a question's first words too.
* Utterances up to 4.9 s are what it was trained on (the endpointer hands over a question with 0.4 s before
  and 0.5 s after it); longer audio is not understood.
* Export: transformers WhisperForConditionalGeneration -> CTranslate2 int8 (config.json, model.bin,
  vocabulary.json, tokenizer.json, preprocessor_config.json). The equivalence of the compact and the full model
  is checked on real features before conversion.
* Evaluation: WhisperAsr itself (asr.model = the folder, beam 1, the guard's thresholds) on every question spoken
  by each held-out voice, 0.4 s / 0.5 s of silence around it and white noise at 30 dB SNR (and at 10 dB); on 40
  clips of background alone; and on the held-out sentences of other speech spoken by the held-out voices at
  30 dB (how many came out as text at all).
"""
from __future__ import annotations

import json
import math
import platform
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import asr_data
from .asr_data import HELD_OUT_VOICES, Render, demo_questions
from .whisper_compact import UNSURE, CompactWhisper, Shape, check_equivalence

PROMPT_TOKENS = ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")
NO_SPEECH = "<|nocaptions|>"
EOT = "<|endoftext|>"


# ---- tokenizer -------------------------------------------------------------------------------------------------

def build_tokenizer(questions: Sequence[str]):
    """A Whisper tokenizer (transformers WhisperTokenizer) whose text vocabulary is a BPE of `questions`.

    Layout as multilingual Whisper: ids 0..50255 text (BPE, then fillers), 50256 "", 50257 <|endoftext|>,
    50258 <|startoftranscript|>, 99 language tokens, task tokens, <|notimestamps|>, 1501 timestamp tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import WhisperTokenizer
    from transformers.models.whisper.tokenization_whisper import LANGUAGES
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=[], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([" " + q for q in questions] * 4, trainer)
    state = json.loads(bpe.to_str())["model"]
    vocab = dict(state["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    filler = 0
    while len(vocab) < 50256:                      # Whisper's text vocabulary is 50,257 ids
        vocab.setdefault(f"\u0120{filler}", len(vocab))     # unused: never a target
        filler += 1
    vocab[""] = 50256                              # CTranslate2 reads this as "multilingual" (the prompt has <|en|>)
    languages = list(LANGUAGES)[:99]
    specials = ([EOT, "<|startoftranscript|>"] + [f"<|{code}|>" for code in languages]
                + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", NO_SPEECH,
                   "<|notimestamps|>"])
    tok = WhisperTokenizer(vocab=vocab, merges=merges, extra_special_tokens=specials[1:])
    tok.add_tokens(["<|%.2f|>" % (k * 0.02) for k in range(1501)])
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    expected = {EOT: 50257, "<|startoftranscript|>": 50258, "<|en|>": 50259, "<|notimestamps|>": 50363}
    if any(ids[t] != i for t, i in expected.items()) or len(tok) != 51865:
        raise RuntimeError(f"unexpected Whisper token layout: {[(t, ids[t]) for t in expected]}, {len(tok)} tokens")
    return tok


def special_ids(tok) -> dict[str, int]:
    return {t: tok.convert_tokens_to_ids(t) for t in (*PROMPT_TOKENS, NO_SPEECH, EOT)}


def text_ids(tok, text: str) -> list[int]:
    """The ids faster-whisper decodes back to `text` (a leading space, as Whisper writes words)."""
    return tok.encode(" " + text, add_special_tokens=False)


# ---- settings and results ----------------------------------------------------------------------------------------

@dataclass
class Settings:
    seed: int = 0
    steps: int = 5200
    minutes: float = 0.0             # wall-clock cap for training (0 = none); steps decide the schedule
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 150
    weight_decay: float = 0.01
    noise_fraction: float = 0.05     # examples of background alone...
    oov_fraction: float = 0.2        # ...and of other speech (not a demo question): both -> <|nocaptions|>, ""
    oov_renders: int = 2400          # distinct training sentences of other speech, one render each
    oov_prefixes: bool = False       # other speech: also force question prefixes, each word UNSURE (Batches)
    ctc_weight: float = 0.3          # auxiliary CTC loss on the encoder (training only)
    exact_fraction: float = 0.2      # examples augmented on the waveform (the rest in the mel power domain)
    start_strength: float = 0.3      # augmentation strength at the start...
    ramp: float = 0.3                # ...reaching 1 after this fraction of the steps
    padding_ramp: float = 0.3        # the padding's attention weight grows to the exact model's over this fraction
    spec_masks: bool = True
    per_sentence: int = 36           # renders per question in the training plan...
    per_form: int = 160              # ...and at least this many per question form
    shape: Shape = field(default_factory=Shape)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = self.shape.to_dict()
        return d


@dataclass
class Trained:
    model: CompactWhisper
    tokenizer: object
    seconds: float
    steps: int
    losses: list[tuple[int, float]]          # (step, mean loss over the last stretch)
    dev: list[tuple[int, float]]             # (step, sentence accuracy on dev renders)
    stopped_by_time: bool = False
    dev_other: list[tuple[int, float, float]] = field(default_factory=list)
    # (step, share of dev other speech with P(<|nocaptions|>) > 0.6, share of dev questions with it)


# ---- batches -------------------------------------------------------------------------------------------------

class Batches:
    """Training batches drawn from the cached renders with a seeded generator (same seed, same batches).

    Most examples are augmented in the mel power domain (asr_data.MelBank); `settings.exact_fraction` of them
    go through the waveform (asr_data.augment + log_mel), exactly as faster-whisper would see them. Examples
    are drawn 4 batches at a time and grouped by length, so a batch runs on about its own length.

    `settings.noise_fraction` of the examples are background alone and `settings.oov_fraction` are renders of
    other speech (`oov_renders`, augmented as the questions are); both get the no-speech target (`_no_speech`):
    <|nocaptions|> after <|startoftranscript|>, a guessed word with a uniform target (UNSURE), <|endoftext|>,
    and an empty transcript (`settings.oov_prefixes`: for other speech, half of the time a question's first
    words instead of the guess, each with the UNSURE target). Other speech is left out of the encoder's CTC
    loss (it has no words to align)."""

    GROUP = 4

    def __init__(self, renders: Sequence[np.ndarray], plan: Sequence[Render], tok, model: CompactWhisper,
                 settings: Settings, bank: "asr_data.MelBank | None" = None,
                 oov_renders: Sequence[np.ndarray] = ()):
        self.renders, self.plan, self.model, self.s = list(renders), plan, model, settings
        self.oov = len(oov_renders)
        self.all_renders = self.renders + list(oov_renders)        # bank index: questions, then other speech
        self.ids = special_ids(tok)
        self.texts = {q: text_ids(tok, q) for q in {r.text for r in plan}}
        self.words = sorted({w for t in self.texts.values() for w in t})
        self.questions = [self.texts[q] for q in sorted(self.texts)]
        self.rng = np.random.default_rng([settings.seed, 3])
        self.bank = bank or asr_data.MelBank(self.all_renders, settings.seed)
        self.queue: list = []
        self.strength = 1.0

    def _mask(self, mel: np.ndarray) -> None:
        """SpecAugment: 2 frequency bands and 2 time stretches set to the utterance's mean."""
        rng, length = self.rng, mel.shape[1]
        mean = float(mel.mean())
        for _ in range(2):
            width = int(rng.integers(0, 9))
            start = int(rng.integers(0, mel.shape[0] - width))
            mel[start:start + width, :] = mean
        for _ in range(2):
            width = int(rng.integers(0, min(16, max(1, length // 8))))
            start = int(rng.integers(0, max(1, length - width)))
            mel[:, start:start + width] = mean

    def _no_speech(self, prefixes: bool = False) -> tuple[list[int], list[int]]:
        """(tokens, targets) of an example with no demo question in it: <|nocaptions|> after
        <|startoftranscript|>, a uniform target (UNSURE) over the words after the prompt, and <|endoftext|> after
        the forced word. `prefixes` (other speech): half of the time the forced words are the first 1-n words of
        a random question, each followed by UNSURE, so the decoder stays unsure however far a confusion goes."""
        ids, rng = self.ids, self.rng
        prompt = [ids[t] for t in PROMPT_TOKENS]
        if prefixes and rng.random() < 0.5:
            question = self.questions[int(rng.integers(len(self.questions)))]
            forced = question[:int(rng.integers(1, len(question) + 1))]
        else:
            forced = [self.words[int(rng.integers(len(self.words)))]]     # whatever faster-whisper forces first
        return prompt + forced, [ids[NO_SPEECH], -100, -100] + [UNSURE] * len(forced) + [ids[EOT]]

    def _speech(self, i: int) -> np.ndarray:
        """Features of one augmented view of bank render `i` (a question or other speech)."""
        rng = self.rng
        if rng.random() < self.s.exact_fraction:
            mel = asr_data.log_mel(asr_data.augment(self.all_renders[i], rng, self.strength))
        else:
            mel = self.bank.example(i, rng, self.strength)
        if self.s.spec_masks and rng.random() < 0.8 * self.strength:
            self._mask(mel)
        return mel

    def _example(self):
        """(features, (tokens, targets), transcript ids for CTC, whether CTC counts it)."""
        rng, ids = self.rng, self.ids
        draw = rng.random()
        if draw < self.s.noise_fraction:
            exact = rng.random() < self.s.exact_fraction
            mel = asr_data.log_mel(asr_data.noise_only(rng)) if exact else self.bank.background_only(rng)
            return mel, self._no_speech(), [], True
        if self.oov and draw < self.s.noise_fraction + self.s.oov_fraction:
            mel = self._speech(len(self.renders) + int(rng.integers(self.oov)))
            return mel, self._no_speech(prefixes=self.s.oov_prefixes), [], False
        i = int(rng.integers(len(self.plan)))
        mel = self._speech(i)
        words = self.texts[self.plan[i].text]
        prompt = [ids[t] for t in PROMPT_TOKENS]
        return mel, (prompt + words, [ids["<|en|>"], -100, -100] + words + [ids[EOT]]), words, True

    def next(self):
        """(mel (B, 80, T), speech frames (B,), tokens (B, L), targets (B, L),
        (CTC words, their lengths, which rows CTC counts))."""
        import torch
        if not self.queue:
            examples = [self._example() for _ in range(self.s.batch * self.GROUP)]
            examples.sort(key=lambda e: e[0].shape[1])
            groups = [examples[k:k + self.s.batch] for k in range(0, len(examples), self.s.batch)]
            self.queue = [groups[k] for k in self.rng.permutation(len(groups))]
        batch = self.queue.pop()
        ids = self.ids
        frames = [e[0].shape[1] for e in batch]
        width = self.model.input_frames(max(frames))
        mel = np.zeros((len(batch), batch[0][0].shape[0], width), np.float32)
        for row, e in enumerate(batch):
            mel[row, :, :min(width, frames[row])] = e[0][:, :width]
        seqs = [e[1] for e in batch]
        length = max(len(t) for t, _ in seqs)
        tokens = torch.full((len(seqs), length), ids[EOT], dtype=torch.long)
        targets = torch.full((len(seqs), length), -100, dtype=torch.long)
        for row, (t, y) in enumerate(seqs):
            tokens[row, :len(t)] = torch.tensor(t)
            targets[row, :len(y)] = torch.tensor(y)
        spoken = [e[2] for e in batch]
        words = torch.full((len(seqs), max(1, max(len(w) for w in spoken))), ids[EOT], dtype=torch.long)
        for row, w in enumerate(spoken):
            words[row, :len(w)] = torch.tensor(w, dtype=torch.long)
        ctc = (words, torch.tensor([len(w) for w in spoken]), torch.tensor([e[3] for e in batch]))
        return torch.from_numpy(mel), torch.tensor(frames), tokens, targets, ctc


def used_ids(tok, questions: Sequence[str]) -> list[int]:
    ids = set(special_ids(tok).values())
    for q in questions:
        ids.update(text_ids(tok, q))
    return sorted(ids)


def dev_set(seed: int, count: int = 64, cache_dir: Path | None = None):
    """Renders by training voices with fresh speeds and pitches (not in the training plan), for progress."""
    plan = asr_data.training_plan(seed + 1000, per_sentence=1, per_form=1)
    rng = np.random.default_rng([seed, 4])
    plan = [plan[i] for i in sorted(rng.choice(len(plan), size=min(count, len(plan)), replace=False))]
    audio = asr_data.synthesize_all(plan, cache_dir)
    return plan, [asr_data.log_mel(asr_data.eval_condition(a, 30.0, seed + i)) for i, a in enumerate(audio)]


def other_dev_set(settings: Settings, count: int = 64, cache_dir: Path | None = None):
    """Renders of other speech for progress: training-side sentences that come after the trained ones (never
    trained on), by training voices."""
    plan = asr_data.oov_plan(settings.seed, count, offset=settings.oov_renders)
    audio = asr_data.synthesize_all(plan, cache_dir)
    return plan, [asr_data.log_mel(asr_data.eval_condition(a, 30.0, settings.seed + 500 + i))
                  for i, a in enumerate(audio)]


def no_speech_probs(model: CompactWhisper, tok, features: Sequence[np.ndarray], batch: int = 32) -> list[float]:
    """P(<|nocaptions|>) after <|startoftranscript|> (faster-whisper's no_speech_prob), as exported."""
    import torch
    ids = special_ids(tok)
    was_training, weight = model.training, model.padding_weight
    model.eval()
    model.padding_weight = 1.0
    out: list[float] = []
    try:
        with torch.no_grad():
            for start in range(0, len(features), batch):
                chunk = features[start:start + batch]
                mel, frames = _padded(model, chunk)
                tokens = torch.full((len(chunk), 1), ids["<|startoftranscript|>"], dtype=torch.long)
                logits = model.decode(tokens, model.encode(mel, frames))
                out += logits[:, 0].float().softmax(-1)[:, int(model.row_of[ids[NO_SPEECH]])].tolist()
    finally:
        model.padding_weight = weight
        model.train(was_training)
    return out


def _padded(model: CompactWhisper, chunk: Sequence[np.ndarray]):
    """Log-mel features of different lengths as one zero-padded batch, with each one's frame count."""
    import torch
    frames = [f.shape[1] for f in chunk]
    width = model.input_frames(max(frames))
    mel = np.zeros((len(chunk), chunk[0].shape[0], width), np.float32)
    for row, f in enumerate(chunk):
        mel[row, :, :min(width, f.shape[1])] = f[:, :width]
    return torch.from_numpy(mel), torch.tensor(frames)


def transcribe_features(model: CompactWhisper, tok, features: Sequence[np.ndarray], batch: int = 32) -> list[str]:
    """Greedy transcripts of log-mel features with the compact model (monitoring; "?" = an unused token)."""
    import torch
    ids = special_ids(tok)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(features), batch):
        chunk = features[start:start + batch]
        mel, frames = _padded(model, chunk)
        for o in model.greedy(mel, frames, [ids[t] for t in PROMPT_TOKENS], ids[EOT]):
            out.append("?" if o is None else tok.decode(o).strip())
    model.train(was_training)
    return out


def _dev_accuracy(model: CompactWhisper, tok, plan, features) -> float:
    weight, model.padding_weight = model.padding_weight, 1.0          # measured as exported
    try:
        return sum(h == r.text for h, r in zip(transcribe_features(model, tok, features), plan)) / len(plan)
    finally:
        model.padding_weight = weight


# ---- training ------------------------------------------------------------------------------------------------

def train(settings: Settings, *, cache_dir: Path | None = None,
          log: Callable[[str], None] = print) -> Trained:
    """Synthesize (or load) the training renders and train the compact Whisper for `settings.steps` steps."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(settings.seed)
    questions = demo_questions()
    tok = build_tokenizer(questions)
    plan = asr_data.training_plan(settings.seed, settings.per_sentence, settings.per_form)
    other_plan = (asr_data.oov_plan(settings.seed, settings.oov_renders)
                  if settings.oov_fraction > 0 and settings.oov_renders else [])
    if {r.text for r in other_plan} & set(asr_data.oov_sentences("heldout", seed=settings.seed)):
        raise RuntimeError("a held-out sentence of other speech is in the training plan")
    started = time.monotonic()
    log(f"training plan: {len(plan)} renders of {len(questions)} questions, {len(other_plan)} of other speech")
    renders = asr_data.synthesize_all(plan, cache_dir, progress=log)
    other_renders = asr_data.synthesize_all(other_plan, cache_dir, progress=log) if other_plan else []
    log(f"renders ready in {time.monotonic() - started:.0f} s")
    model = CompactWhisper(settings.shape, used_ids(tok, questions))
    if settings.shape.window and asr_data.MAX_SECONDS * 100 + 2 > 2 * settings.shape.window - 2:
        raise ValueError(f"a window of {settings.shape.window} positions is shorter than {asr_data.MAX_SECONDS} s")
    dev_plan, dev_features = dev_set(settings.seed, cache_dir=cache_dir)
    other_dev = other_dev_set(settings, cache_dir=cache_dir)[1] if other_plan else []
    batches = Batches(renders, plan, tok, model, settings, oov_renders=other_renders)
    log(f"mel bank ready in {time.monotonic() - started:.0f} s")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and n != "rest"]
    other = [p for n, p in model.named_parameters() if p.ndim < 2 or n == "rest"]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=settings.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return settings.lr * (step + 1) / settings.warmup
        progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return settings.lr * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    losses, dev, dev_other, window = [], [], [], []
    t0 = time.monotonic()
    stopped = False
    model.train()
    step = 0
    for step in range(settings.steps):
        if settings.minutes and time.monotonic() - t0 > settings.minutes * 60:
            stopped = True
            log(f"stopping at step {step}: the {settings.minutes} min budget is spent")
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        batches.strength = min(1.0, settings.start_strength + (1 - settings.start_strength) * step
                               / max(1, settings.ramp * settings.steps))
        model.padding_weight = min(1.0, step / max(1.0, settings.padding_ramp * settings.steps))
        mel, frames, tokens, targets, ctc = batches.next()
        loss, ce = model.loss(mel, frames, tokens, targets, ctc, settings.ctc_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(ce.item())
        if (step + 1) % 50 == 0 or step + 1 == settings.steps:
            losses.append((step + 1, round(float(np.mean(window)), 4)))
            window = []
            elapsed = time.monotonic() - t0
            log(f"step {step + 1}/{settings.steps}  loss {losses[-1][1]:.4f}  lr {lr_at(step):.2e}  "
                f"{elapsed / (step + 1):.2f} s/step  {elapsed / 60:.1f} min")
        if (step + 1) % 500 == 0 or step + 1 == settings.steps:
            dev.append((step + 1, round(_dev_accuracy(model, tok, dev_plan, dev_features), 4)))
            log(f"step {step + 1}: dev sentence accuracy {dev[-1][1]:.3f} "
                "(64 renders by training accents, not in the training plan)")
            if other_dev:
                flagged = [sum(p > 0.6 for p in no_speech_probs(model, tok, f)) / len(f)
                           for f in (other_dev, dev_features)]
                dev_other.append((step + 1, round(flagged[0], 4), round(flagged[1], 4)))
                log(f"step {step + 1}: no_speech_prob > 0.6 on {flagged[0]:.1%} of 64 dev renders of other "
                    f"speech and on {flagged[1]:.1%} of the dev questions")
    else:
        step = settings.steps
    if window:
        losses.append((step, round(float(np.mean(window)), 4)))
    model.padding_weight = 1.0
    model.eval()
    return Trained(model, tok, time.monotonic() - t0, step, losses, dev, stopped, dev_other)


# ---- export ----------------------------------------------------------------------------------------------------

def export(trained: Trained, out: Path, *, check_audio: np.ndarray | None = None) -> float:
    """Write the CTranslate2 int8 folder faster-whisper loads; returns the checked compact-vs-full difference."""
    import ctranslate2
    import torch
    from transformers import WhisperFeatureExtractor
    model, tok = trained.model, trained.tokenizer
    ids = special_ids(tok)
    hf = model.to_hf(ids)
    if check_audio is None:
        check_audio = asr_data.synthesize(Render("point at the red cup", "en-us", 160, 50))
    features = torch.from_numpy(asr_data.log_mel(asr_data.eval_condition(check_audio, 30.0, 0)))
    tokens = torch.tensor([[ids[t] for t in PROMPT_TOKENS] + text_ids(tok, "point at the red cup")])
    difference = check_equivalence(model, hf, features, tokens)
    if difference > 1e-3:
        raise RuntimeError(f"the compact model and the exported Whisper differ by {difference:.2e} in log-prob")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="demo-ear-") as tmp:
        hf_dir, ct2_dir = Path(tmp) / "hf", Path(tmp) / "ct2"
        hf.generation_config.suppress_tokens = []
        hf.generation_config.begin_suppress_tokens = [ids[EOT]]
        hf.save_pretrained(hf_dir)
        tok.save_pretrained(hf_dir)
        WhisperFeatureExtractor(feature_size=model.shape.n_mels).save_pretrained(hf_dir)
        ctranslate2.converters.TransformersConverter(
            str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(
                str(ct2_dir), quantization="int8", force=True)
        config_path = ct2_dir / "config.json"
        config = json.loads(config_path.read_text())
        config["lang_ids"] = [ids["<|en|>"]]          # it only ever heard English: detection answers "en"
        config_path.write_text(json.dumps(config, indent=1))
        out.mkdir(parents=True, exist_ok=True)
        for item in ct2_dir.iterdir():
            shutil.copy2(item, out / item.name)
    return difference


# ---- evaluation ------------------------------------------------------------------------------------------------

def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def evaluate(model_dir: Path, *, seed: int = 0, snr_db: float = 30.0, voices: Sequence[str] = HELD_OUT_VOICES,
             questions: Sequence[str] | None = None, cache_dir: Path | None = None, cpu_threads: int = 1,
             log: Callable[[str], None] = print) -> dict:
    """Word error rate of the folder through WhisperAsr (the pipeline's own ASR stage and options)."""
    from ..speech.asr import WhisperAsr
    plan = asr_data.heldout_plan(seed, voices, questions)
    audio = asr_data.synthesize_all(plan, cache_dir)
    asr = WhisperAsr(str(model_dir), language="", beam_size=1, cpu_threads=cpu_threads)
    asr.open()
    per_voice: dict[str, list[int]] = {v: [0, 0, 0, 0] for v in voices}   # errors, words, right sentences, count
    errors, languages, seconds = [], {}, 0.0
    for i, (render, speech) in enumerate(zip(plan, audio)):
        clip = asr_data.eval_condition(speech, snr_db, seed * 100003 + i)
        t = time.perf_counter()
        text, language, _, _ = asr.transcribe(clip)
        seconds += time.perf_counter() - t
        languages[language] = languages.get(language, 0) + 1
        ref, hyp = words(render.text), words(text)
        wrong = edit_distance(ref, hyp)
        stats = per_voice[render.voice]
        stats[0] += wrong
        stats[1] += len(ref)
        stats[2] += int(wrong == 0)
        stats[3] += 1
        if wrong:
            errors.append({"voice": render.voice, "said": render.text, "heard": text})
    total_err = sum(s[0] for s in per_voice.values())
    total_words = sum(s[1] for s in per_voice.values())
    result = {
        "snr_db": snr_db, "utterances": len(plan), "words": total_words,
        "wer": round(total_err / max(1, total_words), 4),
        "sentence_accuracy": round(sum(s[2] for s in per_voice.values()) / max(1, len(plan)), 4),
        "per_voice_wer": {v: round(s[0] / max(1, s[1]), 4) for v, s in per_voice.items()},
        "languages": languages,
        "mean_transcribe_s": round(seconds / max(1, len(plan)), 4),
        "errors": errors[:40],
    }
    log(f"held-out WER at {snr_db:g} dB SNR: {result['wer']:.2%} over {total_words} words "
        f"({result['sentence_accuracy']:.1%} of sentences exact); per voice: "
        + ", ".join(f"{v} {w:.1%}" for v, w in result["per_voice_wer"].items()))
    return result


def noise_check(model_dir: Path, *, seed: int = 0, count: int = 40, cpu_threads: int = 1) -> dict:
    """How often background alone (no speech) comes out as a transcript through WhisperAsr."""
    from ..speech.asr import WhisperAsr
    asr = WhisperAsr(str(model_dir), language="", beam_size=1, cpu_threads=cpu_threads)
    asr.open()
    rng = np.random.default_rng([seed, 5])
    texts = [asr.transcribe(asr_data.noise_only(rng))[0] for _ in range(count)]
    invented = [t for t in texts if t]
    return {"clips": count, "transcribed": len(invented), "examples": invented[:10]}


def other_speech_check(model_dir: Path, *, seed: int = 0, snr_db: float = 30.0,
                       voices: Sequence[str] = HELD_OUT_VOICES, cache_dir: Path | None = None, cpu_threads: int = 1,
                       log: Callable[[str], None] = print) -> dict:
    """How often speech that is no demo question comes out as text through WhisperAsr: every held-out sentence
    of other speech (asr_data.oov_sentences("heldout"), never trained on) spoken by each held-out voice, with
    the questions' evaluation condition (0.4 s / 0.5 s of silence, white noise at `snr_db`)."""
    from ..speech.asr import WhisperAsr
    plan = asr_data.oov_heldout_plan(seed, voices)
    kinds = {text: kind for kind, text in asr_data.oov_sentences("heldout", seed=seed, with_kinds=True)}
    audio = asr_data.synthesize_all(plan, cache_dir)
    asr = WhisperAsr(str(model_dir), language="", beam_size=1, cpu_threads=cpu_threads)
    asr.open()
    questions = set(demo_questions())
    per_kind = {kind: [0, 0] for kind in asr_data.OOV_KINDS}          # transcribed, clips
    per_voice = {voice: [0, 0] for voice in voices}
    heard = []
    for i, (render, speech) in enumerate(zip(plan, audio)):
        text = asr.transcribe(asr_data.eval_condition(speech, snr_db, seed * 100003 + 70001 + i))[0].strip()
        for stats in (per_kind[kinds[render.text]], per_voice[render.voice]):
            stats[0] += int(bool(text))
            stats[1] += 1
        if text:
            heard.append({"voice": render.voice, "kind": kinds[render.text], "said": render.text, "heard": text})
    transcribed = len(heard)
    result = {
        "snr_db": snr_db, "sentences": len(kinds), "clips": len(plan), "transcribed": transcribed,
        "transcribed_share": round(transcribed / max(1, len(plan)), 4),
        "as_demo_question": sum(" ".join(words(h["heard"])) in questions for h in heard),
        "per_kind": {k: {"transcribed": t, "clips": n} for k, (t, n) in per_kind.items()},
        "per_voice": {v: {"transcribed": t, "clips": n} for v, (t, n) in per_voice.items()},
        "examples": heard[:40],
    }
    log(f"other speech at {snr_db:g} dB SNR: {transcribed}/{len(plan)} clips ({result['transcribed_share']:.1%}) "
        f"came out as text, {result['as_demo_question']} of them a whole demo question; per kind: "
        + ", ".join(f"{k} {t}/{n}" for k, (t, n) in per_kind.items()))
    return result


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())


def versions() -> dict:
    import ctranslate2
    import faster_whisper
    import torch
    import transformers
    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "ctranslate2": ctranslate2.__version__, "faster_whisper": faster_whisper.__version__,
            "espeak_ng": asr_data.espeak_version()}
