"""`workbench batch`: schedules validated, failures isolated, parallel workers, timeouts, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from workbench.batch import expand, load_schedule
from workbench.cli.main import main
from workbench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _nb(path: Path, params: str, body: str) -> Path:
    cell = new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[cell, new_code_cell(body)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path) -> Path:
    d = tmp_path / "nbs"
    d.mkdir()
    # with a barrier folder, each job marks its start there and waits (up to wait_s) until `meet` jobs
    # have started: it finishes only if that many ran at the same time, however slowly kernels start
    _nb(d / "ok.ipynb", "x = 0\nbarrier = ''\nmeet = 1\nwait_s = 0.0", (
        "import pathlib, time\nfrom workbench.ui.nbtools import record_outputs\n"
        "if barrier:\n"
        "    here = pathlib.Path(barrier)\n"
        "    (here / f'{x}.started').touch()\n"
        "    deadline = time.monotonic() + wait_s\n"
        "    while len(list(here.glob('*.started'))) < meet:\n"
        "        if time.monotonic() > deadline:\n"
        "            raise RuntimeError(f'only {len(list(here.glob(\"*.started\")))} of {meet} jobs ran at once')\n"
        "        time.sleep(0.05)\n"
        "print('x squared is', x * x)\nrecord_outputs(result=f'x={x}')"
    ))  # fmt: skip
    _nb(d / "fail.ipynb", "x = 0", "raise RuntimeError(f'deliberate failure {x}')")
    _nb(d / "slow.ipynb", "seconds = 60", "import time\ntime.sleep(seconds)")
    return d


def _schedule(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_a_failing_and_a_hanging_notebook_do_not_stop_the_batch(notebooks, tmp_path, capsys):
    meet = tmp_path / "barrier"
    meet.mkdir()
    sch = _schedule(tmp_path / "nbs" / "night.yaml", {
        "name": "night", "workers": 2, "timeout_s": 120,
        "jobs": [
            {"notebook": "ok.ipynb", "grid": {"x": [2, 3]}, "parameters": {"barrier": str(meet), "meet": 2, "wait_s": 90}},
            {"notebook": "fail.ipynb", "parameters": {"x": 7}},
            {"notebook": "slow.ipynb", "timeout_s": 3},
        ],
    })  # fmt: skip
    root = tmp_path / "results"
    code = main(["batch", str(sch), "--results", str(root)])
    assert code == 2  # finished, some notebooks failed
    (bdir,) = (root / "batches").iterdir()
    man = json.loads((bdir / "manifest.json").read_text())
    jobs = {j["name"]: j for j in man["jobs"]}
    assert man["status"] == "failed" and man["counts"] == {"failed": 1, "ok": 2, "timeout": 1}
    assert set(jobs) == {"ok_x-2", "ok_x-3", "fail", "slow"}
    assert jobs["fail"]["status"] == "failed" and "deliberate failure 7" in jobs["fail"]["error"]
    assert jobs["slow"]["status"] == "timeout" and jobs["slow"]["duration_s"] < 30
    for name in ("ok_x-2", "ok_x-3"):
        j = jobs[name]
        assert j["status"] == "ok" and j["duration_s"] > 0 and j["kernel"] == "python3"
        executed = root / j["output"]
        assert executed.is_file() and (root / j["log"]).is_file()
        x = j["parameters"]["x"]
        assert j["outputs"]["result"] == f"x={x}" and f"x squared is {x * x}" in executed.read_text()
    # the failing notebook is kept, with the traceback in it
    assert "deliberate failure 7" in (root / jobs["fail"]["output"]).read_text()
    # two workers: the two grid jobs ran at the same time (each waited for the other), each in its own kernel
    assert sorted(p.name for p in meet.iterdir()) == ["2.started", "3.started"]
    assert "Manifest:" in capsys.readouterr().out
    index = (root / "index.html").read_text()
    assert bdir.name in index and "manifest.json" in index


def test_schedule_errors_name_the_file_and_key(notebooks, tmp_path):
    base = {"name": "s", "jobs": [{"notebook": "ok.ipynb", "parameters": {"x": 1}}]}
    cases = [
        ({**base, "workerz": 2}, "workerz"),
        ({**base, "jobs": [{"notebook": "nope.ipynb"}]}, "jobs[0].notebook"),
        ({**base, "jobs": [{"notebook": "ok.ipynb", "parameters": {"y": 1}}]}, "jobs[0].parameters.y"),
        ({**base, "jobs": [{"notebook": "ok.ipynb", "grid": {"x": []}}]}, "jobs[0].grid"),
        ({**base, "kernel": "no-such-kernel"}, "kernel"),
        ({**base, "jobs": []}, "jobs"),
    ]
    for i, (data, key) in enumerate(cases):
        path = _schedule(notebooks / f"bad{i}.yaml", data)
        with pytest.raises(ConfigError) as err:
            load_schedule(path)
        assert err.value.path == str(path) and err.value.key is not None and err.value.key.startswith(key), (
            key,
            str(err.value),
        )
    assert main(["batch", str(notebooks / "bad1.yaml")]) == 1


def test_the_example_nightly_schedule_is_valid():
    sch = load_schedule(REPO / "notebooks" / "schedules" / "nightly.yaml")
    jobs = expand(sch)
    assert jobs and all(j.notebook.is_file() and j.kernel == "python3" for j in jobs)
    assert {j.notebook.name for j in jobs} >= {"comparison.ipynb", "compare_runs.ipynb"}
    assert main(["batch", str(REPO / "notebooks" / "schedules" / "nightly.yaml"), "--dry-run"]) == 0
