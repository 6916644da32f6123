"""The compare notebook runs under papermill and exports a self-contained HTML report."""

from __future__ import annotations

import json

import papermill as pm
import pytest

from workbench.config import parse_config
from workbench.report import notebook_path, render_report
from workbench.run import run_comparison
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
