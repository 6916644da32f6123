"""Who speaks when: each face's lag, per speech window the face whose mouth follows the speech, turns.

Pure numpy on one analysis grid (100 Hz in the lip-sync analyzer). The inputs are the
band-passed mouth signal of every candidate face (NaN where the face is not tracked) and the
band-passed speech envelope kept within voice activity, as in the single-face lip-sync reading
(:mod:`workbench.metrics.kernels.sync`).

Method
------
1. :func:`face_lags`: per face, the whole-clip circular cross-correlation with the speech gives
   its lag and a z-score against its own circular shifts (the single-face confidence); the clip's
   confidence takes, at every shift, the *best face's* peak, so choosing among several mouths is
   paid for in the null (for one face it is the single-face statistic).
2. :func:`window_evidence`: per speech window (2 s, hop 0.5 s) and face, the correlation peak
   near that face's expected lag.
3. :func:`viterbi_faces`: a Viterbi path over {each face, nobody} makes the windows' choices
   into turns: a window scores its face's peak (nobody a fixed floor), changing speaker costs a
   penalty, less across a pause in the speech; a run whose face does not beat the runner-up by a
   margin per window stays undecided.
4. :func:`label_samples`: each speech sample takes the face of the nearest decided window that
   covers it; runs of one face are the turns.

These follow the audio-visual speaker diarisation literature in spirit (the active speaker is
the face whose mouth motion correlates with the voice, e.g. Hershey & Movellan 2000 "Audio
vision: using audio-visual synchrony to locate sounds"; Nock, Iyengar & Neti 2003), with the
turn smoothing of an HMM over speakers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.errors import ParameterError


def _parabolic(r: np.ndarray, i: int) -> tuple[float, float]:
    """Vertex of a parabola through r[i-1..i+1] (see ``workbench.metrics.kernels.sync.parabolic_peak``)."""
    if i <= 0 or i >= len(r) - 1 or not np.all(np.isfinite(r[i - 1 : i + 2])):
        return float(i), float(r[i])
    a, b, c = r[i - 1], r[i], r[i + 1]
    den = a - 2 * b + c
    if den >= 0:
        return float(i), float(b)
    d = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return i + d, float(b - 0.25 * (a - c) * d)


def speech_windows(
    *, active: np.ndarray, rate: float, win_s: float = 2.0, hop_s: float = 0.5, min_active: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Windows over the grid with at least ``min_active`` speech: start samples and times.

    The windows are those of ``workbench.metrics.kernels.sync.windowed_offsets`` (the last one
    ends at the end of the grid); a window's time is the centroid of its active samples.

    Returns
    -------
    starts : np.ndarray of int, shape (W,)
    times : np.ndarray, shape (W,)
    """
    active = np.asarray(active, bool)
    n = len(active)
    win, hop = int(round(win_s * rate)), max(1, int(round(hop_s * rate)))
    starts = list(range(0, n - win + 1, hop)) if n >= win else []
    if n >= win and starts[-1] + win < n - hop // 2:
        starts.append(n - win)
    keep, times = [], []
    for s in starts:
        a = active[s : s + win]
        if float(np.mean(a)) < min_active:
            continue
        keep.append(s)
        times.append((s + float(np.mean(np.flatnonzero(a)))) / rate)
    return np.array(keep, int), np.array(times, float)


@dataclass(frozen=True)
class FaceLags:
    """Each face's whole-clip correlation with the speech, and how far the best face stands above chance."""

    peak: np.ndarray
    """(F,) correlation peak within the lag range (NaN: the face cannot be scored)."""
    lag_s: np.ndarray
    """(F,) lag of that peak, parabolic (+ = sound late)."""
    z_face: np.ndarray
    """(F,) each face's peak against its own circular-shift null; -inf when the peak sits on the
    edge of the lag range (the curve still rises beyond: no lag)."""
    z: float
    """The best face's peak against the null of the best face at each shift (selection-aware)."""
    p: float
    n_null: int


