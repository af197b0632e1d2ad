"""`robot-brain eval`: scoring checked with a perfect ear and brain at the seams, and the real line-up end to end."""
import json

import pytest

from robot_brain.cli import main
from robot_brain.config import Config
from robot_brain.evaluate import answer_states_the_facts, evaluate, intents_match, word_error_rate
from robot_brain.frames import ImageFrame, IntentProposal, ReplyDone, ReplySentence, SpeechEnded, Transcript, Turn
from robot_brain.pipeline import Stage
from robot_brain.sim.episodes import GAP_S


class PerfectEar(Stage):
    """Hears each question that was asked, once, from the utterance that ends in its time slot."""
    accepts = (SpeechEnded,)

    def __init__(self, asked):
        super().__init__("asr")
        self.unheard = [(a.start_s, a.exchange.question) for a in asked]

    def process(self, frame):
        if not isinstance(frame, SpeechEnded):
            return
        yield frame
        for slot in self.unheard:
            if slot[0] <= frame.stamp < slot[0] + GAP_S:
                self.unheard.remove(slot)
                yield Transcript(text=slot[1], final=True, language="en", turn=frame.turn)
                return


class PerfectBrain(Stage):
    """Answers each question with its true answer, pointing where the truth says."""
    accepts = (Turn, ImageFrame)

    def __init__(self, episode):
        super().__init__("brain")
        self.answers = {a.exchange.question: a.exchange for a in episode.asked}
        self.size = None

    def process(self, frame):
        if isinstance(frame, ImageFrame):
            self.size = (frame.image.shape[1], frame.image.shape[0])
            return
        if not isinstance(frame, Turn):
            return
        yield frame
        exchange = self.answers[frame.text]
        yield ReplySentence(text=exchange.say, turn=frame.turn)
        for intent in exchange.intents:
            yield IntentProposal(verb=intent["verb"], target=intent.get("target", ""), point=intent.get("point"),
                                 source=frame.source, image_size=self.size, turn=frame.turn)
        yield ReplyDone(text=exchange.say, turn=frame.turn)


def test_a_perfect_ear_and_brain_score_full_marks():
    def perfect(episode):
        return {"asr": PerfectEar(episode.asked), "brain": PerfectBrain(episode)}
    result = evaluate(Config(), seed=3, n=4, questions=4, swap=perfect)
    assert result["questions"] == 16 and len(result["by_ask"]) >= 5
    assert sum(r["intent_ok"] is not None for r in result["rows"]) >= 3      # questions that call for an action
    assert sum(r["answer_ok"] is not None for r in result["rows"]) >= 3      # ... and ones answered in words
    assert result["asr_wer"] == 0.0
    assert result["answer_accuracy"] == 1.0 and result["intent_accuracy"] == 1.0
    assert result["false_intent_rate"] == 0.0


def test_the_configured_line_up_is_scored_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["eval", "--n", "1", "--questions", "2", "--seed", "5", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert {"intent_accuracy", "answer_accuracy", "asr_wer", "false_intent_rate", "n"} <= r.keys()
    assert r["n"] == 1 and r["questions"] == 2 and len(r["rows"]) == 2
    assert 0.0 <= r["asr_wer"] <= 10
    assert "intent accuracy" in capsys.readouterr().out


def test_word_error_rate():
    assert word_error_rate("where is the red cup", "Where is the red cup?") == 0.0
    assert word_error_rate("where is the red cup", "where is red cup") == pytest.approx(0.2)
    assert word_error_rate("stop", "") == 1.0 and word_error_rate("stop", "stop stop") == 1.0


def test_answers_are_checked_for_their_facts():
    cup = {"kind": "cup", "colour": "red", "column": "left", "row": "back"}
    ball = {"kind": "ball", "colour": "blue", "column": "right", "row": "front"}
    where = "where is the red cup"
    assert answer_states_the_facts("where is", where, "The red cup is at the back left.", [cup, ball], None)
    assert not answer_states_the_facts("where is", where, "The red cup is at the back right.", [cup, ball], None)
    assert not answer_states_the_facts("where is", where, "", [cup, ball], None)
    assert answer_states_the_facts("where is", "where is the green box", "I don't see a green box.", [cup], None)
    assert answer_states_the_facts("how many", "how many cups", "I see one cup.", [cup, ball], None)
    assert not answer_states_the_facts("how many", "how many cups", "I see two cups.", [cup, ball], None)
    assert not answer_states_the_facts("how many", "how many cups", "I see one ball.", [cup, ball], None)
    assert answer_states_the_facts("how many", "how many boxes", "I see no boxes.", [cup, ball], None)
    assert answer_states_the_facts("what do you see", "what do you see", "A red cup and a blue ball.", [cup, ball],
                                   None)
    assert not answer_states_the_facts("what do you see", "what do you see", "A red cup and a person.", [cup, ball],
                                       None)
    assert answer_states_the_facts("is anyone there", "is anyone there", "No, nobody.", [cup], None)
    assert not answer_states_the_facts("is anyone there", "is anyone there", "No.", [cup], {"waving": True})


def test_intents_must_match_verb_target_and_point():
    want = ({"verb": "point_at", "target": "red cup", "point": [0.2, 0.5]},)
    got = lambda label, point: [{"verb": "point_at", "intent": {"target": {"label": label, "point_norm": point}}}]  # noqa: E731
    assert intents_match(want, got("red cup", [0.25, 0.52]))
    assert not intents_match(want, got("red cup", [0.5, 0.5]))
    assert not intents_match(want, got("blue ball", [0.2, 0.5]))
    assert not intents_match(want, [])


def test_the_gate_counts_its_time_windows_in_bag_time(tmp_path):
    """Replayed as fast as the pipeline goes, the same pointing asked twice 7 s apart in the bag is done twice
    (the gate's repeat window is 2 s of the bag's time, not of the replay's wall-clock time)."""
    from robot_brain.replay import replay
    from robot_brain.sim.dialogue import ASKS
    from robot_brain.sim.episodes import write_episode
    episode = write_episode(tmp_path / "episode", 100_047, questions=3, asks=ASKS)
    questions = [a.exchange.question for a in episode.asked]
    assert questions[1] == questions[2] == "point at the blue cup"       # the seed's draw
    result = replay(episode.bag, tmp_path / "out", Config(), progress=False,
                    swap={"asr": PerfectEar(episode.asked), "brain": PerfectBrain(episode)})
    decisions = [(e["verb"], e["decision"]) for e in result.events if e["type"] == "gate"]
    assert decisions == [("point_at", "accepted"), ("point_at", "accepted")]
