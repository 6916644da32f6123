"""Session fixtures shared by the notebook, explorer and report tests: one small run of the local
models (2 prompts x 3 models, basic metrics) and its rendered report.

A test module uses them with ``pytest_plugins = ["nbfixtures"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

PROMPTS = ("glass-on-table", "office-short-line")
MODELS = ("local/synced", "local/dubbed", "local/generic")
#: The clip that gets evidence details in the shapes the clip view reads (see workbench.ui.clipdetail).
DETAIL_SAMPLE = "office-short-line__local-dubbed__r0"


def write_evidence(run_dir: Path, sample_id: str = DETAIL_SAMPLE) -> dict:
    """Add lip windows, foley events, decays and mouth/speech signals to a clip's details JSON."""
    path = run_dir / "details" / f"{sample_id}.json"
    details = json.loads(path.read_text()) if path.is_file() else {}
    t = [i / 25 for i in range(125)]
    details.update({
        "lip_offset_ms": {
            "windows": [{"t": 1.5 + 0.5 * k, "offset_ms": 180.0 + 10 * k, "confidence": 0.3 + 0.1 * k} for k in range(4)],
            "line_offset_ms": 195.0, "line_slope_ms_per_s": 20.0, "line_t_ref_s": 2.25, "faces": 1,
            "signals": {"rate": 25, "mouth": [abs(((x * 4) % 1) - 0.5) for x in t], "speech": [abs(((x * 4 + 0.2) % 1) - 0.5) for x in t]},
        },
        "foley_offset_ms": {"events": [{"action": "the man speaks", "at_s": 1.0, "visual_s": 1.02, "audio_s": 1.2, "offset_ms": 180.0}]},
        "rt60_s": {"decays": [{"start_s": 2.4, "end_s": 2.8, "rt60_s": 0.45}, {"start_s": 3.3, "end_s": 3.6, "rt60_s": 0.5}], "n_decays": 2},
    })  # fmt: skip
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(details))
    return details


@pytest.fixture(scope="session")
def nb() -> SimpleNamespace:
    """The constants of the shared run: ``PROMPTS``, ``MODELS``, ``DETAIL_SAMPLE``."""
    return SimpleNamespace(PROMPTS=PROMPTS, MODELS=MODELS, DETAIL_SAMPLE=DETAIL_SAMPLE)


@pytest.fixture(scope="session")
def local_run(tmp_path_factory) -> Path:
    """A finished run (no report) under ``<tmp>/results/runs/``; its store is ``<tmp>/results/store``."""
    from workbench.config import parse_config
    from workbench.pipeline import run_comparison
    from workbench.rundir import RunDir
    from workbench.store import ClipStore

    root = tmp_path_factory.mktemp("nb") / "results"
    cfg = parse_config(
        {"name": "nbtest", "prompts": list(PROMPTS), "providers": list(MODELS), "metrics": ["basic"]}, source="<test>"
    )
    res = run_comparison(
        cfg, run_dir=RunDir.create("nbtest", root).path, store=ClipStore(root / "store"), quiet=True, report=False
    )
    assert res.stats["ok"] == len(PROMPTS) * len(MODELS), res.stats
    write_evidence(res.run_dir)
    return res.run_dir


@pytest.fixture(scope="session")
def reported_run(local_run: Path) -> Path:
    """``local_run`` with its ``report.html`` rendered (papermill executes ``notebooks/compare.ipynb``)."""
    from workbench.report.render import render_report

    out = render_report(local_run)
    assert out == local_run / "report.html"
    return local_run
