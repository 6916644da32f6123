"""Mouth tracking: the MediaPipe face mesh finds the mouth, the pixels in it say how open it is.

The mesh (legacy ``solutions.face_mesh``, mediapipe 0.10.21, its model inside the wheel) runs on
one frame every :data:`MESH_EVERY_S` seconds. It gives, per tracked face, the inner-mouth box
(from the inner lip corners 78 and 308), the face position and the mouth aspect ratio
MAR = |13 - 14| / |78 - 308| on the meshed frames. On every frame the box is interpolated
between the meshed frames around it, and the mouth opening is read from the luma inside it:
the darkness of the oral cavity (:func:`dark_opening`). The track is computed once per clip
and kept in the clip's memo (slot :data:`MOUTH`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.metrics.context import ClipContext, Memo, Slot

#: Most faces tracked at once (the speaking one is chosen later by correlation with speech).
MAX_FACES = 3
#: Frames sampled by the face-count pre-pass (decides how many faces the mesh tracks).
COUNT_SAMPLES = 8
#: The mesh runs on the region around the faces found by the pre-pass, widened by this many
#: face sizes on each side (faces move between the sampled frames)...
REGION_MARGIN = 0.75
#: ...unless that region covers more than this share of the frame anyway.
MAX_REGION_SHARE = 0.6
#: The mesh looks at one frame in this many seconds (5 frames at 25 fps). It costs a fixed
#: ~2.3 ms a call on one core, 3x a plain H.264 720p decode when run on every frame; mouth
#: darkness in the interpolated box keeps the frame rate the lips move at. Measured with
#: benchmarks/validate_sync.py against MAR on every frame: confident real x shift cases 104 ->
#: 125, real drift 93 -> 100 % within 10 ms/s, mute AUC 0.92 -> 0.91, local models' lip offset
#: median error 3.8 -> 6.8 ms. MAR itself cannot be subsampled (every 3rd frame: the 2-8 Hz
#: syllable band aliases and the confidence collapses).
MESH_EVERY_S = 0.2
#: Inner-mouth box around the midpoint of the inner lip corners, in mouth widths: this far to
#: each side, up and down (the jaw opens downward). Chosen on the real talking clips of
#: benchmarks/validate_sync.py among 0.25-0.4 widths: a wider box takes in beard and shadow, a
#: box cut higher (0.1 up) misses the upper lip's edge.
BOX_HALF_WIDTH, BOX_UP, BOX_DOWN = 0.3, 0.2, 0.3
#: The opening is minus the mean luma of this darkest share of the box's pixels.
DARK_SHARE = 0.25
#: A face's box is interpolated across at most this many mesh intervals without a detection.
MAX_GAP_STEPS = 1.0

_UPPER_LIP, _LOWER_LIP, _LEFT_CORNER, _RIGHT_CORNER = 13, 14, 78, 308
#: Mouth points, then forehead (10), chin (152) and the cheek edges (234, 454) for position and size.
_POINTS = (_UPPER_LIP, _LOWER_LIP, _LEFT_CORNER, _RIGHT_CORNER, 10, 152, 234, 454)


@dataclass(frozen=True)
class MouthTrack:
    """Mouth opening per tracked face and frame."""

    times: np.ndarray
    """Frame times in seconds, shape (n_frames,)."""
    opening: np.ndarray
    """Mouth opening (:func:`dark_opening`, luma units, larger = more open), shape (n_faces,
    n_frames); NaN where the face is not tracked."""
    mar: np.ndarray
    """Mouth aspect ratio on the meshed frames, shape (n_faces, n_frames); NaN on the others."""
    centers: np.ndarray
    """Face centre in pixels of the frame, shape (n_faces, n_frames, 2); NaN where missing."""
    face_height: np.ndarray
    """Forehead-to-chin height as a share of the frame height, shape (n_faces, n_frames)."""

    @property
    def n_faces(self) -> int:
        """Number of face tracks."""
        return int(self.opening.shape[0])

    def coverage(self) -> np.ndarray:
        """Share of frames on which each face is tracked, shape (n_faces,)."""
        if self.opening.shape[1] == 0:
            return np.zeros(self.n_faces)
        return np.isfinite(self.opening).mean(axis=1)


#: The clip's mouth track, shared by lip sync and the mute test.
MOUTH: Slot[MouthTrack] = Slot("mouth track")


def empty_track(times: np.ndarray) -> MouthTrack:
    """A track with no faces."""
    n = len(times)
    return MouthTrack(
        times, np.full((0, n), np.nan), np.full((0, n), np.nan), np.full((0, n, 2), np.nan), np.full((0, n), np.nan)
    )


def dark_opening(*, gray: np.ndarray, box: tuple[int, int, int, int], share: float = DARK_SHARE) -> float:
    """Mouth opening read from pixels: minus the mean luma of the darkest ``share`` of a box.

    Parameters
    ----------
    gray : np.ndarray, shape (h, w), uint8
        Luma of one frame.
    box : (x0, y0, x1, y1)
        The inner-mouth box in pixels (clipped to the frame).
    share : float
        Share of the darkest pixels averaged.

    Returns
    -------
    float
        Larger when the mouth is more open (NaN when the box holds fewer than 9 pixels).

    Notes
    -----
    An open mouth shows the oral cavity, the darkest thing in the lower face, and its area grows
    with the opening; the darkest quarter follows that area while ignoring the lips and skin
    around it. A classic visual speech feature (intensity of the mouth region, as used before
    landmark models, e.g. Potamianos et al. 2003, "Recent advances in the automatic recognition
    of audiovisual speech"); here it only needs to rise and fall with the syllables, since the
    lip-sync kernels band-pass and normalise it.
    """
    h, w = gray.shape
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return float("nan")
    v = gray[y0:y1, x0:x1].ravel()
    q = max(1, int(len(v) * share))
    return -float(np.partition(v, q - 1)[:q].mean())


def mouth_box(left: np.ndarray, right: np.ndarray) -> tuple[int, int, int, int]:
    """Inner-mouth box from the inner lip corners (pixels), see :data:`BOX_HALF_WIDTH`."""
    mid = (left + right) / 2.0
    w = float(np.linalg.norm(left - right))
    return (
        int(np.floor(mid[0] - BOX_HALF_WIDTH * w)),
        int(np.floor(mid[1] - BOX_UP * w)),
        int(np.ceil(mid[0] + BOX_HALF_WIDTH * w)) + 1,
        int(np.ceil(mid[1] + BOX_DOWN * w)) + 1,
    )


@contextlib.contextmanager
def _native_stderr_off() -> Iterator[None]:
    """Silence C++ log lines written straight to file descriptor 2 (MediaPipe/TFLite chatter).

    Python exceptions are unaffected (they propagate); only raw writes to fd 2 inside the block are dropped.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quiet_mediapipe() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mediapipe as mp

    return mp


def find_faces(
    *, images: Sequence[np.ndarray], min_confidence: float = 0.5
) -> tuple[int, tuple[int, int, int, int] | None]:
    """Faces seen on a few frames (MediaPipe short-range face detector).

    Parameters
    ----------
    images : sequence of np.ndarray, shape (h, w, 3), uint8 RGB
        A few frames of one clip (all the same size).
    min_confidence : float

    Returns
    -------
    count : int
        The largest number of faces detected on one image.
    region : (x0, y0, x1, y1) or None
        Pixel box holding every detected face, widened by :data:`REGION_MARGIN` face sizes on
        each side (None without faces).
    """
    if len(images) == 0:
        return 0, None
    mp = _quiet_mediapipe()
    h, w = images[0].shape[:2]
    most = 0
    boxes = []
    with (
        _native_stderr_off(),
        mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence) as det,
    ):
        for img in images:
            found = det.process(np.ascontiguousarray(img)).detections or ()
            most = max(most, len(found))
            for d in found:
                bb = d.location_data.relative_bounding_box
                boxes.append((bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h))
    if not boxes:
        return most, None
    bx = np.array(boxes)
    size = float(np.max(np.maximum(bx[:, 2] - bx[:, 0], bx[:, 3] - bx[:, 1])))
    m = REGION_MARGIN * size
    x0, y0 = max(0, int(bx[:, 0].min() - m)), max(0, int(bx[:, 1].min() - m))
    x1, y1 = min(w, int(np.ceil(bx[:, 2].max() + m))), min(h, int(np.ceil(bx[:, 3].max() + m)))
    return most, (x0, y0, x1, y1)


