"""The composition root: a comparison config in, a finished run folder out.

:func:`run_comparison` plans the cells, generates them (:mod:`workbench.generate`), scores
the clips (:mod:`workbench.analysis.engine`), writes the outputs (scores, leaderboard,
figures) and the report. It is the one module that wires the layers together; the command
line, the notebooks and batches call it, and honour the config the same way (its
``executor``, ``scheduler`` and ``workers`` included).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.analysis.engine import score_samples, select_analyzers
from workbench.analysis.executor import AnalysisExecutor, make_executor
from workbench.config import ComparisonConfig, load_config_suite
from workbench.generate import Generator, plan_cells
from workbench.outputs.leaderboard import write_leaderboard, write_scores, write_verdicts
from workbench.outputs.plots import write_figures
from workbench.prompt import TEMPLATE_VERSION
from workbench.providers.local import shutdown_pool
from workbench.report.render import render_report
from workbench.rundir import RunDir, RunInfo, Sample, results_root
from workbench.store import ClipStore
from workbench.validate import check_config, require_prerequisites
from workbench.version import __version__


@dataclass
class RunResult:
    """What a run produced."""

    run_dir: Path
    samples: list[Sample]
    stats: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None


def executor_for(cfg: ComparisonConfig, n_tasks: int, *, workers: int | None = None) -> AnalysisExecutor:
    """The analysis executor a config asks for (``executor``, ``scheduler``, ``workers``).

    ``workers`` overrides the config's.
    """
    return make_executor(cfg.executor, workers=workers or cfg.workers, n_tasks=n_tasks, scheduler=cfg.scheduler)


def run_comparison(
    cfg: ComparisonConfig,
    *,
    run_dir: str | Path | None = None,
    store: ClipStore | None = None,
    jobs: int | None = None,
    quiet: bool = False,
    report: bool | None = None,
    executor: AnalysisExecutor | None = None,
    root: str | Path | None = None,
) -> RunResult:
    """Generate, store, score and report a comparison; resumable with ``run_dir``.

    Parameters
    ----------
    cfg : ComparisonConfig
    run_dir : Path, optional
        An existing run folder to resume (its journal is honoured); a new one otherwise.
    store : ClipStore, optional
        Defaults to ``<results>/store``.
    jobs : int, optional
        Analysis workers (default: the config's ``workers``, else every core).
    report : bool, optional
        Write ``report.html`` (default: the config's ``report``).
    executor : AnalysisExecutor, optional
        Where per-clip analysis runs (default: what the config says; left open for the caller).
    root : Path, optional
        Results root of a new run folder (default: :func:`~workbench.rundir.results_root`).

    Raises
    ------
    ConfigError
        The config is wrong (every problem at once); nothing ran.
    PrerequisiteError
        A model with clips to generate lacks its API key or another prerequisite (every one is
        listed); no run folder is made, nothing is sent or paid for.
    """
    check_config(cfg)
    t_start = time.monotonic()
    store = store or ClipStore(results_root() / "store")
    pending = frozenset(RunDir(run_dir).journal.pending_jobs()) if run_dir is not None else frozenset()
    require_prerequisites(cfg, store, pending_keys=pending)
    run = RunDir(run_dir) if run_dir is not None else RunDir.create(cfg.name, Path(root) if root else None)
    run.path.mkdir(parents=True, exist_ok=True)
    suite = load_config_suite(cfg)
    prompts = {p.id: p for p in suite.prompts}
    cells = plan_cells(cfg, suite)
    info = RunInfo(
        status="running",
        config=cfg.model_dump(mode="json"),
        suite=suite.model_dump(mode="json"),
        template_version=TEMPLATE_VERSION,
        workbench_version=__version__,
        started=datetime.now(UTC).isoformat(),
    )
    run.write_info(info)
    gen = Generator(cfg, store, run, quiet=quiet)
    try:
        samples = asyncio.run(gen.generate(cells))
    finally:
        shutdown_pool()
    run.write_samples(samples)
    analyzers = select_analyzers(list(cfg.metrics) if cfg.metrics else None)
    scores = score_samples(
        samples, prompts, store, run, analyzers, quiet=quiet, executor=executor,
        make=lambda n: executor_for(cfg, n, workers=jobs),
    )  # fmt: skip
    write_scores(run, samples, scores, analyzers)
    write_verdicts(run)
    write_leaderboard(run)
    write_figures(run, samples, prompts, quiet=quiet)
    n_ok = sum(s.status == "ok" for s in samples)
    stats: dict[str, Any] = {
        "cells": len(samples),
        "ok": n_ok,
        "failed": len(samples) - n_ok,
        "cache_hits": sum(s.cache_hit for s in samples),
        "generated": sum(s.status == "ok" and not s.cache_hit for s in samples),
        "cost_usd": round(sum(s.cost_usd for s in samples), 4),
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    result = RunResult(run_dir=run.path, samples=samples, stats=stats)
    run.update_info(status="scored", stats=stats)  # the report reads the stats
    if cfg.report if report is None else report:
        try:
            result.report = render_report(run.path)
        except Exception as exc:  # the results stand without the report; say why
            stats["report_error"] = f"{type(exc).__name__}: {exc}"
    stats["wall_s"] = round(time.monotonic() - t_start, 1)
    run.update_info(status="done", stats=stats, finished=datetime.now(UTC).isoformat())
    return result
