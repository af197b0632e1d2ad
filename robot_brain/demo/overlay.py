"""The live view: the camera picture with what the robot heard, says, intends and how long each stage took.

`render(image, view)` returns a new BGR picture; it never changes `image`. OpenCV's fonts draw ASCII only:
accented letters lose their accents and other scripts show as '?'.
"""
from __future__ import annotations

import unicodedata

import cv2
import numpy as np

from .state import ACCEPTED, View

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_WIDTH, MAX_WIDTH = 800, 1280
NO_PICTURE_SIZE = (800, 450)

# BGR colours, named for what they mean on screen.
STATE_COLOURS = {"listening": (90, 160, 60), "hearing": (40, 190, 230), "thinking": (200, 130, 40),
                 "speaking": (180, 80, 200), "stopped": (40, 40, 220)}
ACCEPTED_COLOUR = (60, 220, 60)
PENDING_COLOUR = (0, 190, 255)
REJECTED_COLOUR = (60, 60, 230)
CROSSHAIR_COLOUR = (255, 255, 0)
SUBTITLE_BAND = (25, 25, 25)
HEARD_COLOUR = (255, 255, 255)
PARTIAL_COLOUR = (170, 170, 170)
SAID_COLOUR = (255, 220, 120)
BANNER_COLOUR = (0, 0, 180)
SEGMENT_COLOURS = {"endpoint": (150, 150, 150), "asr": (40, 190, 230), "turn": (120, 120, 120),
                   "prefill": (160, 100, 30), "sentence": (200, 130, 40), "tts": (180, 80, 200), "play": (90, 160, 60)}
BAND_ROWS = 3          # subtitle band height in text lines


def ascii_text(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c if ord(c) < 128 else ("" if unicodedata.combining(c) else "?") for c in decomposed)


def display_size(image: np.ndarray | None) -> tuple[int, int]:
    """(width, height) the view draws at: the picture scaled into [MIN_WIDTH, MAX_WIDTH], aspect kept."""
    if image is None:
        return NO_PICTURE_SIZE
    h, w = image.shape[:2]
    width = min(max(w, MIN_WIDTH), MAX_WIDTH)
    return width, max(1, round(h * width / w))


def render(image: np.ndarray | None, view: View) -> np.ndarray:
    width, height = display_size(image)
    if image is None:
        canvas = np.full((height, width, 3), 40, np.uint8)
        _centred(canvas, "no camera picture", (200, 200, 200), 0.9)
    else:
        picture = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        canvas = cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)
        if view.camera != "live":         # a stale picture is shown dimmed
            canvas = (canvas * 0.4).astype(np.uint8)
            _centred(canvas, f"camera {view.camera}", (80, 80, 255), 1.0)
    scale = width / 800
    _crosshair(canvas, view.look_at, scale)
    _targets(canvas, view, scale)
    _top_bar(canvas, view, scale)
    _intent_list(canvas, view, scale)
    band_top = _subtitles(canvas, view, scale)
    _latency_bar(canvas, view, scale, bottom=band_top - int(8 * scale))
    return canvas


def _text(canvas, text, origin, colour, size, thickness=1, scale=1.0, boxed=False) -> None:
    """Text at `origin`; `boxed`: on a dark box, so it reads on any picture."""
    thick = max(1, round(thickness * scale))
    text = ascii_text(text)
    if boxed:
        (w, h), base = cv2.getTextSize(text, FONT, size * scale, thick)
        pad = max(2, int(4 * scale))
        cv2.rectangle(canvas, (origin[0] - pad, origin[1] - h - pad), (origin[0] + w + pad, origin[1] + base + pad // 2),
                      (20, 20, 20), -1)
    cv2.putText(canvas, text, origin, FONT, size * scale, colour, thick, cv2.LINE_AA)


def _centred(canvas, text, colour, size) -> None:
    (w, h), _ = cv2.getTextSize(text, FONT, size, 2)
    cv2.putText(canvas, text, ((canvas.shape[1] - w) // 2, (canvas.shape[0] + h) // 2), FONT, size, colour, 2,
                cv2.LINE_AA)


def _pixel(canvas, point) -> tuple[int, int]:
    x = min(max(point[0], 0.0), 1.0) * (canvas.shape[1] - 1)
    y = min(max(point[1], 0.0), 1.0) * (canvas.shape[0] - 1)
    return int(round(x)), int(round(y))


def _crosshair(canvas, look_at, scale) -> None:
    """Where the robot would look or point; the picture's centre, dimmer, until a target was accepted."""
    x, y = _pixel(canvas, look_at or (0.5, 0.5))
    colour = CROSSHAIR_COLOUR if look_at else (150, 150, 150)
    arm, gap = int(22 * scale), int(6 * scale)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        cv2.line(canvas, (x + dx * gap, y + dy * gap), (x + dx * arm, y + dy * arm), colour, max(1, int(2 * scale)),
                 cv2.LINE_AA)


def decision_colour(decision: str) -> tuple[int, int, int]:
    if decision in ACCEPTED:
        return ACCEPTED_COLOUR
    if decision in ("awaiting_confirmation", "clarify"):
        return PENDING_COLOUR
    return REJECTED_COLOUR


def _targets(canvas, view: View, scale) -> None:
    for mark in view.intents:
        if mark.point is None:
            continue
        x, y = _pixel(canvas, mark.point)
        colour = decision_colour(mark.decision)
        radius = int(18 * scale)
        cv2.circle(canvas, (x, y), radius, colour, max(2, int(3 * scale)), cv2.LINE_AA)
        cv2.circle(canvas, (x, y), max(2, int(3 * scale)), colour, -1, cv2.LINE_AA)
        _text(canvas, f"{mark.verb} {mark.label}".strip(), (x + radius + 8, y + 5), colour, 0.55, 2, scale, True)


def _top_bar(canvas, view: View, scale) -> None:
    bar = int(34 * scale)
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], bar), (20, 20, 20), -1)
    pill = int(130 * scale)
    cv2.rectangle(canvas, (0, 0), (pill, bar), STATE_COLOURS.get(view.state, (100, 100, 100)), -1)
    _text(canvas, view.state.upper(), (int(10 * scale), int(24 * scale)), (255, 255, 255), 0.65, 2, scale)
    right = f"camera {view.camera}" + (f" {view.camera_fps:.0f} fps" if view.camera == "live" else "")
    if view.push_to_talk:
        right = ("TALKING (space to send)" if view.push_to_talk == "talking" else "space: talk") + "   " + right
    right += "   s: stop  q: quit"
    _text(canvas, right, (pill + int(12 * scale), int(23 * scale)), (220, 220, 220), 0.5, 1, scale)
    top = bar
    for note in view.notes:
        line = int(24 * scale)
        cv2.rectangle(canvas, (0, top), (canvas.shape[1], top + line), BANNER_COLOUR, -1)
        _text(canvas, note, (int(8 * scale), top + int(17 * scale)), (255, 255, 255), 0.45, 1, scale)
        top += line


