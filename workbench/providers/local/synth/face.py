"""A real talking face: ``skimage.data.astronaut()`` with its mouth animated by a speech envelope.

Several speakers get the photo once each, side by side; every second copy is mirrored left to
right, so a two-shot shows two faces turned towards each other, each mouth moving on its own lines.

The photo is of a real person, so real face-landmark models (MediaPipe face mesh) find the face and
its lips. The lip geometry below was measured once on that photo with MediaPipe face mesh
(0.10.21, static mode; inner-lip contours of points 78-13-308 and 78-14-308, chin 152). In the photo
she smiles with the teeth showing; the warp closes the lips at rest and opens them by moving the
lower lip and jaw down and filling the gap with a dark mouth interior.

The warp is a vertical displacement field below the upper inner lip, linear in the opening, so it is
precomputed once per layout and each frame costs one small ``cv2.remap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy.signal import butter, sosfiltfilt

# Astronaut photo (512 x 512) geometry, source pixels.
_UPPER_INNER_LIP = np.array(
    [
        [204.7, 140.2], [207.1, 139.5], [210.1, 140.1], [213.7, 141.0], [218.1, 142.0], [223.5, 142.7],
        [229.1, 142.7], [233.6, 142.3], [237.3, 141.8], [240.6, 141.7], [243.0, 142.6],
    ]
)  # fmt: skip
_LOWER_INNER_LIP_Y = np.array([140.2, 143.4, 145.2, 147.2, 148.8, 149.6, 149.5, 148.5, 147.0, 145.5, 142.6])
_MOUTH_CX, _MOUTH_HALF_W = 223.8, 19.5
_JAW_HALF_W = 34.0
_CHIN_Y = 174.0
_JAW_FADE = 26.0
_CLOSE_MARGIN = 1.0
#: Face box of the mesh (x0, y0, x1, y1) and its height (forehead point 10 to chin 152).
FACE_BOX_SRC = (178.0, 72.0, 272.0, 175.0)
FACE_HEIGHT_SRC = 103.0
FACE_CENTER_SRC = (225.0, 124.0)
MOUTH_WIDTH_SRC = 38.3
#: Widest lip opening (source px), about 0.34 inner-lip gap / mouth width.
MAX_OPEN_SRC = 13.0
OPEN_LEVELS = 64
_INTERIOR_RGB = np.array([62.0, 22.0, 28.0], np.float32)
_ROI_SRC = (182.0, 128.0, 268.0, 204.0)
#: The photo's width (pixels): a mirrored copy shows source column ``x`` at ``SRC_WIDTH - 1 - x``.
SRC_WIDTH = 512

#: Face height as a fraction of the face panel's shorter side, by shot size.
SHOT_FACE_FRACTION = {
    "extreme_close_up": 0.75,
    "close_up": 0.65,
    "medium_close_up": 0.55,
    "medium": 0.47,
    "wide": 0.40,
    "extreme_wide": 0.36,
}


@lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    """The photo, RGB uint8 (512, 512, 3), read-only."""
    from skimage import data

    img = np.ascontiguousarray(data.astronaut())
    img.setflags(write=False)
    return img


@lru_cache(maxsize=1)
def astronaut_mirrored() -> np.ndarray:
    """The photo mirrored left to right, RGB uint8 (512, 512, 3), read-only."""
    img = np.ascontiguousarray(astronaut()[:, ::-1])
    img.setflags(write=False)
    return img


def mouth_track(
    *, y: np.ndarray, sr: int, n_frames: int, fps: float, gate: float = 0.12, lead_s: float = 0.0
) -> np.ndarray:
    """Intended mouth opening per video frame from a dry speech signal.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Dry speech on the picture's timeline (sample 0 = frame 0).
    sr : int
    n_frames : int
    fps : float
    gate : float
        Normalised envelope below which the mouth is closed.
    lead_s : float
        How far the mouth runs ahead of the voice (real speakers' mouths lead by tens of ms).

    Returns
    -------
    np.ndarray, shape (n_frames,), float64
        Opening in [0, 1]; exactly 0 where there is no speech.

    Notes
    -----
    RMS envelope (30 ms windows, 10 ms hop, centred), zero-phase 8 Hz Butterworth low-pass (no lag,
    so the mouth neither leads nor lags the sound), normalised by its 95th percentile over voiced
    frames, compressed (power 0.7) and gated.
    """
    hop, win = int(0.01 * sr), int(0.03 * sr)
    n_env = int(len(y) / hop) + 1
    pad = np.concatenate([np.zeros(win // 2), np.asarray(y, np.float64), np.zeros(win)])
    c = np.concatenate([[0.0], np.cumsum(pad**2)])
    starts = np.arange(n_env) * hop
    env = np.sqrt(np.maximum(c[starts + win] - c[starts], 0.0) / win)
    if env.max() <= 0:
        return np.zeros(n_frames)
    env = np.maximum(sosfiltfilt(butter(2, 8.0, fs=100.0, output="sos"), env), 0.0)
    voiced = env > 0.05 * env.max()
    ref = np.percentile(env[voiced], 95) if voiced.any() else env.max()
    e = np.clip(env / ref, 0.0, 1.0) ** 0.7
    e = np.clip((e - gate) / (1.0 - gate), 0.0, 1.0)
    t = np.arange(n_frames) / fps
    return np.interp(t + lead_s, np.arange(n_env) * 0.01, e, left=0.0, right=0.0)


@dataclass(frozen=True)
class FacePlacement:
    """Where the photo lands in the frame: ``frame = scale * shown + (tx, ty)``.

    ``shown`` is the photo as drawn: the photo itself, or with ``mirror`` the photo flipped left to
    right (source column ``x`` shown at ``SRC_WIDTH - 1 - x``).
    """

    scale: float
    tx: float
    ty: float
    mirror: bool = False

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """Map a point of the photo (source pixels, as measured on the photo) to frame pixels."""
        if self.mirror:
            x = SRC_WIDTH - 1 - x
        return self.scale * x + self.tx, self.scale * y + self.ty

    @property
    def mouth(self) -> dict:
        """Mouth centre and width (inner-lip corners 78-308) in frame pixels, and the widest opening."""
        x0, y0 = self.to_frame(_UPPER_INNER_LIP[0, 0], _UPPER_INNER_LIP[0, 1])
        x1, y1 = self.to_frame(_UPPER_INNER_LIP[-1, 0], _UPPER_INNER_LIP[-1, 1])
        return {
            "center": [round((x0 + x1) / 2, 1), round((y0 + y1) / 2, 1)],
            "width_px": round(abs(x1 - x0), 1),
            "max_opening_px": round(MAX_OPEN_SRC * self.scale, 1),
        }

    @property
    def face_box(self) -> tuple[int, int, int, int]:
        """Face box (x0, y0, x1, y1) in frame pixels."""
        x0, y0 = self.to_frame(FACE_BOX_SRC[0], FACE_BOX_SRC[1])
        x1, y1 = self.to_frame(FACE_BOX_SRC[2], FACE_BOX_SRC[3])
        x0, x1 = min(x0, x1), max(x0, x1)
        return round(x0), round(y0), round(x1), round(y1)


def place_face(*, panel: tuple[int, int, int, int], shot: str, mirror: bool = False) -> FacePlacement:
    """Scale and offset that put the face in the middle of ``panel`` (x, y, w, h) at the shot's size."""
    x, y, w, h = panel
    scale = SHOT_FACE_FRACTION.get(shot, 0.47) * min(w, h) / FACE_HEIGHT_SRC
    cx, cy = x + 0.5 * w, y + 0.47 * h
    fcx = SRC_WIDTH - 1 - FACE_CENTER_SRC[0] if mirror else FACE_CENTER_SRC[0]
    return FacePlacement(scale, cx - scale * fcx, cy - scale * FACE_CENTER_SRC[1], mirror)


class FaceRenderer:
    """Draws the face into a panel of a frame, with a given mouth opening.

    Parameters
    ----------
    frame : np.ndarray, shape (h, w, 3), uint8
        The background frame; the panel is overwritten with the photo.
    panel : tuple of int
        (x, y, w, h) of the face panel.
    shot : str
        Prompt shot size (sets the face size).
    mirror : bool
        Draw the photo mirrored left to right (the second face of a two-shot).
    """

    def __init__(self, frame: np.ndarray, *, panel: tuple[int, int, int, int], shot: str, mirror: bool = False) -> None:
        self.placement = p = place_face(panel=panel, shot=shot, mirror=mirror)
        self.mirror = mirror
        self._img = img = astronaut_mirrored() if mirror else astronaut()
        px, py, pw, ph = panel
        m = np.array([[p.scale, 0.0, p.tx], [0.0, p.scale, p.ty]])
        warped = cv2.warpAffine(img, m, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
        self.base = frame.copy()
        self.base[py : py + ph, px : px + pw] = warped[py : py + ph, px : px + pw]
        # mouth region in frame pixels, clipped to the panel
        x0, y0 = p.to_frame(_ROI_SRC[0], _ROI_SRC[1])
        x1, y1 = p.to_frame(_ROI_SRC[2], _ROI_SRC[3])
        x0, x1 = min(x0, x1), max(x0, x1)
        fx0, fy0 = max(int(np.floor(x0)), px), max(int(np.floor(y0)), py)
        fx1, fy1 = min(int(np.ceil(x1)), px + pw), min(int(np.ceil(y1)), py + ph)
        self.roi = (fx0, fy0, fx1, fy1)
        yy, xx = np.mgrid[fy0:fy1, fx0:fx1].astype(np.float64)
        xs, ys = (xx - p.tx) / p.scale, (yy - p.ty) / p.scale
        # the lip geometry was measured on the photo: a mirrored copy looks it up at the photo's own column
        xg = SRC_WIDTH - 1 - xs if mirror else xs
        yu = np.interp(xg, _UPPER_INNER_LIP[:, 0], _UPPER_INNER_LIP[:, 1])
        gap = np.interp(xg, _UPPER_INNER_LIP[:, 0], _LOWER_INNER_LIP_Y - _UPPER_INNER_LIP[:, 1], left=0.0, right=0.0)
        u = np.clip((ys - yu) / (_CHIN_Y - yu), 0.0, 1.0)
        half_w = _MOUTH_HALF_W + (_JAW_HALF_W - _MOUTH_HALF_W) * u
        prof = np.sqrt(np.clip(1 - ((xg - _MOUTH_CX) / half_w) ** 2, 0.0, 1.0))
        prof_lip = np.sqrt(np.clip(1 - ((xg - _MOUTH_CX) / _MOUTH_HALF_W) ** 2, 0.0, 1.0))
        gap = gap + _CLOSE_MARGIN * prof_lip  # close a little more than the measured gap: no teeth left
        fade = np.clip((_CHIN_Y + _JAW_FADE - ys) / _JAW_FADE, 0.0, 1.0)
        fade = fade * fade * (3 - 2 * fade)
        below = (ys >= yu).astype(np.float64)
        # source y = ys + shift0 + opening * shift1  (opening in source px)
        self._xs = xs.astype(np.float32)
        self._ys = ys.astype(np.float32)
        self._shift0 = (below * gap * fade).astype(np.float32)
        self._shift1 = (-below * prof * fade).astype(np.float32)
        self._depth = (ys - yu).astype(np.float32)
        self._prof_lip = prof_lip.astype(np.float32)
        self._scale = p.scale
        self._cache: dict[int, np.ndarray] = {}

    def mouth_roi(self, opening: float) -> np.ndarray:
        """The warped mouth region for an opening in [0, 1] (RGB uint8, shape of ``roi``).

        Openings are quantised to 1/64 (0.2 source px) and each level is computed once.
        """
        level = int(round(float(np.clip(opening, 0.0, 1.0)) * OPEN_LEVELS))
        roi = self._cache.get(level)
        if roi is None:
            roi = self._cache[level] = self._warp(level / OPEN_LEVELS * MAX_OPEN_SRC)
        return roi

    def _warp(self, o: float) -> np.ndarray:
        sy = self._ys + self._shift0 + np.float32(o) * self._shift1
        out = cv2.remap(self._img, self._xs, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if o > 0:
            # interior alpha, anti-aliased over one frame pixel at the gap edges
            edge = np.float32(1.0 / self._scale)
            h = o * self._prof_lip
            a = np.where(h > 0, np.clip(np.minimum(h - self._depth, self._depth) / edge + 0.5, 0.0, 1.0), 0.0)
            out = (out * (1 - a[..., None]) + _INTERIOR_RGB * a[..., None]).astype(np.uint8)
        return out

    def draw(self, frame: np.ndarray, opening: float) -> None:
        """Write the mouth region for ``opening`` into ``frame`` (a copy of :attr:`base`)."""
        x0, y0, x1, y1 = self.roi
        frame[y0:y1, x0:x1] = self.mouth_roi(opening)
