"""Every notebook in notebooks/ has a parameters cell and executes under papermill on a real run."""

from __future__ import annotations

import ast
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from workbench.report.render import notebooks_dir
from workbench.ui.clipdetail import ClipDetail
from workbench.ui.nbtools import OUTPUTS_MIME, read_outputs

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

pytest_plugins = ["nbfixtures"]  # local_run, reported_run


def _outputs(nb_path: Path) -> list[dict]:
    nb = json.loads(nb_path.read_text())
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def _mimes(nb_path: Path) -> list[str]:
    return [m for o in _outputs(nb_path) for m in o.get("data", {})]


def _execute(name: str, out: Path, params: dict) -> Path:
    pm.execute_notebook(
        str(notebooks_dir() / name),
        str(out),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(out.parent),
    )
    return out


def test_the_notebooks_are_all_here():
    names = {p.name for p in NOTEBOOKS}
    assert {"compare.ipynb", "explore.ipynb", "clip_detail.ipynb", "comparison.ipynb", "compare_runs.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_parameters_cell_papermill_can_read(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assigned = {
        t.id
        for node in ast.parse(cells[0].source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    found = set(pm.inspect_notebook(str(path)))
    # papermill parses the cell itself: a comment it cannot read drops the parameter silently
    assert found == assigned, f"{path.name}: papermill sees {sorted(found)}, the cell assigns {sorted(assigned)}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tracked_notebooks_are_thin_output_free_templates(path):
    """No outputs, no execution counts, no widget state; code imports only the public names of ``workbench``."""
    import workbench

    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: a cell has outputs"
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                assert node.module == "workbench", f"{path.name}: imports {node.module} (only `from workbench import ...`)"
                assert {a.name for a in node.names} <= set(workbench._API), f"{path.name}: not public: {node.names}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("workbench") for a in node.names), path.name
    assert "widgets" not in nb["metadata"] and "workbench" not in nb["metadata"]


def test_clip_view_reads_the_evidence_the_analyzers_wrote_and_names_what_is_missing(local_run, nb):
    speech = ClipDetail(local_run, nb.DETAIL_SAMPLE)  # local/dubbed speaking: lip windows, signals, decays
    assert len(speech.offsets_figure().axes[0].collections) >= 1  # the window dots
    lip = speech.details["lip_offset_ms"]
    assert speech.drift_line() == (lip["line_offset_ms"], lip["line_slope_ms_per_s"], lip["line_t_ref_s"], "line fit")
    assert speech.mouth_figure() is not None and speech.decay_figure() is not None
    assert speech.foley_frame() is None  # the prompt names no foley event
    assert speech.evidence_figure() is not None
    facts = dict(speech.facts_frame().values.tolist())
    assert facts["video"].startswith("h264") and facts["audio"].startswith("aac")
    foley = ClipDetail(local_run, nb.FOLEY_SAMPLE)  # a glass set down: one foley event, no speech
    rows = foley.foley_frame()
    assert len(rows) == 1 and rows["visual_s"].notna().all() and rows["audio_s"].notna().all()
    assert abs(float(rows["offset_ms"].iloc[0])) < 40  # local/synced: the sound lands on the contact
    assert foley.offsets_figure() is None and foley.mouth_figure() is None
    m = foley.metrics_frame()
    assert set(m["metric"]) >= {"duration_s", "loudness_lufs"} and m["measures"].str.len().min() > 0


def test_every_field_the_clip_view_draws_is_written_by_the_analyzers(local_run, nb):
    """The evidence shapes (workbench.metrics.evidence) are what the analyzers write, key for key."""
    from workbench.metrics import evidence as ev
    from workbench.rundir import RunDir

    run = RunDir(local_run)
    speech, foley = run.details(nb.DETAIL_SAMPLE), run.details(nb.FOLEY_SAMPLE)

    def at(details, where):
        metric, key = where
        return details[metric][key]

    assert all(set(w) == set(ev.LipWindow.__annotations__) for w in at(speech, ev.LIP_WINDOWS))
    assert set(at(speech, ev.MOUTH_SIGNALS)) == set(ev.MouthSignals.__annotations__)
    assert set(speech[ev.LIP_LINE]) >= {"line_offset_ms", "line_slope_ms_per_s", "line_t_ref_s"}
    assert set(speech[ev.LIP_LINE]) <= set(ev.LipEvidence.__annotations__)
    assert all(set(d) == set(ev.Decay.__annotations__) for d in at(speech, ev.DECAYS))
    assert set(speech[ev.DECAYS[0]]) == set(ev.Rt60Evidence.__annotations__)
    assert all(set(e) == set(ev.FoleyEvent.__annotations__) for e in at(foley, ev.FOLEY_EVENTS))
    assert set(foley[ev.FOLEY_EVENTS[0]]) == set(ev.FoleyEvidence.__annotations__)


@pytest.mark.slow
def test_every_notebook_executes_on_a_real_run(local_run, reported_run, tmp_path, monkeypatch, nb):
    PROMPTS, MODELS, DETAIL_SAMPLE = nb.PROMPTS, nb.MODELS, nb.DETAIL_SAMPLE
    root = local_run.parents[1]
    # defaults of the explorer: the newest run under $WORKBENCH_RESULTS_DIR, here exactly this run
    alone = tmp_path / "alone"
    (alone / "runs").mkdir(parents=True)
    (alone / "runs" / local_run.name).symlink_to(local_run)
    monkeypatch.setenv("WORKBENCH_RESULTS_DIR", str(alone))

    def comparison_then_runs() -> tuple[Path, Path]:
        params = {
            "name": "nbcmp", "prompts": list(PROMPTS), "models": list(MODELS), "metrics": ["basic"], "write_report": False,
            "results_dir": str(root),
        }  # fmt: skip
        c = _execute("comparison.ipynb", tmp_path / "comparison.ipynb", params)
        run2 = Path(read_outputs(c)["run_dir"])
        r = _execute("compare_runs.ipynb", tmp_path / "compare_runs.ipynb", {"run_dirs": [str(local_run), str(run2)]})
        return c, r

    tasks = {
        "explore_default": lambda: _execute("explore.ipynb", tmp_path / "explore_default.ipynb", {}),
        "explore": lambda: _execute(
            "explore.ipynb",
            tmp_path / "explore.ipynb",
            {"run_dir": str(local_run), "prompt_id": PROMPTS[1], "models": list(MODELS[:2]), "seed": 1},
        ),
        "clip_detail": lambda: _execute(
            "clip_detail.ipynb", tmp_path / "clip_detail.ipynb", {"run_dir": str(local_run), "sample_id": DETAIL_SAMPLE}
        ),
        "comparison": comparison_then_runs,
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {k: pool.submit(f) for k, f in tasks.items()}
        done = {k: f.result() for k, f in futures.items()}

    # compare.ipynb ran through render_report (papermill, cwd = the run folder)
    executed = nbformat.read(reported_run / "compare.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    html = (reported_run / "report.html").read_text()
    assert all(m in html for m in MODELS) and html.count('<video controls preload="metadata"') == len(PROMPTS) * len(MODELS)
    assert html.count('id="wb-player"') == 1  # and one shared player for the shots x models matrix

    for key in ("explore_default", "explore"):
        assert WIDGET_MIME in _mimes(done[key]), f"{key}: the explorer widget was not built"
    # with default parameters the explorer opened the newest run under $WORKBENCH_RESULTS_DIR: this one
    assert f"opened: {local_run.name}" in json.dumps(_outputs(done["explore_default"]))
    assert f"opened: {local_run.name}" in json.dumps(_outputs(done["explore"]))

    detail_mimes = _mimes(done["clip_detail"])
    assert detail_mimes.count("image/png") >= 4  # timeline, mouth, offsets, decays
    assert "video/mp4" in json.dumps(_outputs(done["clip_detail"]))  # the clip, embedded

    comparison_nb, runs_nb = done["comparison"]
    outs = read_outputs(comparison_nb)
    run2 = Path(outs["run_dir"])
    assert (run2 / "leaderboard.csv").is_file() and run2.parent == root / "runs"
    assert OUTPUTS_MIME in _mimes(comparison_nb)
    samples = [json.loads(x) for x in (run2 / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(PROMPTS) * len(MODELS) and all(
        s["cache_hit"] for s in samples
    )  # same store: nothing regenerated
    runs_text = json.dumps(_outputs(runs_nb))
    assert "within noise" in runs_text and "image/png" in _mimes(runs_nb)


def test_report_links_or_embeds_clips_and_scrubs_secrets(local_run, monkeypatch):
    from workbench.report.data import ReportData
    from workbench.report.html import scrub

    s = next(x for x in ReportData(local_run).samples if x.status == "ok")
    linked = ReportData(local_run).clip_src(s)
    assert linked == f"assets/clips/{Path(s.clip).name}"
    assert (local_run / linked).samefile(local_run / s.clip)  # hard link, no copy
    assert ReportData(local_run, embed_media_mb=50).clip_src(s).startswith("data:video/mp4;base64,")
    assert not ReportData(local_run, embed_media_mb=0.001).embed  # over the cap: linked
    monkeypatch.setenv("ACME_API_KEY", "sk-live-0123456789")
    text = f"key sk-live-0123456789 clip {local_run}/clips/a.mp4 dir {local_run}"
    assert scrub(text, paths=[local_run]) == "key [redacted] clip clips/a.mp4 dir ."
