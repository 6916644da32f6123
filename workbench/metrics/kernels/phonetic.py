"""Phonetic lip sync: bilabial events in the audio against lip closures in the picture.

A bilabial (/p/, /b/, /m/) closes the lips, and its acoustic *release* (the /p b/ burst, the
/m/-to-vowel transition) is the lips parting: the two coincide to within a few milliseconds
(articulatory phonetics, e.g. Ladefoged & Johnson, "A Course in Phonetics", ch. 3 and 6), so
the difference between the audio release and the visible release is an absolute audio-visual
offset that needs no calibrated natural lag (the envelope-correlation method needs one).

1. :func:`bilabial_events`: from forced-aligned phones, a bilabial followed without a pause by a
   vowel or approximant is *released* at its end; one preceded by a vowel or approximant is
   *closed* at its start. Each boundary (10 ms aligner frames) is refined on the waveform to the
   steepest change of the 1-5 kHz band energy (2.5 ms hop) within -40/+30 ms of it: the burst or
   formant onset for a release, the vowel's end for a closure.
2. :func:`lip_events`: in one face's mouth-opening track (normalised by running 10th/90th
   percentiles over 1.5 s), a closure is a local minimum at or below :data:`CLOSED_LEVEL` with a
   swing of at least :data:`MIN_SWING`; its release (closure) is the sub-frame crossing of
   ``min + RELEASE_FRACTION * swing`` on the way up (down): the first parting of the lips.
3. :func:`event_offset`: the lag mode (1 ms steps within +-600 ms) of a Gaussian (30 ms)
   nearest-event score between audio and lip events of the same kind; each audio event paired
   with the nearest lip event within 80 ms of the mode; the offset is the median of the paired
   offsets (+ = audio late), with its MAD; the confidence is the mode's score as a z-score
   against circular shifts (>= 1 s) of the lip events, as the correlation method's confidence is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

#: ARPAbet vowels (CMU dictionary phone set, stress removed).
VOWELS = frozenset(["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"])
BILABIALS = frozenset({"P", "B", "M"})
#: Phones after which (before which) a bilabial's release (closure) is audible and visible.
OPENERS = VOWELS | {"L", "R", "W", "Y"}
#: A gap longer than this between two phones is a pause: the bilabial is not released into speech.
MAX_JOIN_S = 0.015
#: Search interval around the aligned boundary for the acoustic refinement (s before, s after).
REFINE_S = (0.04, 0.03)
#: Band of the refinement (Hz): bursts and formant onsets, above the nasal murmur.
REFINE_BAND_HZ = (1000.0, 5000.0)
REFINE_HOP_S = 0.0025

#: Lip-opening normalisation window (s): running 10th / 90th percentiles.
NORM_WIN_S = 1.5
#: A local minimum of the normalised opening at or below this is a closure candidate...
CLOSED_LEVEL = 0.35
#: ... when the opening swings at least this much up (release) or down (closure) around it.
MIN_SWING = 0.35
#: A lip release (closure) is where the opening crosses ``min + RELEASE_FRACTION * swing``: the first
#: parting of the lips. Chosen a priori; 0.1 and 0.5 move the real clips' readings by at most 15 ms
#: (issue 15's exploration on ../shared/data/real).
RELEASE_FRACTION = 0.2
#: A local range under this share of the clip's 5-95 % range is a still mouth (no events).
MIN_LOCAL_RANGE = 0.25
#: Frames lost for longer than this are not bridged (s).
MAX_GAP_S = 0.12

#: Lags searched (s), the Gaussian width of the event score (s), pairing distance from the mode (s).
MAX_LAG_S, SIGMA_S, PAIR_S = 0.6, 0.03, 0.08
#: The lip events are shifted circularly by at least this much for the confidence's null (s).
MIN_SHIFT_S = 1.0
#: Fewer paired events than this: unscored.
MIN_EVENTS = 4
#: Below this z the offset is unscored (the same threshold as the correlation method's confidence).
MIN_Z = 2.5


@dataclass(frozen=True)
class Phone:
    """A phone segment (ARPAbet, no stress), seconds on the clip's timeline."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class AlignedWord:
    """A word segment and its phones, seconds on the clip's timeline."""

    text: str
    start: float
    end: float
    phones: tuple[Phone, ...]
    in_dict: bool = True
    """False when the pronunciation was guessed from the spelling (its phones make no events)."""


