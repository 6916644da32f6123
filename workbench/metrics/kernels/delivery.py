"""Delivery measures that can be checked: speaking rate, and voiced share (whispered vs voiced).

* Speaking rate (articulation rate): syllables (vowel phones of the aligned words) per second of
  speaking time, i.e. first word start to last word end minus pauses longer than
  :data:`PAUSE_S`. Conversational English articulates about 4-6 syllables/s (Jacewicz, Fox &
  Wei 2010, "Between-speaker and within-speaker variation in speech tempo of American English",
  JASA 128; Goldman-Eisler 1968): :data:`PACE_WORDS` maps a prompt's delivery words to a range.
  The measurement is validated (``benchmarks/validate_speech.py``: espeak-ng lines at 90-300
  words/min); the mapping from words to ranges is the literature's, not validated on generated
  speech.
* Voiced share: the share of voice-active frames whose voicing strength (normalised
  autocorrelation in 70-400 Hz, ``envelopes.voicing``) exceeds :data:`VOICED_THRESHOLD`.
  Whispered speech has no pitch, so its share is near 0 (espeak-ng whispers 0.015-0.043, voiced
  lines 0.48-0.81, real talking clips 0.43-0.71). A periodic music bed under the voice is voiced
  too: the share says nothing about a whisper over music.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from workbench.metrics.kernels.phonetic import VOWELS, AlignedWord

#: A gap between two words longer than this is a pause, not speaking time (s).
PAUSE_S = 0.25
#: Voicing strength above which a frame is voiced (the lip-sync analyzer's threshold).
VOICED_THRESHOLD = 0.6
#: A voiced share at or below this reads "whispered": between espeak-ng's whispers (at most 0.043)
#: and the least voiced real talking clip (0.43), issue 15's measurements.
WHISPER_MAX_SHARE = 0.15
#: Delivery words that name a pace, and the articulation rate (syllables/s) each asks for: under the
#: 4-6 syllables/s of conversational English for "slow", over it for "hurried" (see the module notes).
SLOW_MAX_SYLL_S = 4.0
FAST_MIN_SYLL_S = 5.5
PACE_WORDS: dict[str, tuple[float, float]] = {
    "slow": (0.0, SLOW_MAX_SYLL_S),
    "slowly": (0.0, SLOW_MAX_SYLL_S),
    "measured": (0.0, SLOW_MAX_SYLL_S),
    "drawn-out": (0.0, SLOW_MAX_SYLL_S),
    "hurried": (FAST_MIN_SYLL_S, np.inf),
    "fast": (FAST_MIN_SYLL_S, np.inf),
    "rushed": (FAST_MIN_SYLL_S, np.inf),
    "rapid": (FAST_MIN_SYLL_S, np.inf),
    "quickly": (FAST_MIN_SYLL_S, np.inf),
    "breathless": (FAST_MIN_SYLL_S, np.inf),
}
#: Delivery words that ask for a whisper.
WHISPER_WORDS = ("whisper", "whispered", "whispers", "whispering")


def speaking_rate(*, words: Sequence[AlignedWord], pause_s: float = PAUSE_S) -> dict[str, float] | None:
    """Articulation rate of aligned words.

    Returns
    -------
    dict or None
        ``syllables_per_s``, ``words_per_s``, ``speaking_time_s``, ``pause_s``, ``syllables``,
        ``words``; None with fewer than two words or no speaking time.
    """
    if len(words) < 2:
        return None
    span = words[-1].end - words[0].start
    pauses = sum(max(0.0, b.start - a.end) for a, b in itertools.pairwise(words) if b.start - a.end > pause_s)
    t = span - pauses
    if t <= 0:
        return None
    syl = sum(1 for w in words for p in w.phones if p.name in VOWELS)
    return {
        "syllables_per_s": syl / t,
        "words_per_s": len(words) / t,
        "speaking_time_s": t,
        "pause_s": pauses,
        "syllables": float(syl),
        "words": float(len(words)),
    }


def _tokens(delivery: str) -> list[str]:
    return [w.strip(".,;:!?()\"'").lower() for w in delivery.replace("/", " ").split()]


def expected_pace(delivery: str) -> tuple[str, tuple[float, float]] | None:
    """The pace word a delivery text names and its rate range (syllables/s), or None."""
    for w in _tokens(delivery):
        if w in PACE_WORDS:
            return w, PACE_WORDS[w]
    return None


def asks_whisper(delivery: str) -> bool:
    """Whether a delivery text asks for a whisper."""
    return any(w in WHISPER_WORDS for w in _tokens(delivery))


def voiced_share(*, voicing: np.ndarray, active: np.ndarray, threshold: float = VOICED_THRESHOLD) -> float | None:
    """Share of active frames that are voiced (None without activity)."""
    a = np.asarray(active, dtype=bool)
    n = min(len(a), len(voicing))
    a = a[:n]
    if not a.any():
        return None
    return float(np.mean(np.asarray(voicing)[:n][a] > threshold))
