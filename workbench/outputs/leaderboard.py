"""Long-format scores and the per-model leaderboard (CSV, Markdown, HTML).

``scores.csv`` has one row per clip x metric; a metric that could not score a clip has an
empty value and its reason. The leaderboard aggregates each metric per model (median or
mean as the metric's spec says) with its spread (interquartile range) and n, skipping
unscored clips, and adds failures, cost and generation latency. Any metric registered
later appears without change here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._util import atomic_write_bytes, atomic_write_json
from workbench.metrics.registry import Analyzer, metric_specs
from workbench.metrics.spec import MetricSpec, Score
from workbench.rundir import RunDir, Sample, as_run

#: The creators' questions first (mute test, lips, room, foley, mix); every other metric follows.
HEADLINE_METRICS = (
    "mute_coherence", "lip_offset_ms", "lip_drift_ms_per_s", "lip_bt1359_share", "acoustic_match",
    "rt60_s", "foley_offset_ms", "speech_to_background_db",
)  # fmt: skip

SCORE_COLUMNS = [
    "sample_id", "prompt_id", "model", "provider", "repeat", "clip_sha256",
    "metric", "value", "unit", "reason", "analyzer", "analyzer_version",
]  # fmt: skip


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def write_scores(
    run_dir: Path | RunDir,
    samples: Sequence[Sample],
    scores: Mapping[str, Mapping[str, Score]],
    analyzers: Sequence[Analyzer],
) -> pd.DataFrame:
    """Write ``scores.csv`` (long) and ``details/<sample_id>.json``; return the frame."""
    run = as_run(run_dir)
    owner = {m.name: (a, m) for a in analyzers for m in a.outputs}
    rows = []
    for s in samples:
        got = scores.get(s.sample_id)
        if not got:
            continue
        details = {}
        order = [n for n in owner if n in got] + sorted(n for n in got if n not in owner)
        for name in order:
            sc = got[name]
            a, m = owner.get(name, (None, None))
            rows.append({
                "sample_id": s.sample_id, "prompt_id": s.prompt_id, "model": s.model, "provider": s.provider,
                "repeat": s.repeat, "clip_sha256": s.clip_sha256, "metric": name, "value": sc.value,
                "unit": m.unit if m else "", "reason": sc.reason if sc.value is None else "",
                "analyzer": a.name if a else "", "analyzer_version": a.version if a else None,
            })  # fmt: skip
            if sc.details:
                details[name] = _jsonable(sc.details)
        if details:
            atomic_write_json(run.details_path(s.sample_id), details)
    df = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    atomic_write_bytes(run.scores_path, df.to_csv(index=False).encode())
    return df


def _iqr(v: pd.Series) -> float:
    return float(v.quantile(0.75) - v.quantile(0.25)) if len(v) else float("nan")


def metric_rank(values: pd.Series, spec: MetricSpec) -> pd.Series:
    """Rank of each model on one metric (1 = best; ties share the mean rank; NaN stays NaN).

    Signed metrics whose ideal is 0 rank by |value|; a metric with a ``resolution`` compares
    ``floor(value / resolution)``, so differences it cannot measure are ties.
    """
    return spec.rank_key(values).rank(ascending=True)


def leaderboard(run_dir: Path | RunDir, *, specs: Mapping[str, MetricSpec] | None = None) -> pd.DataFrame:
    """Per-model table: each metric's aggregate, spread and n; failures, cost, latency, rank.

    ``rank`` is the mean, over metrics with a direction, of the model's rank on that metric
    (signed metrics whose ideal is 0 are ranked by absolute value). Lower is better. Values are
    compared in steps of the metric's :attr:`MetricSpec.resolution` where it has one, so models
    closer together than the metric can measure share a rank (e.g. lip offsets of 3 and 11 ms,
    both within one video frame).
    """
    run = as_run(run_dir)
    specs = specs or metric_specs()
    samples = pd.DataFrame([s.__dict__ for s in run.samples()])
    scores = run.scores()
    models = list(dict.fromkeys(samples["model"]))
    lb = pd.DataFrame(index=pd.Index(models, name="model"))
    g = samples.groupby("model", sort=False)
    lb["clips"] = g["status"].apply(lambda x: int((x == "ok").sum()))
    lb["failed"] = g["status"].apply(lambda x: int((x != "ok").sum()))
    lb["cost_usd"] = g["cost_usd"].sum().round(4)
    lb["latency_s"] = g["latency_s"].median()
    found = list(dict.fromkeys(scores["metric"]))
    metric_names = [m for m in HEADLINE_METRICS if m in found] + [m for m in found if m not in HEADLINE_METRICS]
    ranks = []
    for name in metric_names:
        spec = specs.get(name)
        sub = scores[(scores["metric"] == name) & scores["value"].notna()]
        agg = "mean" if spec is not None and spec.aggregate == "mean" else "median"
        grp = sub.groupby("model")["value"]
        lb[name] = grp.agg(agg)
        lb[f"{name}_spread"] = grp.agg(_iqr)
        lb[f"{name}_n"] = grp.count().reindex(lb.index).fillna(0).astype(int)
        if spec is not None and spec.has_direction:
            ranks.append(metric_rank(lb[name], spec))
    lb["rank"] = pd.concat(ranks, axis=1).mean(axis=1).round(2) if ranks else np.nan
    lb = lb.sort_values(["rank", "failed"], na_position="last")
    cols = ["rank", "clips", "failed", "cost_usd", "latency_s"]
    return lb[cols + [c for c in lb.columns if c not in cols]].reset_index()


def display_table(lb: pd.DataFrame, *, specs: Mapping[str, MetricSpec] | None = None) -> pd.DataFrame:
    """Readable leaderboard: one column per metric as ``value ±spread/2 (n)`` with a direction arrow."""
    specs = specs or metric_specs()
    out = lb[["model", "rank", "clips", "failed", "cost_usd", "latency_s"]].copy()
    metric_cols = [c for c in lb.columns if f"{c}_spread" in lb.columns]
    for c in metric_cols:
        spec = specs.get(c)
        arrow = f" {spec.arrow}" if spec is not None and spec.arrow else ""
        unit = f" [{spec.unit}]" if spec is not None and spec.unit else ""

        def fmt(row: pd.Series, c: str = c) -> str:
            v, s, n = row[c], row[f"{c}_spread"], row[f"{c}_n"]
            if pd.isna(v):
                return "–"
            return f"{v:.3g} ±{s / 2:.2g} (n={n})" if n > 1 and not pd.isna(s) else f"{v:.3g} (n={n})"

        out[f"{c}{unit}{arrow}"] = lb.apply(fmt, axis=1)
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    def cell(x: Any) -> str:
        if isinstance(x, float):
            return "–" if np.isnan(x) else f"{x:.4g}"
        return str(x).replace("|", "\\|")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def write_leaderboard(run_dir: Path | RunDir) -> pd.DataFrame:
    """Write ``leaderboard.csv``, ``leaderboard.md`` and ``leaderboard.html`` (a page a browser opens as it is)."""
    import html as _html

    run = as_run(run_dir)
    lb = leaderboard(run)
    disp = display_table(lb)
    atomic_write_bytes(run.leaderboard_path("csv"), lb.to_csv(index=False).encode())
    atomic_write_bytes(run.leaderboard_path("md"), to_markdown(disp).encode())
    table = disp.to_html(index=False, classes="leaderboard", border=0, na_rep="–")
    title = _html.escape(f"Leaderboard: {run.name}")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_LEADERBOARD_CSS}</style></head><body><h1>{title}</h1>{table}"
        "<p>Per model: each metric's median (or mean) ± half its interquartile range, with n scored clips. "
        "↑ higher is better, ↓ lower is better, (→0) closer to zero is better; rank: mean rank over metrics "
        "with a direction. Full numbers: leaderboard.csv.</p></body></html>\n"
    )
    atomic_write_bytes(run.leaderboard_path("html"), page.encode())
    return lb


_LEADERBOARD_CSS = (
    "body{font-family:system-ui,sans-serif;margin:16px}table.leaderboard{border-collapse:collapse;font-size:12px}"
    "table.leaderboard th,table.leaderboard td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
    "table.leaderboard td:first-child,table.leaderboard th:first-child{text-align:left}"
)


def failures(run_dir: Path | RunDir) -> pd.DataFrame:
    """Failed cells and unscored metrics with their reasons."""
    run = as_run(run_dir)
    rows = [
        {"sample_id": s.sample_id, "model": s.model, "what": "generation", "reason": s.reason}
        for s in run.samples()
        if s.status != "ok"
    ]
    sc = run.scores()
    uns = sc[sc["value"].isna()]
    rows += [
        {"sample_id": r.sample_id, "model": r.model, "what": r.metric, "reason": r.reason} for r in uns.itertuples()
    ]
    return pd.DataFrame(rows, columns=["sample_id", "model", "what", "reason"])
