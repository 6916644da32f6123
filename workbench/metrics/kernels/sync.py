"""Offset estimation between a picture signal and a sound signal.

Sign convention: a positive offset means the sound comes after the picture (audio late):
if ``audio(t) = video(t - d)`` the estimated offset is ``+d``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError

#: ITU-R BT.1359-1 detectability thresholds: audio at most 45 ms early, 125 ms late.
BT1359_LEAD_MS = 45.0
BT1359_LAG_MS = 125.0


def lagged_ncc(*, video: np.ndarray, audio: np.ndarray, start: int, length: int, max_lag: int) -> np.ndarray:
    """Normalised cross-correlation of a video window with lagged audio windows.

    Parameters
    ----------
    video, audio : np.ndarray, shape (n,)
        Signals on the same grid (NaN marks missing samples).
    start, length : int
        The video window is ``video[start:start + length]``.
    max_lag : int
        Lags ``-max_lag..max_lag`` samples; lag ``L`` compares with ``audio[start + L:...]``.

    Returns
    -------
    np.ndarray, shape (2 * max_lag + 1,)
        Pearson correlation per lag over the valid overlap; NaN where less than half the window
        overlaps valid samples.
    """
    n_lag = 2 * max_lag + 1
    x = np.asarray(video[start : start + length], dtype=np.float64)
    if len(x) < length:
        raise ParameterError("video window runs past the end of the signal")
    a = np.asarray(audio, dtype=np.float64)
    lo = start - max_lag
    seg = np.full(length + 2 * max_lag, np.nan)
    s0, s1 = max(lo, 0), min(lo + len(seg), len(a))
    if s1 > s0:
        seg[s0 - lo : s1 - lo] = a[s0:s1]
    y = np.lib.stride_tricks.sliding_window_view(seg, length)[:n_lag]
    valid = np.isfinite(y) & np.isfinite(x)[None, :]
    cnt = valid.sum(axis=1)
    xv = np.where(valid, x[None, :], 0.0)
    yv = np.where(valid, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = xv.sum(axis=1) / cnt
        my = yv.sum(axis=1) / cnt
        xc = np.where(valid, xv - mx[:, None], 0.0)
        yc = np.where(valid, yv - my[:, None], 0.0)
        r = (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    r[cnt < max(3, length // 2)] = np.nan
    return r


def parabolic_peak(r: np.ndarray, i: int) -> tuple[float, float]:
    """Sub-sample peak position and height by a parabola through three samples.

    Parameters
    ----------
    r : np.ndarray, shape (n,)
    i : int
        Index of the sampled maximum.

    Returns
    -------
    (float, float)
        Fractional index of the vertex (within ``i +- 0.5``) and its height.
    """
    if i <= 0 or i >= len(r) - 1 or not np.all(np.isfinite(r[i - 1 : i + 2])):
        return float(i), float(r[i])
    a, b, c = r[i - 1], r[i], r[i + 1]
    den = a - 2 * b + c
    if den >= 0:
        return float(i), float(b)
    d = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return i + d, float(b - 0.25 * (a - c) * d)


@dataclass(frozen=True)
class Peak:
    """The best lag of a correlation curve."""

    offset_s: float
    """Lag of the peak in seconds (+ = audio late)."""
    height: float
    """Correlation at the peak."""
    confidence: float
    """Peak minus the median of the curve (the SyncNet-style confidence)."""


def curve_peak(*, r: np.ndarray, rate: float, max_lag: int) -> Peak | None:
    """Offset of the maximum of a lag curve, refined by parabolic interpolation.

    Parameters
    ----------
    r : np.ndarray, shape (2 * max_lag + 1,)
        Correlation per lag (lag ``-max_lag`` first).
    rate : float
        Grid rate in Hz.
    max_lag : int

    Returns
    -------
    Peak or None
        None when the curve has no finite value.
    """
    if not np.isfinite(r).any():
        return None
    rr = np.where(np.isfinite(r), r, -np.inf)
    i = int(np.argmax(rr))
    pos, h = parabolic_peak(rr, i)
    return Peak(offset_s=(pos - max_lag) / rate, height=h, confidence=float(h - np.nanmedian(r)))


@dataclass(frozen=True)
class WindowedOffsets:
    """Per-window offsets of a sliding-window cross-correlation."""

    times: np.ndarray
    """Window times in seconds, shape (m,): the centroid of the active samples (the window centre
    without an activity mask), so windows that see the same utterance carry the same time."""
    offsets_s: np.ndarray
    """Offset per window in seconds (+ = audio late), shape (m,)."""
    confidence: np.ndarray
    """Peak minus median of each window's curve, shape (m,)."""
    curves: np.ndarray
    """Correlation per window and lag, shape (m, 2 * max_lag + 1)."""
    rate: float
    max_lag: int


