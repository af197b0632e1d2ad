"""The brain's chat messages, and the prompt settings a trained model folder carries.

`chat_messages` is the one place the conversation is laid out, so a model trained by robot_brain
(robot_brain/training) sees at training time exactly what the brain gives it at run time.

A model folder may hold `robot_brain_prompt.json` — {"system_prompt": ..., "history_turns": N,
"pictures_after_text": false} — written when the model was trained: a model answers best with the prompt it was
trained on, so the brain then uses that system prompt (the skills list is left out: the model learnt its skills),
remembers at most N turns and puts the pictures where the model learnt to find them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PROMPT_FILE = "robot_brain_prompt.json"


@dataclass(frozen=True)
class TrainedPrompt:
    system_prompt: str
    history_turns: int
    pictures_after_text: bool = False       # the question before its pictures (see chat_messages)

    def save(self, folder: str | Path) -> None:
        (Path(folder) / PROMPT_FILE).write_text(json.dumps(
            {"system_prompt": self.system_prompt, "history_turns": self.history_turns,
             "pictures_after_text": self.pictures_after_text}, indent=1) + "\n")


def trained_prompt(folder: str | Path) -> TrainedPrompt | None:
    """The folder's trained prompt, None when it has none; a broken file is an error that names it."""
    path = Path(folder) / PROMPT_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        after = data.get("pictures_after_text", False)
        if not isinstance(after, bool):
            raise ValueError(f"pictures_after_text is {after!r}, not true or false")
        return TrainedPrompt(str(data["system_prompt"]), int(data.get("history_turns", 0)), after)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path} is not a usable prompt file ({type(exc).__name__}: {exc}); "
                         "delete it to use the configured system prompt") from None


def chat_messages(system: str, history: list[dict], text: str, images: int, *,
                  pictures_after_text: bool = False) -> list[dict]:
    """System prompt, remembered exchanges, then the question with its pictures in front of the text.

    `pictures_after_text`: the question first, so that the picture's tokens can read it (a causal language model
    lets a token see only what comes before it): a small model trained that way finds what the question names.
    """
    pictures, question = [{"type": "image"}] * images, [{"type": "text", "text": text}]
    content = question + pictures if pictures_after_text else pictures + question
    return [{"role": "system", "content": [{"type": "text", "text": system}]}, *history,
            {"role": "user", "content": content}]
