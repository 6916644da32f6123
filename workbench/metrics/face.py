"""Mouth tracking: find every face that could be speaking, and read how open each mouth is.

Two paths give the same result, a :class:`MouthTrack` (kept in the clip's memo, slot :data:`MOUTH`):

* **One large face** (the common talking head, and every single-face clip of the local models):
  the MediaPipe face mesh (legacy ``solutions.face_mesh``, mediapipe 0.10.21, its model inside the
  wheel) on the analysis frames (at most 480 px), one frame every :data:`MESH_EVERY_S` seconds,
  after a short-range detector pre-pass on :data:`COUNT_SAMPLES` frames (:func:`track_mouths`).
* **Small or several faces** (wide shots, two-shots, crowds): a tracker that sees every frame at
  full resolution while the clip is decoded (:class:`FaceTracker`, a frame sink of the one
  decode, see :data:`FACES_WATCH`). MediaPipe's full-range detector finds faces on the whole
  frame and, on the first frame and after cuts, on overlapping tiles (faces down to
  :data:`MIN_DETECT_PX`); each face is confirmed by the short-range detector on a crop around it;
  the 468-point landmark network (the same weights, run with OpenCV) reads each face on a
  192x192 crop warped straight from the full-resolution frame, upscaled when the face is small;
  identities are kept through motion and brief occlusion, at most :data:`MAX_ACTIVE` faces are
  meshed at a time (the likely speakers first).

Which path a clip takes is decided on its first frame (:class:`FaceWatcher`): one face of at
least :data:`FAST_MIN_SHARE` of the frame's long side and nothing else goes the first way. On
every frame the mouth opening is the darkness of the oral cavity in the inner-mouth box
(:func:`dark_opening`; the box from the inner lip corners 78 and 308, interpolated between
meshed frames); the mouth aspect ratio MAR = |13 - 14| / |78 - 308| is kept on the meshed frames.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.media import MediaInfo
from workbench.metrics.context import ClipContext, Memo, Slot, Watch
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.kernels import faces as fk

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
    boxes: np.ndarray | None = None
    """Face box (x0, y0, x1, y1) in pixels of the clip's full-resolution frame, shape (n_faces,
    n_frames, 4); NaN where the face is not tracked (None: not recorded)."""
    frame_size: tuple[int, int] = (0, 0)
    """The clip's full-resolution frame (height, width) in pixels."""
    ids: tuple[int, ...] = ()
    """A stable id per face (the tracker's; face ``i`` is ``ids[i]``), empty: the index is the id."""
    source: str = "mesh"
    """How the track was made: ``mesh`` (the face mesh on the analysis frames), ``full`` (the
    full-resolution tracker during the decode) or ``frames`` (that tracker on the analysis frames)."""
    too_small: tuple[tuple[int, float], ...] = ()
    """Faces the tracker saw but left out as too small to read: (id, forehead-to-chin px)."""

    @property
    def n_faces(self) -> int:
        """Number of face tracks."""
        return int(self.opening.shape[0])

    def face_id(self, face: int) -> int:
        """The stable id of face track ``face``."""
        return int(self.ids[face]) if self.ids else int(face)

    def height_px(self) -> np.ndarray:
        """Median forehead-to-chin height of each face in full-resolution pixels, shape (n_faces,) (NaN unknown)."""
        out = np.full(self.n_faces, np.nan)
        for f in range(self.n_faces):
            h = self.face_height[f][np.isfinite(self.face_height[f])]
            if len(h) and self.frame_size[0]:
                out[f] = float(np.median(h)) * self.frame_size[0]
        return out

    def coverage(self) -> np.ndarray:
        """Share of frames on which each face is tracked, shape (n_faces,)."""
        if self.opening.shape[1] == 0:
            return np.zeros(self.n_faces)
        return np.isfinite(self.opening).mean(axis=1)


#: The clip's mouth track, shared by lip sync and the mute test.
MOUTH: Slot[MouthTrack] = Slot("mouth track")


def empty_track(times: np.ndarray, frame_size: tuple[int, int] = (0, 0), source: str = "mesh") -> MouthTrack:
    """A track with no faces."""
    n = len(times)
    return MouthTrack(
        times, np.full((0, n), np.nan), np.full((0, n), np.nan), np.full((0, n, 2), np.nan), np.full((0, n), np.nan),
        boxes=np.full((0, n, 4), np.nan), frame_size=frame_size, source=source,
    )  # fmt: skip


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


