"""Voice activity from a learned detector's speech probabilities, on the envelope grid.

The probabilities come from Silero VAD v6 (one per 32 ms chunk of 16 kHz audio; the model runs
in :mod:`workbench.metrics.speechmodels`). :func:`activity_from_probs` puts them on the 100 Hz
grid and applies hysteresis as Silero's own ``get_speech_timestamps`` does (speech starts at
:data:`THRESHOLD`, ends below ``THRESHOLD - 0.15``), then the same cleanup as the energy gate
(``envelopes.voice_activity``: pauses under 0.25 s bridged, bursts under 0.1 s dropped), so the
two gates differ only in the detector. Silero beats the energy gate and the mix analyzer's
statistical gate on speech over music and ambience (``benchmarks/validate_speech.py``, VAD table).
"""

from __future__ import annotations

import numpy as np

from workbench.metrics.kernels.envelopes import GRID_RATE, _close_gaps, _drop_short

#: Speech probability at which activity starts (Silero's default).
THRESHOLD = 0.5
#: Activity ends below ``THRESHOLD - HYSTERESIS`` (Silero's ``neg_threshold``).
HYSTERESIS = 0.15
#: Pauses shorter than this are bridged, bursts shorter than that dropped (s): the energy gate's values.
MAX_GAP_S, MIN_SPEECH_S = 0.25, 0.1


def activity_from_probs(
    *,
    probs: np.ndarray,
    n: int,
    chunk_s: float,
    rate: int = GRID_RATE,
    threshold: float = THRESHOLD,
    max_gap_s: float = MAX_GAP_S,
    min_speech_s: float = MIN_SPEECH_S,
) -> np.ndarray:
    """Speech activity on a ``rate`` Hz grid of ``n`` points from per-chunk speech probabilities.

    Parameters
    ----------
    probs : np.ndarray, shape (m,)
        Speech probability of chunk ``k``, which covers ``[k * chunk_s, (k + 1) * chunk_s)``.
    n : int
        Grid length (e.g. ``len(envelopes.speech_envelope(...))``).
    chunk_s : float
        Chunk length (s).

    Returns
    -------
    np.ndarray of bool, shape (n,)
    """
    p = np.asarray(probs, dtype=np.float64)
    if n <= 0:
        return np.zeros(0, dtype=bool)
    if len(p) == 0:
        return np.zeros(n, dtype=bool)
    k = np.clip((np.arange(n) / rate / chunk_s).astype(int), 0, len(p) - 1)
    pg = p[k]
    on = np.zeros(n, dtype=bool)
    state = False
    for i, v in enumerate(pg):
        state = bool(v >= threshold) if not state else bool(v >= threshold - HYSTERESIS)
        on[i] = state
    on = _close_gaps(on, int(round(max_gap_s * rate)))
    return _drop_short(on, int(round(min_speech_s * rate)))