@dataclass(frozen=True)
class AudioEvent:
    """A bilabial closure or release in the audio."""

    kind: str
    """``release`` or ``closure``."""
    phone: str
    t: float
    """Refined time (s)."""
    t_aligned: float
    """The aligner's boundary (s, 10 ms grid)."""
    strength_db: float
    """Steepest band-energy change at ``t`` (dB per 10 ms)."""
    word: str
    confirmed: bool
    """The word is in the dictionary and, when a prompt line exists, was said as written."""


def band_energy_db(
    *, y: np.ndarray, sr: int, band: tuple[float, float] = REFINE_BAND_HZ, hop_s: float = REFINE_HOP_S
) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and level (dB) of the band-passed energy in 10 ms frames on a fine hop."""
    sos = signal.butter(4, band, "bandpass", fs=sr, output="sos")
    yb = signal.sosfiltfilt(sos, np.asarray(y, dtype=np.float64)) if len(y) > 27 else np.zeros(len(y))
    hop, frame = max(1, int(round(hop_s * sr))), int(round(0.01 * sr))
    c = np.concatenate([[0.0], np.cumsum(yb**2)])
    centres = np.arange(0, len(yb), hop)
    a = np.clip(centres - frame // 2, 0, len(yb))
    b = np.clip(centres + frame - frame // 2, 0, len(yb))
    p = (c[b] - c[a]) / np.maximum(b - a, 1)
    return centres / sr, 10.0 * np.log10(p + 1e-12)


def _refine(times: np.ndarray, db: np.ndarray, t: float, sign: int) -> tuple[float, float]:
    """Steepest rise (sign +1) or fall (-1) of ``db`` within :data:`REFINE_S` of ``t``: (time, dB per 10 ms)."""
    step = int(round(0.01 / REFINE_HOP_S))  # frames 10 ms apart: the change across one frame
    sel = np.flatnonzero((times >= t - REFINE_S[0]) & (times <= t + REFINE_S[1]))
    sel = sel[(sel >= step // 2) & (sel + step // 2 < len(db))]
    if len(sel) == 0:
        return t, 0.0
    slope = sign * (db[sel + step // 2] - db[sel - step // 2])
    k = int(np.argmax(slope))
    return float(times[sel[k]]), float(slope[k])


def bilabial_events(
    *,
    words: Sequence[AlignedWord],
    y: np.ndarray,
    sr: int,
    t0: float = 0.0,
    confirmed: set[int] | None = None,
    phones: frozenset[str] = BILABIALS,
) -> list[AudioEvent]:
    """Closures and releases of every bilabial in aligned words.

    Parameters
    ----------
    words : sequence of AlignedWord
        Forced-aligned words (clip times).
    y : np.ndarray, shape (n,)
        The audio the times refer to, ``y[0]`` at clip time ``t0``.
    sr : int
    confirmed : set of int, optional
        Indices of the words said as the prompt has them; None: every dictionary word counts.
    phones : frozenset of str
        The phones that make events (the bilabials by default).

    Returns
    -------
    list of AudioEvent, in time order.
    """
    times, db = band_energy_db(y=y, sr=sr)
    times = times + t0
    flat = [(i, p) for i, w in enumerate(words) for p in w.phones]
    out: list[AudioEvent] = []
    for k, (wi, ph) in enumerate(flat):
        if ph.name not in phones:
            continue
        w = words[wi]
        ok = w.in_dict and (confirmed is None or wi in confirmed)
        nxt = flat[k + 1][1] if k + 1 < len(flat) else None
        prv = flat[k - 1][1] if k > 0 else None
        if nxt is not None and nxt.name in OPENERS and nxt.start - ph.end <= MAX_JOIN_S:
            t, s = _refine(times, db, ph.end, +1)
            out.append(AudioEvent("release", ph.name, t, ph.end, s, w.text, ok))
        if prv is not None and prv.name in OPENERS and ph.start - prv.end <= MAX_JOIN_S:
            t, s = _refine(times, db, ph.start, -1)
            out.append(AudioEvent("closure", ph.name, t, ph.start, s, w.text, ok))
    out.sort(key=lambda e: e.t)
    return out


@dataclass(frozen=True)
class LipEvent:
    """One lip closure: its minimum, and the release and closure crossings around it (s)."""

    t_min: float
    t_release: float | None
    t_closure: float | None
    level: float
    swing_up: float
    swing_down: float


def _fill(x: np.ndarray, times: np.ndarray, max_gap_s: float) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return x.copy()
    out = np.interp(times, times[ok], x[ok])
    idx = np.flatnonzero(ok)
    j = np.clip(np.searchsorted(times[idx], times), 1, len(idx) - 1)
    gap = np.minimum(np.abs(times - times[idx[j - 1]]), np.abs(times[idx[j]] - times))
    out[~ok & (gap > max_gap_s)] = np.nan  # a face lost for long stays lost
    return out


def normalised_opening(*, opening: np.ndarray, times: np.ndarray, win_s: float = NORM_WIN_S) -> np.ndarray:
    """The opening scaled to 0 (closed) .. 1 (open) by running percentiles; NaN where lost or still."""
    t = np.asarray(times, dtype=np.float64)
    x = _fill(np.asarray(opening, dtype=np.float64), t, MAX_GAP_S)
    ok = np.isfinite(x)
    if ok.sum() < 5:
        return np.full(len(x), np.nan)
    d = np.diff(t)
    fps = 1.0 / float(np.median(d[d > 0])) if np.any(d > 0) else 25.0
    w = max(3, int(round(win_s * fps)) | 1)
    xf = np.where(ok, x, np.nanmedian(x))
    lo = ndimage.percentile_filter(xf, 10, size=w, mode="nearest")
    hi = ndimage.percentile_filter(xf, 90, size=w, mode="nearest")
    g5, g95 = np.percentile(x[ok], [5, 95])
    rng = hi - lo
    still = rng < MIN_LOCAL_RANGE * max(float(g95 - g5), 1e-9)
    out = (x - lo) / np.maximum(rng, 1e-9)
    out[still | ~ok] = np.nan
    return out


def _cross(times: np.ndarray, o: np.ndarray, i0: int, i1: int, level: float) -> float | None:
    """The first time from frame i0 towards i1 (either direction) where ``o`` crosses ``level``."""
    step = 1 if i1 >= i0 else -1
    for k in range(i0, i1, step):
        a, b = o[k], o[k + step]
        if not (np.isfinite(a) and np.isfinite(b)):
            return None
        if (a - level) * (b - level) <= 0 and a != b:
            f = (level - a) / (b - a)
            return float(times[k] + f * (times[k + step] - times[k]))
    return None


def lip_events(
    *,
    opening: np.ndarray,
    times: np.ndarray,
    closed_level: float = CLOSED_LEVEL,
    min_swing: float = MIN_SWING,
    fraction: float = RELEASE_FRACTION,
) -> list[LipEvent]:
    """Lip closures of one face.

    Parameters
    ----------
    opening : np.ndarray, shape (n,)
        Mouth opening per frame (larger = more open; NaN where the face is lost).
    times : np.ndarray, shape (n,)
        Frame presentation times (s), increasing.
    closed_level, min_swing, fraction : float
        See :data:`CLOSED_LEVEL`, :data:`MIN_SWING`, :data:`RELEASE_FRACTION`.

    Returns
    -------
    list of LipEvent, in time order (release / closure None when that side swings too little).
    """
    t = np.asarray(times, dtype=np.float64)
    o = normalised_opening(opening=opening, times=t)
    n = len(o)
    out: list[LipEvent] = []
    for k in range(1, n - 1):
        if not np.isfinite(o[k]) or o[k] > closed_level or not (o[k] <= o[k - 1] and o[k] < o[k + 1]):
            continue
        j = k  # the next local maximum (stops at NaN)
        while j + 1 < n and np.isfinite(o[j + 1]) and o[j + 1] >= o[j]:
            j += 1
        i = k  # the previous one
        while i - 1 >= 0 and np.isfinite(o[i - 1]) and o[i - 1] >= o[i]:
            i -= 1
        up, down = o[j] - o[k], o[i] - o[k]
        if max(up, down) < min_swing:
            continue
        a, b, c = o[k - 1], o[k], o[k + 1]  # parabolic refinement of the minimum
        den = a - 2 * b + c
        frac = 0.5 * (a - c) / den if np.isfinite(den) and den > 0 else 0.0
        tm = float(t[k] + np.clip(frac, -0.5, 0.5) * (t[min(k + 1, n - 1)] - t[k - 1]) / 2)
        rel = _cross(t, o, k, j, o[k] + fraction * up) if up >= min_swing else None
        clo = _cross(t, o, k, i, o[k] + fraction * down) if down >= min_swing else None
        out.append(LipEvent(tm, rel, clo, float(o[k]), float(up), float(down)))
    return out


@dataclass(frozen=True)
class PhoneticOffset:
    """Per-event offsets and their summary (ms; + = audio late)."""

    offset_ms: float | None
    """The median of the paired offsets; None when unscored (see ``reason``)."""
    mad_ms: float | None
    n_events: int
    """Audio events paired with a lip event."""
    n_audio: int
    n_lip: int
    z: float
    mode_ms: float | None
    median_ms: float | None = None
    """The paired median even when unscored (diagnostics)."""
    pairs: tuple[tuple[str, float, float], ...] = field(default=(), repr=False)
    """(kind, audio time s, offset ms) of each paired event."""
    reason: str | None = None


def _score(
    a: np.ndarray, ak: np.ndarray, v: np.ndarray, vk: np.ndarray, lags: np.ndarray, sigma: float
) -> np.ndarray:
    """score(lag) = sum over audio events of a Gaussian of the distance to the nearest same-kind lip event at ``a - lag``."""
    out = np.zeros(len(lags))
    for kind in np.unique(ak):
        vs = np.sort(v[vk == kind])
        sel = ak == kind
        if len(vs) == 0 or not sel.any():
            continue
        target = a[sel][:, None] - lags[None, :]  # where a lip event would have to be
        if len(vs) > 1:
            j = np.clip(np.searchsorted(vs, target), 1, len(vs) - 1)
            dist = np.minimum(np.abs(target - vs[j]), np.abs(target - vs[j - 1]))
        else:
            dist = np.abs(target - vs[0])
        out += np.exp(-0.5 * (dist / sigma) ** 2).sum(axis=0)
    return out


def event_offset(
    *,
    audio: Sequence[tuple[str, float]],
    lip: Sequence[tuple[str, float]],
    span: tuple[float, float] | None = None,
    max_lag_s: float = MAX_LAG_S,
    sigma_s: float = SIGMA_S,
    pair_s: float = PAIR_S,
    min_shift_s: float = MIN_SHIFT_S,
    min_events: int = MIN_EVENTS,
    min_z: float = MIN_Z,
) -> PhoneticOffset:
    """Offset of audio events against lip events of the same kinds.

    Parameters
    ----------
    audio : sequence of (kind, time s)
        Bilabial events in the audio (kind ``release`` or ``closure``).
    lip : sequence of (kind, time s)
        Lip events of the same kinds.
    span : (t0, t1), optional
        The time span the lip events were searched in (for the circular-shift null); by default
        the events' own span widened by ``max_lag_s``.

    Returns
    -------
    PhoneticOffset
        Unscored (``offset_ms`` None, with the reason) below ``min_events`` paired events or
        below ``min_z``.
    """
    a = np.array([t for _, t in audio], dtype=np.float64)
    ak = np.array([k for k, _ in audio], dtype=object)
    v = np.array([t for _, t in lip], dtype=np.float64)
    vk = np.array([k for k, _ in lip], dtype=object)
    if len(a) < min_events or len(v) < min_events:
        return PhoneticOffset(
            None, None, 0, len(a), len(v), float("nan"), None,
            reason=f"too few bilabial events ({len(a)} in the sound, {len(v)} lip closures; needs {min_events})",
        )  # fmt: skip
    lags = np.arange(-max_lag_s, max_lag_s + 1e-9, 0.001)
    sc = _score(a, ak, v, vk, lags, sigma_s)
    mode = float(lags[int(np.argmax(sc))])
    best = float(sc.max())
    if span is None:
        span = (float(min(a.min(), v.min())) - max_lag_s, float(max(a.max(), v.max())) + max_lag_s)
    length = span[1] - span[0]
    nulls = np.array(
        [
            _score(a, ak, span[0] + np.mod(v - span[0] + s, length), vk, lags, sigma_s).max()
            for s in np.arange(min_shift_s, length - min_shift_s + 1e-9, 0.05)
        ]
    )
    z = float((best - nulls.mean()) / nulls.std()) if len(nulls) > 3 and nulls.std() > 0 else float("nan")
    pairs = []
    for t, k in zip(a, ak, strict=True):
        cand = v[vk == k]
        if len(cand) == 0:
            continue
        j = int(np.argmin(np.abs(t - cand - mode)))
        if abs(t - cand[j] - mode) <= pair_s:
            pairs.append((str(k), float(t), 1000.0 * float(t - cand[j])))
    offs = np.array([o for _, _, o in pairs])
    mode_ms = round(1000 * mode, 1)
    if len(offs) < min_events:
        return PhoneticOffset(
            None, None, len(offs), len(a), len(v), z, mode_ms, pairs=tuple(pairs),
            reason=f"too few bilabial events paired with lip closures ({len(offs)} < {min_events})",
        )  # fmt: skip
    med = float(np.median(offs))
    mad = float(np.median(np.abs(offs - med)))
    ok = np.isfinite(z) and z >= min_z
    reason = None if ok else f"low confidence (z {z:.2f} < {min_z})"
    return PhoneticOffset(
        med if ok else None, mad, len(offs), len(a), len(v), z, mode_ms, median_ms=med, pairs=tuple(pairs), reason=reason
    )
