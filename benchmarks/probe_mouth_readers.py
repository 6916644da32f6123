"""Other mouth readings on the speaking faces lip sync leaves unscored (issue 14; research, not a test).

Lip sync reads a mouth by the darkness of the inner-mouth box the landmark network finds. On five
generated clips with a visible speaking face it gives no confident reading (a strict profile, a beard
under a hat brim, an anime mouth that barely moves, speech in pieces, bright teeth). This script asks
whether another reading of the same faces would: each is fed to the same lip-sync maths
(``lipsync.measure_lipsync``) as the face's mouth opening.

* ``shipped``: the analysis as a run does it (landmark mouth box, darkness on every frame).
* ``keypoint box``: the darkness of a box around the mouth keypoint of MediaPipe's full-range face
  detector, which also finds strict profiles, on every analysis frame.
* ``lower-face flow``: Farneback optical flow in a square around that keypoint, the lower part's
  vertical motion minus the upper part's, integrated: the jaw opening, which a beard or bright teeth
  do not hide.
* ``MAR every frame``: the landmark lip opening (inner lip gap over mouth width) on every frame, the
  reading before mouth darkness; the landmark network cannot read strict profiles.

For the keypoint box and the flow, the two gates that read the landmark lip opening (the mouth moves at
all; its darkness does not run against its shape) are bypassed: each stands in for the lip opening
itself. The landmark opening on every frame keeps the first gate (it is that opening) and passes the
second. The detector probes follow the strongest face of each frame: on a clip with several faces (the
three girls) that need not always be the speaking one. Two real
frontal clips are the controls: a reading that works reads them confidently, and moving their sound
200 ms later or earlier moves its offset by 200 ms.

A probe that reads a clip the shipped reading leaves unscored is only worth having if it is not
confident where it should not be. So each probe also reads the real talking clips of
``benchmarks/validate_sync.py`` (the same cases: in sync, shifted -400..+400 ms, and with unrelated
speech or -6 dB noise, where any confident offset is wrong), printed beside the shipped reading.

    python benchmarks/probe_mouth_readers.py [--no-real]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import median_filter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from validate_sync import lip_cases, load_real, shift_audio  # noqa: E402

from workbench.analysis.engine import clip_context, select_analyzers  # noqa: E402
from workbench.metrics import face, lipsync  # noqa: E402
from workbench.metrics.context import Memo  # noqa: E402
from workbench.metrics.kernels import faces as fk  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data"
CLIPS = {
    "old man, strict profile": "generated/dialogue/fantasytalking_20_old_man_profile.mp4",
    "stage hat man, beard, 64 px": "generated/dialogue/universe1_speech_case18_stage_hat_man.mp4",
    "anime girl, mouth barely moves": "generated/multi_person/universe1_other_case10_three_girls_fireworks.mp4",
    "anime noodles, speech in pieces": "generated/dialogue/universe1_speech_case11_anime_noodles.mp4",
    "veo3 streamer, bright teeth": "generated/dialogue/vasflow_veo3_keyboard_streamer.mp4",
    "control: real, LatentSync demo1": "real/talking_faces/latentsync_demo1_video.mp4",
    "control: real, VideoReTalking face4": "real/talking_faces/videoretalking_face4.mp4",
}
SHIFT_MS = 200.0
#: Boxes and keypoints are median-filtered over this many frames (the detector's keypoints jitter).
SMOOTH_FRAMES = 9


def _detections(clip: Any) -> np.ndarray | None:
    """The strongest face per analysis frame (full-range detector, short-range as a second try), gaps
    interpolated and median-filtered: rows (n_frames, DET_COLS); None when no frame has a face."""
    n = clip.n_frames
    rows = np.full((n, fk.DET_COLS), np.nan)
    for k in range(n):
        rgb = clip.rgb(k)
        d = face.detect(rgb, full_range=True)
        if not len(d):
            d = face.detect(rgb, full_range=False)
        if len(d):
            rows[k] = d[int(np.argmax(d[:, 4]))]
    ok = np.isfinite(rows[:, 0])
    if not ok.any():
        return None
    frames = np.arange(n)
    for c in range(fk.DET_COLS):
        rows[:, c] = median_filter(np.interp(frames, frames[ok], rows[ok, c]), SMOOTH_FRAMES)
    rows[~ok] = np.nan  # frames with no detection stay unread
    return rows


def _as_track(clip: Any, opening: np.ndarray, dets: np.ndarray) -> face.MouthTrack:
    """A one-face track whose opening is ``opening``; the landmark-based gates see the same signal."""
    n = clip.n_frames
    span = float(np.nanmax(opening) - np.nanmin(opening)) if np.isfinite(opening).any() else 0.0
    span = span if np.isfinite(span) and span > 0 else 1.0
    stand_in = np.full(n, np.nan)
    stand_in[::5] = (opening[::5] - np.nanmin(opening)) / span
    boxes = dets[:, :4]
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=-1)
    h = clip.gray.shape[1]
    full = face._full_size(clip)
    return face.MouthTrack(
        np.asarray(clip.frame_times, np.float64), opening[None], stand_in[None], centres[None],
        ((boxes[:, 3] - boxes[:, 1]) / h)[None], boxes=(boxes * full[0] / h)[None], frame_size=full,
    )  # fmt: skip


def keypoint_box(clip: Any, dets: np.ndarray) -> np.ndarray:
    """Darkness of a box around the detector's mouth keypoint (a quarter of the face box wide)."""
    out = np.full(clip.n_frames, np.nan)
    for k in np.flatnonzero(np.isfinite(dets[:, 0])):
        d = dets[k]
        fw, fh = d[2] - d[0], d[3] - d[1]
        mx, my = d[fk.DET_MOUTH], d[fk.DET_MOUTH + 1]
        box = (int(mx - 0.12 * fw), int(my - 0.06 * fh), int(mx + 0.12 * fw), int(my + 0.14 * fh))
        out[k] = face.dark_opening(gray=clip.gray[k], box=box)
    return out


