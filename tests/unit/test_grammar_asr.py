"""The phrase recogniser (PocketSphinx, grammar mode): whole phrases out, nothing for noise or other speech."""
import numpy as np
import pytest

from robot_brain.frames import SpeechEnded, Transcript
from robot_brain.sim.dialogue import every_question
from robot_brain.speech.grammar_asr import GrammarAsr, jsgf
from robot_brain.testing import run_stage, spoken

pytest.importorskip("pocketsphinx")


def _utterance(audio, turn=1):
    padded = np.concatenate([np.zeros(6400, np.float32), audio, np.zeros(8000, np.float32)])
    return SpeechEnded(audio=padded, sample_rate=16000, turn=turn)


def test_demo_questions_are_heard_word_for_word_and_noise_is_not():
    asr = GrammarAsr([*every_question(), "yes", "no"])
    rng = np.random.default_rng(0)
    said = ["point at the blue ball", "how many cups", "where is the red cup", "what do you see", "stop", "yes"]
    frames = [_utterance(spoken(text), i + 1) for i, text in enumerate(said)]
    frames += [_utterance(rng.normal(0, 0.05, 24000).astype(np.float32), 10),
               _utterance(spoken("the weather is nice today and I like trains"), 11),
               SpeechEnded(audio=np.full(8000, np.nan, np.float32), sample_rate=16000, turn=12),
               SpeechEnded(audio=np.zeros(100, np.float32), sample_rate=16000, turn=13)]
    out = [f for f in run_stage(asr, frames) if isinstance(f, Transcript)]
    assert [(f.text, f.turn) for f in out] == [(text, i + 1) for i, text in enumerate(said)]
    assert all(f.final and f.language == "en" and 0 < f.confidence <= 1 for f in out)
    assert asr.counts["transcripts"] == len(said) and asr.counts["empty"] >= 3


def test_grammars_are_words_only():
    assert "( pick up the red cup )" in jsgf(["Pick up  the red cup"])
    with pytest.raises(ValueError, match="words only"):
        jsgf(["point at <the> cup"])
    with pytest.raises(ValueError, match="at least one"):
        jsgf([" "])
    assert len(every_question()) == 129 and "how many boxes" in every_question()
