"""Hearing: real Silero VAD on real espeak-ng speech; endpointing, bad input, self-speech and barge-in."""
import time

import numpy as np
import pytest

from robot_brain.frames import AudioChunk, Interrupt, SpeechEnded, SpeechStarted
from robot_brain.speech.audio import chunks_of
from robot_brain.speech.endpointer import Block, Endpointer, EndpointSettings
from robot_brain.speech.hearing import EchoGate, Hearing
from robot_brain.speech.speaking import SpeakingState
from robot_brain.testing import run_stage, spoken

RATE = 16000


def scene(utterances, seconds, noise=0.003, seed=0):
    """A track with speech at the given start times, in mild noise; returns (track, [(start, end) truth])."""
    rng = np.random.default_rng(seed)
    track = np.zeros(int(seconds * RATE), np.float32)
    truth = []
    for start, text, voice in utterances:
        audio = spoken(text, voice=voice)
        loud = np.flatnonzero(np.abs(audio) > 0.02)
        i = int(start * RATE)
        track[i:i + len(audio)] += audio
        truth.append((start + loud[0] / RATE, start + loud[-1] / RATE))
    return track + rng.normal(0, noise, len(track)).astype(np.float32), truth


def of(frames, kind):
    return [f for f in frames if isinstance(f, kind)]


def test_vad_segments_match_the_truth_within_150_ms():
    track, truth = scene([(0.8, "what do you see", "en-us"), (3.5, "where is the red cup", "en-gb-x-rp"),
                          (6.8, "point at the blue ball", "en-us+f3")], 9.5)
    out = run_stage(Hearing(), chunks_of(track, RATE, block_s=0.1))
    started, ended = of(out, SpeechStarted), of(out, SpeechEnded)
    assert len(started) == len(ended) == 3
    for (start, end), s, e in zip(truth, started, ended):
        assert abs(s.stamp - start) <= 0.15, (s.stamp, start)
        assert abs(e.stamp - end) <= 0.15, (e.stamp, end)
        assert e.turn > 0 and e.sample_rate == RATE
        # the turn's audio: pre-roll before the speech, a short tail after it
        assert (end - start) + 0.2 < len(e.audio) / RATE < (end - start) + 0.4 + 0.3
    assert len({e.turn for e in ended}) == 3


def test_silence_and_noise_make_no_utterances():
    rng = np.random.default_rng(1)
    noise = np.concatenate([np.zeros(RATE, np.float32), rng.normal(0, 0.02, 3 * RATE).astype(np.float32)])
    out = run_stage(Hearing(), chunks_of(noise, RATE, block_s=0.1))
    assert not of(out, SpeechStarted) and not of(out, SpeechEnded)


def test_bad_audio_is_survived_and_listening_goes_on():
    speech = spoken("where is the red cup")
    bad = [
        AudioChunk(samples=np.zeros(0, np.float32)),                                     # empty
        AudioChunk(samples=np.full(1600, np.nan, np.float32)),                            # NaN
        AudioChunk(samples=np.full(1600, np.inf, np.float32)),                            # Inf
        AudioChunk(samples=np.clip(speech[:3200] * 40, -1, 1).astype(np.float32)),         # clipped
        AudioChunk(samples=(speech[:3200] * 0.2 + 0.4).astype(np.float32)),                # DC offset
        AudioChunk(samples=np.zeros(4410, np.float32), sample_rate=44100),                # wrong rate
    ]
    rng = np.random.default_rng(2)
    pad = rng.normal(0, 0.003, RATE).astype(np.float32)
    good = list(chunks_of(np.concatenate([pad, speech, pad, pad]), RATE, block_s=0.1))
    stage = Hearing()
    out = run_stage(stage, bad + good)
    assert len(of(out, SpeechEnded)) >= 1                      # still hears the real question afterwards
    assert len(of(out, AudioChunk)) == len(bad) + len(good)    # nothing lost on the way


def test_a_monologue_is_cut_into_bounded_pieces():
    phrase = spoken("and then we walked all the way along the river to the old mill")
    track = np.tile(phrase, int(np.ceil(45 * RATE / len(phrase))))[:45 * RATE]        # 45 s without a pause
    settings = EndpointSettings(max_utterance_s=6.0)
    out = run_stage(Hearing(settings), chunks_of(track, RATE, block_s=0.5))
    pieces = of(out, SpeechEnded)
    assert len(pieces) >= 6
    assert max(len(p.audio) for p in pieces) <= (6.0 + 0.5) * RATE


def test_endpointer_ignores_short_bursts_and_keeps_pre_roll():
    ep = Endpointer(EndpointSettings(min_speech_s=0.25, end_silence_s=0.3, pre_roll_s=0.4))
    blk = lambda i, p: Block(np.full(512, i, np.float32), p, i * 0.032, i * 0.032)
    events = []
    probs = [0.0] * 20 + [0.9] * 3 + [0.0] * 20 + [0.9] * 20 + [0.0] * 20     # a 96 ms click, then 0.64 s of speech
    for i, p in enumerate(probs):
        events += ep.feed(blk(i, p))
    kinds = [e.kind for e in events]
    assert kinds == ["discarded", "started", "paused", "ended"]
    ended = events[-1]
    first_sample = int(ended.audio[0])
    assert 43 - 13 <= first_sample < 43                          # pre-roll: ~0.4 s (12-13 blocks) before speech
    assert ended.utterance.start_stamp == pytest.approx(43 * 0.032)


