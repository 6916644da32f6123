"""Level kernels: noise floor, voice-activity gate, speech-to-background ratio, floor features.

The voice-activity gate is a statistical-model detector in the spirit of Sohn, Kim & Sung
(IEEE SPL 6(1), 1999): per STFT bin the a-posteriori SNR against a background PSD, turned
into a per-bin log-likelihood ratio and averaged over 200-7000 Hz (fricatives included).
The background PSD starts as a local low percentile per bin (minimum statistics over
+-0.75 s) and is then re-learned from the nearest non-speech frames (three passes), so
slowly varying beds are tracked. A frame must also carry most of its excess energy above
300 Hz, which rejects bass hits and rumble. No learned model is used (none is available
offline); music whose notes change at a syllabic rate can pass for speech.

The speech-to-background ratio subtracts, frame by frame, the K-weighted background power
learned from the nearest non-speech frames (spectral subtraction in total power, which is
unbiased for a stationary bed), then applies the ITU-R BS.1770-4 block gating to the speech
estimate. Dialogue-gated loudness is the BS.1770 loudness of the mix measured only while
speech is active (as dialogue-gated loudness is defined in broadcast practice).

References
----------
- J. Sohn, N. S. Kim, W. Sung, "A statistical model-based voice activity detection",
  IEEE Signal Processing Letters 6(1), 1999.
- S. F. Boll, "Suppression of acoustic noise in speech using spectral subtraction",
  IEEE TASSP 27(2), 1979.
- ITU-R BS.1770-4 (2015), Algorithms to measure audio programme loudness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy import ndimage, signal

from workbench.errors import ParameterError

#: Gating block of ITU-R BS.1770-4 (s): loudness needs at least one block of audio.
BS1770_BLOCK_S = 0.4
#: Below this integrated loudness a track is treated as silent.
SILENCE_LUFS = -70.0


def integrated_loudness(*, y: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4: K-weighting, 400 ms blocks, gating).

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (n, channels)
        Audio in [-1, 1].
    sr : int
        Sample rate in Hz.

    Returns
    -------
    float
        Loudness in LUFS; ``-inf`` for digital silence.

    Notes
    -----
    Uses pyloudnorm's implementation of the BS.1770 meter (Steinmetz & Reiss, 2021).
    """
    if y.ndim not in (1, 2):
        raise ParameterError(f"y must be 1-D or 2-D, got shape {y.shape}")
    if len(y) < int(BS1770_BLOCK_S * sr):
        raise ParameterError("BS.1770 needs at least 400 ms of audio")
    meter = pyloudnorm.Meter(sr)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(np.asarray(y, dtype=np.float64)))

_TINY = 1e-20
#: Lowest level reported, in dBFS (digital silence reads as this).
FLOOR_DBFS = -120.0
#: BS.1770 constants.
_LUFS_OFFSET = -0.691
_ABS_GATE_LUFS = -70.0
_REL_GATE_LU = -10.0


def _check(y: np.ndarray, sr: int, min_s: float = 0.1) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"y must be 1-D (mono), got shape {y.shape}")
    if sr <= 0:
        raise ParameterError(f"sr must be positive, got {sr}")
    if len(y) < int(min_s * sr):
        raise ParameterError(f"signal too short: {len(y) / sr:.3f} s")
    return y


def db(p: np.ndarray | float) -> np.ndarray | float:
    """Power to dB, floored at :data:`FLOOR_DBFS`."""
    return np.maximum(10.0 * np.log10(np.maximum(p, _TINY)), FLOOR_DBFS)


