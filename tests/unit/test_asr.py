"""Whisper through faster-whisper on a tiny model built offline, and the guard against invented text."""
from types import SimpleNamespace

import numpy as np
import pytest

from robot_brain.frames import SpeechEnded, SpeechPaused, Transcript
from robot_brain.speech.asr import Guard, WhisperAsr, resolve_compute_type
from robot_brain.testing import run_stage, spoken

pytestmark = pytest.mark.slow

PERMISSIVE = Guard(no_speech_threshold=1.0, logprob_threshold=-1e9, compression_ratio_threshold=1e9)


def segment(text="where is the red cup", no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=1.1):
    return SimpleNamespace(text=text, no_speech_prob=no_speech_prob, avg_logprob=avg_logprob,
                           compression_ratio=compression_ratio, tokens=[1, 2, 3])


def test_the_faster_whisper_path_runs_end_to_end(tiny_whisper_dir):
    stage = WhisperAsr(str(tiny_whisper_dir), guard=PERMISSIVE)
    out = run_stage(stage, [SpeechEnded(turn=7, audio=spoken("where is the red cup"))], timeout=120)
    transcripts = [f for f in out if isinstance(f, Transcript)]
    assert len(transcripts) == 1
    t = transcripts[0]
    assert t.turn == 7 and t.final and t.text
    assert t.language                       # detected (the random model picks some language)
    assert 0.0 <= t.confidence <= 1.0
    assert stage.applied_compute_type == "int8"


def test_speech_transcribed_at_a_pause_is_the_turns_transcript_when_nothing_more_was_said(tiny_whisper_dir):
    words = spoken("where is the red cup")
    more = np.concatenate([words, spoken("and the blue ball")])
    plain = WhisperAsr(str(tiny_whisper_dir), guard=PERMISSIVE)
    expected = [f.text for f in run_stage(plain, [SpeechEnded(turn=1, audio=words)], timeout=120)
                if isinstance(f, Transcript)]
    stage = WhisperAsr(str(tiny_whisper_dir), guard=PERMISSIVE)
    out = run_stage(stage, [SpeechPaused(audio=words), SpeechEnded(turn=1, audio=words),     # nothing more said
                            SpeechPaused(audio=words), SpeechEnded(turn=2, audio=more)],     # the user went on
                    timeout=120)
    transcripts = [f for f in out if isinstance(f, Transcript)]
    assert [t.turn for t in transcripts] == [1, 2] and transcripts[0].text == expected[0]
    assert stage.counts["ahead"] == 2 and stage.counts["ahead_used"] == 1
    assert not [f for f in out if isinstance(f, SpeechPaused)]                   # used up here, not passed on


def test_the_guard_drops_what_the_random_model_invents(tiny_whisper_dir):
    stage = WhisperAsr(str(tiny_whisper_dir))
    out = run_stage(stage, [SpeechEnded(turn=1, audio=spoken("what do you see"))], timeout=120)
    assert not [f for f in out if isinstance(f, Transcript)]
    assert stage.counts["dropped"] >= 1


def test_empty_or_broken_utterances_are_skipped(tiny_whisper_dir):
    stage = WhisperAsr(str(tiny_whisper_dir), guard=PERMISSIVE)
    out = run_stage(stage, [SpeechEnded(turn=1, audio=np.zeros(0, np.float32)),
                            SpeechEnded(turn=2, audio=np.full(16000, np.nan, np.float32))])
    assert not [f for f in out if isinstance(f, Transcript)]
    assert stage.counts["empty"] == 2


def test_a_missing_model_is_a_clear_error(tmp_path):
    stage = WhisperAsr(str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="cannot load Whisper model .*CTranslate2 folder"):
        stage.open()


@pytest.mark.parametrize("seg, reason", [
    (segment(), None),
    (segment(compression_ratio=3.1), "repetitive"),
    (segment(no_speech_prob=0.9, avg_logprob=-1.3), "not speech"),
    (segment(avg_logprob=-1.8), "unsure"),
    (segment(text=" Thank you.", no_speech_prob=0.4), "invents"),
    (segment(text=" Thanks for watching!", avg_logprob=-0.7), "invents"),
    (segment(text=" Thank you.", no_speech_prob=0.01, avg_logprob=-0.1), None),   # said clearly: keep it
])
def test_guard_rules(seg, reason):
    got = Guard().reject(seg)
    assert (got is None) if reason is None else (reason in got)


def test_compute_type_defaults():
    assert resolve_compute_type("cpu", "auto") == "int8"
    assert resolve_compute_type("cuda", "auto") == "float16"
    assert resolve_compute_type("cuda", "int8_float16") == "int8_float16"
