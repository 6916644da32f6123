"""Face geometry on full-resolution frames: detection tiles and merging, landmark regions, crops.

Pure functions of numpy arrays (OpenCV for the warps); the networks that find faces and
landmarks live in :mod:`workbench.metrics.face` and hand their outputs to these.

Conventions: boxes are ``(x0, y0, x1, y1)`` in frame pixels; a *detection* is a row of
:data:`DET_COLS` numbers: the box, a score, then the six keypoints of MediaPipe's BlazeFace
detector (the subject's right eye, left eye, nose tip, mouth centre, right ear, left ear) as
``x, y`` pairs; landmarks are the 468 points of MediaPipe's face mesh (Kartynnik et al. 2019,
"Real-time facial surface geometry from monocular video on mobile GPUs"), in frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Columns of a detection row: box (4), score, six keypoints (12).
DET_COLS = 17
#: Column of the detection's mouth-centre keypoint (x; y follows).
DET_MOUTH = 11
#: Columns of the subject's right and left eye keypoints (x; y follows).
DET_EYE_R, DET_EYE_L = 5, 7
#: Side of the landmark network's square input (pixels).
NET_SIZE = 192
#: The network's region is the face box times this, square (MediaPipe's FaceDetectionFrontDetectionToRoi
#: and FaceLandmarkLandmarksToRoi graphs use 1.5).
ROI_SCALE = 1.5
#: Landmarks: eyes (roll of the tracking region), inner lip (13, 14) and inner corners (78, 308),
#: forehead (10), chin (152), cheek edges (234, 454), nose tip (1).
EYE_R, EYE_L = 33, 263
UPPER_LIP, LOWER_LIP, LEFT_CORNER, RIGHT_CORNER = 13, 14, 78, 308
FOREHEAD, CHIN, CHEEK_L, CHEEK_R, NOSE = 10, 152, 234, 454, 1
#: A detection's eye keypoints set the seed region's roll only when they lie this far apart (share
#: of the box width) and the roll is within this many degrees; otherwise the region is upright. On
#: small faces the keypoints collapse (seen: both eyes within 4 px, a 150-degree roll on an upright
#: 64-px face; FINDINGS of issue 14, section 4b).
MIN_EYE_SPAN = 0.2
MAX_SEED_ROLL_DEG = 50.0


def tile_grid(*, height: int, width: int, tile: int, overlap: float = 0.3) -> list[tuple[int, int, int, int]]:
    """Square tiles ``(x0, y0, x1, y1)`` of side ``tile`` covering a frame, neighbours overlapping by ``overlap``.

    A side no longer than ``tile`` is one tile (the whole side). Tiles are spread evenly, so the
    overlap is at least ``overlap * tile``: any face up to that size lies wholly inside one tile.
    """

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        k = int(np.ceil((n - tile) / (tile * (1.0 - overlap)))) + 1
        return [int(round(x)) for x in np.linspace(0, n - tile, k)]

    t_w, t_h = min(tile, width), min(tile, height)
    return [(x, y, x + t_w, y + t_h) for y in starts(height) for x in starts(width)]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (m, 4+) with every box in ``b`` (n, 4+): shape (m, n)."""
    a, b = np.asarray(a, float)[:, :4], np.asarray(b, float)[:, :4]
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(dets: np.ndarray, *, iou: float = 0.3, contained: float = 0.6) -> np.ndarray:
    """Non-maximum suppression, highest score first.

    A box is dropped when it overlaps a kept one by more than ``iou``, or when more than
    ``contained`` of either box lies inside the other (a face cut by a tile edge, found whole by
    the neighbouring tile or the whole-frame pass).
    """
    if len(dets) == 0:
        return dets
    keep: list[int] = []
    for i in np.argsort(-dets[:, 4], kind="stable"):
        if keep:
            k = dets[keep]
            a = dets[i]
            ix = np.clip(np.minimum(a[2], k[:, 2]) - np.maximum(a[0], k[:, 0]), 0, None)
            iy = np.clip(np.minimum(a[3], k[:, 3]) - np.maximum(a[1], k[:, 1]), 0, None)
            inter = ix * iy
            inside = inter / max((a[2] - a[0]) * (a[3] - a[1]), 1e-9)
            around = inter / np.maximum((k[:, 2] - k[:, 0]) * (k[:, 3] - k[:, 1]), 1e-9)
            if (box_iou(dets[i : i + 1], k)[0] > iou).any() or (inside > contained).any() or (around > contained).any():
                continue
        keep.append(int(i))
    return dets[keep]


