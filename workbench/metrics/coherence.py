"""Audio-visual event coherence: the global event offset (``av_sync``) and the mute test.

Both compare the audio onset envelope (log-mel spectral flux) with the picture's motion
envelope (frame differences at 160 px per cell of a 4 x 4 grid, minus the median cell so
camera motion cancels), on the 100 Hz grid. They work without faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.metrics import lipsync
from workbench.metrics.context import ClipContext, Memo, Slot
from workbench.metrics.face import FACES_WATCH, cached_track
from workbench.metrics.kernels import coherence as coh
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.kernels import sync
from workbench.metrics.registry import Analyzer, analyzer, register
from workbench.metrics.spec import AV_SYNC, MUTE_TEST, Score

RATE = env.GRID_RATE
#: Band of the envelopes that are cross-correlated (Hz): drops slow trends and frame jitter.
EVENT_BAND = (0.5, 8.0)
#: av_sync searches +- this many seconds.
AV_MAX_LAG_S = 0.6
#: Natural lag of the onset envelope behind the motion envelope (ms): motion energy peaks while
#: an object still moves, the sound comes at contact. Subtracted from ``av_offset_ms``. Measured
#: with ``benchmarks/validate_sync.py --calibrate``: median raw reading of the real, nominally
#: in-sync clips (talking faces and foley) on which av_sync is confident: maskvat axe +52,
#: maskvat ice -115, sadtalker AOC +104, videoretalking face1 +79, face5 +193 -> 79, rounded to 80.
#: Content dependent (the synthetic impacts of workbench.providers.local.synth read +10..+50): av_offset_ms is a
#: coarse event-timing check with about +-100 ms of bias, not a lip-sync meter.
AV_NATURAL_LAG_MS = 80.0
#: Below this confidence (z of the peak against circularly shifted sound, as for lip sync)
#: ``av_offset_ms`` is unscored.
AV_MIN_CONFIDENCE = 2.5
#: The coupling tolerates offsets up to this around the natural lag of the picture signal
#: (a constant offset is not a mismatch).
MUTE_MAX_LAG_S = 0.3
#: Circular shifts of the own sound used as the null start here.
MUTE_MIN_SHIFT_S = 1.0
MUTE_SHIFT_STEP_S = 0.25
#: A swap test needs at least this many usable clips.
MIN_BATCH = 3
#: A picture "has visual events" when its summed cell motion peaks above this many grey levels
#: and this many inter-quartile ranges above its median (motion is continuous, so a low bar).
MOTION_FLOOR = 1.0
MOTION_Z = 0.5
#: The motion channel is the mean of this many most active grid cells.
TOP_CELLS = 4
#: A face must be tracked on this share of frames to stand for the picture in the mute test.
MOUTH_MIN_COVERAGE = 0.5
#: An envelope "has events" when its peak stands this many inter-quartile ranges above its median.
EVENT_Z = 6.0
#: A prompted event is "heard" when a strong onset (above the onset envelope's median + this many IQR,
#: the rule ``workbench.metrics.foley.ONSET_IQR`` uses) lies within :data:`EVENT_HIT_TOL_S` of its stated time.
EVENT_ONSET_IQR = 4.0
EVENT_HIT_TOL_S = 0.3


@dataclass(frozen=True)
class EventSignals:
    """Per-clip envelopes shared by av_sync, foley and the mute test."""

    onset: np.ndarray
    """Onset strength on the grid, shape (n,)."""
    cell_times: np.ndarray
    """Time of each frame difference (midpoint of the two frames), shape (m,)."""
    cells: np.ndarray
    """Motion energy per grid cell, camera motion removed, shape (m, 16)."""
    frame_times: np.ndarray
    """Frame times, shape (m + 1,)."""

    def motion_grid(self, n: int | None = None) -> np.ndarray:
        """Motion cells on the grid, shape (n, 16) (NaN-free)."""
        n = len(self.onset) if n is None else n
        if len(self.cell_times) == 0:
            return np.zeros((n, self.cells.shape[1] if self.cells.ndim == 2 else 16))
        return env.to_grid(values=self.cells, times=self.cell_times, n=n, rate=RATE)


#: Motion energy per grid cell (times, cells) of the picture: shared by av_sync, foley and the mute test.
MOTION: Slot[tuple[np.ndarray, np.ndarray]] = Slot("motion cells")
#: Onset envelope of the sound on the grid: shared by av_sync, foley and the mute test.
ONSET: Slot[np.ndarray] = Slot("onset envelope")
#: The picture-side slots (a picture paired with other sound keeps these).
PICTURE_SLOTS = (MOTION,)


def _motion(clip: Any) -> tuple[np.ndarray, np.ndarray]:
    gray = env.gray_small(frames=clip.gray, side=160)
    return env.motion_cells(gray=gray, frame_times=clip.frame_times)


def _onset(clip: Any) -> np.ndarray:
    return env.onset_envelope(y=clip.audio, sr=clip.sr, rate=RATE) if len(clip.audio) else np.zeros(0)


def event_signals(clip: Any, memo: Memo | None = None) -> EventSignals:
    """Onset and motion envelopes of a decoded clip, each computed once.

    The motion part depends on the picture only (slot :data:`MOTION`), the onset envelope on
    the sound only (:data:`ONSET`), so either stream can be swapped or shifted without
    recomputing the other.

    Parameters
    ----------
    clip : DecodedClip-like
        ``audio``, ``sr``, ``gray``, ``frame_times``.
    memo : Memo, optional
        The clip's shared results.
    """
    memo = Memo() if memo is None else memo
    t_cells, cells = memo.get(MOTION, lambda: _motion(clip))
    onset = memo.get(ONSET, lambda: _onset(clip))
    if len(onset) == 0 and len(clip.frame_times):
        onset = np.zeros(int(np.ceil((clip.frame_times[-1] + 0.04) * RATE)))
    return EventSignals(onset=onset, cell_times=t_cells, cells=cells, frame_times=np.asarray(clip.frame_times))


def has_events(x: np.ndarray, *, floor: float = 1e-6, min_z: float | None = None) -> bool:
    """Whether an envelope has distinct events: a peak far above its typical level.

    Parameters
    ----------
    x : np.ndarray, shape (n,) or (n, c)
        Non-negative envelope (channels are summed).
    floor : float
        The peak must also exceed this absolute value.
    min_z : float, optional
        Required ``(max - median) / IQR`` (default :data:`EVENT_Z`).

    Returns
    -------
    bool
        Steady noise, a tone, silence or a still picture have none.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.sum(axis=1)
    x = x[np.isfinite(x)]
    if len(x) < 4:
        return False
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    top = float(x.max())
    if top <= floor:
        return False
    return bool((top - med) / max(q3 - q1, 1e-3 * top) >= (EVENT_Z if min_z is None else min_z))


