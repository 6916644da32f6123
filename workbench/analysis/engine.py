"""The analysis engine: decode once, run every analyzer, turn failures into reasons; score a run's clips.

Per clip, :func:`analyze_clip` runs the per-clip analyzers on one
:class:`~workbench.metrics.context.ClipContext` and :func:`batch_features` computes the
features of the batch analyzers; :func:`analyze_batch` then runs their cross-clip step over a
batch. :func:`analyze_task` is the picklable unit an executor ships (clip path in, scores and
features out). :func:`score_samples` scores a run's clips through an executor, with every
result cached in the store by (clip, analyzer version, prompt), so a rerun scores only what is
missing; :func:`analyze_clips` scores clips a creator already has (``workbench analyze``).

An analyzer that raises is recorded as ``analyzer error: ...`` for its metrics and the run goes
on; with ``WORKBENCH_STRICT=1`` (tests, CI) it raises instead, so a bug cannot hide as a blank
column.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import workbench.metrics.builtin  # noqa: F401  (registers the built-in analyzers)
from workbench._util import did_you_mean, progress
from workbench.analysis.executor import AnalysisExecutor, make_executor, single_threaded_math
from workbench.errors import ConfigError, MediaError
from workbench.media import MIN_DURATION_S
from workbench.metrics.context import ClipContext
from workbench.metrics.registry import Analyzer, get_analyzer, known_names, list_analyzers
from workbench.metrics.spec import Score
from workbench.prompt import Prompt
from workbench.rundir import RunDir, Sample, as_run
from workbench.store import ClipStore

log = logging.getLogger(__name__)

STRICT_ENV = "WORKBENCH_STRICT"

Scores = dict[str, Score]


def strict() -> bool:
    """True when analyzer exceptions must propagate (``WORKBENCH_STRICT=1``)."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


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


def _error(exc: Exception) -> str:
    return f"analyzer error: {type(exc).__name__}: {exc}"


def _run_one(an: Analyzer, ctx: ClipContext) -> Scores:
    try:
        out = an.fn(ctx) if an.fn is not None else {}
    except MediaError as exc:
        out = {m.name: Score.unscored(str(exc)) for m in an.outputs}
    except Exception as exc:  # an analyzer bug must not stop the run: record it
        if strict():
            raise
        log.warning("analyzer %s failed on %s\n%s", an.name, ctx.path, traceback.format_exc())
        out = {m.name: Score.unscored(_error(exc)) for m in an.outputs}
    for m in an.outputs:
        out.setdefault(m.name, Score.unscored("analyzer returned no value"))
    return out


def select_analyzers(names: Sequence[str] | None = None) -> list[Analyzer]:
    """Analyzers for a list of analyzer or metric names (None: all defaults), in registry order.

    Raises
    ------
    ConfigError
        A name no analyzer has or outputs, with every known name.
    """
    if names is None:
        return [a for a in list_analyzers() if a.default]
    seen: dict[str, Analyzer] = {}
    for i, n in enumerate(names):
        try:
            a = get_analyzer(n)
        except KeyError:
            raise ConfigError(f"unknown metric {n!r}{did_you_mean(n, sorted(known_names()))}", key=f"metrics[{i}]") from None
        seen.setdefault(a.name, a)
    return list(seen.values())


def analyze_clip(ctx: ClipContext, analyzers: Sequence[Analyzer]) -> Scores:
    """Run the per-clip analyzers on one clip; batch analyzers are skipped here.

    A clip that cannot be decoded gets every metric unscored with the same reason.
    """
    reason = check_clip(ctx)
    outputs = [m for a in analyzers for m in a.outputs]
    if reason is not None:
        return {m.name: Score.unscored(reason) for m in outputs}
    scores: Scores = {}
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
                if strict():
                    raise
                log.warning("features of %s failed on %s\n%s", an.name, ctx.path, traceback.format_exc())
                feats[an.name] = {"error": f"{type(exc).__name__}: {exc}"}
    return feats


def analyze_batch(
    contexts: Sequence[ClipContext],
    features: Sequence[dict[str, Any]],
    analyzers: Sequence[Analyzer],
) -> list[Scores]:
    """Run the cross-clip step of every batch analyzer over a whole batch."""
    results: list[Scores] = [{} for _ in contexts]
    for an in analyzers:
        if an.batch is None:
            continue
        feats = [f.get(an.name) for f in features]
        try:
            out = an.batch(feats, contexts)
        except Exception as exc:
            if strict():
                raise
            log.warning("batch step of %s failed\n%s", an.name, traceback.format_exc())
            out = [{m.name: Score.unscored(_error(exc)) for m in an.outputs} for _ in contexts]
        for r, o in zip(results, out, strict=True):
            r.update(o)
    return results


def analyze_task(clip_path: str, prompt_json: dict | None, analyzer_names: Sequence[str]) -> tuple[dict, dict]:
    """Analyse one clip: per-clip scores (as JSON) and batch features. Picklable in and out."""
    prompt = Prompt.model_validate(prompt_json) if prompt_json else None
    analyzers = select_analyzers(analyzer_names)
    ctx = ClipContext(path=Path(clip_path), prompt=prompt)
    scores = analyze_clip(ctx, analyzers)
    feats = batch_features(ctx, analyzers)
    return {k: v.to_json() for k, v in scores.items()}, feats