def shift_dets(dets: np.ndarray, *, dx: float, dy: float, scale: float = 1.0) -> np.ndarray:
    """Detections found in a crop (or a scaled copy) mapped to frame pixels: ``frame = crop / scale + (dx, dy)``."""
    if len(dets) == 0:
        return dets
    out = np.array(dets, dtype=np.float64)
    out[:, 0:4] /= scale
    out[:, 5:] /= scale
    out[:, [0, 2]] += dx
    out[:, [1, 3]] += dy
    out[:, 5::2] += dx
    out[:, 6::2] += dy
    return out


def cut_by_tile(dets: np.ndarray, *, tile: tuple[int, int, int, int], width: int, height: int, margin: float) -> np.ndarray:
    """Mask of detections (tile pixels) that touch an inner edge of their tile: that face is cut, a neighbour sees it whole."""
    x0, y0, x1, y1 = tile
    m = margin * (x1 - x0)
    cut = np.zeros(len(dets), bool)
    if x0 > 0:
        cut |= dets[:, 0] < m
    if y0 > 0:
        cut |= dets[:, 1] < m
    if x1 < width:
        cut |= dets[:, 2] > (x1 - x0) - m
    if y1 < height:
        cut |= dets[:, 3] > (y1 - y0) - m
    return cut


@dataclass(frozen=True)
class Roi:
    """A rotated square region of a frame: centre and side in pixels, roll in radians."""

    cx: float
    cy: float
    size: float
    angle: float

    def matrix(self, out: int = NET_SIZE) -> np.ndarray:
        """2x3 affine matrix from frame pixels to the ``out`` x ``out`` crop (the region rotated level)."""
        s = out / self.size
        c, si = np.cos(self.angle), np.sin(self.angle)
        a = np.array([[c, si], [-si, c]]) * s
        t = np.array([out / 2.0, out / 2.0]) - a @ np.array([self.cx, self.cy])
        return np.hstack([a, t[:, None]])

    def moved(self, dx: float, dy: float) -> Roi:
        """The same region moved by ``(dx, dy)`` pixels."""
        return Roi(self.cx + dx, self.cy + dy, self.size, self.angle)

    def upright(self) -> Roi:
        """The same region without its roll."""
        return Roi(self.cx, self.cy, self.size, 0.0)


def roi_from_detection(det: np.ndarray, *, scale: float = ROI_SCALE) -> Roi:
    """The landmark network's region for a detection: its box times ``scale``, square, rolled so the eyes are level.

    A roll the keypoints do not support (see :data:`MIN_EYE_SPAN`, :data:`MAX_SEED_ROLL_DEG`) is dropped.
    """
    x0, y0, x1, y1 = (float(v) for v in det[:4])
    d = np.asarray(det[DET_EYE_L : DET_EYE_L + 2], float) - np.asarray(det[DET_EYE_R : DET_EYE_R + 2], float)
    angle = float(np.arctan2(d[1], d[0]))
    if np.hypot(*d) < MIN_EYE_SPAN * (x1 - x0) or abs(angle) > np.radians(MAX_SEED_ROLL_DEG):
        angle = 0.0
    return Roi((x0 + x1) / 2.0, (y0 + y1) / 2.0, scale * max(x1 - x0, y1 - y0), angle)


def roi_from_landmarks(lm: np.ndarray, *, scale: float = ROI_SCALE) -> Roi:
    """The tracking region from landmarks (468, 2+), as MediaPipe tracks a face between frames.

    Roll from the eye corners 33 and 263; the landmarks' box measured in the rotated frame,
    times ``scale``, square.
    """
    p = np.asarray(lm[:, :2], float)
    d = p[EYE_L] - p[EYE_R]
    angle = float(np.arctan2(d[1], d[0]))
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, s], [-s, c]])
    q = p @ rot.T
    lo, hi = q.min(axis=0), q.max(axis=0)
    mid = rot.T @ ((lo + hi) / 2.0)
    return Roi(float(mid[0]), float(mid[1]), scale * float(max(hi - lo)), angle)