def _filtered(sig: EventSignals) -> tuple[np.ndarray, np.ndarray]:
    n = len(sig.onset)
    motion = env.bandpass(sig.motion_grid(n).T, rate=RATE, lo=EVENT_BAND[0], hi=EVENT_BAND[1]).T
    onset = env.bandpass(sig.onset, rate=RATE, lo=EVENT_BAND[0], hi=EVENT_BAND[1])
    return motion, onset


def measure_av_sync(clip: Any, *, memo: Memo | None = None) -> dict[str, Score]:
    """Global audio-visual event offset of a decoded clip (+ = audio late).

    The motion of the most active grid cells is cross-correlated with the onset envelope
    over +-600 ms; the parabolic peak of the curve, minus :data:`AV_NATURAL_LAG_MS`, is the offset.
    """
    if len(clip.audio) == 0:
        return {"av_offset_ms": Score.unscored("no audio stream")}
    if len(clip.frame_times) < 3:
        return {"av_offset_ms": Score.unscored("no video stream")}
    sig = event_signals(clip, memo)
    if not has_events(sig.onset):
        return {"av_offset_ms": Score.unscored("no sound events (low confidence)")}
    if not has_events(sig.cells, floor=MOTION_FLOOR, min_z=MOTION_Z):
        return {"av_offset_ms": Score.unscored("no visual events (low confidence)")}
    motion, onset = _filtered(sig)
    max_lag = int(round(AV_MAX_LAG_S * RATE))
    if len(onset) < 2 * max_lag + RATE:
        return {"av_offset_ms": Score.unscored("clip too short for +-600 ms lags")}
    channel = _motion_channel(motion)
    curve = coh.lag_ncc(video=channel, audio=onset, max_lag=max_lag)[:, 0]
    pk = sync.curve_peak(r=curve, rate=RATE, max_lag=max_lag)
    if pk is None:
        return {"av_offset_ms": Score.unscored("no correlation between sound and motion (flat signals)")}
    null = sync.shift_null_z(video=channel, audio=onset, rate=RATE, max_lag_s=AV_MAX_LAG_S)
    z = null.z if np.isfinite(null.z) else 0.0
    details = {
        "raw_offset_ms": round(pk.offset_s * 1000, 1),
        "natural_lag_ms": AV_NATURAL_LAG_MS,
        "confidence_z": round(z, 3),
        "peak": round(pk.height, 4),
        "curve": np.round(curve[::2], 3).tolist(),
    }
    if z < AV_MIN_CONFIDENCE:
        reason = f"low confidence (z {z:.2f} < {AV_MIN_CONFIDENCE})"
        return {"av_offset_ms": Score.unscored(reason, **details)}
    return {"av_offset_ms": Score(round(pk.offset_s * 1000 - AV_NATURAL_LAG_MS, 1), details=details)}