def lower_face_flow(clip: Any, dets: np.ndarray) -> np.ndarray:
    """Integrated vertical optical flow of the lower face against the upper lip and nose."""
    n = clip.n_frames
    velocity = np.zeros(n)
    seen = np.isfinite(dets[:, 0])
    for k in range(1, n):
        if not (seen[k] and seen[k - 1]):
            continue
        d = dets[k]
        half = 0.3 * (d[2] - d[0])
        mx, my = d[fk.DET_MOUTH], d[fk.DET_MOUTH + 1]
        x0, y0, x1, y1 = int(mx - half), int(my - half), int(mx + half), int(my + 1.4 * half)
        a, b = clip.gray[k - 1][max(0, y0) : y1, max(0, x0) : x1], clip.gray[k][max(0, y0) : y1, max(0, x0) : x1]
        if min(a.shape) < 8 or a.shape != b.shape:
            continue
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 3, 5, 1.1, 0)
        rows = flow.shape[0]
        velocity[k] = flow[rows // 2 :, :, 1].mean() - flow[: rows // 3, :, 1].mean()
    out = np.cumsum(velocity)
    out[~seen] = np.nan
    return out


def mar_every_frame(clip: Any) -> face.MouthTrack:
    """The landmark lip opening on every frame as the opening (the face mesh on every analysis frame)."""
    track = face.track_mouths(gray=clip.gray, rgb=clip.rgb, frame_times=clip.frame_times, every_s=0, max_faces=1,
                              frame_size=face._full_size(clip))  # fmt: skip
    return dataclasses.replace(track, opening=track.mar.copy())


def _readings(clip: Any, track: face.MouthTrack | None, memo: Any = None) -> list[str]:
    """Printable cells: z and offset at the clip's own sound (then, when that offset is unscored, its
    reason), then the offset with the sound 200 ms later and 200 ms earlier."""
    cells = []
    for ms in (0.0, SHIFT_MS, -SHIFT_MS):
        c = dataclasses.replace(clip, audio=shift_audio(clip.audio, clip.sr, ms)) if ms else clip
        out = lipsync.measure_lipsync(c, memo=memo if not ms else None, mouth=track)
        z, off = out["lip_confidence"].value, out["lip_offset_ms"].value
        if ms == 0.0:
            cells.append("-" if z is None else f"{z:.2f}")
        cells.append("-" if off is None else f"{off:+.0f}")
        if ms == 0.0 and off is None:
            cells.append((out["lip_offset_ms"].reason or "")[:48])
    return cells


def probes(clip: Any, shipped: face.MouthTrack) -> list[tuple[str, Callable[[], face.MouthTrack | None]]]:
    """The shipped track and the three probe readings of a decoded clip, each made when called."""
    dets = _detections(clip)
    return [
        ("shipped", lambda: shipped),
        ("keypoint box", lambda: None if dets is None else _as_track(clip, keypoint_box(clip, dets), dets)),
        ("lower-face flow", lambda: None if dets is None else _as_track(clip, lower_face_flow(clip, dets), dets)),
        ("MAR every frame", lambda: mar_every_frame(clip)),
    ]


def unscored_clips() -> None:
    analyzers = select_analyzers(["lipsync"])
    print(
        f"{'clip':36s} {'reading':16s} {'z':>6s} {'offset':>7s} {'+200':>6s} {'-200':>6s}  (sound moved 200 ms later / earlier)"
    )
    for name, rel in CLIPS.items():
        path = SHARED / rel
        if not path.is_file():
            continue
        ctx = clip_context(path, None, analyzers)
        clip = ctx.decoded
        for label, make in probes(clip, face.mouth_track(ctx)):
            track = make()
            if track is None:
                print(f"{name:36s} {label:16s} no face found")
                continue
            z, off, *rest = _readings(clip, track, ctx.memo if label == "shipped" else None)
            reason = rest[0] if off == "-" else ""
            late, early = rest[-2:]
            print(f"{name:36s} {label:16s} {z:>6s} {off:>7s} {late:>6s} {early:>6s}  {reason}", flush=True)


def real_cases() -> None:
    """Each reading on the real talking clips: what it reads, and where it is confident though wrong."""
    clips = {k: v for k, v in load_real().items() if v["group"] == "talking"}
    made = {name: probes(c["clip"], c["cache"].peek(face.MOUTH)) for name, c in clips.items()}
    print(f"\n{'reading (real talking clips)':28s} {'in sync read':>12s} {'shifted: confident':>19s} {'rel. err p90 ms':>16s} "
          f"{'unrelated/noise: confident (wrong)':>35s}")  # fmt: skip
    for i, label in enumerate(p[0] for p in next(iter(made.values()))):
        cases = {}
        for name, c in clips.items():
            memo = Memo()
            track = made[name][i][1]()
            # a probe that finds no face reads nothing (not the shipped track, which the memo would compute)
            memo.put(face.MOUTH, track if track is not None else face.empty_track(np.asarray(c["clip"].frame_times)))
            cases[name] = {**c, "cache": memo}
        shifted, insync, _, poor = lip_cases(cases)
        base = {r.case: r.measured for r in insync}
        rel = [abs(r.measured - base[name] - r.truth) for r in shifted
               if r.measured is not None and r.truth is not None and (name := r.case.rsplit(" shift ", 1)[0]) in base
               and base[name] is not None]  # fmt: skip
        p90 = f"{np.percentile(rel, 90):.1f}" if rel else "-"
        n_in = sum(r.measured is not None for r in insync)
        n_sh = sum(r.measured is not None for r in shifted)
        n_poor = sum(r.measured is not None for r in poor)
        print(f"{label:28s} {n_in:>5d} of {len(insync):<5d} {n_sh:>9d} of {len(shifted):<6d} {p90:>16s} {n_poor:>25d} of {len(poor)}",
              flush=True)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-real", action="store_true", help="skip the real talking clips")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"note: {SHARED} not present (fresh clone): nothing to probe")
        return 0
    unscored_clips()
    if not args.no_real:
        real_cases()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
