"""The composition root honours the whole config, whichever front end starts it.

``executor``, ``scheduler`` and ``workers`` in a comparison YAML used to work only from
``workbench run``; the library and the comparison notebook ignored them. An analyzer that
records the process it ran in shows where analysis really ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from workbench.cli.main import main
from workbench.config import load_config
from workbench.metrics.registry import analyzer
from workbench.metrics.spec import MetricSpec, Score
from workbench.pipeline import run_comparison
from workbench.store import ClipStore
from workbench.ui.nbtools import run_comparison_from_params


@analyzer("where_analysed", version=1, outputs=[MetricSpec("analysed_in_pid", "pid", None, "test")], default=False)
def _where(ctx) -> dict[str, Score]:
    return {"analysed_in_pid": Score(float(os.getpid()))}


def _config(tmp_path: Path, executor: str, **extra: object) -> Path:
    data = {
        "name": f"where-{executor}", "suite": "builtin", "prompts": ["glass-on-table", "door-slam", "office-short-line"],
        "providers": ["test/ok"], "metrics": ["where_analysed"], "report": False, "executor": executor, **extra,
    }  # fmt: skip
    path = tmp_path / f"{executor}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _pids(run_dir: Path) -> set[int]:
    import pandas as pd

    scores = pd.read_csv(run_dir / "scores.csv")
    return {int(v) for v in scores.loc[scores["metric"] == "analysed_in_pid", "value"]}


@pytest.mark.parametrize("front", ["library", "cli", "notebook"])
def test_the_configs_executor_is_honoured_by_every_front_end(tmp_path, fake_provider, monkeypatch, front):
    here = os.getpid()
    seen = {}
    for executor, extra in (("in-process", {}), ("processes", {"workers": 2})):
        results = tmp_path / executor  # a store each: a cached score would not say where it was computed
        monkeypatch.setenv("WORKBENCH_RESULTS_DIR", str(results))
        path = _config(tmp_path, executor, **extra)
        if front == "library":
            res = run_comparison(load_config(path), store=ClipStore(results / "store"), quiet=True)
            run_dir = res.run_dir
        elif front == "cli":
            assert main(["run", str(path), "-q"]) == 0
            run_dir = sorted((results / "runs").glob(f"*where-{executor}*"))[-1]
        else:  # what notebooks/comparison.ipynb calls with its `config` parameter
            run_dir = run_comparison_from_params(name="unused", config=str(path), write_report=False).run_dir
        seen[executor] = _pids(run_dir)
    assert seen["in-process"] == {here}
    assert seen["processes"] and here not in seen["processes"]