def mesh_stride(frame_times: np.ndarray, every_s: float = MESH_EVERY_S) -> int:
    """Frames between two meshed frames: ``every_s`` at the clip's median frame rate (>= 1)."""
    d = np.diff(np.asarray(frame_times, dtype=np.float64))
    d = d[d > 0]
    fps = 1.0 / float(np.median(d)) if len(d) else 25.0
    return max(1, int(round(every_s * fps)))


def track_mouths(
    *,
    gray: np.ndarray,
    rgb: Callable[[int], np.ndarray],
    frame_times: np.ndarray,
    max_faces: int | None = None,
    every_s: float = MESH_EVERY_S,
) -> MouthTrack:
    """Track faces through a clip and measure mouth opening on every frame.

    Parameters
    ----------
    gray : np.ndarray, shape (n, h, w), uint8
        Luma of every frame (at most ~480 px: the mesh crops the face itself).
    rgb : callable
        ``rgb(k)`` is frame ``k`` in RGB, shape (h, w, 3), uint8; called for meshed frames only.
    frame_times : np.ndarray, shape (n,)
        Presentation times in seconds.
    max_faces : int, optional
        Faces to track; by default the count seen by :func:`find_faces` on
        :data:`COUNT_SAMPLES` frames (capped at :data:`MAX_FACES`), so single-face clips pay for
        one face only, and the mesh then runs on the region around those faces only.
    every_s : float
        The mesh runs on one frame this often (see :data:`MESH_EVERY_S`; 0 = every frame).

    Returns
    -------
    MouthTrack
        Faces are kept apart frame to frame by nearest centre.

    Notes
    -----
    MediaPipe face mesh (Kartynnik et al., 2019) in video mode: a detector seeds each face,
    then the 468-point mesh tracks it from the previous meshed frame's landmarks. The mouth
    box of the frames in between is interpolated linearly; their opening is
    :func:`dark_opening` of that box, so the opening keeps the clip's full frame rate.
    """
    n = len(gray)
    times = np.asarray(frame_times, dtype=np.float64)
    region = None
    if n and max_faces is None:
        idx = np.unique(np.linspace(0, n - 1, min(COUNT_SAMPLES, n)).astype(int))
        count, region = find_faces(images=[rgb(int(i)) for i in idx])
        max_faces = min(MAX_FACES, count)
    if n == 0 or not max_faces or max_faces <= 0:
        return empty_track(times)
    mp = _quiet_mediapipe()
    full_h, full_w = gray.shape[1:3]
    x0, y0, x1, y1 = 0, 0, full_w, full_h
    if region is not None:
        rx0, ry0, rx1, ry1 = region
        if (rx1 - rx0) * (ry1 - ry0) < MAX_REGION_SHARE * full_h * full_w:
            # the mesh only sees the region where faces were found: less to copy per frame
            x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    offset = np.array([x0, y0], dtype=np.float64)
    step = mesh_stride(times, every_s) if every_s > 0 else 1
    meshed = np.unique(np.r_[np.arange(0, n, step), n - 1])
    # per slot and meshed frame: left corner, right corner, centre (x, y each), MAR, face height
    got = np.full((max_faces, len(meshed), 8), np.nan)
    last = np.full((max_faces, 2), np.nan)
    scale = np.array([w, h], dtype=np.float64)
    radius = 0.2 * max(w, h) * max(1.0, step / 5.0)
    with (
        _native_stderr_off(),  # the graph's threads log start-up chatter at any time while it runs
        mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
        ) as mesh,
    ):
        for j, k in enumerate(meshed):
            res = mesh.process(np.ascontiguousarray(rgb(int(k))[y0:y1, x0:x1]))
            taken: set[int] = set()
            for face in res.multi_face_landmarks or ():
                lm = face.landmark
                pts = np.array([[lm[i].x, lm[i].y] for i in _POINTS]) * scale + offset
                c = pts[4:].mean(axis=0)
                slot = _assign(c, last, taken, radius)
                if slot is None:
                    continue
                taken.add(slot)
                last[slot] = c
                width = float(np.linalg.norm(pts[2] - pts[3]))
                mar = float(np.linalg.norm(pts[0] - pts[1])) / width if width > 1e-6 else np.nan
                got[slot, j] = [*pts[2], *pts[3], *c, mar, abs(pts[5, 1] - pts[4, 1]) / full_h]
    used = np.isfinite(got[:, :, 0]).any(axis=1)
    got = got[used]
    frames = np.arange(n)
    opening = np.full((len(got), n), np.nan)
    mar_out = np.full((len(got), n), np.nan)
    centers = np.full((len(got), n, 2), np.nan)
    height = np.full((len(got), n), np.nan)
    for s, g in enumerate(got):
        ok = np.isfinite(g[:, 0])
        at = meshed[ok]
        mar_out[s, at] = g[ok, 6]
        # frames within MAX_GAP_STEPS mesh intervals of a meshed frame that found this face
        near = np.abs(frames[:, None] - at[None, :]).min(axis=1) <= MAX_GAP_STEPS * step
        lerp = np.stack([np.interp(frames, at, g[ok, c]) for c in range(8)], axis=1)
        for k in np.flatnonzero(near):
            opening[s, k] = dark_opening(gray=gray[k], box=mouth_box(lerp[k, 0:2], lerp[k, 2:4]))
        centers[s, near] = lerp[near, 4:6]
        height[s, near] = lerp[near, 7]
    return MouthTrack(times, opening, mar_out, centers, height)