def _intent_list(canvas, view: View, scale) -> None:
    """The last intents with the gate's decision, newest first, at the right edge under the top bar."""
    y = int((40 + 24 * len(view.notes)) * scale) + int(18 * scale)
    for mark in reversed(view.intents):
        text = f"{mark.verb} {mark.label}: {mark.decision}".replace("  ", " ")
        (w, h), _ = cv2.getTextSize(ascii_text(text), FONT, 0.5 * scale, max(1, round(scale)))
        x = canvas.shape[1] - w - int(12 * scale)
        cv2.rectangle(canvas, (x - int(6 * scale), y - h - int(6 * scale)), (canvas.shape[1] - int(4 * scale),
                      y + int(6 * scale)), (20, 20, 20), -1)
        _text(canvas, text, (x, y), decision_colour(mark.decision), 0.5, 1, scale)
        y += int(26 * scale)


def _wrap(text: str, width_px: int, size: float, thickness: int) -> list[str]:
    words, lines, line = ascii_text(text).split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if cv2.getTextSize(candidate, FONT, size, thickness)[0][0] <= width_px or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return lines + ([line] if line else [])


def _subtitles(canvas, view: View, scale) -> int:
    """The band at the bottom: what the robot heard (grey while partial) and what it says. Returns its top row."""
    line_h = int(28 * scale)
    band_h = line_h * BAND_ROWS + int(12 * scale)
    top = canvas.shape[0] - band_h
    region = canvas[top:]
    region[:] = (region * 0.25 + np.array(SUBTITLE_BAND) * 0.75).astype(np.uint8)
    size, thick = 0.6 * scale, max(1, round(scale))
    width = canvas.shape[1] - int(24 * scale)
    heard_text = view.heard or ("..." if view.state == "hearing" else "")
    heard = _wrap(f"you: {heard_text}", width, size, thick)[-1:] if heard_text else []
    said = _wrap(f"robot: {view.said}", width, size, thick)[-2:] if view.said else []
    y = top + line_h
    for line in heard:
        cv2.putText(canvas, line, (int(12 * scale), y), FONT, size, HEARD_COLOUR if view.heard_final else PARTIAL_COLOUR,
                    thick, cv2.LINE_AA)
        y += line_h
    for line in said:
        cv2.putText(canvas, line, (int(12 * scale), y), FONT, size, SAID_COLOUR, thick, cv2.LINE_AA)
        y += line_h
    if view.last_error and not said:
        cv2.putText(canvas, ascii_text(f"error: {view.last_error}")[:120], (int(12 * scale), y), FONT, 0.45 * scale,
                    REJECTED_COLOUR, 1, cv2.LINE_AA)
    return top


def _latency_bar(canvas, view: View, scale, bottom: int) -> None:
    """The last turn's time per stage as one stacked bar, seconds written on each part."""
    if not view.segments:
        return
    height = int(22 * scale)
    left, right = int(12 * scale), canvas.shape[1] - int(12 * scale)
    label = "last turn" + (f" {view.total_s:.2f} s" if view.total_s is not None else "")
    _text(canvas, label, (left, bottom - height - int(6 * scale)), (255, 255, 255), 0.5, 1, scale, True)
    total = sum(seconds for _, seconds in view.segments) or 1.0
    x = left
    for name, seconds in view.segments:
        w = max(1, int((right - left) * seconds / total))
        colour = SEGMENT_COLOURS.get(name, (120, 120, 120))
        cv2.rectangle(canvas, (x, bottom - height), (x + w, bottom), colour, -1)
        text = f"{name} {seconds:.2f}"
        if cv2.getTextSize(text, FONT, 0.42 * scale, 1)[0][0] < w - 4:
            _text(canvas, text, (x + int(3 * scale), bottom - int(6 * scale)), (0, 0, 0), 0.42, 1, scale)
        x += w
