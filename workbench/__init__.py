"""AV Workbench: compare text-to-video models that generate picture and sound together.

Pipeline (one folder or module per stage): prompt -> config -> providers, store -> run folder
-> generate, analysis (metrics) -> outputs (leaderboard, plots, compare) -> report -> pipeline
-> front ends (cli, ui, batch).

The names below are the public API, imported on first use (``import workbench`` stays cheap)::

    from workbench import load_config, run_comparison, RunDir, leaderboard, render_report
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.version import __version__

#: Public name -> the module that defines it.
_API: dict[str, str] = {
    "load_config": "workbench.config",
    "default_config": "workbench.config",
    "ComparisonConfig": "workbench.config",
    "load_suite": "workbench.prompt",
    "Prompt": "workbench.prompt",
    "check_config": "workbench.validate",
    "run_comparison": "workbench.pipeline",
    "RunResult": "workbench.pipeline",
    "RunDir": "workbench.rundir",
    "list_runs": "workbench.rundir",
    "latest_run": "workbench.rundir",
    "results_root": "workbench.rundir",
    "Score": "workbench.metrics.spec",
    "MetricSpec": "workbench.metrics.spec",
    "metric_specs": "workbench.metrics.registry",
    "analyze_clips": "workbench.analysis.engine",
    "leaderboard": "workbench.outputs.leaderboard",
    "compare_runs": "workbench.outputs.compare",
    "recent_runs": "workbench.outputs.compare",
    "trend_figure": "workbench.outputs.compare",
    "ReportData": "workbench.report.data",
    "render_report": "workbench.report.render",
    "bundle_report": "workbench.report.render",
    "ClipDetail": "workbench.ui.clipdetail",
    "show": "workbench.ui.clipdetail",
    "missing_note": "workbench.ui.clipdetail",
    "Explorer": "workbench.ui.explorer",
    "run_comparison_from_params": "workbench.ui.nbtools",
    "record_outputs": "workbench.ui.nbtools",
    "runs_to_compare": "workbench.ui.nbtools",
}

__all__ = [
    "ClipDetail",
    "ComparisonConfig",
    "Explorer",
    "MetricSpec",
    "Prompt",
    "ReportData",
    "RunDir",
    "RunResult",
    "Score",
    "__version__",
    "analyze_clips",
    "bundle_report",
    "check_config",
    "compare_runs",
    "default_config",
    "latest_run",
    "leaderboard",
    "list_runs",
    "load_config",
    "load_suite",
    "metric_specs",
    "missing_note",
    "recent_runs",
    "record_outputs",
    "render_report",
    "results_root",
    "run_comparison",
    "run_comparison_from_params",
    "runs_to_compare",
    "show",
    "trend_figure",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from workbench.analysis.engine import analyze_clips
    from workbench.config import ComparisonConfig, default_config, load_config
    from workbench.metrics.registry import metric_specs
    from workbench.metrics.spec import MetricSpec, Score
    from workbench.outputs.compare import compare_runs, recent_runs, trend_figure
    from workbench.outputs.leaderboard import leaderboard
    from workbench.pipeline import RunResult, run_comparison
    from workbench.prompt import Prompt, load_suite
    from workbench.report.data import ReportData
    from workbench.report.render import bundle_report, render_report
    from workbench.rundir import RunDir, latest_run, list_runs, results_root
    from workbench.ui.clipdetail import ClipDetail, missing_note, show
    from workbench.ui.explorer import Explorer
    from workbench.ui.nbtools import record_outputs, run_comparison_from_params, runs_to_compare
    from workbench.validate import check_config
