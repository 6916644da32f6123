"""The picture besides the face: frame layout, background, and the visible causes of foley sounds.

Each foley event is drawn on a "stage" panel as an object that meets a surface exactly at the
event time: it enters from outside the stage (no pop-in), accelerates from rest, and is at its
contact position on every frame from the first frame at or after ``at_s`` (so the largest motion
is on the contact frame and the motion stops there). Objects by sound kind: knock = a wooden block
falling on the table; glass = a glass falling on the table; clap = two hands meeting; footstep = a
foot on a leg landing on the floor; slam = a door swinging shut in its frame. Hands and feet then
fade out slowly, so no other motion competes with the approach.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Frame size by aspect ratio.
FRAME_SIZES = {"16:9": (854, 480), "9:16": (480, 854), "1:1": (480, 480)}
#: Approach time of a foley object (s): from entering the stage to contact.
APPROACH_S = 0.5
#: How long hands or a foot stay after contact, then how long they take to fade out (s).
HOLD_S = 0.05
FADE_S = 0.25
_WALL = (196, 186, 170)
_TABLE = (120, 78, 46)
_FLOOR = (150, 150, 158)


@dataclass(frozen=True)
class Layout:
    """Frame size and the panels, each (x, y, w, h): the face area, the foley stage, and one panel per face."""

    width: int
    height: int
    face: tuple[int, int, int, int]
    stage: tuple[int, int, int, int]
    faces: tuple[tuple[int, int, int, int], ...] = ()
    """One panel per speaker's face, left to right across :attr:`face` (empty: one face fills it)."""

    @property
    def face_panels(self) -> tuple[tuple[int, int, int, int], ...]:
        """The panels the faces are drawn in, left to right."""
        return self.faces or (self.face,)


def layout_for(aspect_ratio: str, *, faces: int = 1) -> Layout:
    """Face area and foley stage for an aspect ratio (side by side, or stacked for 9:16).

    With several ``faces`` the face area is split into that many panels side by side, one per
    speaker (each face sized by the shot for its own panel).
    """
    w, h = FRAME_SIZES[aspect_ratio]
    if aspect_ratio == "9:16":
        lay = Layout(w, h, face=(0, 0, w, 480), stage=(0, 480, w, h - 480))
    else:
        split = 520 if aspect_ratio == "16:9" else 320
        lay = Layout(w, h, face=(0, 0, split, h), stage=(split, 0, w - split, h))
    if faces <= 1:
        return lay
    fx, fy, fw, fh = lay.face
    edges = [fx + round(i * fw / faces) for i in range(faces + 1)]
    panels = tuple((a, fy, b - a, fh) for a, b in itertools.pairwise(edges))
    return Layout(lay.width, lay.height, lay.face, lay.stage, panels)


def contact_frame_time(at_s: float, fps: float) -> float:
    """Time of the first frame at or after ``at_s``: the first frame showing the contact."""
    return math.ceil(at_s * fps - 1e-6) / fps


def _approach(t: float, at_s: float) -> float:
    """Remaining distance fraction before contact: 1 at rest before, 0 at and after contact.

    Motion from rest, ever faster (``1 - (1 - s)^3``, s = time left / approach time), fastest at contact.
    """
    s = min(max((at_s - t) / APPROACH_S, 0.0), 1.0)
    return 1.0 - (1.0 - s) ** 3


@dataclass(frozen=True)
class StageEvent:
    """A foley event on the stage: synthesized ``kind``, time, and its slot (position index)."""

    kind: str
    at_s: float
    slot: int


