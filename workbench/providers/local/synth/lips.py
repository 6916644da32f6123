"""Lip closures for the bilabials /p b m/ (the ``articulated`` variant): the mouth closes for each and
parts exactly when the sound releases it.

Times come from espeak-ng's phoneme events (:attr:`..speech.Utterance.phonemes`). A stop's event
falls on its burst (measured on espeak-ng's waveform: the 1-5 kHz energy rises within 5 ms of it),
so the lips part there; they closed when the sound before the stop fell silent (the closure's
silence, read on the dry waveform). A nasal /m/ closes the lips from its own start to the next
phoneme's start. The opening is forced to 0 between closure and release and ramps linearly back
to the envelope-driven opening over :data:`RAMP_S` on each side: the lips leave 0 at the release
exactly, with no lead (the rest of the mouth keeps the envelope and its 55 ms lead).
"""

from __future__ import annotations

import numpy as np

#: espeak-ng phoneme mnemonics of the bilabials (English voices).
STOPS = frozenset({"p", "b"})
NASALS = frozenset({"m"})
#: The lips take this long to go from closed to the envelope's opening, and back (s): lips open and
#: close in 50-100 ms in connected speech.
RAMP_S = 0.06
#: The longest closure read back from a stop's burst (s); a stop after a pause closes no later than this.
MAX_CLOSURE_S = 0.15
#: A stop's closure when no silence precedes its burst (s).
DEFAULT_CLOSURE_S = 0.06
#: The closure's silence: 5 ms frames this far under the utterance's loudest frame (dB).
SILENCE_DB = -40.0
_HOP_S = 0.005


def bilabials(*, y: np.ndarray, sr: int, phonemes: tuple[tuple[str, float], ...]) -> list[dict[str, float | str]]:
    """Closure and release times (s from the utterance's start) of every bilabial.

    Parameters
    ----------
    y : np.ndarray
        The utterance's dry samples at ``sr`` (sample 0 is phoneme time 0).
    phonemes : tuple of (str, float)
        espeak-ng's phoneme events (mnemonic, start s).

    Returns
    -------
    list of dict
        ``phone`` (``p``, ``b``, ``m``), ``close_s``, ``release_s``.
    """
    hop = max(1, int(round(_HOP_S * sr)))
    n = len(y) // hop
    e = (np.asarray(y[: n * hop], dtype=np.float64).reshape(n, hop) ** 2).mean(axis=1) if n else np.zeros(0)
    quiet = e <= (e.max() if len(e) else 0.0) * 10 ** (SILENCE_DB / 10)
    out: list[dict[str, float | str]] = []
    for k, (name, t) in enumerate(phonemes):
        ph = name.strip("'`,").lower()
        if ph in NASALS:
            nxt = phonemes[k + 1][1] if k + 1 < len(phonemes) else t + 0.08
            out.append({"phone": "m", "close_s": round(t, 4), "release_s": round(nxt, 4)})
        elif ph in STOPS:
            # the closure began where the sound before the burst fell silent (a voiced /b/ may not fall silent:
            # then a typical closure)
            j0 = min(int(t / _HOP_S), n)
            lo = max(0, int((t - MAX_CLOSURE_S) / _HOP_S))
            j = j0
            while j > lo and quiet[j - 1]:
                j -= 1
            close = max(t - MAX_CLOSURE_S, j * _HOP_S) if j < j0 else t - DEFAULT_CLOSURE_S
            out.append({"phone": ph, "close_s": round(close, 4), "release_s": round(t, 4)})
    return out


def close_lips(openings: np.ndarray, *, fps: float, closures: list[tuple[float, float]], lead_s: float = 0.0) -> np.ndarray:
    """The mouth opening per frame with the lips shut from each closure to its release (picture time, s).

    ``openings`` is the envelope-driven opening of the frames (``face.mouth_track``); each frame ``k``
    is at ``k / fps + lead_s`` on the closures' timeline (0 for the picture's own timeline). The opening
    is ``min(opening, shape)`` where ``shape`` is 0 inside a closure and rises linearly to 1 within
    :data:`RAMP_S` on each side.
    """
    t = np.arange(len(openings)) / fps + lead_s
    shape = np.ones(len(openings))
    for c, r in closures:
        before = np.clip((c - t) / RAMP_S, 0.0, 1.0)
        after = np.clip((t - r) / RAMP_S, 0.0, 1.0)
        inside = (t >= c) & (t <= r)
        s = np.where(t < c, before, after)
        s[inside] = 0.0
        shape = np.minimum(shape, s)
    return np.minimum(np.asarray(openings, dtype=np.float64), shape)
