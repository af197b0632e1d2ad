"""The live view's OpenCV window (Qt back-end of opencv-python); keys come back from `show`."""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np

TITLE = "robot_brain"
KEY_QUIT = {ord("q"), ord("Q"), 27}          # q or Esc
KEY_STOP = {ord("s"), ord("S")}
KEY_TALK = {ord(" ")}


def display_problem() -> str | None:
    """Why no window can be shown here, or None when a display is there."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    return None


class Window:
    def __init__(self, title: str = TITLE) -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as exc:
            raise RuntimeError(f"OpenCV cannot open a window here ({str(exc).strip().splitlines()[-1]})") from None
        cv2.moveWindow(title, 0, 0)
        self._shown = False

    def show(self, picture: np.ndarray, wait_ms: int = 30) -> int:
        """Draw `picture`, handle window events for `wait_ms`; the key pressed (-1: none)."""
        cv2.imshow(self.title, picture)
        self._shown = True
        return cv2.waitKey(wait_ms)

    @property
    def closed(self) -> bool:
        """The user closed the window with its close button."""
        if not self._shown:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
