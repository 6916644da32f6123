"""Reverberation kernels: Schroeder decay curves, RT60/DRR of an impulse response, blind RT60.

Ground truth from a measured or simulated room impulse response (RIR) uses the classical
backward integration (Schroeder 1965) with a T20 line fit (ISO 3382-2). The blind estimator
applies the same recipe to *free decays* found in the clip itself: places where the sound
stops (a speech offset, the tail of an impact) and the level then falls by at least
``min_drop_db`` without a new onset. Each decay is integrated backwards in octave bands
(500 Hz, 1 kHz, 2 kHz) with the noise power subtracted and the truncated tail added back
(Lundeby-style compensation) and fitted on -5..-25 dB (shortened to -5..-12 dB at worst
when the noise floor comes first); a low quantile (30th percentile) over decays is the
estimate, since a source can only slow a room's decay down. A second estimator, the maximum-likelihood decay-rate fit of Ratnam et al.
(JASA 2003) with the sub-frame pre-selection and histogram statistic of Löllmann et al.
(IWAENC 2010), is :func:`rt60_ml`.

References
----------
- M. R. Schroeder, "New method of measuring reverberation time", JASA 37(3), 1965.
- ISO 3382-2:2008, Acoustics - Measurement of room acoustic parameters - Part 2.
- A. Lundeby et al., "Uncertainties of measurements in room acoustics", Acustica 81, 1995.
- R. Ratnam et al., "Blind estimation of reverberation time", JASA 114(5), 2003.
- H. W. Löllmann et al., "An improved algorithm for blind reverberation time estimation",
  IWAENC 2010.
- J. Eaton et al., "Estimation of room acoustic parameters: the ACE Challenge",
  IEEE/ACM TASLP 24(10), 2016.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal

from workbench.errors import ParameterError

#: Octave-band centres (Hz) used for mid-frequency reverberation time.
MID_BANDS: tuple[float, ...] = (500.0, 1000.0, 2000.0)

_TINY = 1e-20


@dataclass(frozen=True)
class Decay:
    """One free decay found in a signal."""

    start_s: float
    end_s: float
    drop_db: float
    """Level drop from the start of the decay to its end (detection envelope)."""
    rt60_s: float
    """Median over the bands that could be fitted."""
    band_rt60_s: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Rt60Estimate:
    """A blind reverberation-time estimate.

    ``rt60_s`` is None when too few decays were found (the caller abstains).
    """

    rt60_s: float | None
    n_decays: int
    spread: float
    """Inter-quartile range of the per-decay estimates, in seconds (0 with fewer than 2)."""
    decays: tuple[Decay, ...] = field(default=())
    method: str = "schroeder"


def _check_audio(y: np.ndarray, sr: int, *, min_s: float = 0.05) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"y must be 1-D (mono), got shape {y.shape}")
    if sr <= 0:
        raise ParameterError(f"sr must be positive, got {sr}")
    if len(y) < int(min_s * sr):
        raise ParameterError(f"signal too short: {len(y)} samples at {sr} Hz")
    return y


@lru_cache(maxsize=64)
def _octave_sos(fc: float, sr: int, order: int) -> np.ndarray:
    hi = min(fc * np.sqrt(2.0), 0.45 * sr)
    return signal.butter(order, [fc / np.sqrt(2.0), hi], btype="bandpass", fs=sr, output="sos")


def octave_band(*, y: np.ndarray, sr: int, fc: float, order: int = 3) -> np.ndarray:
    """Octave-band filtered signal (Butterworth band-pass, causal).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    fc : float
        Band centre in Hz (edges at ``fc / sqrt 2`` and ``fc * sqrt 2``).
    order : int
        Butterworth order per edge.

    Returns
    -------
    np.ndarray, shape (n,)
    """
    if not 0 < fc / np.sqrt(2.0) < sr / 2:
        raise ParameterError(f"band centre {fc} Hz does not fit sample rate {sr}")
    return signal.sosfilt(_octave_sos(float(fc), int(sr), int(order)), np.asarray(y, dtype=np.float64))


def frame_power(*, y: np.ndarray, hop: int) -> np.ndarray:
    """Mean power in consecutive non-overlapping frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    hop : int
        Frame length in samples.

    Returns
    -------
    np.ndarray, shape (n // hop,)
    """
    n = len(y) // hop
    return (np.asarray(y[: n * hop], dtype=np.float64) ** 2).reshape(n, hop).mean(axis=1)


def schroeder_decay(*, rir_or_segment: np.ndarray, noise_power: float = 0.0, tail_energy: float = 0.0) -> np.ndarray:
    """Energy decay curve by backward integration (Schroeder 1965), in dB re its start.

    Parameters
    ----------
    rir_or_segment : np.ndarray, shape (n,)
        An impulse response, or a segment of a signal that starts where a free decay starts.
    noise_power : float
        Power (mean square per sample) of a stationary noise to subtract before integrating
        (Chu's noise compensation).
    tail_energy : float
        Energy beyond the end of the segment to add back (Lundeby's truncation compensation).

    Returns
    -------
    np.ndarray, shape (n,)
        ``10 log10(E(n) / E(0))`` with ``E(n) = sum_{m >= n} (x[m]^2 - noise) + tail``;
        -inf-safe (values are floored at -200 dB).
    """
    x = np.asarray(rir_or_segment, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ParameterError(f"rir_or_segment must be a non-empty 1-D array, got shape {x.shape}")
    e = x**2 - noise_power
    edc = np.cumsum(e[::-1])[::-1] + tail_energy
    edc = np.maximum(edc, 0.0)
    if edc[0] <= 0:
        return np.full(len(x), -200.0)
    return np.maximum(10.0 * np.log10(np.maximum(edc / edc[0], _TINY)), -200.0)


def fit_decay_rate(*, edc_db: np.ndarray, sr: int, hi_db: float = -5.0, lo_db: float = -25.0) -> float | None:
    """Decay rate (dB/s, negative) of a least-squares line through an EDC between two levels.

    Parameters
    ----------
    edc_db : np.ndarray, shape (n,)
        Energy decay curve in dB re its start (from :func:`schroeder_decay`).
    sr : int
        Samples per second of ``edc_db``.
    hi_db, lo_db : float
        Fit range, e.g. -5..-25 dB (T20) or -5..-35 dB (T30), ISO 3382-2.

    Returns
    -------
    float or None
        The slope, or None when the curve does not span the range.
    """
    below_hi = np.flatnonzero(edc_db <= hi_db)
    below_lo = np.flatnonzero(edc_db <= lo_db)
    if len(below_hi) == 0 or len(below_lo) == 0:
        return None
    i0, i1 = int(below_hi[0]), int(below_lo[0])
    if i1 - i0 < 4:
        return None
    t = np.arange(i0, i1 + 1) / sr
    slope = float(np.polyfit(t, edc_db[i0 : i1 + 1], 1)[0])
    return slope if slope < 0 else None


def _rt_from_slope(slope_db_s: float | None) -> float | None:
    return None if slope_db_s is None or slope_db_s >= 0 else -60.0 / slope_db_s


def _tail_energy(seg: np.ndarray, noise: float, slope_db_s: float, sr: int) -> float:
    """Energy of an exponential continuation of ``seg`` beyond its end (in samples x power)."""
    n = max(1, int(0.01 * sr))
    p_end = max(float(np.mean(seg[-n:] ** 2)) - noise, 0.0)
    tau_s = 10.0 / (np.log(10.0) * -slope_db_s)
    return p_end * tau_s * sr


def _lundeby_end(h2: np.ndarray, sr: int, noise: float) -> int:
    """Index where the smoothed decay of ``h2`` meets the noise floor (simplified Lundeby)."""
    if noise <= 0:
        nz = np.flatnonzero(h2 > 0)
        return int(nz[-1]) + 1 if len(nz) else len(h2)
    hop = max(1, int(0.01 * sr))
    p = frame_power(y=np.sqrt(h2), hop=hop)
    if len(p) < 4:
        return len(h2)
    lev = 10 * np.log10(p + _TINY)
    floor = 10 * np.log10(noise)
    top = lev.max()
    # fit the decay between the peak -5 dB and 10 dB above the floor, then intersect with the floor
    ipk = int(np.argmax(lev))
    idx = np.arange(ipk, len(lev))
    sel = idx[(lev[idx] <= top - 5) & (lev[idx] >= floor + 10)]
    if len(sel) < 3:
        return len(h2)
    m, b = np.polyfit(sel, lev[sel], 1)
    if m >= 0:
        return len(h2)
    cross = (floor - b) / m
    return int(np.clip(cross * hop, hop, len(h2)))


def rt60_from_rir(
    *,
    h: np.ndarray,
    sr: int,
    bands: tuple[float, ...] | None = MID_BANDS,
    fit_db: tuple[float, float] = (-5.0, -25.0),
) -> float:
    """Reverberation time of an impulse response (Schroeder integration, ISO 3382-2 line fit).

    Parameters
    ----------
    h : np.ndarray, shape (n,)
        Impulse response (first channel if it was multichannel).
    sr : int
    bands : tuple of float or None
        Octave-band centres to average (default 500/1k/2k Hz, the mid-frequency RT); None for
        broadband.
    fit_db : (float, float)
        Fit range: (-5, -25) is T20, (-5, -35) T30.

    Returns
    -------
    float
        RT60 in seconds (mean over the bands that span the fit range); NaN when none does.

    Notes
    -----
    The curve starts at the direct-sound peak. The noise floor is the mean power of the last
    10 % of the response; it is subtracted, the integration is truncated where the decay meets
    it and the truncated tail is added back (Lundeby et al. 1995, simplified).
    """
    h = _check_audio(h, sr, min_s=0.01)
    start = max(0, int(np.argmax(np.abs(h))) - int(0.001 * sr))
    rts = []
    for fc in bands if bands else (None,):
        x = h if fc is None else octave_band(y=h, sr=sr, fc=fc)
        x = x[start:]
        tail = x[int(0.9 * len(x)) :]
        noise = float(np.mean(tail**2)) if len(tail) else 0.0
        end = _lundeby_end(x**2, sr, noise)
        rt = _fit_segment(x[:end], noise, sr, fit_db[0], fit_db[1])
        if rt is not None:
            rts.append(rt)
    return float(np.mean(rts)) if rts else float("nan")


def drr_from_rir(*, h: np.ndarray, sr: int, direct_ms: float = 2.5) -> float:
    """Direct-to-reverberant ratio of an impulse response, in dB.

    Parameters
    ----------
    h : np.ndarray, shape (n,)
    sr : int
    direct_ms : float
        Half-width of the window around the direct-sound peak counted as direct sound.

    Returns
    -------
    float
        ``10 log10(E_direct / E_rest)``.
    """
    h = _check_audio(h, sr, min_s=0.005)
    pk = int(np.argmax(np.abs(h)))
    w = int(round(direct_ms * 1e-3 * sr))
    lo, hi = max(0, pk - w), min(len(h), pk + w + 1)
    e = h**2
    direct = float(e[lo:hi].sum())
    rest = float(e[hi:].sum())
    return float(10 * np.log10(direct / max(rest, _TINY)))


def clarity_from_rir(*, h: np.ndarray, sr: int, early_ms: float = 50.0) -> float:
    """Clarity C50 (or C80) of an impulse response: early over late energy in dB (ISO 3382-1).

    Parameters
    ----------
    h : np.ndarray, shape (n,)
    sr : int
    early_ms : float
        Boundary between early and late energy after the direct sound.

    Returns
    -------
    float
    """
    h = _check_audio(h, sr, min_s=0.005)
    start = max(0, int(np.argmax(np.abs(h))) - int(0.001 * sr))
    e = h[start:] ** 2
    k = int(early_ms * 1e-3 * sr)
    return float(10 * np.log10(e[:k].sum() / max(float(e[k:].sum()), _TINY)))


def _smooth_db(p: np.ndarray, k: int) -> np.ndarray:
    if k > 1:
        p = np.convolve(p, np.ones(k) / k, mode="same")
    return 10 * np.log10(p + _TINY)


def find_free_decays(
    *,
    level_db: np.ndarray,
    floor_db: float,
    min_drop_db: float = 20.0,
    rise_tol_db: float = 3.0,
    peak_halfwidth: int = 5,
    floor_margin_db: float = 3.0,
    min_frames: int = 4,
) -> list[tuple[int, int]]:
    """Free decays in a frame-level envelope: a local peak followed by a fall with no new onset.

    Parameters
    ----------
    level_db : np.ndarray, shape (n_frames,)
        Smoothed frame level in dB.
    floor_db : float
        Noise-floor level in dB (same scale); a decay ends ``floor_margin_db`` above it.
    min_drop_db : float
        Least fall from the peak to the end of the decay.
    rise_tol_db : float
        A rise of more than this above the running minimum is a new onset and ends the decay.
    peak_halfwidth : int
        The start must be the maximum within this many frames on either side.
    floor_margin_db : float
    min_frames : int
        Shortest decay kept, in frames.

    Returns
    -------
    list of (start, end)
        Frame indices, ``end`` exclusive.
    """
    lev = np.asarray(level_db, dtype=np.float64)
    n = len(lev)
    out: list[tuple[int, int]] = []
    i = 0
    stop_at = floor_db + floor_margin_db
    while i < n - 1:
        lo, hi = max(0, i - peak_halfwidth), min(n, i + peak_halfwidth + 1)
        if lev[i] < lev[lo:hi].max() or lev[i] - stop_at < min_drop_db:
            i += 1
            continue
        j, run_min = i, lev[i]
        while j + 1 < n and lev[j + 1] <= run_min + rise_tol_db and run_min > stop_at:
            j += 1
            run_min = min(run_min, lev[j])
        end = i + int(np.argmin(lev[i : j + 1]))
        if lev[i] - lev[end] >= min_drop_db and end - i >= min_frames:
            out.append((i, end + 1))
        i = max(j, i + 1)
    return out


def rt60_blind(
    *,
    y: np.ndarray,
    sr: int,
    bands: tuple[float, ...] = MID_BANDS,
    min_drop_db: float = 15.0,
    fit_db: tuple[float, float] = (-5.0, -25.0),
    min_fit_db: float = 12.0,
    min_decays: int = 3,
    frame_s: float = 0.01,
    floor_percentile: float = 2.0,
    quantile: float = 0.3,
) -> Rt60Estimate:
    """Blind RT60 from free decays of a reverberant signal (speech offsets, impact tails).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
    bands : tuple of float
        Octave bands analysed; each decay's RT is the median over the bands that fit.
    min_drop_db : float
        Least level drop (peak to end) for a decay to count.
    fit_db : (float, float)
        Fit range on the decay curve (T20: -5..-25 dB). When the noise floor comes first
        the lower end is raised to the decay's drop minus 2 dB, but a band whose fit would
        end above ``-min_fit_db`` is skipped.
    min_fit_db : float
    min_decays : int
        Fewer decays than this: ``rt60_s`` is None (abstain).
    frame_s : float
        Envelope frame length.
    floor_percentile : float
        Percentile of the frame powers taken as the noise floor (per band). Low, because in a
        live room with short pauses the quieter frames still hold reverberant tails.
    quantile : float
        Quantile of the per-decay estimates reported. A decay observed in a room cannot be
        faster than the room's own decay (the source only slows it down), so a lower quantile
        than the median is the less biased statistic (cf. the order statistics of Löllmann
        et al. 2010).

    Returns
    -------
    Rt60Estimate
        The estimate, the inter-quartile range over decays and the decays themselves.

    Notes
    -----
    Each decay segment of each band is integrated backwards (Schroeder 1965) with the band's
    noise power subtracted; the energy beyond the segment end is added back assuming the
    fitted exponential (two iterations), then the line fit gives ``RT60 = -60 / slope``.
    """
    y = _check_audio(y, sr, min_s=0.2)
    hop = max(1, int(round(frame_s * sr)))
    xb = [octave_band(y=y, sr=sr, fc=fc) for fc in bands]
    pb = [frame_power(y=x, hop=hop) for x in xb]
    noise = [float(np.percentile(p, floor_percentile)) for p in pb]
    lev = _smooth_db(np.sum(pb, axis=0), 3)
    floor_db = float(np.percentile(lev, floor_percentile))
    decays: list[Decay] = []
    for f0, f1 in find_free_decays(level_db=lev, floor_db=floor_db, min_drop_db=min_drop_db):
        s0, s1 = f0 * hop, min(len(y), f1 * hop)
        drop = float(lev[f0] - lev[f1 - 1])
        band_rts: list[float | None] = []
        for x, p, nz in zip(xb, pb, noise, strict=True):
            band_range = 10 * np.log10((p[f0] + _TINY) / (nz + _TINY))
            lo_db = max(fit_db[1], -(min(band_range, drop) - 2.0))
            band_rts.append(_fit_segment(x[s0:s1], nz, sr, fit_db[0], lo_db) if -lo_db >= min_fit_db else None)
        ok = [r for r in band_rts if r is not None]
        if ok:
            decays.append(Decay(s0 / sr, s1 / sr, drop, float(np.median(ok)), tuple(band_rts)))
    rts = np.array([d.rt60_s for d in decays])
    spread = float(np.subtract(*np.percentile(rts, [75, 25]))) if len(rts) > 1 else 0.0
    value = float(np.quantile(rts, quantile)) if len(rts) >= min_decays else None
    return Rt60Estimate(rt60_s=value, n_decays=len(decays), spread=spread, decays=tuple(decays))


def _fit_segment(seg: np.ndarray, noise: float, sr: int, hi_db: float, lo_db: float) -> float | None:
    """RT60 of one decay segment: noise-compensated Schroeder curve, tail added back, line fit."""
    slope = fit_decay_rate(
        edc_db=schroeder_decay(rir_or_segment=seg, noise_power=noise), sr=sr, hi_db=hi_db, lo_db=lo_db
    )
    if slope is None:
        return None
    for _ in range(2):
        edc = schroeder_decay(rir_or_segment=seg, noise_power=noise, tail_energy=_tail_energy(seg, noise, slope, sr))
        slope = fit_decay_rate(edc_db=edc, sr=sr, hi_db=hi_db, lo_db=lo_db) or slope
    return _rt_from_slope(slope)


def impulsive_onsets(
    *,
    y: np.ndarray,
    sr: int,
    min_rise_db: float = 15.0,
    min_fall_db: float = 6.0,
    hop_s: float = 0.005,
    refractory_s: float = 0.1,
) -> np.ndarray:
    """Times of impulsive onsets: a fast rise from the preceding level, then a quick fall.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    min_rise_db : float
        The peak frame must be this far above the median level of the preceding 50 ms.
    min_fall_db : float
        The level 20-60 ms after the peak must stay this far below it (a sustained sound
        such as a vowel does not fall; a clap, knock or slam does even in a live room).
    hop_s : float
        Envelope frame (5 ms).
    refractory_s : float
        Least time between two onsets.

    Returns
    -------
    np.ndarray, shape (n_onsets,)
        Onset times in seconds (the start of the rising frame).
    """
    y = _check_audio(y, sr, min_s=0.1)
    hop = max(1, int(round(hop_s * sr)))
    lev = 10 * np.log10(frame_power(y=y, hop=hop) + _TINY)
    n = len(lev)
    pre = max(2, int(round(0.05 / hop_s)))
    a, b = int(round(0.02 / hop_s)), int(round(0.06 / hop_s))
    out: list[float] = []
    last = -np.inf
    if n - b <= pre:
        return np.array(out)
    # median of the preceding ``pre`` frames for every t in [pre, n - b), in one call
    base = np.median(np.lib.stride_tricks.sliding_window_view(lev[: n - b - 1], pre), axis=1)
    rises = pre + np.flatnonzero(lev[pre : n - b] - base >= min_rise_db)
    for t in rises.tolist():
        if t * hop_s - last < refractory_s:
            continue
        pk = t + int(np.argmax(lev[t : t + 3]))
        if pk + b >= n or lev[pk] - lev[pk + a : pk + b].max() < min_fall_db:
            continue
        out.append(t * hop_s)
        last = t * hop_s
    return np.array(out)


def early_late_ratio(
    *,
    y: np.ndarray,
    sr: int,
    onsets: np.ndarray,
    early_ms: float = 50.0,
    max_late_s: float = 1.5,
    noise_power: float = 0.0,
    rise_tol_db: float = 3.0,
) -> np.ndarray:
    """C50-like early-to-late energy ratio after each onset, in dB (a DRR proxy).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    onsets : np.ndarray, shape (k,)
        Onset times in seconds (e.g. from :func:`impulsive_onsets`).
    early_ms : float
        Early window after the onset (50 ms: C50, ISO 3382-1).
    max_late_s : float
        Longest late window.
    noise_power : float
        Mean square of the background, subtracted from both windows.
    rise_tol_db : float
        The late window ends where the 10 ms level rises this much above its running minimum
        (another sound starts) or reaches the noise floor; the energy of the rest of the
        exponential tail is added from the fitted decay slope.

    Returns
    -------
    np.ndarray, shape (k,)
        dB per onset; NaN where the late window is too short or the energy is not above the
        noise.

    Notes
    -----
    For an impulsive source the ratio approaches the clarity C50 of the room's impulse
    response: direct sound dominates the early window, so a close source reads high and a
    distant source in a live room reads low. Only onsets followed by a free decay count.
    """
    y = _check_audio(y, sr, min_s=0.1)
    on = np.sort(np.asarray(onsets, dtype=np.float64))
    k = int(round(early_ms * 1e-3 * sr))
    hop = max(1, int(0.01 * sr))
    lev = _smooth_db(frame_power(y=y, hop=hop), 3)
    floor_db = 10 * np.log10(noise_power + _TINY)
    out = np.full(len(on), np.nan)
    for i, t in enumerate(on):
        s0 = int(round(t * sr))
        win = np.abs(y[s0 : s0 + int(0.02 * sr)])
        if len(win) == 0:
            continue
        s0 += max(0, int(np.flatnonzero(win >= 0.3 * win.max())[0]) - int(0.001 * sr))
        f = (s0 + k) // hop + 1
        f_max = min(len(lev), f + int(max_late_s / 0.01))
        run_min, j = lev[f] if f < len(lev) else np.inf, f
        while j + 1 < f_max and lev[j + 1] <= run_min + rise_tol_db and lev[j + 1] > floor_db + 3.0:
            j += 1
            run_min = min(run_min, lev[j])
        if j - f < 5:
            continue
        s2 = (j + 1) * hop
        early = float(np.sum(y[s0 : s0 + k] ** 2)) - noise_power * k
        late = float(np.sum(y[s0 + k : s2] ** 2)) - noise_power * (s2 - s0 - k)
        slope = float(np.polyfit(np.arange(f, j + 1) * 0.01, lev[f : j + 1], 1)[0])
        if slope < 0:
            p_end = max(float(np.mean(y[s2 - hop : s2] ** 2)) - noise_power, 0.0)
            late += p_end * 10.0 / (np.log(10.0) * -slope) * sr
        if early > 0 and late > 0:
            out[i] = 10 * np.log10(early / late)
    return out


def rt60_ml(
    *,
    y: np.ndarray,
    sr: int,
    frame_s: float = 0.2,
    hop_s: float = 0.05,
    n_sub: int = 4,
    rt_grid: tuple[float, float, int] = (0.05, 5.0, 120),
    min_frames: int = 5,
    band: tuple[float, float] = (250.0, 4000.0),
) -> Rt60Estimate:
    """Blind RT60 by maximum-likelihood decay-rate fits on pre-selected sub-frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    frame_s, hop_s : float
        Analysis frame (200 ms) and hop.
    n_sub : int
        Sub-frames per frame for the pre-selection: a frame is kept only when the energy and
        the peak magnitude of its sub-frames fall monotonically (Löllmann et al. 2010).
    rt_grid : (float, float, int)
        Log-spaced grid of RT60 values searched (min s, max s, count).
    min_frames : int
        Fewer selected frames than this: ``rt60_s`` is None.
    band : (float, float)
        Band-pass applied first (Hz).

    Returns
    -------
    Rt60Estimate
        ``rt60_s`` is the mode of the histogram of per-frame estimates (log-RT bins of 0.05
        decades), the order statistic of Ratnam et al. 2003 / Löllmann et al. 2010; ``decays``
        lists the selected frames.

    Notes
    -----
    Model: ``y(n) = sigma * a**n * w(n)`` with white Gaussian ``w``; for a given decay factor
    ``a`` the ML ``sigma**2`` is ``mean(a**(-2n) y(n)**2)`` and the log-likelihood is
    ``-N/2 log sigma**2 - N(N-1)/2 log a``; ``RT60 = -3 / (sr * log10 a)``. Noise is not
    modelled, so a floor within ~30 dB biases the estimate long (Schuldt & Händel 2014).
    """
    y = _check_audio(y, sr, min_s=frame_s * 2)
    sos = signal.butter(4, [band[0], min(band[1], 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    x = signal.sosfilt(sos, y)
    n_fr = int(round(frame_s * sr))
    hop = int(round(hop_s * sr))
    rts = np.geomspace(rt_grid[0], rt_grid[1], int(rt_grid[2]))
    log_a = -3.0 * np.log(10.0) / (rts * sr)  # natural log of the per-sample amplitude factor
    n_idx = np.arange(n_fr)
    weights = np.exp(-2.0 * np.outer(log_a, n_idx))  # a**(-2n), shape (grid, n_fr)
    sub = n_fr // n_sub
    floor = float(np.percentile(frame_power(y=x, hop=sub), 5))
    est: list[float] = []
    picked: list[Decay] = []
    for s in range(0, len(x) - n_fr, hop):
        seg = x[s : s + n_fr]
        parts = seg[: sub * n_sub].reshape(n_sub, sub)
        e = np.mean(parts**2, axis=1)
        pk = np.max(np.abs(parts), axis=1)
        if not (np.all(np.diff(e) < 0) and np.all(np.diff(pk) < 0)) or e[-1] < 10 * floor:
            continue
        if 10 * np.log10(e[0] / e[-1]) < 6.0:
            continue
        sig2 = weights @ (seg**2) / n_fr
        ll = -0.5 * n_fr * np.log(np.maximum(sig2, _TINY)) - 0.5 * n_fr * (n_fr - 1) * log_a
        k = int(np.argmax(ll))
        if 0 < k < len(rts) - 1:
            est.append(float(rts[k]))
            picked.append(Decay(s / sr, (s + n_fr) / sr, float(10 * np.log10(e[0] / e[-1])), float(rts[k])))
    arr = np.array(est)
    spread = float(np.subtract(*np.percentile(arr, [75, 25]))) if len(arr) > 1 else 0.0
    if len(arr) < min_frames:
        return Rt60Estimate(None, len(arr), spread, tuple(picked), method="ml")
    logs = np.log10(arr)
    edges = np.arange(logs.min() - 0.025, logs.max() + 0.05, 0.05)
    hist, edges = np.histogram(logs, bins=edges)
    i = int(np.argmax(hist))
    mode = float(np.median(arr[(logs >= edges[i]) & (logs <= edges[i + 1])]))
    return Rt60Estimate(mode, len(arr), spread, tuple(picked), method="ml")