class Stage:
    """Draws the stage panel at a given time.

    Parameters
    ----------
    size : tuple of int
        (w, h) of the stage panel.
    events : list of StageEvent
    """

    def __init__(self, size: tuple[int, int], events: list[StageEvent]) -> None:
        self.w, self.h = size
        self.events = events
        self.surface_y = int(0.72 * self.h)
        self.floor = any(e.kind in ("footstep", "slam") for e in events)
        bg = np.empty((self.h, self.w, 3), np.uint8)
        bg[:] = _WALL
        shade = np.linspace(1.0, 0.82, self.h)[:, None, None]
        bg = (bg * shade).astype(np.uint8)
        if self.floor:
            bg[self.surface_y :] = _FLOOR
            cv2.line(bg, (0, self.surface_y), (self.w, self.surface_y), (90, 90, 96), 2)
        else:
            top = self.surface_y
            cv2.rectangle(bg, (int(0.05 * self.w), top), (int(0.95 * self.w), top + 14), _TABLE, -1)
            for lx in (0.1, 0.86):
                x = int(lx * self.w)
                cv2.rectangle(bg, (x, top + 14), (x + 10, self.h), (96, 62, 36), -1)
        if any(e.kind == "slam" for e in events):
            x0, x1, y0 = self._door_box()
            cv2.rectangle(bg, (x0 - 6, y0 - 6), (x1 + 6, self.surface_y), (80, 64, 50), 6)
            bg[y0 : self.surface_y, x0:x1] = (40, 34, 30)  # the dark doorway
        self.background = bg

    def _door_box(self) -> tuple[int, int, int]:
        return int(0.25 * self.w), int(0.75 * self.w), int(0.18 * self.h)

    def _slot_x(self, slot: int) -> int:
        return int(self.w * (0.22 + 0.56 * ((slot % 4) / 3.0)))

    def draw(self, t: float) -> np.ndarray:
        """The stage at time ``t`` (s), RGB uint8 (h, w, 3)."""
        img = self.background.copy()
        for ev in self.events:
            if t < ev.at_s - APPROACH_S and ev.kind != "slam":
                continue  # still outside the stage
            d = _approach(t, ev.at_s)
            if ev.kind == "slam":
                self._door(img, d)
            elif ev.kind in ("clap", "footstep"):
                alpha = _fade(t, ev.at_s)
                if alpha <= 0.0:
                    continue
                layer = img if alpha >= 1.0 else img.copy()
                if ev.kind == "clap":
                    self._hands(layer, d)
                else:
                    self._foot(layer, ev.slot, d)
                if layer is not img:
                    cv2.addWeighted(layer, alpha, img, 1.0 - alpha, 0.0, dst=img)
            else:
                self._falling(img, ev.kind, ev.slot, d)
        return img

    def _falling(self, img: np.ndarray, kind: str, slot: int, d: float) -> None:
        cx = self._slot_x(slot)
        # taller than the last frame's fall (about 0.22 of the stage), so the changed area grows to contact
        if kind == "glass":
            gw, gh = int(0.16 * self.w), int(0.25 * self.h)
        else:
            gw, gh = int(0.22 * self.w), int(0.22 * self.h)
        bottom = self.surface_y - d * (self.surface_y + 2)
        top = int(round(bottom - gh))
        bottom = int(round(bottom))
        if kind == "glass":
            pts = np.array([[cx - gw // 2, top], [cx + gw // 2, top], [cx + gw // 3, bottom], [cx - gw // 3, bottom]])
            cv2.fillConvexPoly(img, pts, (170, 205, 225), lineType=cv2.LINE_AA)
            cv2.polylines(img, [pts], True, (70, 90, 110), 2, lineType=cv2.LINE_AA)
            water = top + gh // 3
            cv2.line(img, (cx - gw // 2 + 4, water), (cx + gw // 2 - 4, water), (80, 130, 200), 2, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (cx - gw // 2, top), (cx + gw // 2, bottom), (150, 100, 60), -1)
            cv2.rectangle(img, (cx - gw // 2, top), (cx + gw // 2, bottom), (70, 45, 25), 2)

    def _hands(self, img: np.ndarray, d: float) -> None:
        cx, cy = self.w // 2, int(0.45 * self.h)
        hw, hh = int(0.2 * self.w), int(0.22 * self.h)
        travel = self.w // 2 + 2
        for side in (-1, 1):
            inner = int(round(cx + side * d * travel))
            outer = inner + side * hw
            x0, x1 = sorted((inner, outer))
            cv2.rectangle(img, (x0, cy - hh // 2), (x1, cy + hh // 2), (224, 172, 140), -1)
            cv2.rectangle(img, (x0, cy - hh // 2), (x1, cy + hh // 2), (150, 100, 80), 2)

    def _foot(self, img: np.ndarray, slot: int, d: float) -> None:
        cx = self._slot_x(slot)
        fh, fw = int(0.1 * self.h), int(0.22 * self.w)
        sole = int(round(self.surface_y - d * (self.surface_y + fh + 2)))
        leg = int(0.09 * self.w)
        cv2.rectangle(img, (cx - leg, -1), (cx + leg, sole - fh // 2), (50, 60, 90), -1)
        cv2.ellipse(img, (cx + fw // 5, sole - fh // 2), (fw // 2, fh // 2), 0, 0, 360, (30, 30, 30), -1, cv2.LINE_AA)

    def _door(self, img: np.ndarray, d: float) -> None:
        # visible width of the door leaf: accelerates shut, fastest at the contact frame
        x0, x1, y0 = self._door_box()
        width = max(int(round((x1 - x0) * (1.0 - 0.82 * d))), 3)
        cv2.rectangle(img, (x0, y0), (x0 + width, self.surface_y - 1), (150, 110, 70), -1)
        cv2.rectangle(img, (x0, y0), (x0 + width, self.surface_y - 1), (90, 60, 35), 2)


def _fade(t: float, at_s: float) -> float:
    """Opacity of an object that goes away (hands, foot): 1 until ``HOLD_S`` after contact, then fades out.

    The fade is slow (:data:`FADE_S`) so that its frame-to-frame change stays well below the approach's.
    """
    return min(max(1.0 - (t - at_s - HOLD_S) / FADE_S, 0.0), 1.0)


def background(width: int, height: int) -> np.ndarray:
    """A plain warm wall (RGB uint8)."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _WALL
    return img