def face_lags(
    *,
    mouths: np.ndarray,
    audio: np.ndarray,
    rate: float,
    max_lag_s: float = 0.6,
    min_shift_s: float = 1.2,
    step_s: float = 0.1,
    sd_floor: float = 0.35,
    edge: int = 2,
    max_slope: float = 0.0,
    slope_step: float = 0.02,
) -> FaceLags:
    """Whole-clip lag and significance per face, and a selection-aware confidence over the faces.

    Parameters
    ----------
    mouths : np.ndarray, shape (F, n)
        Band-passed mouth signals (NaN where the face is not tracked).
    audio : np.ndarray, shape (n,)
        Band-passed speech envelope, zero outside voice activity.
    rate : float
        Grid rate (Hz).
    max_lag_s : float
        Lags searched, +- seconds.
    min_shift_s, step_s : float
        Null: circular shifts of the sound from ``min_shift_s`` to ``T - min_shift_s``.
    sd_floor : float
        The null's spread is at least ``sd_floor / sqrt(n_eff)``, ``n_eff`` = 2 x 6 Hz x seconds of
        speech (the independent samples of a 2-8 Hz signal). On a short clip the shifted peaks
        overlap in lag and are nearly equal, which would make any peak look significant. 0.35 lies
        between the median (0.51) and the 10th percentile (0.25) of the shifted peaks' spread
        measured on 39 face tracks (FINDINGS of issue 14, section 4d).
    edge : int
        A peak within this many grid samples of the lag range's edge is no lag.
    max_slope, slope_step : float
        Drifts (s/s) also searched for the z-scores: the sound is time-warped by each, and the
        peak and every null take their best drift (as ``sync.shift_null_z`` does); 0: none. The
        peaks and lags are those of the unwarped sound.

    Notes
    -----
    Per face this is ``workbench.metrics.kernels.sync.shift_null_z`` without drift: one circular
    cross-correlation by FFT of the mouth (mean removed where tracked, 0 elsewhere) with the
    speech, and the peak within +-``max_lag_s`` at every circular shift.
    """
    mouths = np.atleast_2d(np.asarray(mouths, float))
    n_faces, n = mouths.shape
    a0 = np.asarray(audio, float)[:n]
    if len(a0) < n:
        raise ParameterError("audio shorter than the mouth signals")
    w = int(round(max_lag_s * rate))
    lo = int(round(min_shift_s * rate))
    centres = np.arange(lo, n - lo + 1, max(1, int(round(step_s * rate))))
    peaks, lags, zf = np.full(n_faces, np.nan), np.full(n_faces, np.nan), np.full(n_faces, np.nan)
    maxes = []
    t = np.arange(n) / rate
    k_slope = int(round(max_slope / slope_step)) if max_slope > 0 else 0
    slopes = slope_step * np.arange(-k_slope, k_slope + 1)  # 0 exactly in the middle
    warped = [np.interp(t + b * (t - 0.5 * t[-1]), t, a0) if b else a0 for b in slopes]
    for f in range(n_faces):
        v = mouths[f]
        ok = np.isfinite(v) & np.isfinite(a0)
        if ok.sum() < 3:
            continue
        vv = np.where(ok, v - v[ok].mean(), 0.0)
        fv = np.conj(np.fft.rfft(vv, n))
        win_max = np.full(n, -np.inf)
        curve = None
        for b, ab in zip(slopes, warped, strict=True):
            aa = np.where(ok, ab - ab[ok].mean(), 0.0)
            den = np.sqrt(np.sum(vv**2) * np.sum(aa**2))
            if den <= 0:
                continue
            r = np.fft.irfft(fv * np.fft.rfft(aa, n), n) / den  # r[L] = sum v[t] a[t + L]
            ext = np.concatenate([r[-w:], r, r[: w + 1]]) if w else r
            win_max = np.maximum(win_max, np.lib.stride_tricks.sliding_window_view(ext, 2 * w + 1).max(axis=1)[:n])
            if b == 0:
                curve = ext[: 2 * w + 1]
        if curve is None:
            continue
        maxes.append(win_max)
        i = int(np.argmax(curve))
        pos, h = _parabolic(curve, i)
        peaks[f], lags[f] = h, (pos - w) / rate
        null = win_max[centres] if len(centres) else np.zeros(0)
        if not edge <= i <= 2 * w - edge:
            zf[f] = -np.inf
        elif len(null) >= 5 and null.std() > 1e-12:
            zf[f] = (win_max[0] - null.mean()) / null.std()
    if not maxes:
        return FaceLags(peaks, lags, zf, float("nan"), float("nan"), 0)
    best = np.max(np.stack(maxes), axis=0)
    null = best[centres] if len(centres) else np.zeros(0)
    if len(null) < 5 or null.std() <= 1e-12:
        return FaceLags(peaks, lags, zf, float("nan"), float("nan"), len(null))
    n_eff = max(1.0, 2.0 * 6.0 * float(np.sum(np.abs(a0) > 0)) / rate)
    sd = max(float(null.std()), sd_floor / np.sqrt(n_eff))
    z = float((best[0] - null.mean()) / sd)
    p = float((1 + np.sum(null >= best[0])) / (1 + len(null)))
    return FaceLags(peaks, lags, zf, z, p, len(null))


