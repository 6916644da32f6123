"""The runner with scripted fake providers: failures recorded, cache, budget, journal resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.config import parse_config
from workbench.errors import ConfigError
from workbench.generate import plan_cells
from workbench.pipeline import run_comparison
from workbench.rundir import Journal, RunDir
from workbench.store import ClipStore
from workbench.validate import check_config


def _cfg(providers, **kw):
    data = {"name": "t", "suite": "builtin", "prompts": ["glass-on-table", "door-slam"], "providers": providers}
    data.update(kw)
    cfg = parse_config(data, source="<test>")
    check_config(cfg)  # what every entry point runs before anything is generated
    return cfg


def test_failures_are_recorded_and_the_run_goes_on(tmp_path, fake_provider):
    cfg = _cfg(["test/ok", "test/fail", "test/corrupt", "test/noaudio"], metrics=["basic"])
    res = run_comparison(cfg, run_dir=tmp_path / "run", store=ClipStore(tmp_path / "store"), quiet=True, report=False)
    by = {(s.model, s.prompt_id): s for s in res.samples}
    assert len(res.samples) == 8
    assert by[("test/ok", "door-slam")].status == "ok"
    fail = by[("test/fail", "door-slam")]
    assert fail.status == "failed" and fail.kind == "content_policy" and "rejected" in fail.reason
    bad = by[("test/corrupt", "glass-on-table")]
    assert bad.status == "failed" and bad.kind == "corrupt"
    mute = by[("test/noaudio", "glass-on-table")]
    assert mute.status == "ok" and mute.has_audio is False and mute.reason == "no audio"
    # outputs
    run = tmp_path / "run"
    scores = pd.read_csv(run / "scores.csv")
    lb = pd.read_csv(run / "leaderboard.csv").set_index("model")
    assert lb.loc["test/fail", "failed"] == 2 and lb.loc["test/ok", "failed"] == 0
    assert lb.loc["test/ok", "audio_present"] == 1.0 and lb.loc["test/noaudio", "audio_present"] == 0.0
    assert lb.loc["test/ok", "duration_s_n"] == 2
    row = scores[(scores.model == "test/noaudio") & (scores.metric == "loudness_lufs")].iloc[0]
    assert pd.isna(row.value) and row.reason == "no audio stream"
    assert (run / "leaderboard.md").read_text().startswith("## Usable takes and checks")
    assert "<table" in (run / "leaderboard.html").read_text()
    assert (run / "figures" / "grid_door-slam.png").is_file()
    assert (run / "figures" / "spec_door-slam__test-ok__r0.png").is_file()
    assert json.loads((run / "run.json").read_text())["stats"]["failed"] == 4


def test_second_run_is_all_cache_hits(tmp_path, fake_provider):
    cfg = _cfg(["test/ok"], metrics=["basic"])
    store = ClipStore(tmp_path / "store")
    r1 = run_comparison(cfg, store=store, run_dir=tmp_path / "r1", quiet=True, report=False)
    assert r1.stats["generated"] == 2 and len(fake_provider.submissions) == 2
    r2 = run_comparison(cfg, store=store, run_dir=tmp_path / "r2", quiet=True, report=False)
    assert r2.stats["generated"] == 0 and r2.stats["cache_hits"] == 2
    assert len(fake_provider.submissions) == 2  # nothing submitted again
    assert pd.read_csv(tmp_path / "r2" / "scores.csv").equals(pd.read_csv(tmp_path / "r1" / "scores.csv"))


def test_budget_stops_spending(tmp_path, fake_provider):
    # fake price 0.1 $/s; glass-on-table 5 s = $0.50, door-slam 6 s = $0.60
    cfg = _cfg(["test/ok"], metrics=["basic"], budget_usd=0.55)
    res = run_comparison(cfg, store=ClipStore(tmp_path / "s"), run_dir=tmp_path / "r", quiet=True, report=False)
    statuses = sorted((s.status, s.kind) for s in res.samples)
    assert statuses == [("failed", "budget"), ("ok", None)]
    assert len(fake_provider.submissions) == 1
    assert res.stats["cost_usd"] <= 0.55


def test_resume_polls_journaled_jobs_instead_of_resubmitting(tmp_path, fake_provider):
    cfg = _cfg(["test/ok"], metrics=["basic"])
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    cells = plan_cells(cfg)
    # A previous process submitted the first job and was killed before it finished.
    Journal(run_dir / "journal.jsonl").append(
        event="submitted", key=cells[0].request.key(), provider="test/ok", job_id=f"ok-{cells[0].request.key()}"
    )
    with open(run_dir / "journal.jsonl", "a") as f:
        f.write('{"event": "submitted", "key": "cut-by-a-ki')  # a line torn by SIGKILL
    res = run_comparison(cfg, store=ClipStore(tmp_path / "s"), run_dir=run_dir, quiet=True, report=False)
    assert all(s.status == "ok" for s in res.samples)
    assert fake_provider.submissions == [f"ok:{cells[1].prompt.id}:0"]  # only the never-submitted cell
    events = [e["event"] for e in Journal(run_dir / "journal.jsonl").events()]
    assert events.count("done") == 2
    assert [s.sample_id for s in RunDir(run_dir).samples()] == [c.sample_id for c in cells]


def test_bad_config_fails_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match=r"providers\[1\]\.id: unknown provider 'nope/x'"):
        _cfg(["test/ok", "nope/x"])
    with pytest.raises(ConfigError, match=r"prompts\[0\]: no prompt 'missing'"):
        parse_config({"name": "t", "prompts": ["missing"], "providers": ["test/ok"]}, source="c.yaml")
    with pytest.raises(ConfigError, match=r"metrics\[0\]: unknown metric 'lipz'"):
        _cfg(["test/ok"], metrics=["lipz"])
    with pytest.raises(ConfigError, match=r"c.yaml: repeats: Input should be greater than or equal to 1"):
        parse_config({"providers": ["test/ok"], "repeats": 0}, source="c.yaml")
    # the library entry point checks too, before it makes a run folder
    bad = parse_config({"name": "t", "providers": ["test/ok", "nope/x"]}, source="c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml: providers\[1\]\.id: unknown provider"):
        run_comparison(bad, store=ClipStore(tmp_path / "store"), quiet=True, report=False)
    assert not (tmp_path / "results").exists() and not list(tmp_path.glob("**/run.json"))
    with pytest.raises(ConfigError, match="duplicate provider label"):
        _cfg(["test/ok", "test/ok"])
