"""Learned voice activity of a clip (Silero VAD v6), computed once per clip for the speech analysis.

Silero's per-chunk speech probabilities (:func:`workbench.metrics.speechmodels.silero_probs`) go
on the 100 Hz envelope grid through :func:`workbench.metrics.kernels.vad.activity_from_probs`.
Measured against the lip-sync energy gate and the mix analyzer's statistical gate on speech over
music and ambience at known ratios and on clips without speech, Silero finds speech better and
hears far less of it where there is none (``benchmarks/validate_speech.py``, README "The spoken
line"), so the speech analysis uses it. The lip-sync analyzer keeps its energy gate and the mix
analyzer its statistical gate: gating the speech-to-background ratio with Silero was measured
worse on dynamic beds (:mod:`workbench.metrics.acoustic`). The mix analyzer asks Silero only
whether the clip has speech at all (:data:`MIN_VOICE_S`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.metrics.context import Memo, Slot
from workbench.metrics.kernels.envelopes import GRID_RATE
from workbench.metrics.kernels.vad import activity_from_probs
from workbench.metrics.speechmodels import SILERO_CHUNK, SR, ModelUnavailable, silero_probs


@dataclass(frozen=True)
class VoiceActivity:
    """Silero's speech probabilities and the activity they give on the 100 Hz grid."""

    probs: np.ndarray
    """Speech probability per 32 ms chunk."""
    active: np.ndarray
    """bool, one per 10 ms from the clip's start."""

    @property
    def speech_s(self) -> float:
        """Seconds of speech."""
        return float(self.active.sum()) / GRID_RATE


#: A clip with less learned voice activity than this (s) has no speech, unless Whisper hears words in it
#: (a whisper has no voicing for Silero; see ``acoustic._voice_check``). On the 12 real and generated
#: clips without speech in ../shared/data (ambience, foley, an 88 s nature montage) Silero hears
#: 0.00 s on 11 and 1.05 s on the real axe clip; on each of the 21 with speech, 0.64-18 s (the least:
#: an anime girl's line over fireworks, 0.64 s), in the audio the analysis decodes. The mix's
#: statistical gate hears 0.8-44 s of "speech" on 8 of those 12 (``benchmarks/validate_speech.py``,
#: section ``vad``).
MIN_VOICE_S = 0.3


#: The clip's learned voice activity (or why there is none).
VOICE: Slot[VoiceActivity | str] = Slot("learned voice activity")


def grid_length(n_samples: int, sr: int, rate: int = GRID_RATE) -> int:
    """Points of the ``rate`` Hz grid that cover ``n_samples`` at ``sr``."""
    return int(np.ceil(n_samples / (sr / rate))) if n_samples else 0


def _compute(clip: Any) -> VoiceActivity | str:
    if clip.sr != SR:
        return f"voice activity needs {SR} Hz audio (got {clip.sr})"
    if len(clip.audio) == 0:
        return "no audio stream"
    try:
        p = silero_probs(y=clip.audio, sr=clip.sr)
    except ModelUnavailable as exc:
        return f"no voice-activity model: {exc}"
    n = grid_length(len(clip.audio), clip.sr)
    return VoiceActivity(probs=p, active=activity_from_probs(probs=p, n=n, chunk_s=SILERO_CHUNK / SR))


def learned_activity(clip: Any, memo: Memo | None = None) -> VoiceActivity | str:
    """Silero voice activity of a decoded clip (``audio`` at 16 kHz, ``sr``), kept in ``memo`` (slot :data:`VOICE`)."""
    if memo is None:
        return _compute(clip)
    return memo.get(VOICE, lambda: _compute(clip))
