"""Speaking: real pyttsx3/espeak-ng voice, block playback, cut-off on Interrupt/Stop, Speaking frames."""
import time

import numpy as np
import pytest

from robot_brain.brain.sentences import SentenceChunker
from robot_brain.frames import Interrupt, ReplyDone, ReplySentence, Speaking, SpeechAudio, Stop
from robot_brain.pipeline import Pipeline
from robot_brain.speech.player import NullSink, WavSink
from robot_brain.speech.speaking import SpeakingState
from robot_brain.speech.speech_out import SpeechOut
from robot_brain.speech.tts import Pyttsx3Voice, make_voice
from robot_brain.testing import Collector, run_stage

SENTENCE = "The red cup is on the left of the table."


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_pyttsx3_renders_a_sentence_to_audible_speech_of_plausible_length():
    voice = Pyttsx3Voice()
    voice.open()
    try:
        samples, rate = voice.render(SENTENCE)
        empty, _ = voice.render("   ")
    finally:
        voice.close()
    assert rate in (16000, 22050, 24000, 44100, 48000)
    assert 1.0 < len(samples) / rate < 5.0
    assert rms(samples) > 0.02
    assert empty.size == 0


def test_unknown_voice_or_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="not a voice of this engine"):
        Pyttsx3Voice(voice="no-such-voice-xyz").open()
    with pytest.raises(ValueError, match="available: pyttsx3"):
        make_voice("piper")


def test_sentences_are_played_to_the_sink_and_speaking_is_reported():
    sink = WavSink()
    speaking = SpeakingState()
    out = run_stage(SpeechOut(Pyttsx3Voice(), sink, speaking=speaking),
                    [ReplySentence(turn=1, text="Hello.", index=0), ReplySentence(turn=1, text=SENTENCE, index=1),
                     ReplyDone(turn=1, text="Hello. " + SENTENCE)])
    audio = [f for f in out if isinstance(f, SpeechAudio)]
    assert [a.sentence for a in audio] == [0, 1]
    assert len(sink.audio) == sum(len(a.samples) for a in audio)      # everything rendered was played
    assert [f.active for f in out if isinstance(f, Speaking)] == [True, False]
    assert not speaking.active


def test_a_question_said_after_the_reply_ended_leaves_the_robot_listening():
    """The safety gate's yes/no question can reach playback after the brain's ReplyDone: once it is said, the
    robot must stop counting as speaking, or the user's answer would be taken for its own echo."""
    speaking = SpeakingState()
    out = run_stage(SpeechOut(Pyttsx3Voice(), WavSink(), speaking=speaking),
                    [ReplySentence(turn=1, text="I will pick it up.", index=0), ReplyDone(turn=1),
                     ReplySentence(turn=1, text="Do you want me to pick up the cup?", index=1000)])
    assert [f.active for f in out if isinstance(f, Speaking)] == [True, False, True, False]
    assert not speaking.active


@pytest.mark.parametrize("control", [Interrupt(reason="barge-in"), Stop(source="voice")])
def test_interrupt_or_stop_cuts_playback_within_one_block(control):
    block_s = 0.02
    sink = WavSink(realtime=True)
    stage = SpeechOut(Pyttsx3Voice(), sink, block_s=block_s)
    out = Collector()
    with Pipeline([stage]) as pipeline:
        pipeline.add_sink(out)
        pipeline.turns.begin()
        pipeline.push(ReplySentence(turn=1, text=SENTENCE + " " + SENTENCE, index=0))
        deadline = time.monotonic() + 10
        while not out.of(Speaking) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.4)
        played_before = len(sink.audio)
        pipeline.push(type(control)(**{k: getattr(control, k) for k in ("reason",)}))
        assert pipeline.wait_idle(10)
        played_after = len(sink.audio) - played_before
    full = len(out.of(SpeechAudio)[0].samples)
    assert len(sink.audio) < full / 2                                 # it really stopped early
    assert played_after <= 2 * block_s * sink.sample_rate               # the block in flight, at most one more
    assert stage.cut_latencies and max(stage.cut_latencies) < 0.1
    assert [f.active for f in out.of(Speaking)] == [True, False]


def test_cancelled_turn_is_not_spoken():
    sink = NullSink()
    stage = SpeechOut(Pyttsx3Voice(), sink)
    out = Collector()
    with Pipeline([stage]) as pipeline:
        pipeline.add_sink(out)
        turn = pipeline.turns.begin()
        pipeline.turns.cancel(turn)
        pipeline.push(ReplySentence(turn=turn, text=SENTENCE))
        assert pipeline.wait_idle(10)
    assert not out.of(SpeechAudio) and not out.of(Speaking)


def test_chunker_speaks_the_first_clause_early_then_whole_sentences():
    chunker = SentenceChunker()
    pieces = []
    for delta in ["Sure, ", "the red cup ", "is on the left, ", "next to the cube. ", "It is, ", "I think, empty."]:
        pieces += chunker.feed(delta)
    pieces.append(chunker.flush())
    assert pieces[0] == "Sure, the red cup is on the left,"   # "Sure," alone is too short to be worth it
    assert pieces[1:] == ["next to the cube.", "It is, I think, empty."]