def window_evidence(
    *,
    mouths: np.ndarray,
    audio: np.ndarray,
    starts: np.ndarray,
    win: int,
    expected_s: np.ndarray,
    rate: float,
    max_lag_s: float = 0.6,
    guide_s: float = 0.12,
    min_face_share: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window and face: the correlation peak within ``guide_s`` of the face's expected lag, and its lag.

    Parameters
    ----------
    mouths : np.ndarray, shape (F, n)
    audio : np.ndarray, shape (n,)
    starts : np.ndarray of int, shape (W,)
    win : int
        Window length in grid samples.
    expected_s : np.ndarray, shape (W, F)
        Expected lag of each face in each window (s); NaN: the face is not scored there.
    rate, max_lag_s, guide_s : float
    min_face_share : float
        A face is scored in a window only when tracked on this share of it.

    Returns
    -------
    peak, lag_s : np.ndarray, shape (W, F)
        NaN where not scored. The correlation is the Pearson correlation over the window's
        tracked samples (``workbench.metrics.kernels.sync.lagged_ncc``), refined by a parabola.
    """
    mouths = np.atleast_2d(np.asarray(mouths, float))
    a = np.asarray(audio, float)
    n_faces = mouths.shape[0]
    big = int(round(max_lag_s * rate))
    g = int(round(guide_s * rate))
    peak = np.full((len(starts), n_faces), np.nan)
    lag = np.full((len(starts), n_faces), np.nan)
    for j, s in enumerate(starts):
        for f in range(n_faces):
            e = expected_s[j, f]
            x = mouths[f, s : s + win]
            if not np.isfinite(e) or len(x) < win or np.isfinite(x).mean() < min_face_share:
                continue
            r = _window_ncc(x, a, int(s), big)
            c = int(round(e * rate)) + big
            lo, hi = max(0, c - g), min(2 * big + 1, c + g + 1)
            if hi <= lo:
                continue
            seg = np.where(np.isfinite(r[lo:hi]), r[lo:hi], -np.inf)
            if not np.isfinite(seg).any():
                continue
            i = lo + int(np.argmax(seg))
            pos, h = _parabolic(np.where(np.isfinite(r), r, -np.inf), i)
            peak[j, f], lag[j, f] = h, (pos - big) / rate
    return peak, lag


def _window_ncc(x: np.ndarray, a: np.ndarray, start: int, max_lag: int) -> np.ndarray:
    """Pearson correlation of the window ``x`` (NaN = missing) with ``a`` at lags -max_lag..max_lag."""
    length = len(x)
    seg = np.full(length + 2 * max_lag, np.nan)
    lo = start - max_lag
    s0, s1 = max(lo, 0), min(lo + len(seg), len(a))
    if s1 > s0:
        seg[s0 - lo : s1 - lo] = a[s0:s1]
    y = np.lib.stride_tricks.sliding_window_view(seg, length)[: 2 * max_lag + 1]
    valid = np.isfinite(y) & np.isfinite(x)[None, :]
    cnt = valid.sum(axis=1)
    xv = np.where(valid, x[None, :], 0.0)
    yv = np.where(valid, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = xv.sum(axis=1) / cnt, yv.sum(axis=1) / cnt
        xc = np.where(valid, xv - mx[:, None], 0.0)
        yc = np.where(valid, yv - my[:, None], 0.0)
        r = (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    r[cnt < max(3, length // 2)] = np.nan
    return r


def viterbi_faces(
    score: np.ndarray,
    *,
    starts: np.ndarray,
    win: int,
    active: np.ndarray | None,
    nobody: float = 0.25,
    switch: float = 0.3,
    pause_switch: float = 0.05,
    margin: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Face per window by a Viterbi path over {each face, nobody}.

    Parameters
    ----------
    score : np.ndarray, shape (W, F)
        Evidence that face f speaks in window w (e.g. the correlation peak of
        :func:`window_evidence`); NaN = not scored (counts as -1).
    starts : np.ndarray of int, shape (W,)
    win : int
    active : np.ndarray of bool, shape (n,), optional
        Voice activity on the grid: a change of speaker between two overlapping windows costs
        ``switch`` when the speech runs on between their centres, else ``pause_switch``.
    nobody : float
        Score of "nobody speaks here" (a floor the speaker's evidence must beat).
    switch, pause_switch : float
        Costs of a change of state.
    margin : float
        A run's face must beat the runner-up by this much per window (summed over the run), else
        the run is undecided.

    Returns
    -------
    face : np.ndarray of int, shape (W,)
        The face per window; -1 for nobody or undecided.
    run_margin : np.ndarray, shape (W,)
        The run's margin per window over the runner-up (NaN for nobody).
    """
    score = np.atleast_2d(np.asarray(score, float))
    n_win, n_faces = score.shape
    if n_win == 0:
        return np.zeros(0, int), np.zeros(0)
    s = np.concatenate([np.where(np.isfinite(score), score, -1.0), np.full((n_win, 1), nobody)], axis=1)
    back = np.zeros((n_win, n_faces + 1), int)
    acc = s[0].copy()
    change = 1.0 - np.eye(n_faces + 1)
    for j in range(1, n_win):
        cost = pause_switch
        a0, a1 = starts[j - 1] + win // 2, starts[j] + win // 2
        if starts[j] - starts[j - 1] <= win // 2 and (active is None or (a1 > a0 and bool(np.all(active[a0:a1])))):
            cost = switch
        trans = acc[:, None] - cost * change
        back[j] = np.argmax(trans, axis=0)
        acc = trans[back[j], np.arange(n_faces + 1)] + s[j]
    path = np.zeros(n_win, int)
    path[-1] = int(np.argmax(acc))
    for j in range(n_win - 1, 0, -1):
        path[j - 1] = back[j, path[j]]
    face = np.where(path < n_faces, path, -1)
    run_margin = np.full(n_win, np.nan)
    j = 0
    while j < n_win:
        e = j
        while e + 1 < n_win and face[e + 1] == face[j]:
            e += 1
        if face[j] >= 0:
            sums = np.where(np.isfinite(score[j : e + 1]), score[j : e + 1], -1.0).sum(axis=0)
            others = np.delete(sums, face[j])
            m = (sums[face[j]] - (others.max() if len(others) else -np.inf)) / (e - j + 1)
            run_margin[j : e + 1] = m
            if m < margin:
                face[j : e + 1] = -1
        j = e + 1
    return face, run_margin


@dataclass
class Turn:
    """A run of speech given to one face."""

    face: int
    start: int
    """First grid sample."""
    end: int
    """One past the last grid sample."""
    windows: list[int] = field(default_factory=list)
    """The decided windows of this face whose centre lies in (or within half a window of) the turn."""


def label_samples(
    *, face: np.ndarray, starts: np.ndarray, win: int, active: np.ndarray, min_turn: int
) -> tuple[np.ndarray, list[Turn]]:
    """Speech samples labelled by the windows' faces, and the turns (runs of one face).

    Each active sample takes the face of the nearest decided window (by centre) that covers it;
    a run shorter than ``min_turn`` samples is left unlabelled. Pauses inside a run of one face
    belong to its turn.

    Returns
    -------
    label : np.ndarray of int, shape (n,)
        Face per grid sample, -1 for silence and undecided speech.
    turns : list of Turn
    """
    active = np.asarray(active, bool)
    n = len(active)
    label = np.full(n, -1)
    centres = starts + win / 2.0
    dec = np.flatnonzero(face >= 0)
    if len(dec):
        t = np.arange(n)
        if len(dec) > 1:
            nxt = np.clip(np.searchsorted(centres[dec], t), 1, len(dec) - 1)
            left, right = dec[nxt - 1], dec[nxt]
            near = np.where(np.abs(centres[left] - t) <= np.abs(centres[right] - t), left, right)
        else:
            near = np.full(n, dec[0])
        cover = (t >= starts[near]) & (t < starts[near] + win)
        label = np.where(cover, face[near], -1)
    label[~active] = -1
    runs: list[Turn] = []
    for i in (int(x) for x in np.flatnonzero(label >= 0)):
        if runs and runs[-1].face == label[i]:
            runs[-1].end = i + 1
        else:
            runs.append(Turn(int(label[i]), i, i + 1))
    turns = []
    for tr in runs:
        if tr.end - tr.start < min_turn:
            label[tr.start : tr.end] = -1
        else:
            turns.append(tr)
    # a run split only by a short dropped run of another face joins up again
    merged: list[Turn] = []
    for tr in turns:
        if merged and merged[-1].face == tr.face:
            merged[-1].end = tr.end
        else:
            merged.append(tr)
    for j in range(len(starts)):
        if face[j] < 0:
            continue
        mid = centres[j]
        for tr in merged:
            if tr.face == face[j] and tr.start - win / 4 <= mid <= tr.end + win / 4:
                tr.windows.append(j)
                break
    return label, merged


def window_activity(*, mar: np.ndarray, times: np.ndarray, starts: np.ndarray, win: int, rate: float, min_samples: int = 4) -> np.ndarray:
    """How much each face's mouth moves in each window: the spread (std) of its mouth aspect ratio.

    Parameters
    ----------
    mar : np.ndarray, shape (F, m)
        Mouth aspect ratio per face on the frames (NaN where not measured: the mesh runs on one
        frame in five).
    times : np.ndarray, shape (m,)
        The frames' times (s).
    starts : np.ndarray of int, shape (W,)
        Window starts on the grid; ``win`` their length, ``rate`` the grid rate.
    min_samples : int
        Fewer measured frames in a window give NaN.

    Returns
    -------
    np.ndarray, shape (W, F)

    Notes
    -----
    Landmarks see the lips themselves, so a mouth that opens and closes shows up whatever the
    pixels inside it (a dark moustache, bright teeth) do to the darkness signal; at 5 Hz the
    spread says *whether* the mouth moves in a window, not when (the syllable band would alias).
    """
    mar = np.atleast_2d(np.asarray(mar, float))
    t = np.asarray(times, float)
    out = np.full((len(starts), mar.shape[0]), np.nan)
    for j, s in enumerate(starts):
        inside = (t >= s / rate) & (t < (s + win) / rate)
        for f in range(mar.shape[0]):
            x = mar[f, inside]
            x = x[np.isfinite(x)]
            if len(x) >= min_samples:
                out[j, f] = float(np.std(x))
    return out


def quiet_mouths(activity: np.ndarray, *, ratio: float, floor: float) -> np.ndarray:
    """Mask (W, F) of faces whose mouth moves less than ``ratio`` times the most active face's in the
    window, where that one moves at least ``floor``: listeners, not the window's speaker."""
    act = np.where(np.isfinite(activity), activity, 0.0)
    top = act.max(axis=1, keepdims=True) if act.size else act
    return (top >= floor) & (act < ratio * top)