def windowed_offsets(
    *,
    video: np.ndarray,
    audio: np.ndarray,
    rate: float,
    active: np.ndarray | None = None,
    win_s: float = 2.0,
    hop_s: float = 0.5,
    max_lag_s: float = 0.6,
    min_active: float = 0.5,
) -> WindowedOffsets:
    """Sliding-window offset estimation by normalised cross-correlation.

    Parameters
    ----------
    video, audio : np.ndarray, shape (n,)
        Picture and sound signals on the same grid (e.g. mouth opening and speech envelope,
        both band-passed); NaN marks missing picture samples.
    rate : float
        Grid rate in Hz.
    active : np.ndarray of bool, shape (n,), optional
        Where the sound is usable (speech); windows with less than ``min_active`` of it are
        skipped.
    win_s, hop_s : float
        Window length and hop in seconds (2 s / 0.5 s).
    max_lag_s : float
        Lag range +- seconds (600 ms, SyncNet's +-15 frames at 25 fps).
    min_active : float
        Minimum active share per window.

    Returns
    -------
    WindowedOffsets
        One row per usable window; the offset is the parabolic-interpolated peak of the lag
        curve and the confidence its height above the curve's median.
    """
    n = min(len(video), len(audio))
    win, hop, max_lag = int(round(win_s * rate)), max(1, int(round(hop_s * rate))), int(round(max_lag_s * rate))
    n_lag = 2 * max_lag + 1
    rows: list[tuple[float, float, float, np.ndarray]] = []
    starts = list(range(0, n - win + 1, hop)) if n >= win else []
    if n >= win and starts[-1] + win < n - hop // 2:
        starts.append(n - win)
    for s in starts:
        if active is not None and float(np.mean(active[s : s + win])) < min_active:
            continue
        if np.isfinite(video[s : s + win]).mean() < 0.8:
            continue
        r = lagged_ncc(video=video, audio=audio, start=s, length=win, max_lag=max_lag)
        pk = curve_peak(r=r, rate=rate, max_lag=max_lag)
        if pk is None:
            continue
        if active is not None:
            t_mid = (s + float(np.mean(np.flatnonzero(active[s : s + win])))) / rate
        else:
            t_mid = (s + (win - 1) / 2) / rate
        rows.append((t_mid, pk.offset_s, pk.confidence, r))
    if not rows:
        return WindowedOffsets(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, n_lag)), rate, max_lag)
    t, o, c, curves = zip(*rows, strict=True)
    return WindowedOffsets(np.array(t), np.array(o), np.array(c), np.stack(curves), rate, max_lag)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted median (the lower one at an exact half).

    Parameters
    ----------
    values, weights : np.ndarray, shape (n,)
        Weights must be non-negative with a positive sum.

    Returns
    -------
    float
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if len(v) == 0 or w.sum() <= 0:
        raise ParameterError("weighted median of an empty or zero-weight set")
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cw, 0.5 * cw[-1])])


