"""Swap-test maths for the mute test: does this sound belong to this picture?

"Cut the sound on a shot, then bring it back: if the sound could come from any other shot,
that is dressing, not staging." The coupling of a picture with a sound track is the best
normalised cross-correlation over small lags (so a constant offset is not a mismatch);
the true pairing is compared with swapped pairings (other clips' sound) and with circular
shifts of its own sound by a second or more (same sound, wrong time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import ParameterError


def zscore(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Zero-mean, unit-variance along ``axis`` (constant input gives zeros).

    Parameters
    ----------
    x : np.ndarray

    Returns
    -------
    np.ndarray, float64, same shape
    """
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=axis, keepdims=True)
    return np.where(sd > 1e-12, (x - x.mean(axis=axis, keepdims=True)) / np.where(sd > 1e-12, sd, 1.0), 0.0)


def lag_ncc(
    *, video: np.ndarray, audio: np.ndarray, max_lag: int, center: int = 0, circular: bool = False
) -> np.ndarray:
    """Normalised cross-correlation of picture channels with one sound signal at every lag.

    Parameters
    ----------
    video : np.ndarray, shape (n,) or (n, c)
        Picture signal(s) (c channels, e.g. motion per grid cell).
    audio : np.ndarray, shape (m,)
        Sound signal on the same grid.
    max_lag : int
        Lags ``center - max_lag .. center + max_lag`` samples; lag ``L`` pairs ``video[t]`` with
        ``audio[t + L]``.
    center : int
        Centre of the lag range (e.g. a natural lag of the sound behind the picture).
    circular : bool
        Wrap ``audio`` around (for circular-shift nulls); otherwise only the overlap counts.

    Returns
    -------
    np.ndarray, shape (2 * max_lag + 1, c)
        Correlation per lag and channel: both signals are z-scored over their common length,
        the products summed over the overlap and divided by its length (0 for a constant
        channel). One matrix product over a sliding view of the sound.
    """
    v = np.asarray(video, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    n = min(len(v), len(audio))
    reach = max_lag + abs(center)
    if n < 2 * reach + 3:
        raise ParameterError(f"signals of {n} samples are too short for lags up to {reach}")
    vz = zscore(v[:n])
    az = zscore(np.asarray(audio, dtype=np.float64)[:n])
    lags = np.arange(center - max_lag, center + max_lag + 1)
    if circular:
        padded = np.concatenate([az[n - reach :], az, az[:reach]]) if reach else az
        count = np.full(len(lags), float(n))
    else:
        padded = np.concatenate([np.zeros(reach), az, np.zeros(reach)])
        count = n - np.abs(lags).astype(float)
    view = np.lib.stride_tricks.sliding_window_view(padded, n)[lags + reach]
    return (view @ vz) / count[:, None]


def coupling(*, video: np.ndarray, audio: np.ndarray, max_lag: int, center: int = 0) -> float:
    """Coupling C(v, a): the best correlation over lags ``|L - center| <= max_lag`` and picture channels.

    Parameters
    ----------
    video : np.ndarray, shape (n,) or (n, c)
    audio : np.ndarray, shape (m,)
    max_lag, center : int

    Returns
    -------
    float
        In [-1, 1].
    """
    return float(lag_ncc(video=video, audio=audio, max_lag=max_lag, center=center).max())


def shift_null(
    *, video: np.ndarray, audio: np.ndarray, max_lag: int, min_shift: int, step: int, center: int = 0
) -> np.ndarray:
    """Couplings of a picture with circular shifts of its own sound (the same-sound null).

    Parameters
    ----------
    video : np.ndarray, shape (n,) or (n, c)
    audio : np.ndarray, shape (m,)
    max_lag, center : int
    min_shift, step : int
        Shifts ``min_shift, min_shift + step, ... <= n - min_shift`` samples (>= 1 s: far beyond
        any offset the coupling tolerates).

    Returns
    -------
    np.ndarray, shape (n_shifts,)
        Empty when the clip is shorter than ``2 * min_shift``.
    """
    n = min(len(video), len(audio))
    shifts = np.arange(min_shift, n - min_shift + 1, max(1, step))
    v = np.asarray(video, dtype=np.float64)[:n]
    a = np.asarray(audio, dtype=np.float64)[:n]
    return np.array(
        [lag_ncc(video=v, audio=np.roll(a, s), max_lag=max_lag, center=center, circular=True).max() for s in shifts]
    )


@dataclass(frozen=True)
class SwapResult:
    """Mute-test statistics of one clip of a batch."""

    coupling: float
    """C(v_i, a_i), the true pairing, over the whole clip."""
    rank: int
    """1 + number of swapped sounds coupling at least as well as the true one."""
    margin: float
    """Smallest lead of the true coupling over a swapped one (negative: some swap fits better)."""
    z: float
    """(C_ii - mean_j C_ij) / std_j C_ij over swapped sounds j != i."""
    p_shift: float
    """(1 + #shifted nulls >= C_ii) / (1 + #nulls)."""
    beat_swap: float
    """Share of swapped sounds the true sound beats."""
    beat_shift: float
    """Share of shifted nulls the true sound beats (NaN without nulls)."""


def coupling_matrices(
    *, videos: list[np.ndarray], audios: list[list[np.ndarray]], max_lag: int, centers: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Couplings of every picture with every sound, each compared over their common length.

    Parameters
    ----------
    videos : list of np.ndarray, shape (n_i,) or (n_i, c)
        Picture signal of each clip.
    audios : list of list of np.ndarray
        ``audios[i][j]`` is clip j's sound signal as clip i's picture needs it (the channel
        that matches clip i's picture signal), shape (n_j,).
    max_lag : int
    centers : list of int, optional
        Centre of the lag range per picture (default 0).

    Returns
    -------
    true : np.ndarray, shape (N, N)
        ``true[i, j]`` = C(v_i, a_i) over the first ``min(n_i, n_j)`` samples (diagonal: whole clip).
    swapped : np.ndarray, shape (N, N)
        ``swapped[i, j]`` = C(v_i, a_j) over the same samples (diagonal equals ``true``).

    Notes
    -----
    A correlation's chance maximum grows as the compared length shrinks, so a true pairing
    is only ever compared with a swap over the same length.
    """
    n = len(videos)
    centers = [0] * n if centers is None else centers
    true = np.zeros((n, n))
    swapped = np.zeros((n, n))
    for i in range(n):
        c = centers[i]
        for j in range(n):
            m = min(len(videos[i]), len(audios[i][j]), len(audios[i][i]))
            true[i, j] = coupling(video=videos[i][:m], audio=audios[i][i][:m], max_lag=max_lag, center=c)
            if i == j:
                swapped[i, j] = true[i, j]
            else:
                swapped[i, j] = coupling(video=videos[i][:m], audio=audios[i][j][:m], max_lag=max_lag, center=c)
    return true, swapped


def swap_statistics(*, true: np.ndarray, swapped: np.ndarray, nulls: list[np.ndarray]) -> list[SwapResult]:
    """Per-clip swap-test statistics.

    Parameters
    ----------
    true, swapped : np.ndarray, shape (N, N)
        From :func:`coupling_matrices` (N >= 2).
    nulls : list of np.ndarray
        Shift-null couplings per clip (:func:`shift_null`).

    Returns
    -------
    list of SwapResult
        One per clip, in order.

    Notes
    -----
    Cross-modal retrieval as in audio-visual correspondence (Arandjelović & Zisserman 2017),
    with a same-sound null by circular shift, the analogue of SyncNet's offset sweep
    (Chung & Zisserman 2016).
    """
    t = np.asarray(true, dtype=np.float64)
    s = np.asarray(swapped, dtype=np.float64)
    n = t.shape[0]
    if t.shape != (n, n) or s.shape != (n, n) or n < 2:
        raise ParameterError(f"coupling matrices must be square with N >= 2, got {t.shape} and {s.shape}")
    out = []
    for i in range(n):
        c = t[i, i]
        ti, si = np.delete(t[i], i), np.delete(s[i], i)
        sd = si.std()
        null = np.asarray(nulls[i], dtype=np.float64)
        out.append(
            SwapResult(
                coupling=float(c),
                rank=int(1 + np.sum(si >= ti)),
                margin=float(np.min(ti - si)),
                z=float((c - si.mean()) / sd) if sd > 1e-12 else float("nan"),
                p_shift=float((1 + np.sum(null >= c)) / (1 + len(null))),
                beat_swap=float(np.mean(ti > si)),
                beat_shift=float(np.mean(c > null)) if len(null) else float("nan"),
            )
        )
    return out


def matched_pair_auc(*, true: np.ndarray, swapped: np.ndarray) -> float:
    """P(C_ii > C_ij) over all i and j != i, each over the common length (ties count half).

    Parameters
    ----------
    true, swapped : np.ndarray, shape (N, N)
        From :func:`coupling_matrices`.

    Returns
    -------
    float
    """
    t = np.asarray(true, dtype=np.float64)
    s = np.asarray(swapped, dtype=np.float64)
    off = ~np.eye(len(t), dtype=bool)
    if not off.any():
        return float("nan")
    return float(np.mean((t[off] > s[off]) + 0.5 * (t[off] == s[off])))