@analyzer("av_sync", version=4, outputs=AV_SYNC)  # 4: one face from 9 % of the frame on the one-face path
def av_sync(ctx: ClipContext) -> dict[str, Score]:
    """Global event offset (envelopes shared through ``ctx.memo``)."""
    return measure_av_sync(ctx.decoded, memo=ctx.memo)


# --- mute test


def _motion_channel(motion: np.ndarray) -> np.ndarray:
    """Motion of the most active cells: mean of the :data:`TOP_CELLS` (n, c) columns with the most variance."""
    top = np.argsort(motion.var(axis=0))[::-1][:TOP_CELLS]
    return motion[:, np.sort(top)].mean(axis=1)


def mute_features(clip: Any, *, memo: Memo | None = None, events_s: Sequence[float] = ()) -> dict[str, Any]:
    """Small picklable per-clip features for the mute test.

    The picture signal is the speaking mouth when there is speech and a tracked face (mouth
    opening, coupled to the speech envelope; with several faces taking turns, each turn's face,
    as lip sync found them in ``memo``), else the motion of the most active grid cells (coupled
    to the onset envelope).

    Returns
    -------
    dict
        ``kind`` ("mouth" or "motion"), ``visual`` (n,), ``onset`` (n,) and ``speech`` (n,)
        float32 z-scored on the 100 Hz grid, ``events_s`` (prompted event times), event flags;
        or ``{"error": reason}``.
    """
    if len(clip.audio) == 0:
        return {"error": "no audio stream"}
    if len(clip.frame_times) < 3:
        return {"error": "no video stream"}
    memo = Memo() if memo is None else memo
    sig = event_signals(clip, memo)
    n = len(sig.onset)
    motion, onset = _filtered(sig)
    sp = lipsync.speech_signals(clip, memo)
    e = np.zeros(n)
    e[: min(n, len(sp.env))] = sp.env[:n]
    speech = env.bandpass(e, rate=RATE, lo=lipsync.SYLLABLE_BAND[0], hi=lipsync.SYLLABLE_BAND[1])
    kind, visual = "motion", _motion_channel(motion)
    if sp.active_s >= lipsync.MIN_SPEECH_S:
        track = cached_track(clip, memo)
        best = -np.inf
        for f, cov in enumerate(track.coverage()):
            if cov < MOUTH_MIN_COVERAGE or not lipsync.mouth_moves(track, f):
                continue
            m = lipsync.mouth_signal(track, f, n)
            m = np.where(np.isfinite(m), m, 0.0)
            c = coh.coupling(video=m, audio=speech, max_lag=int(MUTE_MAX_LAG_S * RATE))
            if c > best:
                kind, visual, best = "mouth", m, c
        turns = memo.peek(lipsync.SPEAKING)
        if turns is not None and kind == "mouth":
            # faces taking turns: the speaking mouth follows the turns (lip sync found them)
            m = np.zeros(n)
            k = min(n, len(turns))
            m[:k] = np.where(np.isfinite(turns[:k]), turns[:k], 0.0)
            visual = m
    return {
        "rate": RATE,
        "kind": kind,
        "visual": coh.zscore(visual).astype(np.float32),
        "onset": coh.zscore(onset).astype(np.float32),
        "speech": coh.zscore(speech).astype(np.float32),
        "onset_raw": sig.onset.astype(np.float32),
        "events_s": [float(t) for t in events_s],
        "sound_events": has_events(sig.onset),
        "visual_events": has_events(sig.cells, floor=MOTION_FLOOR, min_z=MOTION_Z),
    }


def prompt_events(prompt: Any) -> list[float]:
    """Stated event times of a prompt (foley times and dialogue starts), sorted."""
    if prompt is None:
        return []
    times = [float(ev.at_s) for ev in getattr(prompt, "foley", ())]
    times += [float(line.start_s) for line in getattr(prompt, "dialogue", ())]
    return sorted(times)


def _features(ctx: ClipContext) -> dict[str, Any]:
    return mute_features(ctx.decoded, memo=ctx.memo, events_s=prompt_events(ctx.prompt))


