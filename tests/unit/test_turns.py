"""Turn taking: typed text and final transcripts become turns; a bare stop word becomes a Stop."""
from robot_brain.frames import ActionIntent, Stop, TextInput, Transcript, Turn
from robot_brain.testing import run_stage
from robot_brain.turns import TurnTaker


def test_typed_text_and_final_transcripts_become_turns():
    out = run_stage(TurnTaker(stop_words=("stop",)), [
        TextInput(text="point at the blue ball"),
        Transcript(turn=5, text=" where is the red cup ", language="en", final=True),
        Transcript(turn=6, text="where is", final=False),
    ])
    turns = [f for f in out if isinstance(f, Turn)]
    assert [(t.text, t.source) for t in turns] == [("point at the blue ball", "typed"), ("where is the red cup", "voice")]
    assert turns[1].turn == 5 and turns[1].language == "en"
    assert not [f for f in out if isinstance(f, Stop)]


def test_a_bare_stop_word_typed_or_heard_is_a_stop_with_a_stop_intent():
    out = run_stage(TurnTaker(stop_words=("stop", "halt", "停")), [
        TextInput(text="Stop!"), Transcript(turn=3, text=" Halt."), Transcript(turn=4, text="停"),
        TextInput(text="stop the music and look at me"),          # a sentence with "stop" in it is a question
    ])
    stops = [f for f in out if isinstance(f, Stop)]
    assert [s.source for s in stops] == ["typed", "voice", "voice"]
    intents = [f for f in out if isinstance(f, ActionIntent)]
    assert [i.verb for i in intents] == ["stop"] * 3 and all(i.priority == 100 for i in intents)
    assert [t.text for t in out if isinstance(t, Turn)] == ["stop the music and look at me"]