def test_a_pause_hands_on_the_speech_so_far_exactly_as_the_turn_will_end_if_nothing_more_is_said():
    ep = Endpointer(EndpointSettings(min_speech_s=0.25, end_silence_s=0.5, pre_roll_s=0.2, pause_s=0.15))
    blk = lambda i, p: Block(np.full(512, i, np.float32), p, i * 0.032, i * 0.032)
    probs = [0.0] * 10 + [0.9] * 20 + [0.0] * 8 + [0.9] * 15 + [0.0] * 30     # speech, a 0.26 s pause, speech, end
    events = []
    for i, p in enumerate(probs):
        events += [(i, e) for e in ep.feed(blk(i, p))]
    kinds = [e.kind for _, e in events]
    assert kinds == ["started", "paused", "paused", "ended"]                  # one per pause, none after the end
    (first_at, first), (second_at, second), (end_at, ended) = events[1], events[2], events[3]
    assert first_at == 30 + 4 and second_at == 53 + 4                          # 0.15 s of silence = 5 blocks
    assert len(first.audio) < len(ended.audio)                                 # the user went on after it
    assert np.array_equal(second.audio, ended.audio)                           # then said nothing more
    assert end_at > second_at
    quiet = Endpointer(EndpointSettings(min_speech_s=0.25, end_silence_s=0.5, pause_s=0.0))
    assert "paused" not in [e.kind for i, p in enumerate(probs) for e in quiet.feed(blk(i, p))]


def feed_while_speaking(track, speaking, echo_of=None, hearing=None):
    """Feed `track` in 32 ms chunks stamped as if captured now, while `speaking` says the robot talks."""
    stage = hearing or Hearing(EndpointSettings(), speaking=speaking, barge_in=True, barge_in_s=0.5)
    chunks = []
    now = time.monotonic()
    for i in range(0, len(track), 512):
        t = now + (i + 512) / RATE
        if echo_of is not None:
            level = float(np.sqrt(np.mean(np.square(echo_of[i:i + 512])))) if i < len(echo_of) else 0.0
            speaking.played(level, t - 512 / RATE, 512 / RATE)
        chunks.append(AudioChunk(samples=track[i:i + 512].astype(np.float32), t=t, stamp=i / RATE))
    return run_stage(stage, chunks)


def test_the_robots_own_voice_never_becomes_an_utterance():
    own = spoken("The red cup is on the left of the table, next to the green cube and the blue ball.")
    rng = np.random.default_rng(3)
    echo = 0.3 * own + rng.normal(0, 0.003, len(own)).astype(np.float32)    # what the mic hears of the speaker
    speaking = SpeakingState(tail_s=0.3)
    speaking.start(time.monotonic() - 0.01)
    out = feed_while_speaking(np.concatenate([echo, rng.normal(0, 0.003, RATE).astype(np.float32)]), speaking, echo_of=own)
    assert not of(out, SpeechEnded) and not of(out, SpeechStarted) and not of(out, Interrupt)


def test_user_speech_louder_than_the_echo_barges_in_and_becomes_the_turn():
    own = spoken("The red cup is on the left of the table, next to the green cube and the blue ball.")
    user = spoken("stop talking and look at me", voice="en-us+f2")
    rng = np.random.default_rng(4)
    mic = 0.3 * own + rng.normal(0, 0.003, len(own)).astype(np.float32)
    at = int(1.5 * RATE)                                                   # the user starts 1.5 s into the robot's reply
    mic[at:at + len(user)] += user
    speaking = SpeakingState()
    speaking.start(time.monotonic() - 0.01)
    out = feed_while_speaking(np.concatenate([mic, rng.normal(0, 0.003, RATE).astype(np.float32)]), speaking, echo_of=own)
    interrupts = of(out, Interrupt)
    assert len(interrupts) == 1 and interrupts[0].reason == "barge-in"
    assert len(of(out, SpeechEnded)) == 1


def test_without_barge_in_speech_while_talking_is_ignored():
    user = spoken("where is the red cup")
    speaking = SpeakingState()
    speaking.start(time.monotonic() - 0.01)
    rng = np.random.default_rng(5)
    track = np.concatenate([user, rng.normal(0, 0.003, RATE).astype(np.float32)])
    out = feed_while_speaking(track, speaking, hearing=Hearing(speaking=speaking, barge_in=False))
    assert not of(out, SpeechEnded) and not of(out, Interrupt)


def test_echo_gate_learns_the_echo_gain_before_it_lets_anyone_barge_in():
    gate = EchoGate(margin=2.0, learn_blocks=5)
    assert not any(gate.is_user(0.5, 0.1, voiced=True) for _ in range(5))   # learning: nothing counts yet
    gate = EchoGate(margin=2.0, learn_blocks=5)
    for _ in range(10):
        gate.is_user(0.03, 0.1, voiced=True)                                # echo ≈ 0.3 × playback
    assert gate.echo_gain == pytest.approx(0.3)
    assert not gate.is_user(0.05, 0.1, voiced=True)
    assert gate.is_user(0.2, 0.1, voiced=True)
    assert not gate.is_user(0.2, 0.1, voiced=False)
