"""Basic clip facts: duration, audio present, integrated loudness (ITU-R BS.1770-4)."""

from __future__ import annotations

import numpy as np

from workbench.metrics.context import ClipContext
from workbench.metrics.kernels.levels import BS1770_BLOCK_S, SILENCE_LUFS, integrated_loudness
from workbench.metrics.registry import analyzer
from workbench.metrics.spec import BASIC, Score


@analyzer("basic", version=1, outputs=BASIC)
def basic_facts(ctx: ClipContext) -> dict[str, Score]:
    """Duration, whether there is audible audio, and integrated loudness."""
    d = ctx.decoded
    out = {"duration_s": Score(round(d.duration_s, 3))}
    if not ctx.info.has_audio or len(d.audio) == 0:
        out["audio_present"] = Score(0.0, details={"why": "no audio stream"})
        out["loudness_lufs"] = Score.unscored("no audio stream")
        return out
    if len(d.audio) < int(BS1770_BLOCK_S * d.sr):
        out["audio_present"] = Score(0.0)
        out["loudness_lufs"] = Score.unscored("audio shorter than 400 ms")
        return out
    lufs = integrated_loudness(y=d.audio, sr=d.sr)
    audible = np.isfinite(lufs) and lufs > SILENCE_LUFS
    out["audio_present"] = Score(1.0 if audible else 0.0)
    out["loudness_lufs"] = Score(round(lufs, 2)) if audible else Score.unscored("silent audio track")
    return out
