"""Envelopes on a common time grid: speech, audio onsets, picture motion.

Every envelope here is sampled on a regular grid ``t_k = k / rate`` (100 Hz by default)
on the clip's timeline, so audio and picture signals can be cross-correlated directly.
Frame-rate signals are put on the grid by linear interpolation at their true presentation
times (variable frame rate safe).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import cv2
import librosa
import numpy as np
from scipy import signal

from workbench.errors import ParameterError

#: Rate of the common envelope grid (Hz).
GRID_RATE = 100


@lru_cache(maxsize=64)
def _butter_sos(order: int, lo: float | None, hi: float | None, rate: float) -> np.ndarray:
    """Butterworth sections, designed once per (order, edges, rate): shared, never modify."""
    if lo is None:
        sos = signal.butter(order, hi, "lowpass", fs=rate, output="sos")
    elif hi is None:
        sos = signal.butter(order, lo, "highpass", fs=rate, output="sos")
    else:
        sos = signal.butter(order, [lo, hi], "bandpass", fs=rate, output="sos")
    return sos


def bandpass(x: np.ndarray, *, rate: float, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (or low/high-pass when one edge is None).

    Parameters
    ----------
    x : np.ndarray, shape (n,) or (..., n)
        Signal(s), filtered along the last axis.
    rate : float
        Sample rate in Hz.
    lo, hi : float or None
        Band edges in Hz; ``None`` drops that edge.
    order : int
        Filter order per pass (forward-backward, so the magnitude order doubles).

    Returns
    -------
    np.ndarray, same shape as ``x``, float64
        Filtered signal with no phase delay (``scipy.signal.sosfiltfilt``), so a band-pass never
        biases a lag estimate.
    """
    nyq = 0.5 * rate
    if hi is not None and hi >= nyq:
        hi = None
    if lo is None and hi is None:
        return np.asarray(x, dtype=np.float64)
    sos = _butter_sos(order, lo, hi, float(rate))
    x = np.asarray(x, dtype=np.float64)
    padlen = min(x.shape[-1] - 1, 3 * (2 * len(sos) + 1) * 4)
    if padlen < 1:
        return x.copy()
    return signal.sosfiltfilt(sos, x, axis=-1, padlen=padlen)