def count_faces(*, rgb: Callable[[int], np.ndarray], n: int) -> tuple[int, tuple[int, int, int, int] | None]:
    """:func:`find_faces` on :data:`COUNT_SAMPLES` frames spread over a clip of ``n`` frames."""
    idx = np.unique(np.linspace(0, n - 1, min(COUNT_SAMPLES, n)).astype(int))
    return find_faces(images=[rgb(int(i)) for i in idx])


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
    frame_size: tuple[int, int] | None = None,
    prepass: tuple[int, tuple[int, int, int, int] | None] | None = None,
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
    frame_size : (height, width), optional
        The clip's full-resolution frame: face boxes are given in its pixels (default: the
        analysis frames').
    prepass : (count, region), optional
        :func:`count_faces` of these frames, when already done.

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
        count, region = prepass if prepass is not None else count_faces(rgb=rgb, n=n)
        max_faces = min(MAX_FACES, count)
    full_size = frame_size if frame_size is not None else ((int(gray.shape[1]), int(gray.shape[2])) if n else (0, 0))
    if n == 0 or not max_faces or max_faces <= 0:
        return empty_track(times, full_size)
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
    # per slot and meshed frame: left corner, right corner, centre (x, y each), MAR, face height, and
    # the face box (cheek edges 234/454 across, forehead 10 to chin 152)
    got = np.full((max_faces, len(meshed), 12), np.nan)
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
                box = [min(pts[6, 0], pts[7, 0]), pts[4, 1], max(pts[6, 0], pts[7, 0]), pts[5, 1]]
                got[slot, j] = [*pts[2], *pts[3], *c, mar, abs(pts[5, 1] - pts[4, 1]) / full_h, *box]
    used = np.isfinite(got[:, :, 0]).any(axis=1)
    got = got[used]
    frames = np.arange(n)
    opening = np.full((len(got), n), np.nan)
    mar_out = np.full((len(got), n), np.nan)
    centers = np.full((len(got), n, 2), np.nan)
    height = np.full((len(got), n), np.nan)
    boxes = np.full((len(got), n, 4), np.nan)
    to_full = np.array([full_size[1] / full_w, full_size[0] / full_h] * 2)
    for s, g in enumerate(got):
        ok = np.isfinite(g[:, 0])
        at = meshed[ok]
        mar_out[s, at] = g[ok, 6]
        # frames within MAX_GAP_STEPS mesh intervals of a meshed frame that found this face
        near = np.abs(frames[:, None] - at[None, :]).min(axis=1) <= MAX_GAP_STEPS * step
        lerp = np.stack([np.interp(frames, at, g[ok, c]) for c in range(12)], axis=1)
        for k in np.flatnonzero(near):
            opening[s, k] = dark_opening(gray=gray[k], box=mouth_box(lerp[k, 0:2], lerp[k, 2:4]))
        centers[s, near] = lerp[near, 4:6]
        height[s, near] = lerp[near, 7]
        boxes[s, near] = lerp[near, 8:12] * to_full
    return MouthTrack(times, opening, mar_out, centers, height, boxes=boxes, frame_size=full_size)


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




# --------------------------------------------------------------------------- the full-resolution tracker

#: Faces smaller than this, forehead (10) to chin (152) in full-resolution pixels, are not read:
#: the lip-sync reading says "face too small (N px)". Five real and generated faces that read
#: confidently at full size, scaled down and pasted into a 1280x720 frame, read within about 12 ms
#: of their full-size offset down to 32 px (5 of 5), while 24 px found 4 of 5, 20 px 3 of 5 and
#: 16 px none (FINDINGS of issue 14, section 4e).
MIN_FACE_PX = 32.0
#: Smallest detector box (full-resolution pixels) the tile search is sized for: 28 px (detector
#: boxes run a little smaller than forehead-to-chin). The full-range detector finds 86 % of boxes
#: of :data:`DETECTOR_MIN_INPUT_PX` at its 192-px input and 95 % of 32-px boxes with 512-px tiles
#: (FINDINGS 4a, faces pasted into a 1280x720 frame).
MIN_DETECT_PX = 28.0
DETECTOR_MIN_INPUT_PX = 10.5
#: Input side of MediaPipe's full-range (192) and short-range (128) face detectors: both letterbox
#: whatever they get to that square, so a whole frame is handed over at :data:`DETECT_SIDE` px.
FULL_RANGE_INPUT, SHORT_RANGE_INPUT = 192, 128
DETECT_SIDE = 640
#: No tiles when the whole frame shows a face this big at the full-range detector's input: twice
#: the size it finds reliably there, so the faces the tiles would add (under half its size) are
#: background, not the clip's speakers (and a close or medium shot saves the tiles' cost).
TILE_SKIP_INPUT_PX = 2 * DETECTOR_MIN_INPUT_PX
#: A clip goes the one-large-face path (:func:`track_mouths` on the analysis frames) when the
#: full-range detector finds exactly one face on its first frame and that face's box is at least
#: this share of the frame's long side: 11.5 px at the short-range detector's 128-px input, which
#: the pre-pass of :func:`find_faces` then finds (short range: 55 % of 12-px and 82 % of 14-px boxes
#: per frame at its input, 100 % from 16 px, FINDINGS 4a; the pre-pass takes the best of
#: :data:`COUNT_SAMPLES` frames), and 43 px in the 480-px analysis frame. Should the pre-pass
#: still find none, the tracker reads the analysis frames instead. At 0.10 the real talking child
#: (a tilted 119-px face in a 1280-px frame, 9.3 %) went to the tracker, which reads its mouth worse:
#: the mute test's AUC on the real clips fell from 0.91 to 0.88; at 0.09 it is 0.91 again
#: (``python benchmarks/validate_sync.py --no-synth``), and the generated clips read as at 0.10.
FAST_MIN_SHARE = 0.09
#: Detection rounds: every DETECT_EVERY_S, SETTLED_FACTOR times less often once every track is
#: settled (two rounds old, confirmed by the last one).
DETECT_EVERY_S = 1.0
SETTLED_FACTOR = 2
#: The whole frame is searched for new faces on the first DISCOVER_FIRST rounds (the detector
#: misses some faces on some frames: in a four-panel clip it found 2 to 4 of 4 per frame), after a
#: cut, while nothing is tracked, and every DISCOVER_EVERY_S.
DISCOVER_FIRST = 3
DISCOVER_EVERY_S = 4.0
#: Mean absolute difference of 32x18 luma thumbnails between meshed frames that counts as a cut
#: (not validated on faces: the data has no face clip with hard cuts).
CUT_MAD = 25.0
#: Crops around a track for its confirmation, in face sizes: the short-range detector on 2.5
#: (the face fills ~40 % of it, that model's best case; 6 ms a call against 16 ms for the
#: full-range model on the whole frame), the full-range one on 4 when that finds nothing.
LOCAL_SIDE_SHORT = 2.5
LOCAL_SIDE_FULL = 4.0
#: Faces meshed per step at most, ranked by face height x (0.02 + MAR range over the last 25
#: meshes): in a crowd the likely speakers first (a 12-face test: all 4 turns to the right faces).
MAX_ACTIVE = 4
#: A track missing this long is ended, and may be revived within REVIVE_S by a detection near its
#: last place at a similar size (it keeps its id through a brief occlusion).
MAX_MISS_S = 0.6
REVIVE_S = 2.0
#: Matching a detection to a track: IoU at least MATCH_IOU, else its centre within NEAR_REACH face
#: sizes and its size within a factor SIZE_RATIO (also the largest size change between meshes).
MATCH_IOU = 0.2
NEAR_REACH = 0.6
SIZE_RATIO = 1.8
#: Detection rounds in a row that may miss a track before it ends: the landmark network keeps a
#: high presence on skin next to a face (a child's chin and neck after a head tilt).
CONFIRM_ROUNDS = 2
#: The mesh's mouth must lie within this many detector-box heights of the detector's mouth keypoint
#: (0.05-0.14 on correctly seeded meshes of a child's up-tilted face), else a fresh mesh decides.
MOUTH_AGREE = 0.25
#: A track no detection confirms is re-seeded from a free detection within this many face sizes.
JUMP_REACH = 2.5
#: Face-presence score (sigmoid of the network's flag) under which landmarks are rejected
#: (MediaPipe's default min_tracking_confidence).
MIN_PRESENCE = 0.5
#: Luma kept around a track's mouth box between meshed frames, in mouth widths on each side.
CROP_MARGIN = 1.0
#: The landmark network's outputs: 468 x 3 landmarks and the face-presence logit.
_NET_LANDMARKS, _NET_PRESENCE = "conv2d_21", "conv2d_31"


