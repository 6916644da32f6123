"""Synthesized sounds: foley impacts, ambience beds and a simple tonal music bed.

All generators are pure functions of their arguments and an explicit ``numpy`` generator, so a
clip's sound is reproducible. Levels are returned un-normalised; the mixer sets stem levels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import butter, sosfilt

from workbench.prompt import FoleyEvent

#: Foley sound kinds this module synthesizes.
FOLEY_KINDS = ("knock", "glass", "clap", "slam", "footstep")


def foley_kind(event: FoleyEvent) -> str:
    """The synthesized sound kind for a prompt's foley event (from its kind and its words)."""
    words = f"{event.action} {event.sound}".lower()
    if event.kind == "footsteps" or "footstep" in words or "step" in words:
        return "footstep"
    if event.kind == "slam" or "slam" in words or "door" in words:
        return "slam"
    if "clap" in words:
        return "clap"
    if "glass" in words:
        return "glass"
    return "knock"


def _band(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    sos = butter(order, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
    return sosfilt(sos, x)


def _lowpass(x: np.ndarray, hi: float, sr: int, order: int = 2) -> np.ndarray:
    return sosfilt(butter(order, hi, btype="low", fs=sr, output="sos"), x)


def impact(kind: str, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One foley impact: filtered noise burst (plus partials) with a fast attack and exponential decay.

    Parameters
    ----------
    kind : str
        One of :data:`FOLEY_KINDS`.
    sr : int
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float64
        Peak-normalised to 1; the onset is sample 0 (attack under 1 ms).
    """
    n = int(0.6 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    if kind == "footstep":
        y = _band(noise, 80, 1500, sr) * np.exp(-t / 0.025) + 0.5 * np.sin(2 * np.pi * 110 * t) * np.exp(-t / 0.03)
        y += 0.4 * _band(noise, 2000, 6000, sr) * np.exp(-t / 0.004)
    elif kind == "slam":
        y = _band(noise, 40, 400, sr) * np.exp(-t / 0.12) + 0.8 * np.sin(2 * np.pi * 70 * t) * np.exp(-t / 0.1)
        y += 0.6 * _band(noise, 800, 6000, sr) * np.exp(-t / 0.01)
    elif kind == "clap":
        y = _band(noise, 900, 4000, sr) * np.exp(-t / 0.012)
    elif kind == "glass":
        y = 0.5 * _band(noise, 1500, 9000, sr) * np.exp(-t / 0.004)
        for f, tau in ((2650.0, 0.12), (4130.0, 0.08), (6220.0, 0.05)):
            y += 0.3 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau)
    else:  # knock
        y = _band(noise, 250, 2000, sr) * np.exp(-t / 0.035) + 0.4 * np.sin(2 * np.pi * 180 * t) * np.exp(-t / 0.04)
    attack = np.clip(t / 0.0005, 0.0, 1.0)
    y = y * attack
    return y / (np.max(np.abs(y)) + 1e-12)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish (1/f) noise by spectral shaping, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return y / (np.sqrt(np.mean(y**2)) + 1e-12)


def _rms1(y: np.ndarray) -> np.ndarray:
    return y / (np.sqrt(np.mean(y**2)) + 1e-12)


def _slow_mod(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random modulation in [0, 1] with about ``rate_hz`` changes per second."""
    k = max(int(n / sr * rate_hz) + 3, 4)
    pts = rng.uniform(0.0, 1.0, k)
    return np.interp(np.arange(n), np.linspace(0, n, k), pts)


def ambience_components(description: str) -> list[str]:
    """Which bed components a prompt's ambience text asks for (``room_tone`` is always there)."""
    d = description.lower()
    comps = ["room_tone"]
    if any(w in d for w in ("hum", "hood", "fridge", "air condition", "ventilat", "fan")):
        comps.append("hum")
    if "wind" in d:
        comps.append("wind")
    if any(w in d for w in ("chatter", "murmur", "crowd", "babble", "cafe", "restaurant")):
        comps.append("chatter")
    if "clock" in d:
        comps.append("clock")
    return comps


def ambience(components: list[str], *, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """An ambience bed of unit RMS from the named components (see :func:`ambience_components`).

    room_tone: pink noise; hum: 50/100/150 Hz harmonics plus low-passed noise; wind: low-passed noise
    with slow amplitude modulation; chatter: band-passed (300-3000 Hz) noise modulated at syllable
    rate; clock: a faint tick every second.
    """
    t = np.arange(n) / sr
    y = 0.3 * _pink(n, rng)
    if "hum" in components:
        hum = sum(
            a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f, a in ((50, 1.0), (100, 0.6), (150, 0.35))
        )
        y += 0.8 * _rms1(hum) + 0.5 * _rms1(_lowpass(rng.standard_normal(n), 400, sr))
    if "wind" in components:
        gust = 0.3 + 0.7 * _slow_mod(n, sr, 0.7, rng)
        y += 1.2 * _rms1(_lowpass(rng.standard_normal(n), 300, sr)) * gust
    if "chatter" in components:
        syll = np.clip(_slow_mod(n, sr, 5.0, rng) + _slow_mod(n, sr, 3.3, rng) - 0.6, 0.0, None)
        y += 0.9 * _rms1(_band(rng.standard_normal(n), 300, 3000, sr) * syll)
    if "clock" in components:
        tick = np.zeros(n)
        for k in range(int(n / sr) + 1):
            i = int((k + 0.37) * sr)
            if i < n:
                m = min(int(0.01 * sr), n - i)
                tick[i : i + m] += np.exp(-np.arange(m) / (0.002 * sr))
        y += 2.0 * _band(tick, 2000, 6000, sr)
    return _rms1(y)


# A minor, F major, C major, G major: (bass root Hz, chord tones Hz)
_PROGRESSION = (
    (110.0, (220.0, 261.63, 329.63)),
    (87.31, (174.61, 220.0, 261.63)),
    (130.81, (261.63, 329.63, 392.0)),
    (98.0, (196.0, 246.94, 293.66)),
)


def _note(f: float, n: int, sr: int, decay_s: float, harmonics: int) -> np.ndarray:
    t = np.arange(n) / sr
    y = sum((0.6**h) * np.sin(2 * np.pi * f * (h + 1) * t) for h in range(harmonics))
    return y * np.exp(-t / decay_s) * np.clip(t / 0.004, 0.0, 1.0)


def music(*, n: int, sr: int, bpm: float = 84.0, offset_beats: int = 0) -> np.ndarray:
    """A slow piano-and-bass bed of unit RMS: one chord per bar, piano on every beat, bass on 1 and 3.

    Deterministic (no noise). ``offset_beats`` rotates the progression (for a different bed).
    """
    y = np.zeros(n)
    beat = 60.0 / bpm
    n_beats = int(n / sr / beat) + 1
    for b in range(n_beats):
        i = int(b * beat * sr)
        if i >= n:
            break
        bass, chord = _PROGRESSION[((b + offset_beats) // 4) % len(_PROGRESSION)]
        m = min(int(1.5 * sr), n - i)
        for f in chord:
            y[i : i + m] += 0.5 * _note(f, m, sr, 0.5, 4)
        if b % 2 == 0:
            y[i : i + m] += 0.9 * _note(bass, m, sr, 0.8, 2)
    return _rms1(y)


def db(x: float) -> float:
    """Power ratio in dB (``-inf`` safe)."""
    return 10 * math.log10(x) if x > 0 else float("-inf")