def analyze_clips(paths: Sequence[str | Path], prompt: Prompt | None, analyzers: Sequence[Analyzer]) -> list[Scores]:
    """Every metric of clips a creator already has, in process; the batch step runs over them together."""
    ctxs = [ClipContext(path=Path(p), prompt=prompt) for p in paths]
    per_clip = [analyze_clip(ctx, analyzers) for ctx in ctxs]
    feats = [batch_features(ctx, analyzers) for ctx in ctxs]
    for scores, extra in zip(per_clip, analyze_batch(ctxs, feats, analyzers), strict=True):
        scores.update(extra)
    return per_clip


def context_key(prompt: Prompt | None) -> str:
    """The prompt part of the score cache key."""
    return prompt.content_hash() if prompt is not None else "noprompt"


def score_samples(
    samples: Sequence[Sample],
    prompts: dict[str, Prompt],
    store: ClipStore,
    run: RunDir | Path,
    analyzers: Sequence[Analyzer],
    *,
    quiet: bool = False,
    executor: AnalysisExecutor | None = None,
    make: Callable[[int], AnalysisExecutor] | None = None,
) -> dict[str, Scores]:
    """Scores per sample id; per-clip results are cached in the store by clip and prompt.

    Parameters
    ----------
    executor : AnalysisExecutor, optional
        Where per-clip analysis runs (left open for the caller to close).
    make : callable, optional
        Otherwise, ``make(n_clips_to_analyse)`` builds the executor (closed here); default: local
        processes when worth it.
    """
    run = as_run(run)
    results: dict[str, Scores] = {}
    feats: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Sample, list[Analyzer]]] = []
    ok = [s for s in samples if s.status == "ok" and s.clip_sha256 and s.clip]
    for s in ok:
        assert s.clip_sha256 is not None
        ck = context_key(prompts.get(s.prompt_id))
        got: Scores = {}
        missing: list[Analyzer] = []
        f: dict[str, Any] = {}
        for an in analyzers:
            if an.is_batch:
                found, value = store.load_features(s.clip_sha256, an.name, an.version, ck)
                if found:
                    f[an.name] = value
                else:
                    missing.append(an)
                continue
            cached = store.load_scores(s.clip_sha256, an.name, an.version, ck)
            if cached is not None:
                got.update({k: Score.from_json(v) for k, v in cached.items()})
            else:
                missing.append(an)
        results[s.sample_id], feats[s.sample_id] = got, f
        if missing:
            todo.append((s, missing))

    def absorb(s: Sample, missing: list[Analyzer], out: tuple[dict, dict]) -> None:
        assert s.clip_sha256 is not None
        scores_json, fts = out
        ck = context_key(prompts.get(s.prompt_id))
        for an in missing:
            if an.is_batch:
                store.save_features(s.clip_sha256, an.name, an.version, ck, fts.get(an.name))
                feats[s.sample_id][an.name] = fts.get(an.name)
            else:
                part = {m.name: scores_json[m.name] for m in an.outputs if m.name in scores_json}
                store.save_scores(s.clip_sha256, an.name, an.version, ck, part)
                results[s.sample_id].update({k: Score.from_json(v) for k, v in part.items()})

    with progress(len(ok), "analyze", quiet) as bar:
        bar.update(len(ok) - len(todo))
        owns = executor is None
        if executor is None:
            executor = (make or (lambda n: make_executor("auto", n_tasks=n)))(len(todo))
        if executor.dashboard_link:
            bar.write(f"analysis dashboard: {executor.dashboard_link}")
        try:
            pj = {pid: p.model_dump(mode="json") for pid, p in prompts.items()}  # one dict per prompt, not per clip
            args = [(str(run.path / str(s.clip)), pj.get(s.prompt_id), [a.name for a in m]) for s, m in todo]
            for i, out in executor.map_unordered(analyze_task, args):
                absorb(*todo[i], out)  # written to the store at once: a crash keeps what was scored
                bar.update(1)
        finally:
            if owns:
                executor.close()

    # Cross-clip step, once per model: a model's clips are swapped among its own shots.
    batch_an = [a for a in analyzers if a.is_batch]
    if batch_an:
        by_model: dict[str, list[Sample]] = {}
        for s in ok:
            by_model.setdefault(s.model, []).append(s)
        for group in by_model.values():
            group = sorted(group, key=lambda s: s.sample_id)
            ctxs = [ClipContext(path=run.path / str(s.clip), prompt=prompts.get(s.prompt_id)) for s in group]
            with single_threaded_math():  # like the per-clip tasks: numbers independent of the core count
                outs = analyze_batch(ctxs, [feats[s.sample_id] for s in group], batch_an)
            for s, o in zip(group, outs, strict=True):
                results[s.sample_id].update(o)
    return results
