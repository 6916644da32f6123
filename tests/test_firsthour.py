"""A creator's first hour (issue 17), without a browser: where results go from any folder, the
pre-flight that stops before anything is paid, the end of a run, the command line's edges, the
working copies ``workbench explore`` opens and the save guard of the tracked notebooks.

The same, in a real JupyterLab driven by Chromium: ``tests/test_firsthour_browser.py``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import make_mp4

from workbench.cli.main import SUMMARY_WIDTH, main
from workbench.rundir import RESULTS_ENV, USER_RESULTS, RunDir, list_runs, project_root, results_root

REPO = Path(__file__).resolve().parents[1]
NO_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "FAL_KEY", "TEST_PROVIDER_KEY")


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "results"
    monkeypatch.setenv(RESULTS_ENV, str(root))
    for k in NO_KEYS:
        monkeypatch.delenv(k, raising=False)
    return root


def _config(tmp_path: Path, providers: list[str], **extra) -> Path:
    f = tmp_path / "cmp.yaml"
    data = {"name": "firsthour", "prompts": ["glass-on-table", "door-slam"], "providers": providers, "metrics": ["basic"]}
    data.update(extra)
    f.write_text(json.dumps(data))  # JSON is YAML
    return f


# -- paths -----------------------------------------------------------------------------------------


def test_results_root_is_the_checkout_s_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert project_root() == REPO
    for where in (REPO / "notebooks", tmp_path, REPO):
        monkeypatch.chdir(where)
        assert results_root() == REPO / "results"
    # a kernel started in notebooks/ (what JupyterLab and papermill do) finds the same folder
    env = {k: v for k, v in os.environ.items() if k != RESULTS_ENV}
    out = subprocess.run(
        [sys.executable, "-c", "from workbench import results_root; print(results_root())"],
        cwd=REPO / "notebooks", env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == str(REPO / "results")
    # the variable always wins (relative to where it is read); a wheel install goes to the user's folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RESULTS_ENV, "elsewhere")
    assert results_root() == tmp_path / "elsewhere"
    monkeypatch.setenv(RESULTS_ENV, "~/shared-results")
    assert results_root() == Path.home() / "shared-results"
    monkeypatch.delenv(RESULTS_ENV)
    monkeypatch.setattr("workbench.rundir.project_root", lambda: None)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert results_root() == Path(USER_RESULTS).expanduser() == tmp_path / "av-workbench" / "results"


# -- the pre-flight ---------------------------------------------------------------------------------


def test_run_without_keys_stops_before_anything_naming_every_variable(results, tmp_path, capsys):
    cfg = _config(tmp_path, ["gemini/veo-3.1-fast-generate-001", "local/synced", "fal/fal-ai/veo3.1"])
    assert main(["plan", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in out and "FAL_KEY" in out and "2 prerequisite(s) missing" in out
    assert main(["run", str(cfg), "-q"]) == 1
    err = capsys.readouterr().err
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in err and "FAL_KEY" in err  # every problem at once
    assert "providers[0]" in err and "providers[2]" in err and "nothing was run or paid for" in err
    assert list_runs(results) == [] and not (results / "runs").exists()  # no run folder
    assert not (results / "index.html").exists()


def test_a_cell_never_submitted_costs_nothing(results, tmp_path, fake_provider):
    from workbench.config import parse_config
    from workbench.pipeline import run_comparison

    def cfg(**kw):
        data = {"name": "cost", "prompts": ["glass-on-table", "door-slam"], "metrics": ["basic"], **kw}
        return parse_config(data, source="<test>")

    # fake price $0.10/s: glass-on-table 5 s = $0.50, door-slam 6 s = $0.60
    res = run_comparison(cfg(providers=["test/refuse", "test/fail"]), quiet=True, report=False)
    refused = [s for s in res.samples if s.model == "test/refuse"]
    assert [(s.kind, s.cost_usd) for s in refused] == [("auth", 0.0), ("auth", 0.0)]  # never reached the vendor
    # submitted, then failed at the vendor: recorded at its price (it may be billed)
    assert sorted(s.cost_usd for s in res.samples if s.model == "test/fail") == [0.5, 0.6]
    assert res.stats["cost_usd"] == 1.1 and RunDir(res.run_dir).info().stats["cost_usd"] == 1.1
    # a refused submission gives its share of the budget back: with $0.60, the refused door-slam cell
    # comes first and the next one still fits
    res = run_comparison(cfg(prompts=["door-slam"], providers=["test/refuse", "test/ok"], budget_usd=0.6), quiet=True, report=False)
    assert [(s.model, s.status, s.cost_usd) for s in res.samples] == [("test/refuse", "failed", 0.0), ("test/ok", "ok", 0.6)]


def test_clips_already_stored_need_no_key(results, tmp_path, fake_provider, monkeypatch):
    from workbench.config import parse_config
    from workbench.errors import PrerequisiteError
    from workbench.pipeline import run_comparison
    from workbench.store import ClipStore
    from workbench.validate import preflight

    data = {"name": "k", "prompts": ["glass-on-table"], "providers": ["test/needskey"], "metrics": ["basic"]}
    cfg = parse_config(data, source="<test>")
    store = ClipStore(results / "store")
    assert preflight(cfg, store) == ["providers[0] test/needskey: no API key: set TEST_PROVIDER_KEY (1 clip to generate)"]
    with pytest.raises(PrerequisiteError):
        run_comparison(cfg, quiet=True, report=False)
    monkeypatch.setenv("TEST_PROVIDER_KEY", "k")
    run_comparison(cfg, quiet=True, report=False)
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    assert preflight(cfg, store) == []  # every clip is a cache hit: nothing to send, nothing needed
    again = run_comparison(cfg, quiet=True, report=False)
    assert again.stats["cache_hits"] == 1
    more = parse_config({**data, "repeats": 2}, source="<test>")
    assert preflight(more, store) == ["providers[0] test/needskey: no API key: set TEST_PROVIDER_KEY (1 clip to generate)"]


# -- the end of a run -------------------------------------------------------------------------------


def test_the_end_of_a_run_fits_100_columns_and_lists_each_failure_with_its_reason(results, tmp_path, capsys, fake_provider):
    cfg = _config(tmp_path, ["test/ok", "test/fail", "test/corrupt"], metrics=None)
    assert main(["run", str(cfg), "-q", "--no-report", "--executor", "in-process"]) == 2
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    assert table[1].split()[:2] == ["model", "usable"] and table[1].split()[-1] == "gen.fail"
    assert max(len(line) for line in table) <= SUMMARY_WIDTH, table
    assert sorted(line.split()[0] for line in table[2:5]) == ["test/corrupt", "test/fail", "test/ok"]
    assert "leaderboard.csv" in table[-1]
    run = list_runs(results)[0]
    lb = (run.leaderboard_path("csv")).read_text()
    assert "mute_coherence_spread" in lb  # every number, in full, in the CSV
    assert "Failed: 4 of 6 cells:" in out
    for p in ("glass-on-table", "door-slam"):
        assert f"{p}__test-fail__r0: content_policy: content rejected by the provider" in out
        assert f"{p}__test-corrupt__r0: corrupt: downloaded file is not valid media" in out


def test_a_run_and_its_report_are_named_after_the_models_actually_run(results, fake_provider, capsys):
    from workbench.report.data import ReportData

    assert main(["run", "--models", "test/ok", "--prompts", "door-slam", "-q", "--no-report"]) == 0
    capsys.readouterr()
    run = list_runs(results)[0]
    info = run.info()
    assert info.name == "builtin-test" and "_builtin-test_" in run.name
    assert info.config["description"] == "Built-in suite against test/ok."
    header = ReportData(run).header_html()
    assert "builtin-test" in header and "local reference" not in header and "no key, no network" not in header
    from workbench.config import default_config

    assert default_config().name == "builtin-local" and "no key, no network" in default_config().description


# -- the command line's edges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["prompts", "--id", "door-slm"], "no prompt 'door-slm' in suite 'builtin'; did you mean door-slam?"),
        (["prompts", "--id", "typo"], "no prompt 'typo' in suite 'builtin'; known: kitchen-footsteps"),
        (["plan", "--models", "local/sinced"], "providers[0].id: unknown model 'local/sinced'; did you mean local/synced"),
        (["run", "--prompts", "glass-on-tabel"], "prompts[0]: no prompt 'glass-on-tabel' in suite 'builtin'; did you mean glass-on-table?"),
        (["analyze", "x.mp4", "--suite", "builtin", "--prompt", "door-slm"], "did you mean door-slam?"),
        (["analyze", "x.mp4", "--metrics", "lipsinc"], "unknown metric 'lipsinc'; did you mean lipsync?"),
        (["probe", "gemini/veo-3.1-fast-generate-01"], "did you mean gemini/veo-3.1-fast-generate-001"),
        (["explore", "no-such-run"], "no run 'no-such-run'"),
    ],
)  # fmt: skip
def test_unknown_ids_exit_1_with_did_you_mean(results, argv, expected, capsys):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert expected in captured.err and captured.out == ""


def test_batch_only_with_an_unknown_job_says_which(results, capsys):
    schedule = REPO / "notebooks" / "schedules" / "nightly.yaml"
    assert main(["batch", str(schedule), "--only", "local-model", "--dry-run"]) == 1
    assert "no job named local-model; did you mean local-models?" in capsys.readouterr().err


def test_validate_reports_every_problem_in_one_pass(tmp_path, capsys):
    f = tmp_path / "cmp.yaml"
    f.write_text(
        "name: x\nprompts: [door-slam, glass-on-tabel, nope]\nrepeats: 0\n"
        "providers: [local/synced, local/sinced, {id: local/drift, label: local/synced}]\nmetrics: [lipsinc, basic]\n"
    )
    assert main(["validate", str(f)]) == 1
    err = capsys.readouterr().err
    for key, msg in [
        ("repeats", "greater than or equal to 1"),
        ("prompts[1]", "did you mean glass-on-table?"),
        ("prompts[2]", "no prompt 'nope'"),
        ("providers[1].id", "unknown model 'local/sinced'"),
        ("providers[2]", "duplicate provider label 'local/synced'"),
        ("metrics[0]", "unknown metric 'lipsinc'"),
    ]:
        assert f"{f}: {key}: " in err and msg in err, (key, err)
    assert "6 problems" in err
    # without the schema error, the cross-field errors still all come at once
    f.write_text("name: x\nprompts: [glass-on-tabel, nope]\nproviders: [local/sinced, local/dubed]\nmetrics: [lipsinc]\n")
    assert main(["validate", str(f)]) == 1
    err = capsys.readouterr().err
    assert "5 problems" in err and all(k in err for k in ("prompts[0]", "prompts[1]", "providers[0]", "providers[1]", "metrics[0]"))
    # a suite: schema errors and duplicate ids together
    s = tmp_path / "suite.yaml"
    s.write_text("name: s\nprompts:\n  - {id: a, text: hi}\n  - {id: a, text: again}\n  - {id: b}\n")
    assert main(["validate", str(s)]) == 1
    err = capsys.readouterr().err
    assert "prompts[1].id: duplicate prompt id 'a'" in err and "prompts[2]" in err


def test_analyze_exits_2_when_a_clip_could_not_be_analyzed(tmp_path, capsys):
    good = tmp_path / "good.mp4"
    good.write_bytes(make_mp4(duration_s=1.5))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 50)
    assert main(["analyze", str(good), "--metrics", "basic"]) == 0
    assert main(["analyze", str(good), str(bad), "--metrics", "basic"]) == 2
    captured = capsys.readouterr()
    assert "bad.mp4: not a readable media file" in captured.out and "1 of 2 clips could not be analyzed" in captured.err
    assert main(["analyze", str(bad), "--metrics", "basic", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)[0]["error"]


def test_index_links_the_html_leaderboard_a_page_of_its_own(results, tmp_path, fake_provider, capsys):
    from workbench.report.render import write_index

    assert main(["run", "--models", "test/ok", "--prompts", "door-slam", "-q", "--no-report"]) == 0
    run = list_runs(results)[0]
    index = write_index(results).read_text()
    assert f'href="runs/{run.name}/leaderboard.html"' in index and ".md" not in index
    page = run.leaderboard_path("html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page and "<table" in page


# -- workbench explore: working copies, and the save guard ---------------------------------------------


def _tracked_notebooks() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (REPO / "notebooks").glob("*.ipynb")}


def test_explore_opens_jupyterlab_at_the_results_root_on_a_working_copy(results, fake_provider, monkeypatch, capsys):
    assert main(["run", "--models", "test/ok", "--prompts", "door-slam", "-q", "--no-report"]) == 0
    run = list_runs(results)[0]
    before = _tracked_notebooks()
    launched: list[list[str]] = []
    monkeypatch.setattr("workbench.cli.notebooks._launch", lambda argv: launched.append(list(argv)) or 0)
    assert main(["explore", run.name.split("_")[-1], "--no-browser", "--port", "8765"]) == 0  # the run's id suffix
    out = capsys.readouterr().out
    copy_ = results / "notebooks" / f"explore_{run.name}.ipynb"
    assert copy_.is_file() and (results / "notebooks" / "clip_detail.ipynb").is_file()
    assert (results / "notebooks" / "compare_runs.ipynb").is_file()
    nb = nbformat.read(copy_, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f"run_dir = {str(run.path.resolve())!r}" in injected[0].source
    assert nb.metadata["workbench"]["working_copy"] is True
    (argv,) = launched
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"] and argv[-1] == str(copy_)
    assert f"--ServerApp.root_dir={results}" in argv and "--ServerApp.port=8765" in argv and "--no-browser" in argv
    assert "--ContentsManager.pre_save_hook=workbench.ui.savehook.pre_save_hook" in argv
    token = next(a.split("=", 1)[1] for a in argv if a.startswith("--IdentityProvider.token="))
    assert f"http://127.0.0.1:8765/lab/tree/notebooks/explore_{run.name}.ipynb?token={token}" in out
    # the creator's copy is kept as it is next time; --fresh makes it again
    copy_.write_text(copy_.read_text().replace("Explore a run", "My notes"))
    assert main(["explore", "--no-browser"]) == 0 and "My notes" in copy_.read_text()
    assert main(["explore", "--no-browser", "--fresh"]) == 0 and "My notes" not in copy_.read_text()
    assert _tracked_notebooks() == before


def test_explore_without_a_run_says_how_to_make_one(results, capsys):
    assert main(["explore"]) == 1
    assert "no runs under" in capsys.readouterr().err


class _Contents:
    """The part of JupyterLab's FileContentsManager the save hook uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _get_os_path(self, path: str) -> str:
        return str(self.root / path)


