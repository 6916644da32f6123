"""The command line: validation errors, `analyze` on bad input, kill-and-resume of a real run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_mp4

from workbench.cli.main import main


def test_validate_reports_file_and_key(tmp_path, capsys):
    f = tmp_path / "cmp.yaml"
    f.write_text("name: x\nproviders: [local/synced, local/sinced]\n")
    assert main(["validate", str(f)]) == 1
    err = capsys.readouterr().err
    assert f"{f}: providers[1].id: unknown model 'local/sinced'; did you mean local/synced" in err
    f.write_text("name: x\nproviders: [local/synced]\nprompts: [door-slam]\n")
    assert main(["validate", str(f)]) == 0
    assert "1 prompts x 1 models" in capsys.readouterr().out


def test_plan_shows_matrix_and_cost(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RESULTS_DIR", str(tmp_path))
    assert main(["plan", "--models", "local/synced", "local/drift", "--prompts", "door-slam"]) == 0
    out = capsys.readouterr().out
    assert "1 prompts x 2 models x 1 repeats = 2 clips" in out and "to generate: 2" in out


@pytest.mark.slow
def test_analyze_gives_one_line_reason_per_bad_clip(tmp_path, capsys):
    good = tmp_path / "good.mp4"
    good.write_bytes(make_mp4(duration_s=2.0, clicks_at=(0.5, 1.2)))
    files = {
        "noaudio.mp4": make_mp4(duration_s=2.0, audio=False),
        "novideo.m4a": make_mp4(duration_s=2.0, video=False),
        "short.mp4": make_mp4(duration_s=0.5),
        "empty.mp4": b"",
        "text.mp4": b"hello, I am not a video" * 50,
        "truncated.mp4": make_mp4(duration_s=2.0)[:1500],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(good)] + [str(tmp_path / n) for n in files]
    assert main(["analyze", *paths, "--json"]) == 2  # some clips could not be analyzed (each says why)
    out = {Path(e["clip"]).name: e for e in json.loads(capsys.readouterr().out)}
    assert out["good.mp4"]["metrics"]["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert out["good.mp4"]["metrics"]["audio_present"] == 1.0
    assert "error" not in out["good.mp4"]
    assert out["noaudio.mp4"]["unscored"]["loudness_lufs"] == "no audio stream"
    assert out["novideo.m4a"]["metrics"]["audio_present"] == 1.0
    assert "shorter than 1 s" in out["short.mp4"]["error"]
    assert out["empty.mp4"]["error"] == "zero-length file"
    assert "not a readable media file" in out["text.mp4"]["error"]
    assert out["truncated.mp4"]["error"]
    for e in out.values():
        assert "\n" not in e.get("error", "")
        assert set(e["metrics"]).isdisjoint(e["unscored"])
    # readable table without --json
    assert main(["analyze", str(good), str(tmp_path / "empty.mp4")]) == 2
    table = capsys.readouterr().out
    assert "duration_s" in table and "empty.mp4: zero-length file" in table


@pytest.mark.slow
def test_killed_run_resumes_without_generating_twice(tmp_path):
    env = {**os.environ, "WORKBENCH_RESULTS_DIR": str(tmp_path / "results")}
    args = [sys.executable, "-m", "workbench", "run", "--models", "local/synced", "local/dubbed", "local/drift",
            "--prompts", "glass-on-table", "door-slam", "--no-report", "-q", "--executor", "in-process"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    blobs = tmp_path / "results" / "store" / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(blobs.rglob("*.mp4"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored_before = len(list(blobs.rglob("*.mp4")))
    assert 2 <= stored_before < 6, "kill landed outside generation; the test needs a mid-run kill"
    run_dir = next((tmp_path / "results" / "runs").iterdir())
    assert not (run_dir / "samples.jsonl").exists()
    res = subprocess.run([*args, "--resume", str(run_dir)], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    samples = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(s["status"] == "ok" for s in samples)
    hits = sum(s["cache_hit"] for s in samples)
    assert hits >= stored_before - 1  # every clip published before the kill is reused (one may be mid-bind)
    assert len(list(blobs.rglob("*.mp4"))) == 6  # no duplicates, no half-written leftovers taken as clips
    assert not list(blobs.rglob("*.tmp")) or all(p.stat().st_size >= 0 for p in blobs.rglob("*.tmp"))
    assert f"Generated {6 - hits} clips, {hits} cache hits" in res.stdout
