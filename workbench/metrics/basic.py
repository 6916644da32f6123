"""Basic clip facts: duration, audio present, integrated loudness (ITU-R BS.1770-4)."""

from __future__ import annotations

import numpy as np
import pyloudnorm

from workbench.errors import ParameterError
from workbench.metrics.registry import MetricSpec, Score, analyzer

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
    if len(y) < int(0.4 * sr):
        raise ParameterError("BS.1770 needs at least 400 ms of audio")
    meter = pyloudnorm.Meter(sr)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(np.asarray(y, dtype=np.float64)))


@analyzer(
    "basic",
    version=1,
    outputs=[
        MetricSpec("duration_s", "s", None, "Clip duration (longest stream)."),
        MetricSpec(
            "audio_present", "bool", True, "1 if the clip has an audible audio track, else 0.", aggregate="mean"
        ),
        MetricSpec("loudness_lufs", "LUFS", None, "Integrated loudness, ITU-R BS.1770-4."),
    ],
)
def basic_facts(ctx) -> dict[str, Score]:
    """Duration, whether there is audible audio, and integrated loudness."""
    d = ctx.decoded
    out = {"duration_s": Score(round(d.duration_s, 3))}
    if not ctx.info.has_audio or len(d.audio) == 0:
        out["audio_present"] = Score(0.0, details={"why": "no audio stream"})
        out["loudness_lufs"] = Score.unscored("no audio stream")
        return out
    if len(d.audio) < int(0.4 * d.sr):
        out["audio_present"] = Score(0.0)
        out["loudness_lufs"] = Score.unscored("audio shorter than 400 ms")
        return out
    lufs = integrated_loudness(y=d.audio, sr=d.sr)
    audible = np.isfinite(lufs) and lufs > SILENCE_LUFS
    out["audio_present"] = Score(1.0 if audible else 0.0)
    out["loudness_lufs"] = Score(round(lufs, 2)) if audible else Score.unscored("silent audio track")
    return out
