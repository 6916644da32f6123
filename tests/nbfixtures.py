"""Session fixtures shared by the notebook, explorer and report tests: one small run of the local
models (2 prompts x 3 models; the metrics whose evidence the clip view draws) and its rendered report.

A test module uses them with ``pytest_plugins = ["nbfixtures"]``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

PROMPTS = ("glass-on-table", "office-short-line")
MODELS = ("local/synced", "local/dubbed", "local/generic")
#: A clip with speech (lip windows, mouth signals, decays) and one with a prompted foley event.
DETAIL_SAMPLE = "office-short-line__local-dubbed__r0"
FOLEY_SAMPLE = "glass-on-table__local-synced__r0"
#: The analyzers of the shared run: enough for every piece of evidence the clip view draws.
METRICS = ("basic", "lipsync", "foley", "acoustic")


@pytest.fixture(scope="session")
def nb() -> SimpleNamespace:
    """The constants of the shared run: ``PROMPTS``, ``MODELS``, ``DETAIL_SAMPLE``, ``FOLEY_SAMPLE``."""
    return SimpleNamespace(
        PROMPTS=PROMPTS, MODELS=MODELS, MODELS_IN_RUN_ORDER=list(MODELS), DETAIL_SAMPLE=DETAIL_SAMPLE,
        FOLEY_SAMPLE=FOLEY_SAMPLE,
    )  # fmt: skip


@pytest.fixture(scope="session")
def local_run(tmp_path_factory) -> Path:
    """A finished run (no report) under ``<tmp>/results/runs/``; its store is ``<tmp>/results/store``."""
    from workbench.config import parse_config
    from workbench.pipeline import run_comparison
    from workbench.rundir import RunDir
    from workbench.store import ClipStore

    root = tmp_path_factory.mktemp("nb") / "results"
    cfg = parse_config(
        {"name": "nbtest", "prompts": list(PROMPTS), "providers": list(MODELS), "metrics": list(METRICS)}, source="<test>"
    )
    res = run_comparison(
        cfg, run_dir=RunDir.create("nbtest", root).path, store=ClipStore(root / "store"), quiet=True, report=False
    )
    assert res.stats["ok"] == len(PROMPTS) * len(MODELS), res.stats
    return res.run_dir


@pytest.fixture(scope="session")
def reported_run(local_run: Path) -> Path:
    """``local_run`` with its ``report.html`` rendered (papermill executes ``notebooks/compare.ipynb``)."""
    from workbench.report.render import render_report

    out = render_report(local_run)
    assert out == local_run / "report.html"
    return local_run