def track_clip(clip: Any) -> MouthTrack:
    """:func:`track_mouths` of a decoded clip (its luma, RGB on demand and frame times)."""
    return track_mouths(gray=clip.gray, rgb=clip.rgb, frame_times=clip.frame_times)


def _assign(c: np.ndarray, last: np.ndarray, taken: set[int], radius: float) -> int | None:
    """Slot for a detected face centre: the nearest known face within ``radius``, else a free slot."""
    known = [s for s in range(len(last)) if s not in taken and np.isfinite(last[s]).all()]
    if known:
        d = [float(np.linalg.norm(last[s] - c)) for s in known]
        if min(d) <= radius:
            return known[int(np.argmin(d))]
    free = [s for s in range(len(last)) if s not in taken and not np.isfinite(last[s]).all()]
    if free:
        return free[0]
    return known[int(np.argmin(d))] if known else None


def cached_track(clip: Any, memo: Memo | None) -> MouthTrack:
    """A decoded clip's mouth track, computed once and kept in ``memo`` (slot :data:`MOUTH`) when given."""
    if memo is None:
        return track_clip(clip)
    return memo.get(MOUTH, lambda: track_clip(clip))


def mouth_track(ctx: ClipContext) -> MouthTrack:
    """The clip's mouth track, computed once per clip."""
    return cached_track(ctx.decoded, ctx.memo)