def _event_hits(feat: dict[str, Any], tol_s: float = EVENT_HIT_TOL_S) -> float | None:
    """Share of prompted event times with a strong audio onset within ``tol_s`` (None without events)."""
    times = feat.get("events_s") or []
    raw = np.asarray(feat["onset_raw"], dtype=np.float64)
    if not times or len(raw) == 0:
        return None
    q1, med, q3 = np.percentile(raw, [25, 50, 75])
    thr = med + EVENT_ONSET_IQR * (q3 - q1) + 1e-9
    hits = 0
    for t in times:
        a, b = max(0, int((t - tol_s) * RATE)), min(len(raw), int((t + tol_s) * RATE) + 1)
        hits += bool(b > a and raw[a:b].max() > thr)
    return hits / len(times)


def _lag_center(kind: str) -> int:
    """Natural lag of the sound behind the picture signal, in grid samples (the coupling's lag window centre)."""
    lag_ms = lipsync.NATURAL_LAG_MS if kind == "mouth" else AV_NATURAL_LAG_MS
    return int(round(lag_ms * RATE / 1000))


def swap_test(features: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, list[coh.SwapResult]]:
    """Coupling matrices and per-clip swap statistics of usable mute-test features.

    Returns
    -------
    true, swapped : np.ndarray, shape (N, N)
    stats : list of SwapResult
    """
    max_lag = int(round(MUTE_MAX_LAG_S * RATE))
    videos = [np.asarray(f["visual"], dtype=np.float64) for f in features]
    audios = [
        [np.asarray(g["speech" if f["kind"] == "mouth" else "onset"], dtype=np.float64) for g in features]
        for f in features
    ]
    centers = [_lag_center(f["kind"]) for f in features]
    true, swapped = coh.coupling_matrices(videos=videos, audios=audios, max_lag=max_lag, centers=centers)
    nulls = [
        coh.shift_null(
            video=videos[i],
            audio=audios[i][i],
            max_lag=max_lag,
            min_shift=int(MUTE_MIN_SHIFT_S * RATE),
            step=int(MUTE_SHIFT_STEP_S * RATE),
            center=centers[i],
        )
        for i in range(len(features))
    ]
    return true, swapped, coh.swap_statistics(true=true, swapped=swapped, nulls=nulls)


def mute_batch(features: Sequence[Any], contexts: Sequence[Any] | None = None) -> list[dict[str, Score]]:
    """The swap test over a batch: one ``mute_coherence`` Score per clip, in order.

    Deterministic: depends only on the features and their order (``contexts`` is unused).
    """
    n = len(features)
    reasons: dict[int, str] = {}
    usable = []
    for i, f in enumerate(features):
        if not isinstance(f, dict):
            reasons[i] = "clip could not be analysed"
        elif "error" in f:
            reasons[i] = str(f["error"])
        elif len(f["visual"]) < 2 * MUTE_MIN_SHIFT_S * RATE:
            reasons[i] = "clip too short for a shift null"
        else:
            usable.append(i)
    if len(usable) < MIN_BATCH:
        why = f"batch too small for a swap test ({len(usable)} usable clips, need {MIN_BATCH})"
        return [{"mute_coherence": Score.unscored(reasons.get(i, why))} for i in range(n)]
    feats = [features[i] for i in usable]
    _, _, stats = swap_test(feats)
    by_index = dict(zip(usable, stats, strict=True))
    out: list[dict[str, Score]] = []
    for i in range(n):
        if i not in by_index:
            out.append({"mute_coherence": Score.unscored(reasons[i])})
            continue
        s, f = by_index[i], features[i]
        hits = _event_hits(f)
        parts = (
            [s.beat_swap] + ([s.beat_shift] if np.isfinite(s.beat_shift) else []) + ([hits] if hits is not None else [])
        )
        details = {
            "kind": f["kind"],
            "rank": s.rank,
            "of": len(usable),
            "margin": round(s.margin, 4),
            "z": round(s.z, 3) if np.isfinite(s.z) else None,
            "p_shift": round(s.p_shift, 4),
            "coupling": round(s.coupling, 4),
            "beat_swap": round(s.beat_swap, 4),
            "beat_shift": round(s.beat_shift, 4) if np.isfinite(s.beat_shift) else None,
            "event_hits": hits,
        }
        if f["kind"] == "motion" and not (f["sound_events"] and f["visual_events"]):
            which = "sound" if not f["sound_events"] else "picture"
            out.append({"mute_coherence": Score.unscored(f"no events in the {which} to couple", **details)})
            continue
        out.append({"mute_coherence": Score(round(float(np.mean(parts)), 4), details=details)})
    return out


MUTE_TEST_ANALYZER = register(
    Analyzer(
        name="mute_test",
        version=5,  # 5: one face from 9 % of the frame on the one-face path (4: every face at full resolution)
        outputs=MUTE_TEST,
        features=_features,
        batch=mute_batch,
        watches=(FACES_WATCH,),
    )
)