def _used(nb: dict) -> dict:
    """A notebook as JupyterLab saves it after Run All: outputs, counts, widget views, full language_info."""
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "code":
            c["execution_count"] = i
            c["outputs"] = [
                {"output_type": "display_data", "metadata": {}, "data": {
                    "text/plain": "VBox(...)", "application/vnd.jupyter.widget-view+json": {"model_id": "ab12", "version_major": 2, "version_minor": 0}}},
                {"output_type": "stream", "name": "stdout", "text": "opened: x\n"},
            ]  # fmt: skip
            c["metadata"]["execution"] = {"iopub.status.busy": "2026-12-05T01:00:00Z"}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.2", "mimetype": "text/x-python"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_a_tracked_notebook_saved_from_jupyterlab_stays_as_it_is(tmp_path):
    from workbench.ui.savehook import pre_save_hook

    template = REPO / "notebooks" / "explore.ipynb"
    raw = template.read_bytes()
    on_disk = json.loads(raw)
    model = {"type": "notebook", "content": _used(on_disk)}
    pre_save_hook(model=model, path="notebooks/explore.ipynb", contents_manager=_Contents(REPO))
    assert (nbformat.writes(nbformat.from_dict(model["content"])) + "\n").encode() == raw  # not one byte changed
    # an edited cell is kept, without its outputs
    used = _used(on_disk)
    used["cells"][2]["source"] = "".join(used["cells"][2]["source"]) + "\nprint('mine')"
    model = {"type": "notebook", "content": used}
    pre_save_hook(model=model, path="notebooks/explore.ipynb", contents_manager=_Contents(REPO))
    saved = model["content"]
    assert "".join(saved["cells"][2]["source"]).endswith("print('mine')") and saved["cells"][2]["outputs"] == []
    assert all(c.get("outputs", []) == [] for c in saved["cells"]) and saved["metadata"] == on_disk["metadata"]
    assert template.read_bytes() == raw


