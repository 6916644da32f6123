"""Executors: the thread pin, clip references for workers, and a 2-worker Dask cluster giving
the very same scores and leaderboard as the in-process run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.analysis.engine import score_samples, select_analyzers
from workbench.analysis.executor import (
    WORKER_ROOT_ENV,
    ClipNotVisibleError,
    DaskExecutor,
    InProcessExecutor,
    PathMap,
    ProcessExecutor,
    WorkerSetupError,
    analyzer_modules,
    make_executor,
    run_task,
)
from workbench.config import load_config_suite, parse_config
from workbench.errors import ConfigError
from workbench.metrics.registry import Analyzer, register
from workbench.metrics.spec import MetricSpec, Score
from workbench.outputs.leaderboard import write_leaderboard, write_scores
from workbench.pipeline import run_comparison
from workbench.rundir import RunDir
from workbench.store import ClipStore

# -- a swap-based batch analyzer, registered here (and, through the executor, on the workers) ---


def _swap_features(ctx) -> dict:
    """Audio RMS at each frame and frame-to-frame motion; total energy as one long dot product."""
    d = ctx.decoded
    y = d.audio.astype(np.float64)
    green = d.frames[:, ::4, ::4, 1].astype(np.int16)
    motion = np.r_[0.0, np.abs(np.diff(green, axis=0)).mean(axis=(1, 2))]
    half = max(1, int(0.02 * d.sr))
    centres = np.clip(np.round(d.frame_times * d.sr).astype(int), 0, len(y) - 1)
    env = np.array([np.sqrt(np.mean(y[max(0, c - half) : c + half] ** 2)) for c in centres])
    # More than 10k samples: OpenBLAS splits this dot product between its threads.
    return {"env": env, "motion": motion, "energy": float(np.dot(y, y))}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / den if den > 0 else 0.0


def _swap_batch(feats, contexts) -> list[dict[str, Score]]:
    out = []
    for i, f in enumerate(feats):
        if not f or "env" not in f:
            out.append(
                {"swaptest_gain": Score.unscored("no features"), "swaptest_energy": Score.unscored("no features")}
            )
            continue
        others = [_corr(f["env"], g["motion"]) for j, g in enumerate(feats) if j != i and g and "motion" in g]
        own = _corr(f["env"], f["motion"])
        gain = own - float(np.mean(others)) if others else None
        out.append({
            "swaptest_gain": Score(gain) if gain is not None else Score.unscored("a batch of one"),
            "swaptest_energy": Score(f["energy"]),
        })  # fmt: skip
    return out


register(
    Analyzer(
        name="swaptest",
        version=1,
        outputs=(
            MetricSpec("swaptest_gain", "", True, "own minus swapped audio-motion correlation (test only)"),
            MetricSpec("swaptest_energy", "", None, "sum of squared audio samples (test only)"),
        ),
        features=_swap_features,
        batch=_swap_batch,
        default=False,
    )
)


# -- tasks for the executor tests (module level: workers import them by reference) ------------------


def _blas_threads(_ref: str) -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _square(x: int) -> int:
    return x * x


def _fail_at(x: int) -> int:
    if x == 5:
        raise ValueError("task 5 fails")
    return x


def _read(path: str) -> tuple[str, bytes]:
    return path, Path(path).read_bytes()


# -- fast unit tests ------------------------------------------------------------------------------


def test_tasks_run_with_single_threaded_math_and_the_pin_is_lifted_after():
    before = _blas_threads("")
    assert run_task(_blas_threads, ("x",)) == [1] * len(before)
    assert _blas_threads("") == before


def test_path_map_rewrites_under_its_root_only(tmp_path):
    pm = PathMap(local=str(tmp_path / "results"), worker="file:///mnt/shared/results")
    assert (
        pm(str(tmp_path / "results" / "runs" / "a" / "clips" / "x.mp4"))
        == "file:///mnt/shared/results/runs/a/clips/x.mp4"
    )
    assert pm(str(tmp_path / "elsewhere" / "y.mp4")) == str(tmp_path / "elsewhere" / "y.mp4")
    assert PathMap(local=str(tmp_path), worker="/mnt/r/")(str(tmp_path / "c.mp4")) == "/mnt/r/c.mp4"


def test_path_map_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv(WORKER_ROOT_ENV, raising=False)
    assert PathMap.from_env() is None
    monkeypatch.setenv("WORKBENCH_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv(WORKER_ROOT_ENV, "s3://bucket/results")
    assert PathMap.from_env()(str(tmp_path / "store" / "b.mp4")) == "s3://bucket/results/store/b.mp4"


def test_a_url_reference_is_fetched_to_a_local_file_of_the_same_name(tmp_path):
    clip = tmp_path / "a clip.mp4"
    clip.write_bytes(os.urandom(3000))
    local, data = run_task(_read, (f"file://{clip}",), fetch=True)
    assert data == clip.read_bytes()
    assert Path(local).name == clip.name and Path(local) != clip
    assert not Path(local).exists()  # the temporary copy is gone


def test_a_clip_the_worker_cannot_see_is_an_error_not_an_unscored_clip(tmp_path):
    with pytest.raises(ClipNotVisibleError, match=WORKER_ROOT_ENV):
        run_task(_read, (str(tmp_path / "missing.mp4"),), require_file=True)


def test_an_analyzer_module_missing_on_the_worker_is_named():
    with pytest.raises(WorkerSetupError, match="no_such_analyzers"):
        run_task(_square, (3,), ("no_such_analyzers",))


def test_analyzer_modules_lists_where_registered_analyzers_live():
    mods = analyzer_modules()
    assert "workbench.metrics.basic" in mods and __name__ in mods


def test_make_executor_kinds():
    assert make_executor("in-process").name == "in-process"
    assert make_executor("auto", workers=2, n_tasks=1).name == "in-process"
    ex = make_executor("auto", workers=2, n_tasks=10)
    assert ex.name == "processes"
    ex.close()
    with pytest.raises(ConfigError, match="dask executor"):
        make_executor("processes", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("gpu")


def test_process_executor_yields_every_index_once():
    ex = ProcessExecutor(2)
    try:
        got = dict(ex.map_unordered(_square, [(i,) for i in range(7)]))
    finally:
        ex.close()
    assert got == {i: i * i for i in range(7)}


# -- a 2-worker local Dask cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_exec():
    ex = DaskExecutor(workers=2, memory_limit="1GiB")
    try:
        yield ex
    finally:
        ex.close()


@pytest.mark.slow
def test_dask_streams_with_a_bounded_window_and_runs_tasks_single_threaded(dask_exec):
    assert dask_exec.nthreads() == 2 and dask_exec.scheduler_address.startswith("tcp://127.0.0.1:")
    dask_exec.window = 3
    try:
        got = dict(dask_exec.map_unordered(_square, [(i,) for i in range(20)]))
    finally:
        dask_exec.window = None
    assert got == {i: i * i for i in range(20)}
    assert dask_exec.max_in_flight == 3
    assert all(n == [1] * len(n) for _, n in dask_exec.map_unordered(_blas_threads, [(__file__,)] * 2))


@pytest.mark.slow
def test_dask_task_error_reaches_the_caller_after_earlier_results(dask_exec):
    seen = []
    with pytest.raises(ValueError, match="task 5 fails"):
        for i, r in dask_exec.map_unordered(_fail_at, [(i,) for i in range(12)]):
            seen.append((i, r))
    assert all(i == r for i, r in seen) and (5, 5) not in seen
    assert dict(dask_exec.map_unordered(_square, [(2,), (3,)])) == {0: 4, 1: 9}  # the cluster goes on


@pytest.mark.slow
def test_dask_worker_refuses_a_clip_it_cannot_read(dask_exec, tmp_path):
    with pytest.raises(ClipNotVisibleError, match="not visible on worker"):
        list(dask_exec.map_unordered(_read, [(str(tmp_path / "nope.mp4"),)]))


def _copy_clips_only(src: Path, dst: Path) -> ClipStore:
    """A store with the same clips and generation cache but no scores: analysis runs again."""
    for part in ("blobs", "requests"):
        shutil.copytree(src / part, dst / part)
    return ClipStore(dst)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_dask_scores_and_leaderboard_are_identical_to_in_process(dask_exec, tmp_path):
    cfg = parse_config(
        {
            "name": "t",
            "prompts": ["glass-on-table", "office-short-line", "door-slam"],
            "providers": ["local/synced", "local/generic"],
            # Every default analyzer (the real mute test included) plus the BLAS-sensitive one above.
            "metrics": [*(a.name for a in select_analyzers(None)), "swaptest"],
        },
        source="<test>",
    )
    runs = {}
    store_a = ClipStore(tmp_path / "store-a")
    run_comparison(cfg, run_dir=tmp_path / "a", store=store_a, executor=InProcessExecutor(), quiet=True, report=False)
    runs["in-process"] = tmp_path / "a"
    store_b = _copy_clips_only(store_a.root, tmp_path / "store-b")
    res_b = run_comparison(cfg, run_dir=tmp_path / "b", store=store_b, executor=dask_exec, quiet=True, report=False)
    assert res_b.stats["generated"] == 0  # same clips, scored again on the workers
    runs["dask"] = tmp_path / "b"
    # The same cluster joined by address, reading clips through an fsspec URL (scoring step only).
    store_c = _copy_clips_only(store_a.root, tmp_path / "store-c")
    remote = DaskExecutor(scheduler=dask_exec.scheduler_address, path_map=PathMap(str(tmp_path), f"file://{tmp_path}"))
    samples, prompts = RunDir(tmp_path / "b").samples(), {p.id: p for p in load_config_suite(cfg).prompts}
    analyzers = select_analyzers(list(cfg.metrics))
    try:
        scores = score_samples(samples, prompts, store_c, tmp_path / "b", analyzers, quiet=True, executor=remote)
    finally:
        remote.close()
    (tmp_path / "c").mkdir()
    for name in ("samples.jsonl", "run.json"):  # the cells and the config (prompts, expectations) of run b
        shutil.copy(tmp_path / "b" / name, tmp_path / "c")
    write_scores(tmp_path / "c", samples, scores, analyzers)
    write_leaderboard(tmp_path / "c")
    assert dask_exec.nthreads() == 2  # closing the joined client left the cluster running
    runs["dask-url"] = tmp_path / "c"

    base = runs.pop("in-process")
    scores = pd.read_csv(base / "scores.csv")
    assert scores.groupby("metric")["value"].count()[["swaptest_gain", "mute_coherence", "loudness_lufs"]].min() > 0
    for name, run in runs.items():
        for f in ("scores.csv", "leaderboard.csv"):
            assert (run / f).read_bytes() == (base / f).read_bytes(), f"{name}: {f} differs"
        assert _files(run / "details") == _files(base / "details"), name
    # What the store keeps (score JSON, batch features) is byte-identical too.
    cached = _files(store_a.root / "scores")
    assert sum(k.endswith(".features.npz") for k in cached) == 6 * 2  # mute_test and swaptest per clip
    assert cached == _files(store_b.root / "scores") == _files(store_c.root / "scores")


@pytest.mark.slow
def test_worker_processes_survive_a_parent_that_already_ran_the_face_detector(tmp_path):
    """A notebook scores a clip in process (MediaPipe's threads start here), then runs a comparison with
    worker processes: forked workers used to abort in MediaPipe; workers started clean do not."""
    import mediapipe as mp

    from workbench.analysis.engine import analyze_task
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    mp.solutions.face_detection.FaceDetection(model_selection=0).close()  # MediaPipe initialised in this process
    prompt = resolve_suite("builtin").get("office-short-line")
    clip = tmp_path / "c.mp4"
    clip.write_bytes(render_clip(prompt, "synced", seed=0).data)
    ex = ProcessExecutor(2)
    try:
        args = [(str(clip), prompt.model_dump(mode="json"), ["lipsync"])] * 2
        out = dict(ex.map_unordered(analyze_task, args))
    finally:
        ex.close()
    assert all(o[0]["lip_offset_ms"]["value"] is not None for o in out.values())
