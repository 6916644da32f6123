"""Run over run: common models and prompts, change per metric, and the noise rule."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cli.main import main
from workbench.config import parse_config
from workbench.metrics.spec import MetricSpec
from workbench.outputs.compare import C_MEDIAN, change_noise, compare_runs, to_text, verdict
from workbench.outputs.leaderboard import SCORE_COLUMNS
from workbench.pipeline import run_comparison
from workbench.rundir import RunDir, RunInfo, Sample
from workbench.store import ClipStore

SPECS = {
    "up": MetricSpec("up", "x", True, "higher is better"),
    "zero": MetricSpec("zero", "ms", None, "best at zero", best_at_zero=True),
    "free": MetricSpec("free", "", None, "no direction"),
}


def fake_run(path: Path, values: dict[tuple[str, str, str], list[float]], *, version: int = 1) -> Path:
    """A run folder whose scores are ``{(model, prompt, metric): [value per repeat]}``."""
    path.mkdir(parents=True)
    samples, rows = {}, []
    for (model, prompt, metric), vals in values.items():
        for r, v in enumerate(vals):
            sid = f"{prompt}__{model}__r{r}"
            samples[sid] = Sample(sid, prompt, model, model, r, "k", status="ok", clip_sha256=f"{sid}-{path.name}")
            rows.append({
                "sample_id": sid, "prompt_id": prompt, "model": model, "provider": model, "repeat": r,
                "clip_sha256": samples[sid].clip_sha256, "metric": metric, "value": v, "unit": "",
                "reason": "" if v is not None else "could not measure", "analyzer": "a", "analyzer_version": version,
            })  # fmt: skip
    run = RunDir(path)
    run.write_samples(list(samples.values()))
    pd.DataFrame(rows, columns=SCORE_COLUMNS).to_csv(run.scores_path, index=False)
    run.write_info(
        RunInfo(
            config={"name": path.name}, suite={}, started="2026-01-01T00:00:00", template_version="t1",
            workbench_version="0",
        )
    )  # fmt: skip
    return path


def test_paired_rule_sees_a_shift_shared_by_every_prompt():
    old = np.array([-30.0, -20.0, -25.0, -18.0])
    d = np.array([1.0, 1.1, 0.9, 1.0])
    delta, noise, rule = change_noise(old=old, new=old + d, paired_diff=d)
    iqr = np.subtract(*np.percentile(d, [75, 25]))
    assert rule == "paired" and delta == pytest.approx(1.0) and noise == pytest.approx(2 * C_MEDIAN * iqr / 2.0)
    assert verdict(old=-23.0, new=-22.0, delta=delta, noise=noise, spec=SPECS["up"]) == (True, "better")
    # the same shift hidden in prompt-to-prompt spread would not be visible unpaired
    _, pooled_noise, pooled = change_noise(old=old, new=old + d, paired_diff=d[:2])
    assert pooled == "pooled" and pooled_noise > 1.0


def test_no_change_is_never_beyond_noise_and_too_few_clips_say_so():
    d = np.zeros(5)
    delta, noise, _ = change_noise(old=np.ones(5), new=np.ones(5), paired_diff=d)
    assert verdict(old=1, new=1, delta=delta, noise=noise, spec=SPECS["up"]) == (False, "within noise")
    delta, noise, rule = change_noise(old=np.array([1.0]), new=np.array([2.0]), paired_diff=np.array([1.0]))
    assert rule == "pooled" and math.isnan(noise)
    assert verdict(old=1, new=2, delta=delta, noise=noise, spec=SPECS["up"]) == (None, "too few clips")


def test_directions_best_at_zero_and_none():
    assert verdict(old=80.0, new=-20.0, delta=-100.0, noise=10.0, spec=SPECS["zero"])[1] == "better"
    assert verdict(old=20.0, new=90.0, delta=70.0, noise=10.0, spec=SPECS["zero"])[1] == "worse"
    assert verdict(old=1.0, new=5.0, delta=4.0, noise=1.0, spec=SPECS["free"])[1] == "changed"
    assert verdict(old=5.0, new=1.0, delta=-4.0, noise=1.0, spec=SPECS["up"])[1] == "worse"


def test_compare_runs_on_common_models_and_prompts(tmp_path):
    rng = np.random.default_rng(0)
    prompts = [f"p{i}" for i in range(6)]
    base, new = {}, {}
    for p in prompts:
        level = rng.normal(0, 5)  # prompt-to-prompt spread
        base[("m1", p, "up")] = [level + rng.normal(0, 0.1) for _ in range(2)]
        new[("m1", p, "up")] = [level + 2.0 + rng.normal(0, 0.1) for _ in range(2)]  # m1 improved everywhere
        base[("m2", p, "up")] = [level + rng.normal(0, 0.1) for _ in range(2)]
        new[("m2", p, "up")] = [v + rng.normal(0, 0.1) for v in base[("m2", p, "up")]]  # m2 unchanged (noise only)
        base[("m1", p, "zero")] = [40.0 + rng.normal(0, 3)]
        new[("m1", p, "zero")] = [90.0 + rng.normal(0, 3)]  # m1's offset got worse
    base[("m3", "p0", "up")] = [1.0]  # only in the first run: left out
    new[("m1", "extra", "up")] = [1.0]  # prompt only in the second run: left out
    r1 = fake_run(tmp_path / "r1", base)
    r2 = fake_run(tmp_path / "r2", new, version=2)
    cmp = compare_runs([r1, r2], specs=SPECS)
    assert cmp.models == ["m1", "m2"] and cmp.prompts == prompts and set(cmp.dropped) == {"m3", "extra"}
    ch = cmp.changes.set_index(["model", "metric"])
    assert ch.loc[("m1", "up"), "verdict"] == "better" and ch.loc[("m1", "up"), "delta"] == pytest.approx(2.0, abs=0.2)
    assert ch.loc[("m1", "up"), "rule"] == "paired" and ch.loc[("m1", "up"), "n"] == len(prompts)
    assert ch.loc[("m2", "up"), "verdict"] == "within noise"
    assert ch.loc[("m1", "zero"), "verdict"] == "worse"
    assert "analyzer v1 -> v2" in ch.loc[("m1", "up"), "note"]
    assert set(cmp.summary()["model"] + "/" + cmp.summary()["metric"]) == {"m1/up", "m1/zero"}
    text = to_text(cmp)
    assert "▲ better" in text and "▼ worse" in text
    assert len(cmp.changes) == 3  # m2 has no "zero" readings: no row


def test_cli_compare(tmp_path, capsys):
    # audio_present is a registered metric (higher is better): the CLI uses the registry's directions
    r1 = fake_run(tmp_path / "r1", {("m", f"p{i}", "audio_present"): [1.0] for i in range(3)})
    r2 = fake_run(tmp_path / "r2", {("m", f"p{i}", "audio_present"): [0.0] for i in range(3)})
    assert main(["compare", str(r1), str(r1.parent / "r1")]) == 0
    assert main(["compare", str(r1), str(r2)]) == 0
    assert "▼ worse" in capsys.readouterr().out
    assert (
        main(["compare", str(r1), str(r2), "--fail-on-worse", "--changes-only", "--csv", str(tmp_path / "c.csv")]) == 2
    )
    assert pd.read_csv(tmp_path / "c.csv")["verdict"].tolist() == ["worse"]
    assert main(["compare", str(r1)]) == 1  # one run is not a comparison
    assert main(["compare", str(r1), str(tmp_path)]) == 1  # not a run folder
    assert "not a run folder" in capsys.readouterr().err


def test_three_runs_compare_with_previous_or_first(tmp_path):
    vals = [{("m", f"p{i}", "up"): [float(i + k)] for i in range(4)} for k in (0, 1, 1)]
    runs = [fake_run(tmp_path / f"r{k}", v) for k, v in enumerate(vals)]
    prev = compare_runs(runs, specs=SPECS).changes
    first = compare_runs(runs, baseline="first", specs=SPECS).changes
    assert prev["verdict"].tolist() == ["better", "within noise"]
    assert first["verdict"].tolist() == ["better", "better"] and set(first["old_run"]) == {"r0"}


@pytest.mark.slow
def test_identical_regenerations_are_unchanged(tmp_path, fake_provider):
    cfg = parse_config(
        {
            "name": "rr",
            "prompts": ["glass-on-table", "door-slam", "office-short-line"],
            "providers": ["test/ok"],
            "metrics": ["basic"],
        },
        source="<test>",
    )
    store = ClipStore(tmp_path / "store")
    r1 = run_comparison(cfg, run_dir=tmp_path / "a", store=store, quiet=True, report=False).run_dir
    r2 = run_comparison(cfg, run_dir=tmp_path / "b", store=store, quiet=True, report=False).run_dir
    cmp = compare_runs([r1, r2])
    assert len(cmp.changes) and (cmp.changes["delta"].abs() == 0).all()
    assert (cmp.changes["beyond_noise"] == False).all()  # noqa: E712
    assert (cmp.changes["same_clips"] == 3).all()  # cache hits: byte-identical clips