def _frame_rms(y: np.ndarray, *, hop: int, frame: int) -> np.ndarray:
    """Centred RMS on a regular hop via a cumulative sum (frame k centred on sample k*hop)."""
    n_out = int(np.ceil(len(y) / hop)) if len(y) else 0
    c = np.concatenate([[0.0], np.cumsum(np.asarray(y, dtype=np.float64) ** 2)])
    centres = np.arange(n_out) * hop
    a = np.clip(centres - frame // 2, 0, len(y))
    b = np.clip(centres + frame - frame // 2, 0, len(y))
    width = np.maximum(b - a, 1)
    return np.sqrt(np.maximum(c[b] - c[a], 0.0) / width)


def speech_envelope(
    *, y: np.ndarray, sr: int, rate: int = GRID_RATE, band: tuple[float, float] = (300.0, 4000.0)
) -> np.ndarray:
    """RMS envelope of the speech band on a regular grid.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Sample rate in Hz.
    rate : int
        Grid rate in Hz (``sr`` must be a multiple of it).
    band : (float, float)
        Speech band in Hz (300-4000 Hz: the formant region that carries the syllabic envelope).

    Returns
    -------
    np.ndarray, shape (ceil(n_samples / (sr / rate)),)
        RMS of the band-passed audio in 20 ms frames centred on ``k / rate`` (linear amplitude).

    Notes
    -----
    The envelope follows the amplitude modulation of speech that mouth opening correlates with
    at 2-7 Hz (Chandrasekaran et al., PLoS Comput Biol 2009).
    """
    if sr % rate:
        raise ParameterError(f"sample rate {sr} is not a multiple of the grid rate {rate}")
    if len(y) == 0:
        return np.zeros(0)
    yb = bandpass(y, rate=sr, lo=band[0], hi=band[1], order=4)
    hop = sr // rate
    return _frame_rms(yb, hop=hop, frame=2 * hop)


def voice_activity(
    *,
    env: np.ndarray,
    rate: int = GRID_RATE,
    min_level_db: float = -55.0,
    above_floor_db: float = 12.0,
    below_peak_db: float = 35.0,
    min_speech_s: float = 0.1,
    max_gap_s: float = 0.25,
) -> np.ndarray:
    """Energy voice-activity gate on a speech-band envelope.

    Parameters
    ----------
    env : np.ndarray, shape (n,)
        Speech-band RMS envelope (see :func:`speech_envelope`).
    rate : int
        Grid rate in Hz.
    min_level_db : float
        Absolute floor (dBFS): quieter frames are never speech.
    above_floor_db, below_peak_db : float
        A frame is active when it is this far above the noise floor (10th percentile) and
        within this range of the loud level (99th percentile).
    min_speech_s, max_gap_s : float
        Bursts shorter than ``min_speech_s`` are dropped; pauses shorter than ``max_gap_s`` are
        bridged (hangover).

    Returns
    -------
    np.ndarray of bool, shape (n,)
        True where the envelope is speech-like active. A stationary sound (a tone, steady
        noise) has floor close to peak and yields no activity.
    """
    if len(env) == 0:
        return np.zeros(0, dtype=bool)
    db = 20.0 * np.log10(np.asarray(env, dtype=np.float64) + 1e-9)
    floor, loud = np.percentile(db, [10, 99])
    thr = max(min_level_db, floor + above_floor_db, loud - below_peak_db)
    active = db > thr
    active = _close_gaps(active, int(round(max_gap_s * rate)))
    return _drop_short(active, int(round(min_speech_s * rate)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a boolean array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    out = mask.copy()
    runs = _runs(mask)
    for (_, b), (c, _) in itertools.pairwise(runs):
        if c - b <= max_gap:
            out[b:c] = True
    return out


def _drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    out = mask.copy()
    for a, b in _runs(mask):
        if b - a < min_len:
            out[a:b] = False
    return out


def onset_envelope(*, y: np.ndarray, sr: int, rate: int = GRID_RATE, n_mels: int = 40) -> np.ndarray:
    """Log-mel spectral-flux onset strength on a regular grid.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Sample rate in Hz (a multiple of ``rate``).
    rate : int
        Grid rate in Hz.
    n_mels : int
        Mel bands of the 32 ms spectrogram.

    Returns
    -------
    np.ndarray, shape (ceil(n_samples / (sr / rate)),)
        Onset strength (mean positive log-mel difference between the frames centred on
        ``(k - 1) / rate`` and ``k / rate``; ``librosa.onset.onset_strength``, Böck & Widmer 2013
        without the max filter). An attack at ``t`` peaks within about 20 ms of ``t``.
    """
    if sr % rate:
        raise ParameterError(f"sample rate {sr} is not a multiple of the grid rate {rate}")
    hop = sr // rate
    n_out = int(np.ceil(len(y) / hop)) if len(y) else 0
    if n_out < 3:
        return np.zeros(n_out)
    n_fft = 1 << int(np.ceil(np.log2(0.032 * sr)))
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0, fmin=40.0
    )
    s_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    s_db = np.maximum(s_db, s_db.max() - 80.0)
    # the mel frames are already centred on k * hop: no extra framing shift (center=False)
    env = librosa.onset.onset_strength(S=s_db, sr=sr, hop_length=hop, lag=1, max_size=1, center=False)
    out = np.zeros(n_out)
    m = min(n_out, len(env))
    out[:m] = env[:m]
    return out


def energy_db(*, y: np.ndarray, sr: int, hop_s: float = 0.005, frame_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Short-time energy in dB on a fine hop (for onset refinement).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    hop_s, frame_s : float
        Hop and centred frame length in seconds (5 ms / 10 ms).

    Returns
    -------
    times : np.ndarray, shape (m,)
        Frame centres in seconds.
    db : np.ndarray, shape (m,)
        Energy in dBFS.
    """
    hop = max(1, int(round(hop_s * sr)))
    rms = _frame_rms(np.asarray(y, dtype=np.float64), hop=hop, frame=max(2, int(round(frame_s * sr))))
    return np.arange(len(rms)) * hop / sr, 20.0 * np.log10(rms + 1e-9)


def refine_onset(*, y: np.ndarray, sr: int, t_coarse: float, before_s: float = 0.06, after_s: float = 0.03) -> float:
    """Refine a coarse onset time to the steepest energy rise on a 5 ms hop.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    t_coarse : float
        Coarse onset time in seconds (e.g. a peak of :func:`onset_envelope`).
    before_s, after_s : float
        Search interval around ``t_coarse``.

    Returns
    -------
    float
        Onset time in seconds: the start of the steepest 5 ms rise of the 10 ms energy (a
        backtracked onset: where the attack begins, not where it peaks).
    """
    a = max(0, int((t_coarse - before_s - 0.02) * sr))
    b = min(len(y), int((t_coarse + after_s + 0.02) * sr))
    if b - a < int(0.03 * sr):
        return float(t_coarse)
    times, db = energy_db(y=y[a:b], sr=sr)
    times = times + a / sr
    rise = np.diff(db)
    sel = (times[:-1] >= t_coarse - before_s) & (times[:-1] <= t_coarse + after_s)
    if not sel.any():
        return float(t_coarse)
    i = int(np.flatnonzero(sel)[np.argmax(rise[sel])])
    # the jump is into the first frame whose window reaches the attack: its leading edge, half a
    # frame after the mid-point of the two frame centres, is where the attack starts
    frame_s = 0.01
    return float(0.5 * (times[i] + times[i + 1]) + 0.5 * frame_s)


def gray_small(*, frames: np.ndarray, side: int = 160) -> np.ndarray:
    """Grayscale frames scaled so the longer side is ``side`` pixels.

    Parameters
    ----------
    frames : np.ndarray, shape (n, h, w), uint8 luma, or (n, h, w, 3) uint8 RGB
    side : int

    Returns
    -------
    np.ndarray, shape (n, h', w'), float32
    """
    if frames.ndim not in (3, 4) or frames.shape[0] == 0:
        return np.zeros((0, 0, 0), np.float32)
    n, h, w = frames.shape[:3]
    s = min(1.0, side / max(h, w))
    size = (max(4, int(round(w * s))), max(4, int(round(h * s))))
    out = np.empty((n, size[1], size[0]), np.float32)
    for i in range(n):
        g = frames[i] if frames.ndim == 3 else cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY)
        out[i] = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return out


def motion_cells(*, gray: np.ndarray, frame_times: np.ndarray, grid: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Frame-difference energy per cell of a grid, camera motion removed.

    Parameters
    ----------
    gray : np.ndarray, shape (n, h, w), float32
        Small grayscale frames (see :func:`gray_small`).
    frame_times : np.ndarray, shape (n,)
        Presentation times in seconds.
    grid : int
        The picture is split in ``grid x grid`` cells.

    Returns
    -------
    times : np.ndarray, shape (n - 1,)
        Midpoint between the two frames of each difference.
    cells : np.ndarray, shape (n - 1, grid * grid), float32
        Mean absolute difference per cell (grey levels per nominal frame interval), minus the
        median over cells and floored at 0: a global change (camera pan, exposure) shifts all
        cells alike and cancels; a local event stands out.
    """
    n = len(gray)
    if n < 2:
        return np.zeros(0), np.zeros((0, grid * grid), np.float32)
    t = np.asarray(frame_times, dtype=np.float64)
    dt = np.diff(t)
    pos = dt[dt > 0]
    nominal = float(np.median(pos)) if len(pos) else 1.0
    h, w = gray.shape[1:]
    ys = np.linspace(0, h, grid + 1).astype(int)
    xs = np.linspace(0, w, grid + 1).astype(int)
    cells = np.empty((n - 1, grid * grid), np.float32)
    for k in range(1, n):
        d = np.abs(gray[k] - gray[k - 1])
        rows = np.add.reduceat(d, ys[:-1], axis=0)
        blk = np.add.reduceat(rows, xs[:-1], axis=1)
        cells[k - 1] = blk.ravel() / (np.diff(ys)[:, None] * np.diff(xs)[None, :]).ravel()
    scale = nominal / np.maximum(dt, 1e-3 * nominal)
    cells *= scale[:, None].astype(np.float32)
    cells = np.maximum(cells - np.median(cells, axis=1, keepdims=True), 0.0)
    return 0.5 * (t[1:] + t[:-1]), cells


def to_grid(*, values: np.ndarray, times: np.ndarray, n: int, rate: int = GRID_RATE) -> np.ndarray:
    """Linear interpolation of samples at irregular times onto the grid ``k / rate``.

    Parameters
    ----------
    values : np.ndarray, shape (m,) or (m, c)
        Samples (NaN allowed: a grid point next to a NaN sample is NaN).
    times : np.ndarray, shape (m,)
        Sample times in seconds, increasing.
    n : int
        Grid length.
    rate : int

    Returns
    -------
    np.ndarray, shape (n,) or (n, c)
        Held constant beyond the first/last sample.
    """
    tg = np.arange(n) / rate
    values = np.asarray(values, dtype=np.float64)
    if len(times) == 0:
        return np.full((n, *values.shape[1:]), np.nan)
    if values.ndim == 1:
        return np.interp(tg, times, values)
    return np.stack([np.interp(tg, times, values[:, j]) for j in range(values.shape[1])], axis=1)


def deceleration(*, energy: np.ndarray) -> np.ndarray:
    """Drop of motion energy from one difference to the next (contact frames).

    Parameters
    ----------
    energy : np.ndarray, shape (m,)
        Motion energy of consecutive frame differences (difference k is frames k, k+1).

    Returns
    -------
    np.ndarray, shape (m + 1,)
        ``max(0, e[k-1] - e[k])`` at frame k (0 at the ends): large on the frame where fast
        motion stops, i.e. where an object meets a surface.
    """
    e = np.asarray(energy, dtype=np.float64)
    out = np.zeros(len(e) + 1)
    if len(e) >= 2:
        out[1:-1] = np.maximum(e[:-1] - e[1:], 0.0)
    return out


def voicing(
    *,
    y: np.ndarray,
    sr: int,
    rate: int = GRID_RATE,
    fmin: float = 70.0,
    fmax: float = 400.0,
    frame_s: float = 0.04,
    where: np.ndarray | None = None,
    step: int = 2,
) -> np.ndarray:
    """Periodicity (voicing strength) of the audio on a regular grid.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate (a multiple of ``rate``).
    rate : int
        Grid rate in Hz.
    fmin, fmax : float
        Pitch range searched (Hz).
    frame_s : float
        Analysis frame, centred on each grid point.
    where : np.ndarray of bool, shape (n,), optional
        Only these grid points are analysed (others are 0).
    step : int
        Analyse every ``step``-th grid point and hold the value (voicing changes slowly).

    Returns
    -------
    np.ndarray, shape (ceil(n_samples / (sr / rate)),)
        Largest normalised autocorrelation over lags ``1/fmax .. 1/fmin`` of the Hann-windowed
        frame (corrected for the window's own autocorrelation), in [0, 1]: near 1 for voiced
        speech, low for noise, clicks and footsteps. Computed at ``sr / 2`` when ``sr`` >= 16 kHz.
    """
    hop = sr // rate
    n = int(np.ceil(len(y) / hop)) if len(y) else 0
    out = np.zeros(n)
    if n == 0:
        return out
    x = np.asarray(y, dtype=np.float64)
    fs = sr
    if sr >= 16000 and sr % 2 == 0:
        x = signal.resample_poly(x, 1, 2)
        fs = sr // 2
    hop_x = fs // rate
    flen = int(round(frame_s * fs))
    lo, hi = int(fs / fmax), int(np.ceil(fs / fmin))
    if flen <= hi:
        return out
    mask = np.ones(n, bool) if where is None else np.asarray(where[:n], dtype=bool)
    idx = np.flatnonzero(mask)
    idx = idx[(idx % step) == 0] if step > 1 else idx
    if len(idx) == 0:
        return out
    xp = np.pad(x, (flen // 2, flen))
    frames = np.lib.stride_tricks.sliding_window_view(xp, flen)[idx * hop_x]
    win = np.hanning(flen)
    frames = (frames - frames.mean(axis=1, keepdims=True)) * win[None, :]
    nfft = 1 << int(np.ceil(np.log2(2 * flen)))
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2, nfft, axis=1)[:, : hi + 1]
    wac = np.fft.irfft(np.abs(np.fft.rfft(win, nfft)) ** 2, nfft)[: hi + 1]
    norm = ac / np.maximum(ac[:, :1], 1e-12) / np.maximum(wac / wac[0], 1e-3)[None, :]
    vals = np.clip(norm[:, lo : hi + 1].max(axis=1), 0.0, 1.0)
    for k in range(step):
        j = idx + k
        ok = j < n
        out[j[ok]] = vals[ok]
    return out * mask