def test_a_working_copy_is_saved_without_dead_widget_views(tmp_path):
    from workbench.ui.savehook import WIDGET_NOTE, WIDGET_VIEW, pre_save_hook
    from workbench.ui.workspace import working_copy

    wc = working_copy("explore.ipynb", root=tmp_path, parameters={"run_dir": "/x"}, stem="explore_x")
    model = {"type": "notebook", "content": _used(json.loads(wc.read_text()))}
    pre_save_hook(model=model, path="notebooks/explore_x.ipynb", contents_manager=_Contents(tmp_path))
    outs = [o for c in model["content"]["cells"] for o in c.get("outputs", [])]
    assert outs and not any(WIDGET_VIEW in o.get("data", {}) for o in outs)
    assert any(o.get("text") == WIDGET_NOTE for o in outs) and any(o.get("text") == "opened: x\n" for o in outs)
    assert "widgets" not in model["content"]["metadata"]


def test_the_environment_s_jupyter_config_installs_the_save_guard():
    """``make install`` (and a wheel) put the hook in the environment's Jupyter config, so a JupyterLab
    started from it on the checkout (``jupyter lab notebooks/explore.ipynb``) keeps the templates clean too."""
    shipped = json.loads((REPO / "jupyter-config" / "av-workbench.json").read_text())
    assert shipped == {"ServerApp": {"jpserver_extensions": {"workbench.ui.savehook": True}}}
    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "av-workbench.json"
    assert installed.is_file(), "run `make install`: the environment has no save guard for JupyterLab"
    assert json.loads(installed.read_text()) == shipped
    from workbench.ui import savehook  # the server extension the config enables

    class Manager:
        pre_save_hook = None

        def __init__(self):
            self._pre_save_hooks = []

        def register_pre_save_hook(self, hook):
            self._pre_save_hooks.append(hook)

    class App:
        contents_manager = Manager()
        log = __import__("logging").getLogger("test")

    assert savehook._jupyter_server_extension_points() == [{"module": "workbench.ui.savehook"}]
    app = App()
    savehook._load_jupyter_server_extension(app)
    savehook._load_jupyter_server_extension(app)  # registered once
    assert app.contents_manager._pre_save_hooks == [savehook.pre_save_hook]
