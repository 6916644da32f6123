"""Foley timing: is each prompted sound event heard when its visible cause happens?

For every foley event of the prompt (``prompt.foley``: action, sound, stated time), the
visual event is the sharpest stop of local motion (frame-difference energy of one grid
cell dropping from one frame to the next: an object meeting a surface) near the stated
time; the audio event is the strongest onset near that visual event, refined to the start
of its attack on a 5 ms hop. Signed offset = audio onset - visual event (+ = sound late).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.metrics.coherence import RATE, event_signals
from workbench.metrics.context import ClipContext, Memo
from workbench.metrics.evidence import FoleyEvent, FoleyEvidence
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.registry import analyzer
from workbench.metrics.spec import FOLEY, Score

#: The visual event is searched this far around the stated time (s), at most half-way to the
#: neighbouring prompted event.
VISUAL_SEARCH_S = 1.0
#: The audio onset is searched this far around the visual event (s).
AUDIO_SEARCH_S = 0.5
#: A deceleration counts as a visual event above this many times the clip's 75th percentile
#: of decelerations (and above :data:`MIN_DECEL` grey levels).
DECEL_FACTOR = 3.0
MIN_DECEL = 1.0
#: An onset counts above median + this many inter-quartile ranges of the onset envelope.
ONSET_IQR = 4.0

OUTPUTS = FOLEY


def contact_strength(cells: np.ndarray) -> np.ndarray:
    """Per-frame contact strength: the drop of local motion energy from one frame to the next.

    Parameters
    ----------
    cells : np.ndarray, shape (m, c)
        Motion energy per frame difference and cell, camera motion removed (difference k is
        between frames k and k+1).

    Returns
    -------
    np.ndarray, shape (m + 1,)
        At frame k, ``max(0, e[k-1] - e[k])`` with ``e`` the motion summed over cells (0 at the
        ends): large on the first frame at rest after fast motion. Summing over cells keeps an
        object that crosses a cell border from looking like a stop.
    """
    c = np.asarray(cells, dtype=np.float64)
    e = c.sum(axis=1) if c.ndim == 2 else c
    return env.deceleration(energy=e)


def find_event(
    *,
    y: np.ndarray,
    sr: int,
    onset: np.ndarray,
    frame_times: np.ndarray,
    contact: np.ndarray,
    at_s: float,
    half_gap_s: float,
    action: str = "",
) -> FoleyEvent:
    """Visual contact and audio onset for one prompted event (``action``: what the prompt says is seen).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Audio.
    sr : int
    onset : np.ndarray, shape (n,)
        Onset envelope on the 100 Hz grid.
    frame_times : np.ndarray, shape (m,)
    contact : np.ndarray, shape (m,)
        :func:`contact_strength` per frame.
    at_s : float
        Stated event time.
    half_gap_s : float
        Half the distance to the nearest other prompted event (limits both searches).

    Returns
    -------
    FoleyEvent
        ``visual_s`` and ``audio_s`` (None when not found) and ``offset_ms``.
    """
    row: FoleyEvent = {"action": action, "at_s": at_s, "visual_s": None, "audio_s": None, "offset_ms": None}
    v_rad = min(VISUAL_SEARCH_S, half_gap_s)
    ft = np.asarray(frame_times, dtype=np.float64)
    sel = np.flatnonzero((ft >= at_s - v_rad) & (ft <= at_s + v_rad))
    if len(sel) == 0 or len(ft) < 3:
        return row
    thr_v = max(MIN_DECEL, DECEL_FACTOR * float(np.percentile(contact, 75)))
    k = int(sel[np.argmax(contact[sel])])
    if contact[k] < thr_v or k == 0:
        return row
    # contact happened between frames k-1 and k: take the midpoint
    t_vis = 0.5 * (ft[k - 1] + ft[k])
    row["visual_s"] = round(t_vis, 4)
    a_rad = min(AUDIO_SEARCH_S, half_gap_s)
    a, b = max(0, int(np.floor((t_vis - a_rad) * RATE))), min(len(onset), int(np.ceil((t_vis + a_rad) * RATE)) + 1)
    if b - a < 3:
        return row
    q1, med, q3 = np.percentile(onset, [25, 50, 75])
    thr_a = med + ONSET_IQR * (q3 - q1)
    j = a + int(np.argmax(onset[a:b]))
    if onset[j] <= thr_a or onset[j] <= 0:
        return row
    t_aud = env.refine_onset(y=y, sr=sr, t_coarse=j / RATE)
    row["audio_s"] = round(t_aud, 4)
    row["offset_ms"] = round(1000.0 * (t_aud - t_vis), 1)
    return row


def _explain(row: FoleyEvent, action: str) -> str:
    what = f"{action} (stated at {row['at_s']:g} s)"
    if row["visual_s"] is None:
        return f"{what}: no visible contact found near the stated time"
    if row["audio_s"] is None:
        return f"{what}: seen at {row['visual_s']:.2f} s, but no sound onset near it"
    o = row["offset_ms"]
    assert o is not None  # set with audio_s
    if abs(o) < 1000.0 / 60:
        return f"{what}: the sound lands on the contact at {row['visual_s']:.2f} s"
    when = "after" if o > 0 else "before"
    return f"{what}: the sound comes {abs(o):.0f} ms {when} the contact at {row['visual_s']:.2f} s"


def measure_foley(clip: Any, events: list[tuple[float, str]], *, memo: Memo | None = None) -> dict[str, Score]:
    """Foley offsets of a decoded clip for prompted events ``[(at_s, action), ...]``.

    Parameters
    ----------
    clip : DecodedClip-like
        ``audio``, ``sr``, ``gray``, ``frame_times``.
    events : list of (float, str)
        Stated time and description of each prompted foley event.
    memo : Memo, optional
        The clip's shared results (the motion and onset envelopes, shared with av_sync and the mute test).
    """
    names = [m.name for m in OUTPUTS]
    if not events:
        return {n: Score.unscored("prompt names no foley events") for n in names}
    if len(clip.audio) == 0:
        return {n: Score.unscored("no audio stream") for n in names}
    if len(clip.frame_times) < 3:
        return {n: Score.unscored("no video stream") for n in names}
    sig = event_signals(clip, memo)
    contact = contact_strength(sig.cells)
    times = sorted(t for t, _ in events)
    rows = []
    for at_s, action in sorted(events):
        others = [abs(t - at_s) for t in times if t != at_s] or [np.inf]
        half_gap = 0.5 * min(others)
        row = find_event(
            y=clip.audio,
            sr=clip.sr,
            onset=sig.onset,
            frame_times=sig.frame_times,
            contact=contact,
            at_s=at_s,
            half_gap_s=half_gap,
            action=action,
        )
        rows.append(row)
    offsets = np.array([r["offset_ms"] for r in rows if r["offset_ms"] is not None], dtype=np.float64)
    details: FoleyEvidence = {"events": rows, "explanations": [_explain(r, r["action"]) for r in rows]}
    out = {"foley_hit_rate": Score(round(len(offsets) / len(rows), 4), details=details)}
    if len(offsets) == 0:
        reason = "no prompted foley event found in both picture and sound"
        out["foley_offset_ms"] = Score.unscored(reason, **details)
        out["foley_abs_offset_ms"] = Score.unscored(reason, **details)
        return out
    out["foley_offset_ms"] = Score(round(float(np.median(offsets)), 1), details=details)
    out["foley_abs_offset_ms"] = Score(round(float(np.median(np.abs(offsets))), 1), details=details)
    return out


@analyzer("foley", version=3, outputs=OUTPUTS)  # 3: luma read from YUV frames
def foley(ctx: ClipContext) -> dict[str, Score]:
    """Foley timing against the prompt's stated events (envelopes shared through ``ctx.memo``)."""
    if ctx.prompt is None:
        return {m.name: Score.unscored("no prompt") for m in OUTPUTS}
    events = [(float(ev.at_s), ev.action) for ev in ctx.prompt.foley]
    return measure_foley(ctx.decoded, events, memo=ctx.memo)
