"""Room impulse responses: synthesis with a target RT60 and DRR, and their measurement.

The synthetic RIR is a direct impulse at sample 0 (so the room adds no delay to the direct
sound), a few sparse early reflections and an exponentially decaying, gently low-passed
Gaussian-noise tail (Polack's stochastic model). What is recorded as ground truth is what is
*measured* on the applied RIR: RT60 by Schroeder backward integration with a T20 line fit, and
DRR as the energy within +-2.5 ms of the direct peak over the rest.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from workbench.prompt import Prompt

#: Direct-to-reverberant ratio (dB) by shot size: the closer the camera, the drier the voice.
SHOT_DRR_DB = {
    "extreme_close_up": 12.0,
    "close_up": 9.0,
    "medium_close_up": 6.0,
    "medium": 3.0,
    "wide": -2.0,
    "extreme_wide": -5.0,
}
#: Delay and relative level of the one discrete echo of an outdoor scene whose description mentions an echo.
OUTDOOR_ECHO_S = 0.12
OUTDOOR_ECHO_DB = -20.0
DIRECT_WINDOW_S = 0.0025


def rt60_target(prompt: Prompt) -> float | None:
    """Target RT60 (s): geometric mean of the prompt's expected range; None outdoors."""
    if prompt.acoustics.space_class() == "outdoor":
        return None
    lo, hi = prompt.acoustics.expected_rt60_s()
    return math.sqrt(lo * hi)


def synth_rir(*, rt60: float, drr_db: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stochastic RIR with a given decay time and direct-to-reverberant ratio.

    Parameters
    ----------
    rt60 : float
        Target reverberation time (s) of the exponential envelope ``exp(-6.91 t / rt60)``.
    drr_db : float
        Target energy ratio of the direct window (+-2.5 ms) to everything after it.
    sr : int
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float64
        ``h[0] == 1`` is the direct sound; length about ``rt60 + 0.1`` s.

    Notes
    -----
    Polack's model: diffuse tail = white noise times an exponential envelope; early reflections are
    sparse impulses from 4 ms on, spread wider for longer (larger) rooms.
    """
    n = int((rt60 + 0.1) * sr)
    t = np.arange(n) / sr
    env = np.exp(-6.91 * t / rt60)
    tail = rng.standard_normal(n) * env
    onset = 0.004 + 0.004 * min(rt60, 3.0)
    ramp = np.clip((t - onset) / 0.01, 0.0, 1.0)
    tail *= ramp
    # air absorption: one-pole low-pass, about 7 kHz
    a = math.exp(-2 * math.pi * 7000 / sr)
    tail = lfilter([1 - a], [1, -a], tail)
    early = np.zeros(n)
    span = 0.02 + 0.03 * min(rt60, 3.0)
    for d in np.sort(rng.uniform(0.004, 0.004 + span, 6)):
        k = int(d * sr)
        early[k] += rng.choice((-1.0, 1.0)) * rng.uniform(0.4, 0.8) * math.exp(-6.91 * d / rt60)
    rev = early + tail * (np.sqrt(np.sum(early**2)) / np.sqrt(np.sum(tail**2) + 1e-30)) * 3.0
    h = rev.copy()
    h[0] = 0.0
    w = int(DIRECT_WINDOW_S * sr)
    rest = np.sum(h[w + 1 :] ** 2)
    h *= math.sqrt(10 ** (-drr_db / 10) / rest)
    h[: w + 1] = 0.0
    h[0] = 1.0
    return h


def outdoor_rir(*, echo: bool, sr: int) -> np.ndarray:
    """Open air: the direct impulse, plus one faint discrete echo when ``echo``."""
    h = np.zeros(int((OUTDOOR_ECHO_S + 0.01) * sr) if echo else 1)
    h[0] = 1.0
    if echo:
        h[int(OUTDOOR_ECHO_S * sr)] = 10 ** (OUTDOOR_ECHO_DB / 20)
    return h


def schroeder_db(h: np.ndarray) -> np.ndarray:
    """Energy decay curve (dB, 0 at the start) by Schroeder backward integration (Schroeder 1965)."""
    e = np.cumsum((h.astype(np.float64) ** 2)[::-1])[::-1]
    with np.errstate(divide="ignore"):
        return 10 * np.log10(e / e[0])


def measure_rt60(*, h: np.ndarray, sr: int, lo_db: float = -5.0, hi_db: float = -25.0) -> float | None:
    """RT60 of an impulse response from a line fit to its Schroeder decay (T20 x 3 by default).

    Parameters
    ----------
    h : np.ndarray, shape (n,)
        Impulse response.
    sr : int
    lo_db, hi_db : float
        Fit range on the energy decay curve (ISO 3382-1: -5 to -25 dB for T20).

    Returns
    -------
    float or None
        Seconds for a 60 dB decay; None when the curve never reaches ``hi_db``.
    """
    edc = schroeder_db(h)
    idx = np.nonzero((edc <= lo_db) & (edc >= hi_db))[0]
    if len(idx) < 3 or edc[-1] > hi_db:
        return None
    t = idx / sr
    slope, _ = np.polyfit(t, edc[idx], 1)
    return float(-60.0 / slope) if slope < 0 else None


def measure_drr(*, h: np.ndarray, sr: int) -> float | None:
    """Direct-to-reverberant ratio (dB): energy within +-2.5 ms of the peak over the rest.

    Returns None when there is nothing but the direct sound.
    """
    e = h.astype(np.float64) ** 2
    k = int(np.argmax(np.abs(h)))
    w = int(round(DIRECT_WINDOW_S * sr))
    direct = e[max(k - w, 0) : k + w + 1].sum()
    rest = e.sum() - direct
    if rest <= 0:
        return None
    return float(10 * np.log10(direct / rest))
