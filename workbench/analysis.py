"""Per-clip analysis: decode once, run every analyzer, turn failures into reasons.

:class:`ClipContext` is what analyzers see: the clip path, the prompt that produced it
(targets), and the decoded streams (decoded lazily, once, shared by all analyzers).
Analyzers must not read ground truth from ``meta``: that is for validation only.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workbench.errors import MediaError
from workbench.media import MIN_DURATION_S, DecodedClip, MediaInfo, decode, probe
from workbench.metrics.registry import Analyzer, Score, list_analyzers
from workbench.prompt import Prompt

log = logging.getLogger(__name__)

ANALYSIS_SR = 16000
ANALYSIS_MAX_SIDE = 480


@dataclass
class ClipContext:
    """A clip as analyzers see it."""

    path: Path
    prompt: Prompt | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    """Scratch space shared between analyzers of one clip (e.g. a face track)."""

    @cached_property
    def info(self) -> MediaInfo:
        """Stream facts (probe only)."""
        return probe(self.path)

    @cached_property
    def decoded(self) -> DecodedClip:
        """Audio at 16 kHz mono and YUV 4:2:0 frames at most 480 px on the long side."""
        return decode(self.path, sr=ANALYSIS_SR, max_side=ANALYSIS_MAX_SIDE)


def check_clip(ctx: ClipContext) -> str | None:
    """A one-line reason the clip cannot be analysed at all, or None."""
    try:
        info = ctx.info
    except MediaError as exc:
        return str(exc)
    if not info.has_video and not info.has_audio:
        return "no audio or video stream"
    try:
        d = ctx.decoded
    except MediaError as exc:
        return str(exc)
    if d.duration_s < MIN_DURATION_S:
        return f"clip is {d.duration_s:.2f} s long, shorter than {MIN_DURATION_S:g} s"
    return None


def _run_one(an: Analyzer, ctx: ClipContext) -> dict[str, Score]:
    try:
        out = an.fn(ctx) if an.fn is not None else {}
    except MediaError as exc:
        out = {m.name: Score.unscored(str(exc)) for m in an.outputs}
    except Exception as exc:  # an analyzer bug must not stop the run: record it
        log.debug("analyzer %s failed on %s\n%s", an.name, ctx.path, traceback.format_exc())
        out = {m.name: Score.unscored(f"analyzer error: {type(exc).__name__}: {exc}") for m in an.outputs}
    for m in an.outputs:
        out.setdefault(m.name, Score.unscored("analyzer returned no value"))
    return out


def select_analyzers(names: Sequence[str] | None = None) -> list[Analyzer]:
    """Analyzers for a list of analyzer or metric names (None: all defaults)."""
    from workbench.metrics.registry import get_analyzer

    if names is None:
        return [a for a in list_analyzers() if a.default]
    seen: dict[str, Analyzer] = {}
    for n in names:
        a = get_analyzer(n)
        seen.setdefault(a.name, a)
    return list(seen.values())


def analyze_clip(ctx: ClipContext, analyzers: Sequence[Analyzer]) -> dict[str, Score]:
    """Run the per-clip analyzers on one clip; batch analyzers are skipped here.

    A clip that cannot be decoded gets every metric unscored with the same reason.
    """
    reason = check_clip(ctx)
    outputs = [m for a in analyzers for m in a.outputs]
    if reason is not None:
        return {m.name: Score.unscored(reason) for m in outputs}
    scores: dict[str, Score] = {}
    for an in analyzers:
        if an.is_batch:
            continue
        scores.update(_run_one(an, ctx))
    return scores


def batch_features(ctx: ClipContext, analyzers: Sequence[Analyzer]) -> dict[str, Any]:
    """Per-clip features for every batch analyzer (None where the clip is unusable)."""
    feats: dict[str, Any] = {}
    if check_clip(ctx) is not None:
        return {a.name: None for a in analyzers if a.is_batch}
    for an in analyzers:
        if an.is_batch and an.features is not None:
            try:
                feats[an.name] = an.features(ctx)
            except Exception as exc:  # recorded as unscored in the batch step
                feats[an.name] = {"error": f"{type(exc).__name__}: {exc}"}
    return feats


def analyze_batch(
    contexts: Sequence[ClipContext],
    features: Sequence[dict[str, Any]],
    analyzers: Sequence[Analyzer],
) -> list[dict[str, Score]]:
    """Run the cross-clip step of every batch analyzer over a whole batch."""
    results: list[dict[str, Score]] = [{} for _ in contexts]
    for an in analyzers:
        if not an.is_batch:
            continue
        feats = [f.get(an.name) for f in features]
        try:
            out = an.batch(feats, contexts)
        except Exception as exc:
            out = [{m.name: Score.unscored(f"analyzer error: {type(exc).__name__}: {exc}") for m in an.outputs}] * len(contexts)
        for r, o in zip(results, out, strict=True):
            r.update(o)
    return results