def stft_power(*, y: np.ndarray, sr: int, hop_s: float = 0.01, win_s: float = 0.032) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram whose frame ``t`` is centred on the hop block ``[t*hop, (t+1)*hop)``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    hop_s, win_s : float
        Hop and Hann-window length in seconds.

    Returns
    -------
    power : np.ndarray, shape (n // hop, n_fft // 2 + 1)
        ``|X|^2`` normalised so that the sum over bins is the frame's mean square.
    freqs : np.ndarray, shape (n_fft // 2 + 1,)
    """
    y = _check(y, sr, min_s=win_s)
    hop = max(1, int(round(hop_s * sr)))
    n_fft = int(2 ** np.ceil(np.log2(win_s * sr)))
    n = len(y) // hop
    pad_l = (n_fft - hop) // 2
    yp = np.pad(y, (pad_l, n_fft))
    idx = np.arange(n)[:, None] * hop + np.arange(n_fft)[None, :]
    win = signal.get_window("hann", n_fft)
    spec = np.fft.rfft(yp[idx] * win, axis=1)
    power: np.ndarray = np.abs(spec) ** 2
    power[:, 1:-1] *= 2.0
    power /= n_fft * np.sum(win**2)
    return power, np.fft.rfftfreq(n_fft, 1.0 / sr)


def frame_levels(*, y: np.ndarray, sr: int, frame_s: float = 0.01) -> np.ndarray:
    """Mean-square level of consecutive frames in dBFS (``10 log10 mean(y^2)``).

    Returns
    -------
    np.ndarray, shape (n // frame,)
    """
    y = _check(y, sr, min_s=frame_s)
    hop = max(1, int(round(frame_s * sr)))
    n = len(y) // hop
    return np.asarray(db((y[: n * hop] ** 2).reshape(n, hop).mean(axis=1)))


def noise_floor(*, y: np.ndarray, sr: int, frame_s: float = 0.05, percentile: float = 10.0) -> float:
    """Noise floor in dBFS: a low percentile of short-frame levels.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    frame_s : float
        Frame length (50 ms).
    percentile : float
        10: the floor is what the quietest tenth of the clip sits at.

    Returns
    -------
    float
        dBFS (mean square re full scale), at least :data:`FLOOR_DBFS`.
    """
    return float(np.percentile(frame_levels(y=y, sr=sr, frame_s=frame_s), percentile))


def k_weight(*, y: np.ndarray, sr: int) -> np.ndarray:
    """The ITU-R BS.1770-4 K-weighting (shelving pre-filter then RLB high-pass).

    Returns
    -------
    np.ndarray, shape (n,)
    """
    x = np.asarray(y, dtype=np.float64)
    for f in (
        pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf"),
        pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sr, "high_pass"),
    ):
        x = f.apply_filter(x)
    return x


def _robust_mean(x: np.ndarray, cut: float = 4.0, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` of the values at most ``cut`` times the median (rejects leaked speech)."""
    med = np.median(x, axis=axis, keepdims=True)
    keep = x <= cut * np.maximum(med, _TINY)
    return np.sum(np.where(keep, x, 0.0), axis=axis) / np.maximum(keep.sum(axis=axis), 1)


#: Most float64 values gathered at once by :func:`background_psd` (bounds its memory, ~32 MB).
_GATHER_MAX = 4_000_000


def background_psd(
    *,
    power: np.ndarray,
    nonspeech: np.ndarray,
    k_nearest: int = 60,
    max_distance: int = 500,
    guard_frames: int = 3,
    min_frames: int = 20,
    step: int = 5,
    percentile: float = 20.0,
    cut: float = 4.0,
) -> np.ndarray:
    """Background power per frame (and bin) learned from the nearest non-speech frames.

    Parameters
    ----------
    power : np.ndarray, shape (n_frames,) or (n_frames, n_bins)
    nonspeech : np.ndarray of bool, shape (n_frames,)
    k_nearest : int
        How many non-speech frames (half before, half after where possible) are averaged:
        60 frames of 10 ms, so the estimate follows a slowly changing bed.
    max_distance : int
        Non-speech frames farther than this (frames) are not neighbours (500: 5 s).
    guard_frames : int
        Non-speech frames this close to speech are not learned from (speech edges, tails).
    min_frames : int
        Fewer usable neighbours: the whole clip's non-speech frames; fewer than this in the
        whole clip: a low percentile of all frames (a minimum-statistics fallback).
    step : int
        The estimate is computed every ``step`` frames and held in between.
    percentile : float

    Returns
    -------
    np.ndarray, same shape as ``power``
        Robust mean (values above 4x the median are ignored) of the neighbours.
    """
    ns = np.asarray(nonspeech, dtype=bool)
    if guard_frames > 0 and ns.any() and not ns.all():
        ns = ns & ~ndimage.binary_dilation(~ns, structure=np.ones(2 * guard_frames + 1))
    n = len(ns)
    if ns.sum() < min_frames:
        base = np.percentile(power, percentile, axis=0)
        return np.broadcast_to(base, power.shape).copy()
    ns_idx = np.flatnonzero(ns)
    glob = _robust_mean(power[ns_idx], cut)
    # each estimate's neighbours are a contiguous run ns_idx[a:b]: the k nearest (half before,
    # half after where possible), cut to those within max_distance
    cs = np.arange(0, n, step)
    lo = np.maximum(0, np.searchsorted(ns_idx, cs) - k_nearest // 2)
    hi = np.minimum(len(ns_idx), lo + k_nearest)
    lo = np.maximum(0, hi - k_nearest)
    a = np.maximum(lo, np.searchsorted(ns_idx, cs - max_distance, side="left"))
    b = np.minimum(hi, np.searchsorted(ns_idx, cs + max_distance, side="right"))
    est = np.empty((len(cs), *power.shape[1:]), dtype=np.float64)
    est[:] = glob
    length = b - a
    # runs of one length are stacked and reduced together (same values, same order: same numbers)
    for size in np.unique(length[length >= min_frames]):
        starts, inv = np.unique(a[length == size], return_inverse=True)
        means = np.empty((len(starts), *power.shape[1:]), dtype=np.float64)
        chunk = max(1, _GATHER_MAX // (int(size) * int(np.prod(power.shape[1:], dtype=int))))
        for i in range(0, len(starts), chunk):
            rows = ns_idx[starts[i : i + chunk, None] + np.arange(size)[None, :]]
            means[i : i + chunk] = _robust_mean(power[rows], cut, axis=1)
        est[length == size] = means[inv]
    return np.repeat(est, step, axis=0)[:n]


def _local_floor(
    power: np.ndarray, *, half_s: float = 0.75, hop_s: float = 0.01, percentile: float = 20.0
) -> np.ndarray:
    """First-pass background PSD: a per-bin low percentile over +-0.75 s (minimum statistics).

    Computed on 50 ms averages; 20th percentile of those is close to the mean of a
    stationary bed, while speech drops below it in each bin within a second.
    """
    dec = max(1, int(round(0.05 / hop_s)))
    n = power.shape[0]
    m = n // dec
    if m < 3:
        return np.broadcast_to(np.percentile(power, percentile, axis=0), power.shape).copy()
    avg = power[: m * dec].reshape(m, dec, -1).mean(axis=1)
    size = 2 * int(round(half_s / (dec * hop_s))) + 1
    floor = ndimage.percentile_filter(avg, percentile, size=(size, 1), mode="nearest")
    idx = np.minimum(np.arange(n) // dec, m - 1)
    return floor[idx]


def _llr(power: np.ndarray, noise: np.ndarray, band: np.ndarray, cap: float = 10.0) -> np.ndarray:
    """Mean over ``band`` of the per-bin Sohn log-likelihood ratio (ML a-priori SNR), capped.

    The power is first smoothed over 3 frames x 3 bins, so a bed that is a little louder than
    its estimate everywhere scores low while sparse speech harmonics score high.
    """
    nb = ndimage.uniform_filter1d(noise, size=3, axis=1, mode="nearest")[:, band]
    nb = np.maximum(nb, 1e-3 * nb.mean(axis=1, keepdims=True) + _TINY)
    gamma = ndimage.uniform_filter(power, size=(3, 3), mode="nearest")[:, band] / nb
    xi = np.maximum(gamma - 1.0, 0.0)
    return np.mean(np.minimum(gamma * xi / (1.0 + xi) - np.log1p(xi), cap), axis=1)


def _clean_mask(raw: np.ndarray, *, min_on: int, max_gap: int, hangover: int) -> np.ndarray:
    m = ndimage.binary_closing(raw, structure=np.ones(max_gap + 1)) if max_gap > 0 else raw.copy()
    m |= raw
    lab, n = ndimage.label(m)
    if n:
        sizes = ndimage.sum(m, lab, index=np.arange(1, n + 1))
        keep = np.concatenate([[False], sizes >= min_on])
        m = keep[lab]
    if hangover > 0:
        m = ndimage.binary_dilation(m, structure=np.ones(2 * hangover + 1)) if m.any() else m
    return m


@dataclass(frozen=True)
class SpeechActivity:
    """Voice-activity gate over 10 ms frames."""

    mask: np.ndarray
    """bool, shape (n_frames,): speech active."""
    score: np.ndarray
    """Mean per-bin log-likelihood ratio over the speech band, shape (n_frames,)."""
    hop_s: float


def speech_activity_frames(
    *,
    y: np.ndarray,
    sr: int,
    power: np.ndarray | None = None,
    freqs: np.ndarray | None = None,
    hop_s: float = 0.01,
    threshold: float = 0.6,
    min_band_ratio: float = 0.5,
    min_speech_s: float = 0.12,
    max_gap_s: float = 0.15,
    hangover_s: float = 0.03,
    min_level_dbfs: float = -75.0,
) -> SpeechActivity:
    """Voice-activity gate with its per-frame score (see :func:`speech_activity`).

    ``power`` / ``freqs`` may be passed when the caller already has :func:`stft_power`.
    """
    y = _check(y, sr)
    if power is None or freqs is None:
        power, freqs = stft_power(y=y, sr=sr, hop_s=hop_s)
    n = power.shape[0]
    top = min(7000.0, 0.45 * sr)
    band = (freqs >= 200) & (freqs <= top)
    voice = (freqs >= 300) & (freqs <= top)
    floor = _local_floor(power)
    noise = floor
    total = power.sum(axis=1)
    loud_enough = db(total) > min_level_dbfs
    mask = np.zeros(n, dtype=bool)
    score = np.zeros(n)
    for _ in range(3):
        score = ndimage.uniform_filter1d(_llr(power, noise, band), size=3, mode="nearest")
        excess = np.maximum(power - noise, 0.0)
        ratio = excess[:, voice].sum(axis=1) / np.maximum(excess.sum(axis=1), _TINY)
        raw = (score > threshold) & (ratio >= min_band_ratio) & loud_enough
        mask = _clean_mask(
            raw,
            min_on=max(1, int(round(min_speech_s / hop_s))),
            max_gap=int(round(max_gap_s / hop_s)),
            hangover=int(round(hangover_s / hop_s)),
        )
        if (~mask).sum() < 30:
            break
        # per-bin powers of a noise bed are exponential: a 2x-median cut rejects missed speech
        noise = np.maximum(background_psd(power=power, nonspeech=~mask, cut=2.0), floor)
    return SpeechActivity(mask=mask, score=score, hop_s=hop_s)


def speech_activity(*, y: np.ndarray, sr: int, hop_s: float = 0.01, threshold: float = 0.6) -> np.ndarray:
    """Voice-activity mask per 10 ms frame (statistical-model VAD, Sohn et al. 1999).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
    hop_s : float
        Frame hop; frame ``t`` covers ``[t*hop, (t+1)*hop)``.
    threshold : float
        Least mean log-likelihood ratio over 200-7000 Hz (noise alone averages about 0.15).

    Returns
    -------
    np.ndarray of bool, shape (n // hop,)
    """
    return speech_activity_frames(y=y, sr=sr, hop_s=hop_s, threshold=threshold).mask


def _gated_mean(block_power: np.ndarray) -> tuple[float, np.ndarray]:
    """BS.1770 gating (absolute -70 LUFS, relative -10 LU) of block mean squares."""
    lk = _LUFS_OFFSET + 10 * np.log10(np.maximum(block_power, _TINY))
    keep = lk >= _ABS_GATE_LUFS
    if not keep.any():
        return 0.0, keep
    rel = _LUFS_OFFSET + 10 * np.log10(block_power[keep].mean()) + _REL_GATE_LU
    keep &= lk > rel
    return (float(block_power[keep].mean()) if keep.any() else 0.0), keep


def _blocks(x: np.ndarray, size: int, step: int) -> np.ndarray:
    if len(x) < size:
        return np.array([x.mean()]) if len(x) else np.zeros(0)
    starts = np.arange(0, len(x) - size + 1, step)
    c = np.concatenate([[0.0], np.cumsum(x)])
    return (c[starts + size] - c[starts]) / size


@dataclass(frozen=True)
class SpeechToBackground:
    """Dialogue versus background (music + ambience) while speech is active."""

    sbr_db: float | None
    """Speech-to-background ratio in dB (None: no speech)."""
    dialogue_lufs: float | None
    """BS.1770 loudness of the mix while speech is active (dialogue-gated)."""
    speech_lufs: float | None
    """Loudness of the speech estimate (background subtracted)."""
    background_lufs: float | None
    """Loudness of the background during speech."""
    speech_fraction: float
    background_from: str
    """"neighbours" or "percentile" (too few non-speech frames to learn from)."""


def speech_to_background(
    *,
    y: np.ndarray,
    sr: int,
    mask: np.ndarray | None = None,
    hop_s: float = 0.01,
    min_ratio_db: float = -30.0,
    max_ratio_db: float = 60.0,
) -> SpeechToBackground:
    """Speech-to-background ratio with a VAD gate and background subtraction.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono mix in [-1, 1].
    sr : int
    mask : np.ndarray of bool, shape (n // hop,), optional
        Speech-active frames; computed with :func:`speech_activity` when None.
    hop_s : float
        Frame hop of ``mask``.
    min_ratio_db, max_ratio_db : float
        Range of the ratio reported (speech buried in the background; no background at all).

    Returns
    -------
    SpeechToBackground

    Notes
    -----
    On the K-weighted signal, each speech frame's background power is the robust mean power
    of the nearest 0.6 s of non-speech frames (assumes a locally stationary bed) and the
    speech power is the remainder. The speech power timeline (0 outside speech) is gated in
    400 ms blocks with 75 % overlap as in BS.1770-4; the background is averaged over the
    speech frames. Ratio = 10 log10(speech / background).
    """
    y = _check(y, sr, min_s=0.4)
    hop = max(1, int(round(hop_s * sr)))
    if mask is None:
        mask = speech_activity(y=y, sr=sr, hop_s=hop_s)
    n = min(len(mask), len(y) // hop)
    mask = np.asarray(mask[:n], dtype=bool)
    frac = float(mask.mean()) if n else 0.0
    if not mask.any():
        return SpeechToBackground(None, None, None, None, frac, "none")
    yk = k_weight(y=y, sr=sr)
    pk = (yk[: n * hop] ** 2).reshape(n, hop).mean(axis=1)
    source = "neighbours" if (~mask).sum() >= 30 else "percentile"
    bg = background_psd(power=pk, nonspeech=~mask, cut=4.0)
    sp = np.where(mask, pk - bg, 0.0)
    size, step = int(round(0.4 / hop_s)), int(round(0.1 / hop_s))
    s_gated, _ = _gated_mean(_blocks(sp, size, step))
    b_mean = float(bg[mask].mean())
    floor = b_mean * 10 ** (min_ratio_db / 10)
    s_val = max(s_gated, floor)
    sbr = 10 * np.log10(max(s_val, _TINY) / max(b_mean, _TINY)) if s_val > 0 else min_ratio_db
    sbr = float(np.clip(sbr, min_ratio_db, max_ratio_db))
    seg = y[: n * hop].reshape(n, hop)[mask].ravel()
    dialogue = integrated_loudness(y=seg, sr=sr) if len(seg) >= int(BS1770_BLOCK_S * sr) else None
    if dialogue is not None and not np.isfinite(dialogue):
        dialogue = None
    return SpeechToBackground(
        sbr_db=sbr,
        dialogue_lufs=dialogue,
        speech_lufs=float(_LUFS_OFFSET + 10 * np.log10(s_val)) if s_val > 0 else None,
        background_lufs=float(_LUFS_OFFSET + 10 * np.log10(b_mean)) if b_mean > 0 else None,
        speech_fraction=frac,
        background_from=source,
    )


def ambience_level(*, y: np.ndarray, sr: int, exclude: np.ndarray, hop_s: float = 0.01) -> float | None:
    """Level of the background bed: frames that are neither speech nor a sound event, in dBFS.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    exclude : np.ndarray of bool, shape (n // hop,)
        Frames to leave out (speech, events and their tails).
    hop_s : float

    Returns
    -------
    float or None
        ``10 log10`` of the robust mean square over the kept frames (frames above 4x the
        median, i.e. speech the gate missed, are ignored); None with under 0.2 s kept.
    """
    lev = frame_levels(y=y, sr=sr, frame_s=hop_s)
    keep = ~np.asarray(exclude[: len(lev)], dtype=bool)
    keep = np.concatenate([keep, np.ones(len(lev) - len(keep), dtype=bool)])
    if keep.sum() * hop_s < 0.2:
        return None
    return float(db(_robust_mean(10 ** (lev[keep] / 10))))


@dataclass(frozen=True)
class FloorFeatures:
    """Features of the background that separate an outdoor bed from a quiet room."""

    floor_dbfs: float
    """Noise floor (10th percentile of 50 ms levels)."""
    active_dbfs: float
    """Level of the active sound (95th percentile of 50 ms levels)."""
    floor_rel_db: float
    """``floor_dbfs - active_dbfs``: how far the quietest moments sit under the foreground."""
    bed_rel_db: float
    """Typical level of the background frames (robust mean) minus ``active_dbfs``: how audible
    the bed is. Equals ``floor_rel_db`` for a steady hiss; higher for birds, wind or traffic."""
    flatness: float
    """Spectral flatness (0..1) of the background frames over 100-6000 Hz: broadband is high."""
    fluctuation_db: float
    """Robust spread (IQR / 1.35) of the background's 100 ms levels: ~0.5 dB for a steady
    hum or hiss, several dB for wind gusts, traffic or birds."""


def floor_features(
    *,
    y: np.ndarray,
    sr: int,
    exclude: np.ndarray | None = None,
    hop_s: float = 0.01,
    power: np.ndarray | None = None,
    freqs: np.ndarray | None = None,
) -> FloorFeatures:
    """Background-floor features: level re the foreground, spectral flatness, fluctuation.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr : int
    exclude : np.ndarray of bool, shape (n // hop,), optional
        Frames that are not background (speech, events and their tails). Without it, the
        quietest 30 % of the frames stand for the background.
    hop_s : float
        Frame hop of ``exclude``.
    power, freqs : np.ndarray, optional
        :func:`stft_power` of ``y`` at ``hop_s`` when the caller already has it.

    Returns
    -------
    FloorFeatures
    """
    y = _check(y, sr, min_s=0.2)
    lev50 = frame_levels(y=y, sr=sr, frame_s=0.05)
    floor = float(np.percentile(lev50, 10))
    active = float(np.percentile(lev50, 95))
    lev = frame_levels(y=y, sr=sr, frame_s=hop_s)
    if exclude is None or (~np.asarray(exclude, dtype=bool)).sum() * hop_s < 0.5:
        bg = lev <= np.percentile(lev, 30)
    else:
        ex = np.asarray(exclude[: len(lev)], dtype=bool)
        bg = np.concatenate([~ex, np.ones(len(lev) - len(ex), dtype=bool)])
    if power is None or freqs is None:
        power, freqs = stft_power(y=y, sr=sr, hop_s=hop_s)
    n = min(len(bg), power.shape[0])
    bg, power, lev = bg[:n], power[:n], lev[:n]
    band = (freqs >= 100) & (freqs <= min(6000, sr / 2 - 1))
    psd = _robust_mean(power[bg][:, band])
    if psd.max() <= 0:
        flat = 0.0
    else:
        psd = np.maximum(psd, psd.max() * 1e-12)
        flat = float(np.exp(np.mean(np.log(psd))) / np.mean(psd))
    # 100 ms blocks made only of background frames
    k = max(1, int(round(0.1 / hop_s)))
    m = len(bg) // k
    full = bg[: m * k].reshape(m, k).all(axis=1)
    blocks = 10 * np.log10(np.mean(10 ** (lev[: m * k].reshape(m, k) / 10), axis=1))[full]
    fluct = float(np.subtract(*np.percentile(blocks, [75, 25])) / 1.35) if len(blocks) >= 5 else 0.0
    bed = float(db(_robust_mean(10 ** (lev[bg] / 10))))
    return FloorFeatures(
        floor_dbfs=floor,
        active_dbfs=active,
        floor_rel_db=floor - active,
        bed_rel_db=bed - active,
        flatness=flat,
        fluctuation_db=fluct,
    )
