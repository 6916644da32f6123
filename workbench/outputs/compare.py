"""Run over run: the same models and prompts across runs, the change of each metric, and
whether the change is beyond the metric's noise.

Only what every run has is compared: models and prompts present in all runs. Each run is
compared with the previous one (or with the first, ``baseline="first"``).

The noise rule, per model and metric:

1. Each run's value for a prompt is the mean of that prompt's scored clips (over repeats).
2. Prompts scored in both runs are *paired*: ``d_p = value_new(p) - value_old(p)``. The
   change ``delta`` is the median of the ``d_p`` (the mean for metrics aggregated by mean).
   Pairing removes the prompt-to-prompt spread (a loud prompt is loud in both runs), so
   only what changed between the runs is left.
3. Its standard error is estimated robustly from the interquartile range of the ``d_p``:
   ``se = c * IQR(d) / sqrt(n)`` with ``c = 0.93`` for a median (1.2533 / 1.349, the
   normal-theory SE of a median with sigma = IQR / 1.349) and ``c = 0.74`` for a mean.
4. ``noise = 2 * se`` (about a 95 % two-sided band); the change is *beyond noise* when
   ``|delta| > noise``. A change shared by every prompt (IQR 0) is beyond noise however
   small; no change (delta 0) never is.
5. With fewer than 3 pairs the spread of the differences cannot be estimated; then the
   per-clip values of each run are pooled instead (unpaired):
   ``se = c * sqrt(IQR_old^2 / n_old + IQR_new^2 / n_new)``, which needs 2 clips per run;
   with fewer the verdict is "too few clips".

The verdict is "better" or "worse" by the metric's direction (for metrics best at 0, by
the distance from 0), "changed" for metrics without a direction, else "within noise".

The creator's checks are compared too (:attr:`RunComparison.checks`): per model, the share of
usable takes and each check's pass rate in both runs with their 95 % Wilson intervals; a
change is beyond noise when the two intervals do not overlap (conservative for proportions).
When a metric's analyzer version differs between the runs the row says so: the change may
come from the measurement, not the model. ``same_clips`` counts the pairs whose clips are
byte-identical (cache hits): their change can only come from the analysis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.metrics.registry import metric_specs
from workbench.metrics.spec import MetricSpec
from workbench.outputs.checks import CHECK_NAMES, run_verdicts, take_status, wilson
from workbench.rundir import RunDir, list_runs, results_root

#: SE of a median (normal theory) per unit of IQR: 1.2533 / 1.349.
C_MEDIAN = 0.929
#: SE of a mean per unit of IQR: 1 / 1.349.
C_MEAN = 0.741
#: Noise band in standard errors.
K_SE = 2.0
MIN_PAIRS = 3

CHECK_CHANGE_COLUMNS = [
    "model", "check", "old_run", "new_run", "old", "old_lo", "old_hi", "old_n", "new", "new_lo", "new_hi", "new_n",
    "verdict",
]  # fmt: skip

CHANGE_COLUMNS = [
    "model", "metric", "unit", "old_run", "new_run", "old", "new", "delta", "noise", "n", "rule",
    "beyond_noise", "verdict", "same_clips", "note",
]  # fmt: skip


@dataclass
class RunComparison:
    """The result of :func:`compare_runs`."""

    runs: pd.DataFrame
    """One row per run: run, name, started, models, prompts, clips, template, workbench."""
    changes: pd.DataFrame
    """One row per model x metric x consecutive pair of runs (see :data:`CHANGE_COLUMNS`)."""
    models: list[str]
    prompts: list[str]
    dropped: list[str]
    """What was left out because not every run has it."""
    checks: pd.DataFrame = None  # type: ignore[assignment]
    """One row per model x check (``usable`` first) x consecutive pair of runs (:data:`CHECK_CHANGE_COLUMNS`)."""

    def summary(self) -> pd.DataFrame:
        """Only the changes beyond noise."""
        return self.changes[self.changes["beyond_noise"] == True].reset_index(drop=True)  # noqa: E712


def _iqr(x: np.ndarray) -> float:
    return float(np.subtract(*np.percentile(x, [75, 25]))) if len(x) else float("nan")


def change_noise(
    *, old: np.ndarray, new: np.ndarray, paired_diff: np.ndarray, aggregate: str = "median"
) -> tuple[float, float, str]:
    """The change and its noise band under the rule of this module.

    Parameters
    ----------
    old, new : np.ndarray, shape (n_old,), (n_new,)
        Per-clip values of the metric in each run (for the pooled fallback).
    paired_diff : np.ndarray, shape (n_pairs,)
        Per-prompt differences new - old.
    aggregate : {"median", "mean"}

    Returns
    -------
    delta : float
    noise : float
        ``K_SE`` standard errors; NaN when there are too few values.
    rule : str
        ``paired`` or ``pooled``.
    """
    c = C_MEAN if aggregate == "mean" else C_MEDIAN
    agg = np.mean if aggregate == "mean" else np.median
    if len(paired_diff) >= MIN_PAIRS:
        delta = float(agg(paired_diff))
        return delta, K_SE * c * _iqr(paired_diff) / math.sqrt(len(paired_diff)), "paired"
    delta = float(agg(new) - agg(old)) if len(old) and len(new) else float("nan")
    if len(old) < 2 or len(new) < 2:
        return delta, float("nan"), "pooled"
    return delta, K_SE * c * math.sqrt(_iqr(old) ** 2 / len(old) + _iqr(new) ** 2 / len(new)), "pooled"


def verdict(*, old: float, new: float, delta: float, noise: float, spec: MetricSpec | None) -> tuple[bool | None, str]:
    """``(beyond_noise, verdict)`` for one change."""
    if math.isnan(noise) or math.isnan(delta):
        return None, "too few clips"
    if not abs(delta) > noise:
        return False, "within noise"
    if spec is None or not spec.has_direction:
        return True, "changed"
    good = spec.better(old, new) if spec.best_at_zero else spec.better(0.0, delta)
    return True, "better" if good else "worse"


def _run_info(run: RunDir) -> dict:
    info = run.info()
    samples = run.samples()
    return {
        "run": run.name,
        "name": info.name,
        "started": info.started[:19],
        "models": len({s.model for s in samples}),
        "prompts": len({s.prompt_id for s in samples}),
        "clips": sum(s.status == "ok" for s in samples),
        "template": info.template_version,
        "workbench": info.workbench_version,
    }


def compare_runs(
    run_dirs: Sequence[str | Path | RunDir],
    *,
    baseline: Literal["previous", "first"] = "previous",
    specs: Mapping[str, MetricSpec] | None = None,
) -> RunComparison:
    """Compare the scores of two or more runs (oldest first) on their common models and prompts.

    Raises
    ------
    ConfigError
        With fewer than two runs, a folder that is not a scored run, or runs that share no model and prompt.
    """
    if len(run_dirs) < 2:
        raise ConfigError(f"compare needs at least two run folders, got {len(run_dirs)}", key="RUN_DIR")
    dirs = [d if isinstance(d, RunDir) else RunDir.open(d, scored=True, key=f"RUN_DIR[{i}]") for i, d in enumerate(run_dirs)]
    specs = specs or metric_specs()
    scores = [d.scores() for d in dirs]
    ok = [pd.DataFrame([s.__dict__ for s in d.samples() if s.status == "ok"]) for d in dirs]
    model_sets = [set(o["model"]) if len(o) else set() for o in ok]
    prompt_sets = [set(o["prompt_id"]) if len(o) else set() for o in ok]
    models = sorted(set.intersection(*model_sets))
    prompts = sorted(set.intersection(*prompt_sets))
    dropped = sorted(set.union(*model_sets) - set(models)) + sorted(set.union(*prompt_sets) - set(prompts))
    if not models or not prompts:
        raise ConfigError("the runs share no model and prompt: nothing to compare", key="RUN_DIR")
    rows = []
    pairs = [(i - 1 if baseline == "previous" else 0, i) for i in range(1, len(dirs))]
    for i, j in pairs:
        a = scores[i][scores[i]["model"].isin(models) & scores[i]["prompt_id"].isin(prompts)]
        b = scores[j][scores[j]["model"].isin(models) & scores[j]["prompt_id"].isin(prompts)]
        metrics = [m for m in dict.fromkeys(a["metric"]) if m in set(b["metric"])]
        have = set(zip(a["model"], a["metric"], strict=True)) & set(zip(b["model"], b["metric"], strict=True))
        for model in models:
            for metric in metrics:
                if (model, metric) in have:
                    rows.append(_change(a, b, model, metric, specs.get(metric), dirs[i].name, dirs[j].name))
    changes = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    runs = pd.DataFrame([_run_info(d) for d in dirs])
    verdicts = [_common(_verdicts_of(d), models, prompts) for d in dirs]
    check_rows = [
        row for i, j in pairs for row in _check_changes(verdicts[i], verdicts[j], models, dirs[i].name, dirs[j].name)
    ]
    return RunComparison(
        runs=runs, changes=changes, models=models, prompts=prompts, dropped=dropped,
        checks=pd.DataFrame(check_rows, columns=CHECK_CHANGE_COLUMNS),
    )  # fmt: skip


def _verdicts_of(run: RunDir) -> pd.DataFrame:
    return run.verdicts() if run.verdicts_path.is_file() else run_verdicts(run)


def _common(v: pd.DataFrame, models: list[str], prompts: list[str]) -> pd.DataFrame:
    return v[v["model"].isin(models) & v["prompt_id"].isin(prompts)]


def _rates(v: pd.DataFrame, model: str) -> dict[str, tuple[int, int]]:
    """``check -> (passed, told)`` for one model, ``usable`` first (takes that pass every check)."""
    mv = v[v["model"] == model]
    takes = take_status(mv)
    out = {"usable": (int(takes["usable"].sum()), len(takes))}
    for c in CHECK_NAMES:
        told = mv[(mv["check"] == c) & (mv["outcome"] != "cant_tell")]
        if len(told):
            out[c] = (int((told["outcome"] == "pass").sum()), len(told))
    return out


def _check_changes(a: pd.DataFrame, b: pd.DataFrame, models: list[str], ra: str, rb: str) -> list[dict]:
    rows = []
    for model in models:
        old, new = _rates(a, model), _rates(b, model)
        for check in [c for c in old if c in new]:
            (ka, na), (kb, nb) = old[check], new[check]
            (la, ha), (lb, hb) = wilson(ka, na), wilson(kb, nb)
            pa, pb = ka / na if na else math.nan, kb / nb if nb else math.nan
            if not (na and nb):
                word = "too few clips"
            elif lb > ha:
                word = "better"
            elif hb < la:
                word = "worse"
            else:
                word = "within noise"
            rows.append({
                "model": model, "check": check, "old_run": ra, "new_run": rb, "old": pa, "old_lo": la, "old_hi": ha,
                "old_n": na, "new": pb, "new_lo": lb, "new_hi": hb, "new_n": nb, "verdict": word,
            })  # fmt: skip
    return rows


def _change(
    a: pd.DataFrame, b: pd.DataFrame, model: str, metric: str, spec: MetricSpec | None, ra: str, rb: str
) -> dict:
    sa = a[(a["model"] == model) & (a["metric"] == metric)]
    sb = b[(b["model"] == model) & (b["metric"] == metric)]
    va, vb = sa[sa["value"].notna()], sb[sb["value"].notna()]
    pa, pb = va.groupby("prompt_id")["value"].mean(), vb.groupby("prompt_id")["value"].mean()
    common = sorted(set(pa.index) & set(pb.index))
    diff = (pb[common] - pa[common]).to_numpy(dtype=float)
    agg = spec.aggregate if spec is not None else "median"
    delta, noise, rule = change_noise(
        old=va["value"].to_numpy(float), new=vb["value"].to_numpy(float), paired_diff=diff, aggregate=agg
    )
    f = np.mean if agg == "mean" else np.median
    old = float(f(va["value"])) if len(va) else float("nan")
    new = float(f(vb["value"])) if len(vb) else float("nan")
    beyond, word = verdict(old=old, new=new, delta=delta, noise=noise, spec=spec)
    same = len(
        set(zip(sa["prompt_id"], sa["clip_sha256"], strict=True))
        & set(zip(sb["prompt_id"], sb["clip_sha256"], strict=True))
    )
    notes = []
    vers_a, vers_b = set(sa["analyzer_version"].dropna()), set(sb["analyzer_version"].dropna())
    if vers_a and vers_b and vers_a != vers_b:
        notes.append(
            f"analyzer v{'/'.join(str(int(v)) for v in sorted(vers_a))} -> v{'/'.join(str(int(v)) for v in sorted(vers_b))}"
        )
    if len(sa) and not len(va):
        notes.append("unscored in old run")
    if len(sb) and not len(vb):
        notes.append("unscored in new run")
    return {
        "model": model, "metric": metric, "unit": spec.unit if spec else "", "old_run": ra, "new_run": rb,
        "old": old, "new": new, "delta": delta, "noise": noise, "n": len(common) if rule == "paired" else min(len(va), len(vb)),
        "rule": rule, "beyond_noise": beyond, "verdict": word, "same_clips": same, "note": "; ".join(notes),
    }  # fmt: skip


def to_text(cmp: RunComparison, *, only_changes: bool = False) -> str:
    """A plain-text report for the terminal."""
    from workbench.outputs.leaderboard import to_markdown

    lines = [to_markdown(cmp.runs)]
    lines.append(
        f"Common: {len(cmp.models)} models x {len(cmp.prompts)} prompts."
        + (f" Left out (not in every run): {', '.join(cmp.dropped)}." if cmp.dropped else "")
    )
    df = cmp.summary() if only_changes else cmp.changes
    if df.empty:
        lines.append("No change beyond noise." if only_changes else "Nothing to compare.")
    else:
        mark = {
            "better": "▲ better",
            "worse": "▼ worse",
            "changed": "~ changed",
            "within noise": "",
            "too few clips": "?",
        }
        show = df.assign(verdict=df["verdict"].map(lambda v: mark.get(v, v)))
        show = show[
            ["model", "metric", "old_run", "new_run", "old", "new", "delta", "noise", "n", "rule", "verdict", "note"]
        ]
        lines.append(to_markdown(show))
    if cmp.checks is not None and len(cmp.checks):
        ch = cmp.checks
        if only_changes:
            ch = ch[ch["verdict"].isin(["better", "worse"])]
        if len(ch):
            show = ch.assign(
                old=[f"{o:.0%} [{lo:.0%}-{hi:.0%}] n={n}" for o, lo, hi, n in zip(ch["old"], ch["old_lo"], ch["old_hi"], ch["old_n"], strict=True)],
                new=[f"{o:.0%} [{lo:.0%}-{hi:.0%}] n={n}" for o, lo, hi, n in zip(ch["new"], ch["new_lo"], ch["new_hi"], ch["new_n"], strict=True)],
            )[["model", "check", "old_run", "new_run", "old", "new", "verdict"]]
            lines.append("Checks (pass rates with 95 % Wilson intervals; a change is beyond noise when they do not overlap):")
            lines.append(to_markdown(show))
    n_b, n_w = int((cmp.changes["verdict"] == "better").sum()), int((cmp.changes["verdict"] == "worse").sum())
    lines.append(
        f"{n_b} better and {n_w} worse beyond noise (|delta| > 2 robust standard errors; see docs/notebooks.md)."
    )
    return "\n".join(lines)


def recent_runs(results_dir: str | Path | None = None, *, n: int = 2) -> list[RunDir]:
    """The ``n`` newest scored runs under ``<results>/runs``, oldest first.

    Raises
    ------
    ConfigError
        When there are fewer than ``n``, saying how to make another.
    """
    root = Path(results_dir) if results_dir else results_root()
    runs = list_runs(root, scored=True)
    if len(runs) < n:
        raise ConfigError(
            f"need {n} scored runs under {root / 'runs'} to compare, found {len(runs)}: run another comparison "
            "(e.g. `workbench run`, or the same with --repeats 2) and compare again",
            key="run_dirs",
        )
    return runs[-n:]


def trend_figure(cmp: RunComparison, *, max_metrics: int = 12):
    """One panel per metric: each model's aggregate per run, with the noise band of each change."""
    from matplotlib.figure import Figure

    ch = cmp.changes
    metrics = list(dict.fromkeys(ch["metric"]))[:max_metrics]
    runs = list(cmp.runs["run"])
    ncol = min(3, max(1, len(metrics)))
    nrow = max(1, math.ceil(len(metrics) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 2.6 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False)
    x = np.arange(len(runs))
    for ax, metric in zip(axes.flat, metrics, strict=False):
        sub = ch[ch["metric"] == metric]
        for model, g in sub.groupby("model", sort=False):
            first = g.iloc[0]
            vals = [first["old"], *g["new"].tolist()]
            err = [0.0, *g["noise"].fillna(0).tolist()]
            ax.errorbar(x[: len(vals)], vals, yerr=err, marker="o", ms=4, capsize=3, lw=1, label=model)
        unit = sub["unit"].iloc[0] if len(sub) else ""
        ax.set_title(f"{metric}" + (f" [{unit}]" if unit else ""), fontsize=9)
        ax.set_xticks(x, [f"run {i + 1}" for i in x], fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    if metrics:
        axes.flat[0].legend(fontsize=7)
    return fig