def landmarks_in_frame(lm_crop: np.ndarray, roi: Roi, out: int = NET_SIZE) -> np.ndarray:
    """Crop-pixel landmarks (n, 2+) mapped back to frame pixels (n, 2)."""
    m = roi.matrix(out)
    return (np.asarray(lm_crop, float)[:, :2] - m[:, 2]) @ np.linalg.inv(m[:, :2]).T


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB (h, w, 3) of planar 4:2:0 planes (BT.601, as :meth:`workbench.media.DecodedClip.rgb`); odd sides cropped to even."""
    h, w = y.shape
    h2, w2 = h - h % 2, w - w % 2
    buf = np.concatenate([y[:h2, :w2].ravel(), u[: h2 // 2, : w2 // 2].ravel(), v[: h2 // 2, : w2 // 2].ravel()])
    return cv2.cvtColor(buf.reshape(h2 * 3 // 2, w2), cv2.COLOR_YUV2RGB_I420)


def small_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, max_side: int) -> tuple[np.ndarray, float]:
    """The frame in RGB with its longer side at most ``max_side`` (area-averaged planes), and the scale applied."""
    h, w = y.shape
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return i420_to_rgb(y, u, v), 1.0
    sw, sh = max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)
    ys = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
    us = cv2.resize(u, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
    vs = cv2.resize(v, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
    return i420_to_rgb(ys, us, vs), sw / w


def crop_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """RGB of a box of the frame (corners rounded down to even pixels, so the chroma lines up)."""
    x0, y0, x1, y1 = (int(b) & ~1 for b in box)
    return i420_to_rgb(y[y0:y1, x0:x1], u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2])


def warp_i420(y: np.ndarray, u: np.ndarray, v: np.ndarray, roi: Roi, out: int = NET_SIZE) -> np.ndarray:
    """RGB crop (out, out, 3) of ``roi`` straight from full-resolution 4:2:0 planes.

    Each plane is warped on its own (bilinear: a small face is upscaled; only the output pixels
    are sampled), then one small BT.601 conversion: the frame is never converted whole.
    """
    m = roi.matrix(out)
    yy = cv2.warpAffine(y, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0,))
    mc = m.copy()
    mc[:, 2] *= 0.5  # chroma: half resolution in and out
    uu = cv2.warpAffine(u, mc, (out // 2, out // 2), flags=cv2.INTER_LINEAR, borderValue=(128,))
    vv = cv2.warpAffine(v, mc, (out // 2, out // 2), flags=cv2.INTER_LINEAR, borderValue=(128,))
    buf = np.concatenate([yy.ravel(), uu.ravel(), vv.ravel()]).reshape(out * 3 // 2, out)
    return cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_I420)


@dataclass(frozen=True)
class FaceGeometry:
    """What the lip-sync measure reads from one face's landmarks (frame pixels)."""

    left: np.ndarray
    """Inner lip corner 78 (x, y)."""
    right: np.ndarray
    """Inner lip corner 308 (x, y)."""
    center: np.ndarray
    """Mean of forehead, chin and cheek edges (x, y)."""
    height: float
    """Forehead (10) to chin (152), pixels."""
    mouth_width: float
    mar: float
    """Mouth aspect ratio |13 - 14| / |78 - 308| (NaN for a degenerate mouth)."""
    yaw: float
    """Nose tip between the cheek edges: 0 frontal, about +-1 in profile."""
    box: np.ndarray
    """The landmarks' bounding box (x0, y0, x1, y1)."""

    @property
    def mouth_center(self) -> np.ndarray:
        """Midpoint of the inner lip corners."""
        return (self.left + self.right) / 2.0


def face_geometry(lm: np.ndarray) -> FaceGeometry:
    """Mouth corners, centre, height, MAR, yaw and box of one face's landmarks (468, 2+) in frame pixels."""
    p = np.asarray(lm[:, :2], float)
    width = float(np.linalg.norm(p[LEFT_CORNER] - p[RIGHT_CORNER]))
    cl, cr = p[CHEEK_L], p[CHEEK_R]
    span2 = float(np.sum((cr - cl) ** 2))
    yaw = float(2.0 * np.dot(p[NOSE] - cl, cr - cl) / span2 - 1.0) if span2 > 0 else float("nan")
    return FaceGeometry(
        left=p[LEFT_CORNER].copy(),
        right=p[RIGHT_CORNER].copy(),
        center=p[[FOREHEAD, CHIN, CHEEK_L, CHEEK_R]].mean(axis=0),
        height=float(np.linalg.norm(p[CHIN] - p[FOREHEAD])),
        mouth_width=width,
        mar=float(np.linalg.norm(p[UPPER_LIP] - p[LOWER_LIP])) / width if width > 1e-6 else float("nan"),
        yaw=yaw,
        box=np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]),
    )


def detections_near(dets: np.ndarray, box: Sequence[float] | np.ndarray, *, reach: float, size_ratio: float) -> np.ndarray:
    """Mask of detections whose centre lies within ``reach`` face sizes of ``box``'s and whose height is
    within a factor ``size_ratio`` of it."""
    if len(dets) == 0:
        return np.zeros(0, bool)
    b = np.asarray(box, float)
    dh, th = dets[:, 3] - dets[:, 1], b[3] - b[1]
    dc = np.stack([(dets[:, 0] + dets[:, 2]) / 2, (dets[:, 1] + dets[:, 3]) / 2], axis=1)
    tc = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
    ratio = dh / max(th, 1e-6)
    near = np.linalg.norm(dc - tc, axis=1) < reach * np.maximum(dh, th)
    return near & (ratio > 1 / size_ratio) & (ratio < size_ratio)
