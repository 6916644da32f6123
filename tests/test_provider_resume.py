"""Kill ``workbench run`` with SIGKILL while it polls remote jobs, resume it, and lose nothing.

The fake provider server runs in this process; the workbench runs as a real subprocess
(``python -m workbench run``). Jobs take a few seconds, so the kill lands after every job is
journaled and counted by the server, and before any has finished (the test waits for both
conditions instead of guessing a delay). The resumed run must poll the journaled jobs (zero
duplicate submissions at the server) and bring every clip home. LTX's synchronous call is in
flight at the kill: its result died with the process, and the resumed run records it as
``lost_in_transit`` instead of paying for it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fake_provider_server import ENV, KEYS, UNSET, FakeProviderServer

REPO = Path(__file__).resolve().parents[1]
RESUMABLE = [
    "fal/fal-ai/veo3.1",
    "kling/kling-v2-6",
    "gemini/veo-3.1-generate-001",
    "vertex/veo-3.1-generate-001",
    "replicate/google/veo-3.1",
    "dashscope/happyhorse-1.1-t2v",
]
SYNCHRONOUS = "ltx/ltx-2-pro"


def _journal(results: Path) -> tuple[Path | None, list[dict]]:
    runs = sorted((results / "runs").glob("*/journal.jsonl"))
    if not runs:
        return None, []
    events = []
    for line in runs[-1].read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs[-1].parent, events


@pytest.mark.slow
def test_sigkill_during_polling_then_resume_submits_nothing_twice(tmp_path):
    server = FakeProviderServer(KEYS, job_seconds=3.0).start()
    try:
        cfg = {
            "name": "resume",
            "suite": "builtin",
            "prompts": ["glass-on-table"],
            "metrics": ["basic"],
            "report": False,
            "poll_interval_s": 0.2,
            "backoff_s": 0.01,
            "timeout_s": 60,
            "providers": [
                {"id": pid, "params": {"base_url": server.url(pid.split("/", 1)[0], "ok")}}
                for pid in [*RESUMABLE, SYNCHRONOUS]
            ],
        }
        cfg_path = tmp_path / "compare.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        results = tmp_path / "results"
        env = {k: v for k, v in os.environ.items() if k not in UNSET}
        env.update(ENV, WORKBENCH_RESULTS_DIR=str(results), PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "workbench", "run", str(cfg_path), "-q", "--no-report", "--jobs", "1"]

        t0 = time.monotonic()
        first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 40
        run_dir, events = None, []
        # Kill only once every job is journaled AND the server has counted every request (the LTX call is
        # journaled as "sending" just before it goes out): no race between the journal and the socket.
        while time.monotonic() < deadline and first.poll() is None:
            run_dir, events = _journal(results)
            journaled = sum(e.get("event") == "submitted" for e in events) == len(RESUMABLE) and any(
                e.get("event") == "sending" for e in events
            )
            if journaled and sum(server.created.values()) == len(RESUMABLE) + 1:
                break
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[0].decode()[-2000:]
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert run_dir is not None
        _, events = _journal(results)
        assert sum(e["event"] == "submitted" for e in events) == len(RESUMABLE)
        assert not any(e["event"] == "done" for e in events), "jobs finished before the kill: make them slower"
        assert [e["provider"] for e in events if e["event"] == "sending"] == [SYNCHRONOUS]
        assert sum(server.created.values()) == len(RESUMABLE) + 1

        t_kill = time.monotonic() - t0
        second = subprocess.run(
            [*cmd, "--resume", str(run_dir)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        # exit status 2: the run finished with a failed cell (the lost LTX call)
        assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
        assert "1 failed" in second.stdout
        print(f"killed after {t_kill:.1f} s; resumed run took {time.monotonic() - t0 - t_kill:.1f} s")

        # zero duplicate submissions, every resumable clip home, the in-flight LTX call recorded as lost
        assert sum(server.created.values()) == len(RESUMABLE) + 1 and not server.duplicates()
        samples = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
        assert sorted(s["provider"] for s in samples) == sorted([*RESUMABLE, SYNCHRONOUS])
        lost = [s for s in samples if s["provider"] == SYNCHRONOUS]
        assert [(s["status"], s["kind"]) for s in lost] == [("failed", "lost_in_transit")]
        assert "not sent again" in lost[0]["reason"]
        samples = [s for s in samples if s["provider"] != SYNCHRONOUS]
        assert all(s["status"] == "ok" and s["has_audio"] for s in samples), samples
        for s in samples:
            assert (run_dir / s["clip"]).stat().st_size > 1000
        _, events = _journal(results)
        assert sum(e["event"] == "done" for e in events) == len(RESUMABLE)
        # no key or signed token in any file the two processes wrote
        for p in results.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                assert not any(k.encode() in data for k in KEYS.values()), p
    finally:
        server.stop()