def theil_sen(*, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted Theil-Sen line: median of pairwise slopes.

    Parameters
    ----------
    x, y : np.ndarray, shape (n,)
        Points (n >= 2 with at least two distinct x).
    weights : np.ndarray, shape (n,), optional
        Point weights; a pair weighs ``w_i * w_j`` (Jaeckel's weighted median of slopes).

    Returns
    -------
    slope, intercept : float
        The intercept is the weighted median of ``y - slope * x``.

    Notes
    -----
    Theil (1950), Sen (1968): breakdown point 29 %, so a minority of wrong windows (a side
    peak of the correlation) does not tilt the line.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = np.abs(dx) > 1e-12
    if not ok.any():
        raise ParameterError("Theil-Sen needs at least two distinct x values")
    slopes = (y[j] - y[i])[ok] / dx[ok]
    slope = weighted_median(slopes, (w[i] * w[j])[ok])
    return slope, weighted_median(y - slope * x, w)


def bt1359_share(*, offsets_ms: np.ndarray, lead_ms: float = BT1359_LEAD_MS, lag_ms: float = BT1359_LAG_MS) -> float:
    """Share of offsets inside the ITU-R BT.1359 detectability window.

    Parameters
    ----------
    offsets_ms : np.ndarray, shape (n,)
        Offsets in ms (+ = audio late).
    lead_ms, lag_ms : float
        Audio may be at most ``lead_ms`` early and ``lag_ms`` late (45 / 125 ms).

    Returns
    -------
    float
        Share in [0, 1]; NaN for an empty input.
    """
    o = np.asarray(offsets_ms, dtype=np.float64)
    if len(o) == 0:
        return float("nan")
    return float(np.mean((o >= -lead_ms) & (o <= lag_ms)))


@dataclass(frozen=True)
class LineFit:
    """A straight offset path ``o(t) = offset_s + slope * (t - t_ref)``."""

    offset_s: float
    """Offset at ``t_ref`` in seconds."""
    slope: float
    """Drift in seconds per second."""
    t_ref: float
    """Reference time (mean window time)."""
    score: float
    """Mean correlation along the line."""
    runner_up: float
    """Best score of a line whose offset at ``t_ref`` is more than ``exclusion_s`` away."""


def guided_peaks(
    *, curves: np.ndarray, expected_s: np.ndarray, rate: float, max_lag: int, radius_s: float = 0.08
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window peak nearest an expected offset (the local maximum within ``radius_s``).

    Parameters
    ----------
    curves : np.ndarray, shape (m, 2 * max_lag + 1)
    expected_s : np.ndarray, shape (m,)
        Expected offset per window in seconds (e.g. from :func:`warped_line`).
    rate : float
    max_lag : int
    radius_s : float

    Returns
    -------
    offsets_s : np.ndarray, shape (m,)
        Parabolic-refined peak per window.
    heights : np.ndarray, shape (m,)
        Correlation at that peak.
    """
    m = len(curves)
    off = np.full(m, np.nan)
    hgt = np.full(m, np.nan)
    rad = int(round(radius_s * rate))
    for j in range(m):
        c = int(round(expected_s[j] * rate)) + max_lag
        lo, hi = max(0, c - rad), min(curves.shape[1], c + rad + 1)
        if hi <= lo:
            continue
        seg = np.where(np.isfinite(curves[j, lo:hi]), curves[j, lo:hi], -np.inf)
        if not np.isfinite(seg).any():
            continue
        i = lo + int(np.argmax(seg))
        pos, h = parabolic_peak(np.where(np.isfinite(curves[j]), curves[j], -np.inf), i)
        off[j], hgt[j] = (pos - max_lag) / rate, h
    return off, hgt


def warped_line(
    *,
    video: np.ndarray,
    audio: np.ndarray,
    rate: float,
    mask: np.ndarray | None = None,
    max_lag_s: float = 0.6,
    max_slope: float = 0.06,
    slope_step: float = 0.002,
    exclusion_s: float = 0.1,
) -> LineFit:
    """Offset line ``o(t) = a + b (t - t_ref)`` maximising the correlation of picture and warped sound.

    Parameters
    ----------
    video, audio : np.ndarray, shape (n,)
        Picture and sound signals on the same grid (NaN marks missing picture samples).
    rate : float
        Grid rate in Hz.
    mask : np.ndarray of bool, shape (n,), optional
        Samples of ``video`` that take part; all finite ones by default.
    max_lag_s : float
        Offsets ``a`` searched, +- seconds, on the grid step (then parabolic interpolation).
    max_slope, slope_step : float
        Drifts ``b`` searched, in s/s.
    exclusion_s : float
        Lines whose offset at ``t_ref`` is within this of the best are not runners-up.

    Returns
    -------
    LineFit
        ``score`` is the Pearson correlation of ``video(t)`` with ``audio(t + o(t))`` over the
        taking-part samples (and the sound's extent); ``t_ref`` is their mean time.

    Notes
    -----
    The whole clip votes for one (offset, drift) pair, as in a time-warped cross-correlation:
    unlike a line through per-window peaks it is not misled by windows that share one utterance
    or by the smearing of a fast drift inside a window. Per drift, the sound is warped once and
    all lags come from running sums (one correlation per sum).
    """
    v = np.asarray(video, dtype=np.float64)
    a = np.asarray(audio, dtype=np.float64)
    n = min(len(v), len(a))
    v = v[:n]
    sel = np.isfinite(v)
    if mask is not None:
        sel &= np.asarray(mask[:n], dtype=bool)
    if sel.sum() < 3:
        raise ParameterError("too few samples for a line fit")
    s = sel.astype(np.float64)
    x = np.where(sel, v, 0.0)
    sx_, sxx_ = s * x, s * x * x
    t = np.arange(n) / rate
    t_ref = float(t[sel].mean())
    max_lag = int(round(max_lag_s * rate))
    slopes = np.arange(-max_slope, max_slope + slope_step / 2, slope_step) if max_slope > 0 else np.zeros(1)
    grid_t = np.arange(len(a)) / rate
    score = np.full((len(slopes), 2 * max_lag + 1), -np.inf)
    pad = np.zeros(max_lag)
    for k, b in enumerate(slopes):
        # the sound warped by drift b: pairing v(t) with warped(t + L) gives o(t) = L (1 + b) + b (t - t_ref)
        u = t + b * (t - t_ref)
        ok = (u >= 0) & (u <= grid_t[-1])
        y = np.where(ok, np.interp(u, grid_t, a), 0.0)
        # running sums over every lag at once: entry L of correlate(padded, w) is sum_t padded[t + L] w[t]
        yp = np.concatenate([pad, y, pad])
        y2p = np.concatenate([pad, y * y, pad])
        okp = np.concatenate([pad, ok.astype(np.float64), pad])
        cnt, sx, sxx = (np.correlate(okp, w, "valid") for w in (s, sx_, sxx_))
        sy, sxy = np.correlate(yp, s, "valid"), np.correlate(yp, sx_, "valid")
        syy = np.correlate(y2p, s, "valid")
        with np.errstate(invalid="ignore", divide="ignore"):
            num = sxy - sx * sy / cnt
            den = np.sqrt((sxx - sx * sx / cnt) * (syy - sy * sy / cnt))
            r = num / den
        r[(cnt < 0.75 * s.sum()) | ~np.isfinite(r)] = -np.inf
        score[k] = r
    k, i = (int(x) for x in np.unravel_index(int(np.argmax(score)), score.shape))
    row = score[k]
    pos_i, best = parabolic_peak(row, int(i)) if np.isfinite(row).sum() >= 3 else (float(i), float(row[i]))
    slope_k = float(k)
    if 0 < k < len(slopes) - 1 and np.isfinite(score[k - 1 : k + 2, i]).all():
        slope_k = parabolic_peak(score[:, i], int(k))[0]
    far = np.abs(np.arange(score.shape[1]) - i) > exclusion_s * rate
    runner = float(np.max(score[:, far])) if far.any() else -np.inf
    slope = float(slopes[0] + slope_k * slope_step) if len(slopes) > 1 else 0.0
    offset = (pos_i - max_lag) / rate * (1.0 + slope)
    return LineFit(offset_s=offset, slope=slope, t_ref=t_ref, score=best, runner_up=runner)


@dataclass(frozen=True)
class ShiftNull:
    """How the in-window correlation peak compares with the same peak at far circular shifts."""

    peak: float
    """Largest correlation within +-max_lag of zero."""
    z: float
    """(peak - mean of null peaks) / their standard deviation; NaN without enough nulls."""
    p: float
    """(1 + #null peaks >= peak) / (1 + #nulls)."""
    n_null: int


def shift_null_z(
    *,
    video: np.ndarray,
    audio: np.ndarray,
    rate: float,
    max_lag_s: float = 0.6,
    min_shift_s: float = 1.2,
    step_s: float = 0.1,
    mask: np.ndarray | None = None,
    max_slope: float = 0.0,
    slope_step: float = 0.01,
) -> ShiftNull:
    """Significance of a lag-window correlation peak against circular-shift nulls.

    Parameters
    ----------
    video, audio : np.ndarray, shape (n,)
        Signals on one grid (NaN in ``video`` = missing).
    rate : float
        Grid rate in Hz.
    max_lag_s : float
        The peak is the maximum over lags ``|L| <= max_lag_s``.
    min_shift_s, step_s : float
        Null windows are centred on circular shifts ``min_shift_s .. T - min_shift_s`` every ``step_s``.
    mask : np.ndarray of bool, shape (n,), optional
        Samples that take part (others set to the mean).
    max_slope, slope_step : float
        Drifts (s/s) also searched: the sound is time-warped by each before correlating, and
        the peak and every null take their best drift, so the search stays fair (0: none).

    Returns
    -------
    ShiftNull

    Notes
    -----
    The same maximum over the same number of lags (and drifts) is taken at every shift, so the statistic
    is fair to the search: a sound unrelated to the picture peaks about as high near lag 0 as
    anywhere else (z near 0), the true sound stands out. One circular cross-correlation by FFT.
    Null windows overlap, so z is a descriptive score, not a calibrated test; on clips shorter
    than ~5 s there are few independent nulls.
    """
    n = min(len(video), len(audio))
    v = np.asarray(video[:n], dtype=np.float64)
    a0 = np.asarray(audio[:n], dtype=np.float64)
    ok = np.isfinite(v) & np.isfinite(a0)
    if mask is not None:
        ok &= np.asarray(mask[:n], dtype=bool)
    if ok.sum() < 3:
        return ShiftNull(float("nan"), float("nan"), float("nan"), 0)
    v = np.where(ok, v - v[ok].mean(), 0.0)
    fv = np.conj(np.fft.rfft(v, n))
    w = int(round(max_lag_s * rate))
    t = np.arange(n) / rate
    slopes = np.arange(-max_slope, max_slope + slope_step / 2, slope_step) if max_slope > 0 else np.zeros(1)
    win_max = np.full(n, -np.inf)
    for b in slopes:
        a = np.interp(t + b * (t - 0.5 * t[-1]), t, a0) if b else a0
        a = np.where(ok, a - a[ok].mean(), 0.0)
        den = np.sqrt(np.sum(v**2) * np.sum(a**2))
        if den <= 0:
            continue
        r = np.fft.irfft(fv * np.fft.rfft(a, n), n) / den  # r[L] = sum v[t] a[t + L]
        ext = np.concatenate([r[-w:], r, r[: w + 1]]) if w else r
        win_max = np.maximum(win_max, np.lib.stride_tricks.sliding_window_view(ext, 2 * w + 1).max(axis=1)[:n])
    if not np.isfinite(win_max[0]):
        return ShiftNull(float("nan"), float("nan"), float("nan"), 0)
    peak = float(win_max[0])
    lo = int(round(min_shift_s * rate))
    centres = np.arange(lo, n - lo + 1, max(1, int(round(step_s * rate))))
    null = win_max[centres] if len(centres) else np.zeros(0)
    if len(null) < 5 or null.std() <= 1e-12:
        return ShiftNull(peak, float("nan"), float("nan"), len(null))
    return ShiftNull(
        peak=peak,
        z=float((peak - null.mean()) / null.std()),
        p=float((1 + np.sum(null >= peak)) / (1 + len(null))),
        n_null=len(null),
    )
