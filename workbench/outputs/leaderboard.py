"""Long-format scores, the creator's verdicts, and the per-model leaderboard (CSV, Markdown, HTML).

``scores.csv`` has one row per clip x metric; a metric that could not score a clip has an
empty value and its reason. ``verdicts.csv`` has one row per clip x creator's check
(:mod:`workbench.outputs.checks`). The leaderboard leads with each model's share of usable
takes and the pass rate of each check; the metric details follow: each metric's median (or
mean, as its spec says) with its spread (interquartile range) and n, skipping unscored clips,
plus failures, cost and generation latency. Any metric registered later appears unchanged.
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
from workbench.outputs.checks import model_summary, run_verdicts, verdict_table
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


def metric_table(run_dir: Path | RunDir, *, specs: Mapping[str, MetricSpec] | None = None) -> pd.DataFrame:
    """Per model, the details behind the verdicts: each metric's aggregate, spread (IQR) and n; clips,
    generation failures, cost and latency. Models in the run's order."""
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
    for name in metric_names:
        spec = specs.get(name)
        sub = scores[(scores["metric"] == name) & scores["value"].notna()]
        agg = "mean" if spec is not None and spec.aggregate == "mean" else "median"
        grp = sub.groupby("model")["value"]
        lb[name] = grp.agg(agg)
        lb[f"{name}_spread"] = grp.agg(_iqr)
        lb[f"{name}_n"] = grp.count().reindex(lb.index).fillna(0).astype(int)
    return lb.reset_index()


def write_verdicts(run_dir: Path | RunDir) -> pd.DataFrame:
    """Write ``verdicts.csv``: every creator's check on every clip (see :mod:`workbench.outputs.checks`)."""
    run = as_run(run_dir)
    verdicts = run_verdicts(run)
    atomic_write_bytes(run.verdicts_path, verdicts.to_csv(index=False).encode())
    return verdicts


def _verdicts(run: RunDir) -> pd.DataFrame:
    return run.verdicts() if run.verdicts_path.is_file() else run_verdicts(run)


def leaderboard(run_dir: Path | RunDir, *, specs: Mapping[str, MetricSpec] | None = None) -> pd.DataFrame:
    """Per model, every number: usable takes (share, 95 % Wilson interval), each check's pass rate and
    counts, generation failures, cost per usable take, then :func:`metric_table`'s details.

    Sorted by the share of usable takes (takes that pass every check that applies to their prompt).
    There is no mean rank: a rank averaged over metrics is not a validated quantity, and it counted
    redundant and direction-less columns (see :mod:`workbench.outputs.checks`).
    """
    run = as_run(run_dir)
    summary = model_summary(_verdicts(run), run.samples())
    details = metric_table(run, specs=specs).drop(columns=["cost_usd"])
    return summary.merge(details, on="model", how="left")


def display_table(lb: pd.DataFrame, *, specs: Mapping[str, MetricSpec] | None = None) -> pd.DataFrame:
    """The details, readable: one column per metric as ``value ±spread/2 (n)``, headed with its unit,
    direction and validated resolution."""
    specs = specs or metric_specs()
    out = lb[["model", "clips", "failed", "cost_usd", "latency_s"]].copy()
    metric_cols = [c for c in lb.columns if f"{c}_spread" in lb.columns]
    for c in metric_cols:
        spec = specs.get(c)
        arrow = f" {spec.arrow}" if spec is not None and spec.arrow else ""
        unit = f" [{spec.unit}]" if spec is not None and spec.unit else ""
        res = f" ±{spec.resolution:g}" if spec is not None and spec.resolution else ""

        def fmt(row: pd.Series, c: str = c) -> str:
            v, s, n = row[c], row[f"{c}_spread"], row[f"{c}_n"]
            if pd.isna(v):
                return "–"
            return f"{v:.3g} ±{s / 2:.2g} (n={n})" if n > 1 and not pd.isna(s) else f"{v:.3g} (n={n})"

        out[f"{c}{unit}{arrow}{res}"] = lb.apply(fmt, axis=1)
    return out


def to_text(df: pd.DataFrame, *, width: int = 100) -> str:
    """A plain aligned table for a terminal, at most ``width`` columns (the first column is cut to fit)."""
    cells = [[str(c) for c in df.columns]] + [["–" if pd.isna(x) else str(x) for x in row] for row in df.itertuples(index=False)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(df.columns))]
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    if excess > 0 and widths:
        widths[0] = max(8, widths[0] - excess)
    lines = []
    for r in cells:
        first = r[0] if len(r[0]) <= widths[0] else r[0][: widths[0] - 1] + "…"
        parts = [first.ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


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
    """Write ``leaderboard.csv`` (every number, for scripts), ``leaderboard.md`` and ``leaderboard.html`` (a page
    a browser opens as it is): the verdicts per model and check, then the metric details."""
    import html as _html

    run = as_run(run_dir)
    lb = leaderboard(run)
    verdicts, details = verdict_table(lb), display_table(lb)
    atomic_write_bytes(run.leaderboard_path("csv"), lb.to_csv(index=False).encode())
    md = "## Usable takes and checks\n\n" + to_markdown(verdicts) + "\n## Details\n\n" + to_markdown(details)
    atomic_write_bytes(run.leaderboard_path("md"), md.encode())
    title = _html.escape(f"Leaderboard: {run.name}")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_LEADERBOARD_CSS}</style></head><body><h1>{title}</h1>"
        "<h2>Usable takes and checks</h2>"
        + verdicts.to_html(index=False, classes="leaderboard", border=0, na_rep="–")
        + "<p>Per model: the share of takes that passed every check (usable) with its 95% Wilson interval, and "
        "each check's passes out of the takes it could judge.</p><h2>Details</h2>"
        + details.to_html(index=False, classes="leaderboard", border=0, na_rep="–")
        + "<p>Per model: each metric's median (or mean) ± half its interquartile range, with n scored clips. "
        "↑ higher is better, ↓ lower is better, (→0) closer to zero is better. Full numbers: leaderboard.csv.</p>"
        "</body></html>\n"
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
