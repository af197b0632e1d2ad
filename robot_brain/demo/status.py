"""The headless demo's status line: the live view squeezed into one line of text."""
from __future__ import annotations

import shutil
import sys
from typing import TextIO

from .state import View


def status_line(view: View, width: int = 160) -> str:
    parts = [f"[{view.state}]", f"cam {view.camera}" + (f" {view.camera_fps:.0f}fps" if view.camera == "live" else "")]
    if view.heard:
        parts.append(f"heard{'' if view.heard_final else '…'}: {_cut(view.heard, 40)!r}")
    if view.said:
        parts.append(f"said: {_cut(view.said, 50)!r}")
    if view.intents:
        last = view.intents[-1]
        parts.append(f"intent: {last.verb} {last.label} {last.decision}".replace("  ", " "))
    if view.segments:
        total = f" {view.total_s:.2f}s" if view.total_s is not None else ""
        parts.append(f"last turn{total}: " + " ".join(f"{name} {s:.2f}" for name, s in view.segments))
    return _cut(" | ".join(parts), width)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class StatusPrinter:
    """On a terminal: one line rewritten in place. Piped: a new line whenever what it says changes."""

    def __init__(self, stream: TextIO = sys.stdout, in_place: bool | None = None) -> None:
        self.stream = stream
        self.in_place = stream.isatty() if in_place is None else in_place
        self._last = ""

    def show(self, view: View) -> None:
        width = shutil.get_terminal_size((160, 20)).columns - 1 if self.in_place else 200
        line = status_line(view, width)
        if self.in_place:
            self.stream.write("\r" + line + "\x1b[K")
            self.stream.flush()
        elif _without_fps(line) != _without_fps(self._last):
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last = line

    def end(self) -> None:
        if self.in_place and self._last:
            self.stream.write("\n")
            self.stream.flush()


def _without_fps(line: str) -> str:
    return " ".join(word for word in line.split() if not word.endswith("fps"))