def _mediapipe_path() -> Path:
    mp = _quiet_mediapipe()
    return Path(mp.__file__).parent


@lru_cache(maxsize=1)
def landmark_net() -> Any:
    """MediaPipe's face-landmark network (``face_landmark.tflite`` from the installed wheel, run by OpenCV)."""
    net = cv2.dnn.readNetFromTFLite(str(_mediapipe_path() / "modules" / "face_landmark" / "face_landmark.tflite"))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    return net


@lru_cache(maxsize=2)
def _detector(model: int) -> Any:
    mp = _quiet_mediapipe()
    with _native_stderr_off():
        return mp.solutions.face_detection.FaceDetection(model_selection=model, min_detection_confidence=0.5)


def detect(rgb: np.ndarray, *, full_range: bool) -> np.ndarray:
    """Faces in an RGB image by MediaPipe's full-range (or short-range) detector: detection rows (m, 17), image pixels."""
    h, w = rgb.shape[:2]
    found = _detector(1 if full_range else 0).process(np.ascontiguousarray(rgb)).detections or ()
    out = np.zeros((len(found), fk.DET_COLS))
    for i, d in enumerate(found):
        bb = d.location_data.relative_bounding_box
        kp = d.location_data.relative_keypoints
        out[i, :5] = [bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h, d.score[0]]
        for j in range(6):
            out[i, 5 + 2 * j : 7 + 2 * j] = [kp[j].x * w, kp[j].y * h]
    return out


def landmarks(y: np.ndarray, u: np.ndarray, v: np.ndarray, roi: fk.Roi) -> tuple[np.ndarray, float]:
    """The 468 landmarks (frame pixels) and the face-presence score of the face in ``roi`` of a 4:2:0 frame."""
    net = landmark_net()
    net.setInput(cv2.dnn.blobFromImage(fk.warp_i420(y, u, v, roi), scalefactor=1.0 / 255.0))
    flag, lm = net.forward([_NET_PRESENCE, _NET_LANDMARKS])
    presence = float(1.0 / (1.0 + np.exp(-float(np.ravel(flag)[0]))))
    return fk.landmarks_in_frame(np.asarray(lm, np.float64).reshape(468, 3), roi), presence


@dataclass
class _Track:
    tid: int
    born: int
    lm: np.ndarray | None = None
    roi: fk.Roi | None = None
    last_seen: int = -1
    last_box: np.ndarray | None = None
    size: float = 0.0
    misses: int = 0
    ended: bool = False
    geo: dict[int, tuple[fk.FaceGeometry, float]] = field(default_factory=dict)
    unconfirmed: int = 0
    confirmed_k: int = -1

    def activity(self) -> float:
        """MAR range (5-95 %) over its last 25 meshes: how much the mouth moves."""
        mars = [g.mar for g, _ in list(self.geo.values())[-25:] if np.isfinite(g.mar)]
        if len(mars) < 4:
            return 0.0
        p5, p95 = np.percentile(mars, [5, 95])
        return float(p95 - p5)


