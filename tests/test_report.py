"""The compare notebook runs under papermill and exports a self-contained HTML report."""

from __future__ import annotations

import json

import papermill as pm
import pytest

from workbench.config import parse_config
from workbench.pipeline import run_comparison
from workbench.report.render import notebook_path, render_report
from workbench.store import ClipStore


@pytest.mark.slow
def test_compare_notebook_renders_report(tmp_path, fake_provider):
    params = pm.inspect_notebook(str(notebook_path()))
    assert "run_dir" in params, "compare.ipynb needs a parameters cell with run_dir"
    cfg = parse_config(
        {"name": "rep", "prompts": ["glass-on-table", "door-slam"], "providers": ["test/ok", "test/fail"], "metrics": ["basic"]},
        source="<test>",
    )
    res = run_comparison(cfg, run_dir=tmp_path / "run", store=ClipStore(tmp_path / "store"), quiet=True, report=True)
    assert res.report is not None, res.stats.get("report_error")
    html = res.report.read_text()
    assert html.count('<table class="dataframe leaderboard"') >= 1
    assert "test/ok" in html and "test/fail" in html
    assert html.count('<img alt="spectrogram grid for') == 2  # one grid per prompt
    assert 'src="assets/clips/glass-on-table__test-ok__r0.mp4"' in html
    assert "content rejected by the provider" in html  # failure reason shown
    assert "We ship" not in html and "wooden table" in html  # the prompts' canonical texts
    assert str(tmp_path) not in html  # no absolute local path
    assert "def " not in html and "import " not in html  # code cells hidden
    # `workbench report` rebuilds it from stored results
    (tmp_path / "run" / "report.html").unlink()
    assert render_report(tmp_path / "run").is_file()
    nb = json.loads((tmp_path / "run" / "compare.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


def test_metric_spec_owns_its_direction() -> None:
    import pandas as pd

    from workbench.metrics.spec import MetricSpec

    lip = MetricSpec("lip_offset_ms", "ms", None, "", best_at_zero=True, resolution=40.0)
    sbr = MetricSpec("speech_to_background_db", "dB", True, "", resolution=2.0)
    floor = MetricSpec("foley_abs_offset_ms", "ms", False, "")
    free = MetricSpec("duration_s", "s", None, "")
    v = pd.Series([3.0, -11.2, 92.0])
    assert lip.oriented(v).tolist() == [-3.0, -11.2, -92.0]  # larger is better: closer to 0
    assert sbr.oriented(v).tolist() == v.tolist() and floor.oriented(v).tolist() == (-v).tolist()
    assert free.oriented(v) is None and not free.has_direction
    assert lip.better(-50.0, 20.0) and not sbr.better(10.0, 5.0) and floor.better(30.0, 10.0)
    assert (lip.arrow, sbr.arrow, floor.arrow, free.arrow) == ("(→0)", "↑", "↓", "")
    assert lip.direction_text == "closer to 0 is better"
