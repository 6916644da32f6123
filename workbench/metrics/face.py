"""Mouth tracking with the MediaPipe face mesh (legacy ``solutions.face_mesh``, mediapipe 0.10.21).

One pass over the (already downscaled) frames gives, per tracked face, the mouth aspect
ratio MAR = |13 - 14| / |78 - 308| (inner-lip gap over mouth width, scale free) and the face
position. The track is computed once per clip and kept in ``ctx.cache["mouth"]``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Most faces tracked at once (the speaking one is chosen later by correlation with speech).
MAX_FACES = 3
#: Frames sampled by the face-count pre-pass (decides how many faces the mesh tracks).
COUNT_SAMPLES = 8
#: The mesh runs on the region around the faces found by the pre-pass, widened by this many
#: face sizes on each side (faces move between the sampled frames)...
REGION_MARGIN = 0.75
#: ...unless that region covers more than this share of the frame anyway.
MAX_REGION_SHARE = 0.6

_UPPER_LIP, _LOWER_LIP, _LEFT_CORNER, _RIGHT_CORNER = 13, 14, 78, 308
#: Mouth points, then forehead (10), chin (152) and the cheek edges (234, 454) for position and size.
_POINTS = (_UPPER_LIP, _LOWER_LIP, _LEFT_CORNER, _RIGHT_CORNER, 10, 152, 234, 454)


@dataclass(frozen=True)
class MouthTrack:
    """Mouth opening per tracked face and frame."""

    times: np.ndarray
    """Frame times in seconds, shape (n_frames,)."""
    mar: np.ndarray
    """Mouth aspect ratio, shape (n_faces, n_frames); NaN where the face was not found."""
    centers: np.ndarray
    """Face centre in pixels of the frame, shape (n_faces, n_frames, 2); NaN where missing."""
    face_height: np.ndarray
    """Forehead-to-chin height as a share of the frame height, shape (n_faces, n_frames)."""

    @property
    def n_faces(self) -> int:
        """Number of face tracks."""
        return int(self.mar.shape[0])

    def coverage(self) -> np.ndarray:
        """Share of frames in which each face was found, shape (n_faces,)."""
        if self.mar.shape[1] == 0:
            return np.zeros(self.n_faces)
        return np.isfinite(self.mar).mean(axis=1)


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
    *, frames: np.ndarray, samples: int = COUNT_SAMPLES, min_confidence: float = 0.5
) -> tuple[int, tuple[int, int, int, int] | None]:
    """Faces seen on a few evenly spaced frames (MediaPipe short-range face detector).

    Parameters
    ----------
    frames : np.ndarray, shape (n, h, w, 3), uint8 RGB
    samples : int
        Frames looked at.
    min_confidence : float

    Returns
    -------
    count : int
        The largest number of faces detected on one sampled frame.
    region : (x0, y0, x1, y1) or None
        Pixel box holding every detected face, widened by :data:`REGION_MARGIN` face sizes on
        each side (None without faces).
    """
    if len(frames) == 0:
        return 0, None
    mp = _quiet_mediapipe()
    h, w = frames.shape[1:3]
    idx = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).astype(int))
    most = 0
    boxes = []
    with (
        _native_stderr_off(),
        mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence) as det,
    ):
        for i in idx:
            found = det.process(np.ascontiguousarray(frames[i])).detections or ()
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


def track_mouths(*, frames: np.ndarray, frame_times: np.ndarray, max_faces: int | None = None) -> MouthTrack:
    """Track faces through a clip and measure mouth opening on every frame.

    Parameters
    ----------
    frames : np.ndarray, shape (n, h, w, 3), uint8 RGB
        Frames (at most ~480 px: the mesh crops the face itself).
    frame_times : np.ndarray, shape (n,)
        Presentation times in seconds.
    max_faces : int, optional
        Faces to track; by default the count seen by :func:`find_faces` (capped at
        :data:`MAX_FACES`), so single-face clips pay for one face only, and the mesh then runs
        on the region around those faces only.

    Returns
    -------
    MouthTrack
        Faces are kept apart frame to frame by nearest centre.

    Notes
    -----
    MediaPipe face mesh (Kartynnik et al., 2019) in video mode: a detector seeds each face,
    then the 468-point mesh tracks it from the previous frame's landmarks.
    """
    n = len(frames)
    times = np.asarray(frame_times, dtype=np.float64)
    region = None
    if max_faces is None:
        count, region = find_faces(frames=frames)
        max_faces = min(MAX_FACES, count)
    if n == 0 or max_faces <= 0:
        return MouthTrack(times, np.full((0, n), np.nan), np.full((0, n, 2), np.nan), np.full((0, n), np.nan))
    mp = _quiet_mediapipe()
    full_h = frames.shape[1]
    x0, y0 = 0, 0
    if region is not None:
        rx0, ry0, rx1, ry1 = region
        if (rx1 - rx0) * (ry1 - ry0) < MAX_REGION_SHARE * frames.shape[1] * frames.shape[2]:
            # the mesh only sees the region where faces were found: less to copy per frame
            x0, y0 = rx0, ry0
            frames = frames[:, ry0:ry1, rx0:rx1]
    h, w = frames.shape[1:3]
    offset = np.array([x0, y0], dtype=np.float64)
    mar = np.full((max_faces, n), np.nan)
    centers = np.full((max_faces, n, 2), np.nan)
    height = np.full((max_faces, n), np.nan)
    last = np.full((max_faces, 2), np.nan)
    scale = np.array([w, h], dtype=np.float64)
    radius = 0.2 * max(w, h)
    with (
        _native_stderr_off(),  # the graph's threads log start-up chatter at any time while it runs
        mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
        ) as mesh,
    ):
        for k in range(n):
            res = mesh.process(np.ascontiguousarray(frames[k]))
            faces = res.multi_face_landmarks or ()
            taken: set[int] = set()
            for face in faces:
                lm = face.landmark
                pts = np.array([[lm[i].x, lm[i].y] for i in _POINTS]) * scale
                c = pts[4:].mean(axis=0) + offset
                slot = _assign(c, last, taken, radius)
                if slot is None:
                    continue
                taken.add(slot)
                last[slot] = c
                width = float(np.linalg.norm(pts[2] - pts[3]))
                mar[slot, k] = float(np.linalg.norm(pts[0] - pts[1])) / width if width > 1e-6 else np.nan
                centers[slot, k] = c
                height[slot, k] = float(abs(pts[5, 1] - pts[4, 1]) / full_h)
    used = np.isfinite(mar).any(axis=1)
    return MouthTrack(times, mar[used], centers[used], height[used])


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


def mouth_track(ctx: Any) -> MouthTrack:
    """The clip's mouth track, computed once and kept in ``ctx.cache["mouth"]``."""
    if "mouth" not in ctx.cache:
        d = ctx.decoded
        ctx.cache["mouth"] = track_mouths(frames=d.frames, frame_times=d.frame_times)
    return ctx.cache["mouth"]