@dataclass(frozen=True)
class FaceTracks:
    """What :class:`FaceTracker` saw, per track and frame in decode order (full-resolution pixels)."""

    raw_times: np.ndarray
    """Frame times as decoded (container clock), shape (n,)."""
    ids: tuple[int, ...]
    opening: np.ndarray
    """Mouth darkness (:func:`dark_opening`), shape (F, n); NaN where not tracked."""
    mar: np.ndarray
    """MAR on the meshed frames, shape (F, n)."""
    boxes: np.ndarray
    """Landmark box (x0, y0, x1, y1), shape (F, n, 4), interpolated between meshes; NaN where not tracked."""
    height: np.ndarray
    """Forehead-to-chin height (px), shape (F, n)."""
    yaw: np.ndarray
    """Yaw proxy on the meshed frames (0 frontal, +-1 profile), shape (F, n)."""
    frame_size: tuple[int, int]
    """(height, width) of the frames seen."""
    stats: dict[str, float]
    """Work done: calls and CPU seconds per part (``mesh``, ``detect``, ``tiles``, ``local``, ``dark``, ``other``)."""

    def mouth_track(self, frame_times: np.ndarray, *, scale: float = 1.0, source: str = "full") -> MouthTrack:
        """As a :class:`MouthTrack` on a clip's timeline (frames sorted by time as the decode sorts them).

        ``scale`` maps the pixels seen to the clip's full-resolution pixels (1 when the tracker saw them).
        """
        order = np.argsort(self.raw_times, kind="stable")
        n = min(len(order), len(frame_times))
        order = order[:n]
        boxes = self.boxes[:, order] * scale
        centers = np.stack([(boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2], axis=-1)
        h, w = self.frame_size
        size = (int(round(h * scale)), int(round(w * scale)))
        return MouthTrack(
            np.asarray(frame_times[:n], np.float64), self.opening[:, order], self.mar[:, order], centers,
            self.height[:, order] / max(h, 1), boxes=boxes, frame_size=size, ids=self.ids, source=source,
        )  # fmt: skip


class FaceTracker:
    """Online multi-face tracker with identities, a frame sink (:data:`workbench.media.FrameSink`).

    It sees every frame once, in decode order, and keeps no frame: between meshed frames only a
    small luma crop around each track's mouth (:data:`CROP_MARGIN`).

    * Every :data:`MESH_EVERY_S` each live track (at most :data:`MAX_ACTIVE`, likely speakers
      first) is meshed on the region its previous landmarks give (MediaPipe's own tracking rule:
      eyes 33/263 give the roll, landmark box x1.5, square). A presence under
      :data:`MIN_PRESENCE` or a size jump over :data:`SIZE_RATIO` is a miss; after
      :data:`MAX_MISS_S` of misses the track ends (revivable within :data:`REVIVE_S`).
    * Detection rounds (:data:`DETECT_EVERY_S`, at once after a miss or a cut) confirm each track
      with the short-range detector on a crop around it, check that the mesh's mouth agrees with
      the detector's mouth keypoint (:data:`MOUTH_AGREE`: a mesh that slid onto a chin is
      re-seeded and its stretch dropped), and search the whole frame for new faces with the
      full-range detector; the first frame and cuts also search overlapping tiles of the full
      frame, sized so a :data:`MIN_DETECT_PX` face reaches the detector's reliable size.
    * The mouth opening of every frame is :func:`dark_opening` of the inner-mouth box, the box
      interpolated between the meshes around it.
    """

    def __init__(self, *, fps: float, first: np.ndarray | None = None, mesh_every_s: float = MESH_EVERY_S) -> None:
        self.step = max(1, int(round(mesh_every_s * fps)))
        self.det_every = max(self.step, int(round(DETECT_EVERY_S / mesh_every_s)) * self.step)
        self.discover_every = max(self.step, int(round(DISCOVER_EVERY_S / mesh_every_s)) * self.step)
        self.miss_steps = MAX_MISS_S * fps / self.step
        self.revive_frames = REVIVE_S * fps
        self._first = first  # whole-frame detections of frame 0, when the caller already has them
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.buffer: list[tuple[int, dict[int, tuple[int, int, np.ndarray]]]] = []
        self.times: list[float] = []
        self.last_mesh_k = -1
        self.last_det_k = -(10**9)
        self.last_discover_k = -(10**9)
        self.size: tuple[int, int] | None = None
        self._thumb: np.ndarray | None = None
        self.open: dict[int, dict[int, float]] = {}
        self.stats: dict[str, float] = dict.fromkeys(
            ("mesh_calls", "detect_calls", "tile_calls", "local_calls", "cuts", "reseeds", "mesh_s", "detect_s",
             "tiles_s", "local_s", "dark_s", "other_s"), 0.0,
        )  # fmt: skip

    # -- the sink ----------------------------------------------------------------------------

    def __call__(self, k: int, t: float, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        self.times.append(t)
        if self.size is None:
            self.size = (int(y.shape[0]), int(y.shape[1]))
        if k % self.step == 0:
            self._mesh_step(k, y, u, v)
            self.buffer = []
            return
        c = time.process_time()
        crops: dict[int, tuple[int, int, np.ndarray]] = {}
        h, w = y.shape
        for tr in self.tracks:
            got = tr.geo.get(self.last_mesh_k) if not tr.ended else None
            if got is None:
                continue
            g = got[0]
            x0, y0, x1, y1 = mouth_box(g.left, g.right)
            m = max(CROP_MARGIN * g.mouth_width, 4.0)
            cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
            cx1, cy1 = min(w, int(np.ceil(x1 + m)) + 2), min(h, int(np.ceil(y1 + m)) + 2)
            if cx1 > cx0 and cy1 > cy0:
                crops[tr.tid] = (cx0, cy0, y[cy0:cy1, cx0:cx1].copy())
        self.buffer.append((k, crops))
        self.stats["other_s"] += time.process_time() - c

    def finish(self) -> FaceTracks:
        """The tracks (the frames after the last meshed one keep its mouth box)."""
        if self.buffer:
            self._openings(self.buffer[-1][0] + 1, None)
            self.buffer = []
        return self._result()

    # -- meshing -----------------------------------------------------------------------------

    def _mesh(self, roi: fk.Roi, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, float] | None:
        c = time.process_time()
        lm, presence = landmarks(y, u, v, roi)
        self.stats["mesh_calls"] += 1
        self.stats["mesh_s"] += time.process_time() - c
        return (lm, presence) if presence >= MIN_PRESENCE else None

    def _accept(self, tr: _Track, k: int, lm: np.ndarray, presence: float) -> None:
        g = fk.face_geometry(lm)
        tr.lm, tr.roi, tr.last_seen, tr.last_box, tr.size, tr.misses = lm, fk.roi_from_landmarks(lm), k, g.box, g.height, 0
        tr.geo[k] = (g, presence)

    def _ranked(self) -> list[_Track]:
        live = [tr for tr in self.tracks if not tr.ended]
        live.sort(key=lambda tr: -(tr.size * (0.02 + tr.activity())))
        return live

    def _mesh_step(self, k: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        lost = False
        for tr in self._ranked()[:MAX_ACTIVE]:
            if tr.roi is None:
                continue
            got = self._mesh(tr.roi, y, u, v)
            if got is not None and tr.size > 0:
                ratio = fk.face_geometry(got[0]).height / tr.size
                if not 1 / SIZE_RATIO < ratio < SIZE_RATIO:
                    got = None
            if got is None:
                tr.misses += 1
                lost = True
            else:
                self._accept(tr, k, *got)
        live = [tr for tr in self.tracks if not tr.ended]
        cut = self._cut(y)
        settled = bool(live) and all(
            k - tr.born >= 2 * self.det_every and tr.misses == 0 and tr.unconfirmed == 0 for tr in live
        )
        every = self.det_every * (SETTLED_FACTOR if settled else 1)
        due = k == 0 or ((k - self.last_det_k >= every or lost or cut) and k - self.last_det_k >= self.step)
        if due:
            discover = (
                k <= (DISCOVER_FIRST - 1) * self.det_every or cut or not live or k - self.last_discover_k >= self.discover_every
            )
            dets = self._detect(k, y, u, v, tiles=k == 0 or cut, discover=discover)
            self.last_det_k = k
            if discover:
                self.last_discover_k = k
            self._associate(k, dets, y, u, v)
        for tr in self.tracks:
            if not tr.ended and tr.misses > self.miss_steps:
                tr.ended = True
        self._dedupe()
        self._openings(k, y)
        self.last_mesh_k = k

    # -- detection ---------------------------------------------------------------------------

    def _detect(self, k: int, y: np.ndarray, u: np.ndarray, v: np.ndarray, *, tiles: bool, discover: bool) -> np.ndarray:
        """One detection round: each live track confirmed on a crop around it; new faces on the whole
        frame (``discover``) and on tiles (``tiles``, unless the whole frame shows a large face)."""
        c = time.process_time()
        found = []
        h, w = y.shape
        if discover:
            if k == 0 and self._first is not None:
                whole = self._first
            else:
                whole = _whole_frame(y, u, v)
                self.stats["detect_calls"] += 1
            found.append(whole)
            self.stats["detect_s"] += time.process_time() - c
            big = len(whole) and float((whole[:, 3] - whole[:, 1]).max()) * FULL_RANGE_INPUT / max(h, w)
            if tiles and not big >= TILE_SKIP_INPUT_PX:
                c1 = time.process_time()
                found.append(_tiles(y, u, v))
                self.stats["tile_calls"] += 1
                self.stats["tiles_s"] += time.process_time() - c1
        c2 = time.process_time()
        for tr in self.tracks:
            if tr.ended or tr.last_box is None:
                continue
            d = self._local(tr, y, u, v, full=False)
            if not fk.detections_near(d, tr.last_box, reach=JUMP_REACH, size_ratio=SIZE_RATIO).any():
                # the short-range model misses some turned or stylised faces: the full-range one gets a second say
                d = self._local(tr, y, u, v, full=True)
            if len(d):
                found.append(d)
        self.stats["local_s"] += time.process_time() - c2
        found = [d for d in found if len(d)]
        return fk.nms(np.concatenate(found)) if found else np.zeros((0, fk.DET_COLS))

    def _local(self, tr: _Track, y: np.ndarray, u: np.ndarray, v: np.ndarray, *, full: bool) -> np.ndarray:
        """The detector on a square crop around a track (frame pixels)."""
        assert tr.last_box is not None
        h, w = y.shape
        b = tr.last_box
        side = int(max((LOCAL_SIDE_FULL if full else LOCAL_SIDE_SHORT) * (b[3] - b[1]), 64))
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        x0 = int(np.clip(cx - side / 2, 0, max(0, w - side))) & ~1
        y0 = int(np.clip(cy - side / 2, 0, max(0, h - side))) & ~1
        x1, y1 = min(w, x0 + side) & ~1, min(h, y0 + side) & ~1
        if x1 - x0 < 16 or y1 - y0 < 16:
            return np.zeros((0, fk.DET_COLS))
        self.stats["local_calls"] += 1
        return fk.shift_dets(detect(fk.crop_rgb(y, u, v, (x0, y0, x1, y1)), full_range=full), dx=x0, dy=y0)

    def _cut(self, y: np.ndarray) -> bool:
        """A cut between this meshed frame and the previous one (:data:`CUT_MAD` on 32x18 thumbnails)."""
        sy, sx = max(1, y.shape[0] // 72), max(1, y.shape[1] // 128)
        th = cv2.resize(y[::sy, ::sx], (32, 18), interpolation=cv2.INTER_AREA).astype(np.int16)
        prev, self._thumb = self._thumb, th
        cut = prev is not None and float(np.abs(th - prev).mean()) > CUT_MAD
        self.stats["cuts"] += cut
        return bool(cut)

    # -- association -------------------------------------------------------------------------

    def _near(self, d: np.ndarray, tr: _Track, reach: float = NEAR_REACH) -> bool:
        assert tr.last_box is not None
        return bool(fk.detections_near(d[None], tr.last_box, reach=reach, size_ratio=SIZE_RATIO)[0])

    def _associate(self, k: int, dets: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        if len(dets):
            dets = dets[(dets[:, 3] - dets[:, 1]) >= 0.8 * MIN_DETECT_PX]
        live = [tr for tr in self.tracks if not tr.ended and tr.last_box is not None]
        used: set[int] = set()
        if len(dets) and live:
            iou = fk.box_iou(dets, np.array([tr.last_box for tr in live]))
            pairs = sorted(((iou[i, j], i, j) for i in range(len(dets)) for j in range(len(live))), reverse=True)
            matched: set[int] = set()
            for val, i, j in pairs:
                if i in used or j in matched or (val < MATCH_IOU and not self._near(dets[i], live[j])):
                    continue
                used.add(i)
                matched.add(j)
                self._confirm(live[j], dets[i], k, y, u, v)
            for j, tr in enumerate(live):
                if j not in matched:
                    self._unconfirmed(tr, dets, used, k, y, u, v)
        elif live:
            for tr in live:
                self._unconfirmed(tr, dets, used, k, y, u, v)
        for i, d in enumerate(dets):
            if i in used:
                continue
            old = self._revivable(d, k)
            if old is not None:
                old.ended, old.misses = False, 0
                self._seed(old, d, k, y, u, v)
                continue
            new = _Track(tid=self.next_id, born=k)
            if self._seed(new, d, k, y, u, v):
                self.tracks.append(new)
                self.next_id += 1

    def _confirm(self, tr: _Track, d: np.ndarray, k: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """A detection on a track: re-seed a track the mesh lost; check that a meshed one did not slide."""
        if tr.last_seen != k:
            tr.unconfirmed, tr.confirmed_k = 0, k
            self._seed(tr, d, k, y, u, v)
            return
        g = tr.geo[k][0]
        mc = g.mouth_center
        if np.hypot(*(mc - d[fk.DET_MOUTH : fk.DET_MOUTH + 2])) > MOUTH_AGREE * (d[3] - d[1]):
            # the detector's keypoints are coarse on small faces: a fresh mesh seeded from the detection decides
            fresh = self._seed_landmarks(d, y, u, v)
            if fresh is not None:
                gf = fk.face_geometry(fresh[0])
                if np.hypot(*(gf.mouth_center - mc)) > MOUTH_AGREE * gf.height:
                    self._forget(tr, tr.confirmed_k, k + 1)
                    self._accept(tr, k, *fresh)
                    self.stats["reseeds"] += 1
        tr.unconfirmed, tr.confirmed_k = 0, k

    def _unconfirmed(
        self, tr: _Track, dets: np.ndarray, used: set[int], k: int, y: np.ndarray, u: np.ndarray, v: np.ndarray
    ) -> None:
        """No detection on a track: it moved faster than its region (re-seed from a free detection nearby,
        dropping what was measured since its last confirmation), or it slid onto skin that is no face."""
        assert tr.last_box is not None
        cand = [i for i in range(len(dets)) if i not in used and self._near(dets[i], tr, reach=JUMP_REACH)]
        if cand:
            tc = np.array([(tr.last_box[0] + tr.last_box[2]) / 2, (tr.last_box[1] + tr.last_box[3]) / 2])
            i = min(cand, key=lambda i: float(np.hypot((dets[i][0] + dets[i][2]) / 2 - tc[0], (dets[i][1] + dets[i][3]) / 2 - tc[1])))
            used.add(i)
            self._forget(tr, tr.confirmed_k, k)
            tr.unconfirmed, tr.confirmed_k = 0, k
            self._seed(tr, dets[i], k, y, u, v)
            self.stats["reseeds"] += 1
            return
        tr.unconfirmed += 1
        if tr.unconfirmed >= CONFIRM_ROUNDS:
            self._forget(tr, tr.confirmed_k, k + 1)
            tr.ended = True

    def _forget(self, tr: _Track, k0: int, k1: int) -> None:
        """Drop a track's measurements on frames k0 < k < k1 (they may be of something else)."""
        for kk in [kk for kk in tr.geo if k0 < kk < k1]:
            del tr.geo[kk]
        d = self.open.get(tr.tid, {})
        for kk in [kk for kk in d if k0 < kk < k1]:
            del d[kk]

    def _revivable(self, d: np.ndarray, k: int) -> _Track | None:
        best = None
        for tr in self.tracks:
            near = tr.ended and tr.last_box is not None and k - tr.last_seen <= self.revive_frames and self._near(d, tr)
            if near and (best is None or tr.last_seen > best.last_seen):
                best = tr
        return best

    def _seed_landmarks(self, d: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Landmarks of the face a detection points at: the mesh on the detection's region (upright as a
        second try), then once more on the region of those landmarks (the detector's box is looser)."""
        roi = fk.roi_from_detection(d)
        got = self._mesh(roi, y, u, v)
        if got is None and roi.angle != 0.0:
            got = self._mesh(roi.upright(), y, u, v)
        if got is None:
            return None
        again = self._mesh(fk.roi_from_landmarks(got[0]), y, u, v)
        return again if again is not None else got

    def _seed(self, tr: _Track, d: np.ndarray, k: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> bool:
        got = None
        if tr.lm is not None and tr.last_box is not None:
            # a known face: its own last region (size and roll fitted to it), moved to where the detector sees it
            dx = (d[0] + d[2]) / 2 - (tr.last_box[0] + tr.last_box[2]) / 2
            dy = (d[1] + d[3]) / 2 - (tr.last_box[1] + tr.last_box[3]) / 2
            got = self._mesh(fk.roi_from_landmarks(tr.lm).moved(dx, dy), y, u, v)
            if got is not None:
                again = self._mesh(fk.roi_from_landmarks(got[0]), y, u, v)
                got = again if again is not None else got
        if got is None:
            got = self._seed_landmarks(d, y, u, v)
        if got is None:
            return False
        self._accept(tr, k, *got)
        return True

    def _dedupe(self) -> None:
        """Two live tracks on one face: the younger one ends."""
        live = [tr for tr in self.tracks if not tr.ended and tr.last_box is not None and tr.misses == 0]
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                if a.ended or b.ended:
                    continue
                assert a.last_box is not None and b.last_box is not None
                if fk.box_iou(a.last_box[None], b.last_box[None])[0, 0] > 0.5:
                    young = a if a.born > b.born else b
                    young.ended = True
                    young.geo.pop(young.last_seen, None)

    # -- mouth opening -------------------------------------------------------------------------

    def _openings(self, k: int, y: np.ndarray | None) -> None:
        """Darkness for the buffered frames since the last meshed frame (boxes interpolated between that
        mesh and this one, read in the kept crops) and for this meshed frame ``k`` (read in ``y``)."""
        c = time.process_time()
        k0 = self.last_mesh_k
        for tr in self.tracks:
            g0 = tr.geo[k0][0] if k0 >= 0 and k0 in tr.geo else None
            g1 = tr.geo[k][0] if k in tr.geo else None
            d = self.open.setdefault(tr.tid, {})
            if g0 is not None:
                for kk, crops in self.buffer:
                    if tr.tid not in crops:
                        continue
                    if g1 is not None and k > k0:
                        a = (kk - k0) / (k - k0)
                        left, right = (1 - a) * g0.left + a * g1.left, (1 - a) * g0.right + a * g1.right
                    else:
                        left, right = g0.left, g0.right
                    x0, y0, patch = crops[tr.tid]
                    bx, by, bx1, by1 = mouth_box(left, right)
                    d[kk] = dark_opening(gray=patch, box=(bx - x0, by - y0, bx1 - x0, by1 - y0))
            if y is not None and (g1 is not None or g0 is not None):
                g = g1 if g1 is not None else g0
                assert g is not None
                d[k] = dark_opening(gray=y, box=mouth_box(g.left, g.right))
        self.stats["dark_s"] += time.process_time() - c

    def _result(self) -> FaceTracks:
        n = len(self.times)
        keep = [tr for tr in self.tracks if len(tr.geo) >= 2]
        shape = (len(keep), n)
        opening, mar, height, yaw = (np.full(shape, np.nan) for _ in range(4))
        boxes = np.full((*shape, 4), np.nan)
        frames = np.arange(n)
        for i, tr in enumerate(keep):
            for kk, val in self.open.get(tr.tid, {}).items():
                if kk < n:
                    opening[i, kk] = val
            ks = np.array(sorted(kk for kk in tr.geo if kk < n))
            if not len(ks):
                continue
            for kk in ks:
                g, _ = tr.geo[int(kk)]
                mar[i, kk], yaw[i, kk] = g.mar, g.yaw
            for c in range(4):
                boxes[i, :, c] = np.interp(frames, ks, [tr.geo[int(kk)][0].box[c] for kk in ks])
            height[i] = np.interp(frames, ks, [tr.geo[int(kk)][0].height for kk in ks])
            off = ~np.isfinite(opening[i])
            boxes[i, off] = np.nan
            height[i, off] = np.nan
        return FaceTracks(
            np.asarray(self.times, np.float64), tuple(tr.tid for tr in keep), opening, mar, boxes, height, yaw,
            self.size or (0, 0), dict(self.stats),
        )  # fmt: skip


#: The whole frame is searched in pieces no more elongated than this (long / short side): the
#: detector letterboxes its input to a square, so a 4:1 panorama would leave a face a quarter of the
#: pixels a 16:9 frame gives it (a four-panel 2048x512 clip: 1 of 4 faces found on its first frame).
MAX_PIECE_ASPECT = 1.8


def _whole_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The full-range detector on the whole frame (handed over at :data:`DETECT_SIDE` px: it letterboxes to
    192 anyway), in overlapping pieces when the frame is more elongated than :data:`MAX_PIECE_ASPECT`."""
    h, w = y.shape
    long, short = max(h, w), min(h, w)
    k = max(1, int(np.ceil(long / max(short, 1) / MAX_PIECE_ASPECT)))
    if k == 1:
        rgb, s = fk.small_rgb(y, u, v, max_side=DETECT_SIDE)
        return fk.shift_dets(detect(rgb, full_range=True), dx=0.0, dy=0.0, scale=s)
    piece = min(long, int(np.ceil(1.25 * long / k)))
    found = []
    for a in np.linspace(0, long - piece, k).astype(int) & ~1:
        box = (int(a), 0, int(a) + piece, h) if w >= h else (0, int(a), w, int(a) + piece)
        x0, y0, x1, y1 = box
        rgb, s = fk.small_rgb(y[y0:y1, x0:x1], u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], max_side=DETECT_SIDE)
        d = detect(rgb, full_range=True)
        if len(d):
            found.append(fk.shift_dets(d, dx=x0, dy=y0, scale=s))
    return fk.nms(np.concatenate(found)) if found else np.zeros((0, fk.DET_COLS))


def _tiles(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, margin: float = 0.02) -> np.ndarray:
    """The full-range detector on overlapping square tiles of the full frame, sized so a
    :data:`MIN_DETECT_PX` box reaches :data:`DETECTOR_MIN_INPUT_PX` at its input."""
    h, w = y.shape
    side = int(FULL_RANGE_INPUT * MIN_DETECT_PX / DETECTOR_MIN_INPUT_PX)
    if max(h, w) <= 1.3 * side:
        return np.zeros((0, fk.DET_COLS))
    found = []
    for tile in fk.tile_grid(height=h, width=w, tile=side):
        d = detect(fk.crop_rgb(y, u, v, tile), full_range=True)
        if len(d):
            d = d[~fk.cut_by_tile(d, tile=tile, width=w, height=h, margin=margin)]
            found.append(fk.shift_dets(d, dx=tile[0], dy=tile[1]))
    return np.concatenate(found) if found else np.zeros((0, fk.DET_COLS))


# --------------------------------------------------------------------------- which path, and the clip's track


@dataclass(frozen=True)
class FaceScan:
    """What the full-resolution watch of a clip's decode found (slot :data:`FACES`)."""

    mode: str
    """``one`` (one large face on the first frame: the analysis frames' face mesh reads it) or
    ``tracked`` (small or several faces: the full-resolution tracker ran)."""
    first: np.ndarray
    """The full-range detector's faces on the first frame (detection rows, full-resolution pixels)."""
    tracks: FaceTracks | None = None
    """The tracker's result (``tracked``)."""
    first_s: float = 0.0
    """CPU seconds of the first-frame decision."""


class FaceWatcher:
    """The frame sink of the :data:`FACES_WATCH`: decides the path on the first frame, then tracks or rests."""

    def __init__(self, *, fps: float) -> None:
        self.fps = fps
        self.first = np.zeros((0, fk.DET_COLS))
        self.tracker: FaceTracker | None = None
        self.mode = ""
        self.first_s = 0.0

    def __call__(self, k: int, t: float, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        if not self.mode:
            c = time.process_time()
            self.first = _whole_frame(y, u, v)
            self.mode = "one" if one_large_face(self.first, frame_size=y.shape) else "tracked"
            if self.mode == "tracked":
                self.tracker = FaceTracker(fps=self.fps, first=self.first)
            self.first_s = time.process_time() - c
        if self.tracker is not None:
            self.tracker(k, t, y, u, v)

    def finish(self) -> FaceScan:
        tracks = self.tracker.finish() if self.tracker is not None else None
        return FaceScan(self.mode or "one", self.first, tracks, self.first_s)


def one_large_face(dets: np.ndarray, *, frame_size: tuple[int, ...]) -> bool:
    """Exactly one face, at least :data:`FAST_MIN_SHARE` of the frame's long side: the face mesh on the analysis frames reads it."""
    if len(dets) != 1:
        return False
    return float(dets[0, 3] - dets[0, 1]) >= FAST_MIN_SHARE * max(frame_size[:2])


#: Less voice activity than this (s) in the sound and nobody reads the faces (lip sync and the mute
#: test both need 1 s): the watch does not start. Half of that, since the sound it sees is not yet
#: aligned to the picture.
WATCH_MIN_SPEECH_S = 0.5


def _start_watch(info: MediaInfo, audio: np.ndarray, sr: int) -> FaceWatcher | None:
    if not info.has_video or len(audio) == 0:
        return None
    e = env.speech_envelope(y=audio, sr=sr, rate=env.GRID_RATE)
    if float(env.voice_activity(env=e, rate=env.GRID_RATE).sum()) / env.GRID_RATE < WATCH_MIN_SPEECH_S:
        return None
    return FaceWatcher(fps=float(info.fps or 25.0))


#: The faces of the clip as the full-resolution watch found them (absent: not watched, or no speech).
FACES: Slot[FaceScan] = Slot("faces at full resolution")
#: Lip sync and the mute test read the mouths through this watch.
FACES_WATCH: Watch[FaceScan] = Watch(FACES, _start_watch)


def _frames_sink(clip: Any, sink: Callable[[int, float, np.ndarray, np.ndarray, np.ndarray], None]) -> None:
    """Feed a decoded clip's analysis frames to a frame sink (as planes, in time order)."""
    h = clip.yuv.shape[1] * 2 // 3
    w = clip.yuv.shape[2]
    c = (h // 2) * (w // 2)
    for k in range(clip.n_frames):
        flat = clip.yuv[k].reshape(-1)  # I420: the luma plane, then U and V, one after the other
        u = flat[h * w : h * w + c].reshape(h // 2, w // 2)
        v = flat[h * w + c : h * w + 2 * c].reshape(h // 2, w // 2)
        sink(k, float(clip.frame_times[k]), clip.yuv[k][:h], u, v)


def track_frames(clip: Any) -> MouthTrack:
    """The full-resolution tracker run on a decoded clip's analysis frames (when the full frames were not watched)."""
    full = _full_size(clip)
    tracker = FaceTracker(fps=float(clip.fps))
    _frames_sink(clip, tracker)
    h = clip.yuv.shape[1] * 2 // 3
    return tracker.finish().mouth_track(clip.frame_times, scale=full[0] / max(h, 1), source="frames")


def _full_size(clip: Any) -> tuple[int, int]:
    info = getattr(clip, "info", None)
    if info is not None and info.height and info.width:
        return int(info.height), int(info.width)
    if not clip.n_frames:
        return 0, 0
    gray = clip.gray  # (n, h, w): the analysis frames' luma
    return int(gray.shape[1]), int(gray.shape[2])


def track_clip(clip: Any, scan: FaceScan | None = None) -> MouthTrack:
    """The mouth track of a decoded clip.

    Parameters
    ----------
    clip : DecodedClip-like
        ``gray``, ``rgb(k)``, ``yuv``, ``frame_times``, ``info``.
    scan : FaceScan, optional
        What the full-resolution watch found during the decode: ``tracked`` gives its tracks;
        ``one`` (or no scan) runs :func:`track_mouths` on the analysis frames; when its pre-pass
        finds no face or several where the first frame showed one, the tracker reads the
        analysis frames instead (:func:`track_frames`).
    """
    if scan is not None and scan.mode == "tracked" and scan.tracks is not None:
        return scan.tracks.mouth_track(clip.frame_times)
    prepass = count_faces(rgb=clip.rgb, n=clip.n_frames) if clip.n_frames else (0, None)
    if scan is not None and prepass[0] != 1:
        # the first frame showed one large face, the pre-pass sees none or several: not a one-face clip
        return track_frames(clip)
    return track_mouths(
        gray=clip.gray, rgb=clip.rgb, frame_times=clip.frame_times, frame_size=_full_size(clip), prepass=prepass
    )


def cached_track(clip: Any, memo: Memo | None) -> MouthTrack:
    """A decoded clip's mouth track, computed once and kept in ``memo`` (slot :data:`MOUTH`) when given.

    Reads the full-resolution watch's result (slot :data:`FACES`) when the decode was watched.
    """
    if memo is None:
        return track_clip(clip)
    return memo.get(MOUTH, lambda: track_clip(clip, memo.peek(FACES)))


def mouth_track(ctx: ClipContext) -> MouthTrack:
    """The clip's mouth track, computed once per clip."""
    return cached_track(ctx.decoded, ctx.memo)
