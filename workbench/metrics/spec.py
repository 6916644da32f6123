"""What a metric is and what it returns: :class:`MetricSpec`, :class:`Score`, and the built-in specs.

This module imports no signal processing, so the leaderboard, the report, comparisons across
runs and config validation know every built-in metric (its unit, direction, aggregate and
validated resolution) without loading the analyzers. A spec owns its metric's direction:
:meth:`MetricSpec.oriented`, :meth:`MetricSpec.better`, :attr:`MetricSpec.arrow` and
:attr:`MetricSpec.direction_text` are the one place "which way is better" is decided.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    _S = TypeVar("_S", float, "pd.Series")


@dataclass(frozen=True)
class Score:
    """One metric reading: a number, or the reason there is none."""

    value: float | None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    """Evidence behind the reading (JSON-able; shapes in :mod:`workbench.metrics.evidence`)."""

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            object.__setattr__(self, "reason", self.reason or "not a finite number")
            object.__setattr__(self, "value", None)
        if self.value is None and not self.reason:
            object.__setattr__(self, "reason", "unscored")

    @classmethod
    def unscored(cls, reason: str, **details: Any) -> Score:
        """A metric that could not measure this clip, with why."""
        return cls(value=None, reason=reason, details=details)

    @property
    def scored(self) -> bool:
        """True when the score carries a number."""
        return self.value is not None

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (the score cache)."""
        return {"value": self.value, "reason": self.reason, "details": dict(self.details)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Score:
        """Inverse of :meth:`to_json`."""
        return cls(value=d.get("value"), reason=d.get("reason"), details=d.get("details") or {})


@dataclass(frozen=True)
class MetricSpec:
    """Metadata of one output metric (a leaderboard column)."""

    name: str
    unit: str
    higher_is_better: bool | None
    """None when neither direction is better (a signed offset: closer to 0 is better)."""
    description: str
    aggregate: Literal["median", "mean"] = "median"
    best_at_zero: bool = False
    """Signed metrics whose ideal value is 0; the leaderboard ranks them by |value|."""
    resolution: float | None = None
    """Step below which two models' values are a tie in the leaderboard rank: the accuracy the
    metric is validated to (README, "Accuracy"). The rank compares ``floor(value / resolution)``."""

    @property
    def has_direction(self) -> bool:
        """True when one value can be better than another (a rank and a verdict make sense)."""
        return self.best_at_zero or self.higher_is_better is not None

    def oriented(self, values: _S) -> _S | None:
        """``values`` turned so that larger is better (None when the metric has no direction)."""
        if self.best_at_zero:
            return -abs(values)
        if self.higher_is_better is None:
            return None
        return values if self.higher_is_better else -values

    def better(self, old: float, new: float) -> bool | None:
        """Whether ``new`` is better than ``old`` (None without a direction or when equal)."""
        if not self.has_direction or old == new:
            return None
        if self.best_at_zero:
            return abs(new) < abs(old)
        return (new > old) == bool(self.higher_is_better)

    @property
    def arrow(self) -> str:
        """``(→0)``, ``↑``, ``↓`` or nothing: the direction in a column header."""
        if self.best_at_zero:
            return "(→0)"
        return {True: "↑", False: "↓"}.get(self.higher_is_better, "")  # type: ignore[arg-type]

    @property
    def direction_text(self) -> str:
        """The direction in words."""
        if self.best_at_zero:
            return "closer to 0 is better"
        return {True: "higher is better", False: "lower is better"}.get(
            self.higher_is_better,  # type: ignore[arg-type]
            "no better direction",
        )


ONE_FRAME_MS = 40.0
"""One video frame at 25 fps: the validated accuracy of the lip, foley and A/V offsets."""

BASIC = (
    MetricSpec("duration_s", "s", None, "Clip duration (longest stream)."),
    MetricSpec("audio_present", "bool", True, "1 if the clip has an audible audio track, else 0.", aggregate="mean"),
    MetricSpec("loudness_lufs", "LUFS", None, "Integrated loudness, ITU-R BS.1770-4."),
)
LIPSYNC = (
    MetricSpec(
        "lip_offset_ms", "ms", None, "Audio-visual offset of speech against the speaker's mouth (+ = audio late).",
        best_at_zero=True, resolution=ONE_FRAME_MS,
    ),
    MetricSpec(
        "lip_drift_ms_per_s", "ms/s", None,
        "Change of the lip offset over the clip (Theil-Sen slope of windowed offsets).",
        best_at_zero=True, resolution=10.0,  # the validation tolerance
    ),
    MetricSpec(
        "lip_confidence", "z", True,
        "How far the mouth-speech correlation peak stands above chance (z against shifted sound; 0 = none).",
    ),
    MetricSpec(
        "lip_bt1359_share", "share", True,
        "Share of speech windows inside the ITU-R BT.1359 window (audio <= 45 ms early, <= 125 ms late).",
    ),
)  # fmt: skip
AV_SYNC = (
    MetricSpec(
        "av_offset_ms", "ms", None,
        "Global audio-visual event offset from onset vs motion envelopes (+ = audio late); no face needed.",
        best_at_zero=True, resolution=ONE_FRAME_MS,
    ),
)  # fmt: skip
MUTE_TEST = (
    MetricSpec(
        "mute_coherence", "score", True,
        "Mute test: how much better the clip's own sound fits its picture than swapped or shifted sounds (0..1).",
    ),
)  # fmt: skip
FOLEY = (
    MetricSpec(
        "foley_offset_ms", "ms", None,
        "Median signed offset of prompted foley sounds against their visible cause (+ = sound late).",
        best_at_zero=True, resolution=ONE_FRAME_MS,
    ),
    MetricSpec("foley_abs_offset_ms", "ms", False, "Median absolute offset of prompted foley sounds.", resolution=ONE_FRAME_MS),
    MetricSpec(
        "foley_hit_rate", "share", True, "Share of prompted foley events found both in the picture and in the sound.",
        aggregate="mean",
    ),
)  # fmt: skip
ACOUSTIC = (
    MetricSpec("rt60_s", "s", None, "Blind RT60: T20-style fits on free decays (500/1k/2k Hz), 30th percentile."),
    MetricSpec("drr_db", "dB", None, "Early/late (C50-like) ratio around impulsive onsets: a DRR proxy."),
    MetricSpec("noise_floor_dbfs", "dBFS", None, "Noise floor: 10th percentile of 50 ms levels."),
    MetricSpec("ambience_db", "dBFS", None, "Level of the background bed (no speech, no events)."),
    MetricSpec("space_class_match", "bool", True, "1 if the estimated space class matches the prompt's.", aggregate="mean"),
    MetricSpec("acoustic_match", "0..1", True, "RT60 within the prompt's range (and DRR fits the shot size)."),
)
MIX = (
    MetricSpec(
        "speech_to_background_db", "dB", True, "Dialogue over music + ambience while speech is active.",
        resolution=2.0,  # the validation tolerance
    ),
    MetricSpec("dialogue_loudness_lufs", "LUFS", None, "Dialogue-gated loudness (BS.1770-4 while speech is active)."),
)  # fmt: skip

SPEECH = (
    MetricSpec(
        "line_wer", "share", False,
        "Word error rate of the heard words against the prompt's line(s) (Whisper tiny.en; English only).",
        resolution=0.1,  # espeak-ng lines: p90 error 0.0-0.3 on wrong, half and shuffled lines (README)
    ),
    MetricSpec(
        "line_start_offset_s", "s", None,
        "When the first line starts, heard (forced alignment), minus the prompt's start time (+ = late).",
        best_at_zero=True, resolution=ONE_FRAME_MS / 1000,
    ),
    MetricSpec(
        "speech_rate_syll_s", "syll/s", None,
        "Speaking rate: syllables per second of the aligned words, pauses over 0.25 s removed.",
        resolution=0.5,
    ),
    MetricSpec(
        "voiced_share", "share", None,
        "Share of the speech that is voiced (near 0 whispered); not read over music.",
        resolution=0.1,
    ),
)  # fmt: skip
LIP_PHONETIC = (
    MetricSpec(
        "lip_offset_phonetic_ms", "ms", None,
        "Audio-visual offset from bilabial /p b m/ releases and closures against lip closures (+ = audio late); "
        "no calibrated lag. A cross-check of lip_offset_ms: only beside a confident one, within 120 ms of it.",
        best_at_zero=True, resolution=ONE_FRAME_MS,
    ),
)  # fmt: skip

#: The built-in analyzers and the metrics each outputs, in registration order.
BUILTIN: dict[str, tuple[MetricSpec, ...]] = {
    "basic": BASIC,
    "acoustic": ACOUSTIC,
    "mix": MIX,
    "lipsync": LIPSYNC,
    "av_sync": AV_SYNC,
    "mute_test": MUTE_TEST,
    "foley": FOLEY,
    "speech": SPEECH,
    "lip_phonetic": LIP_PHONETIC,
}
