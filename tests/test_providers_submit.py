"""Nothing is billed twice: a submission whose answer was lost is looked up or recorded, never resent.

The fake vendor creates the job and then loses the answer in two ways: it cuts the connection
(``cutsubmit``), or it answers after the client's read timeout (``slowsubmit``, with
``timeout_s: 0.5``). A 500 before the job is created (``e500``) is retried as before. In every
case the server counts the jobs it created: zero duplicates, and the cell's recorded status says
what happened (found by the vendor's lookup, or ``submit_uncertain`` with the reference).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
from fake_provider_server import KEYS
from test_providers import _assert_no_secrets, _cfg, _entry, _run

from workbench.generate import plan_cells
from workbench.providers.registry import get_provider
from workbench.rundir import Journal

pytest_plugins = ["provider_fixtures"]  # server, keys, no_figures
pytestmark = pytest.mark.usefixtures("no_figures")

LOOKUP = ["fal/fal-ai/veo3.1", "replicate/google/veo-3.1", "kling/kling-v2-6"]
NO_LOOKUP = [
    "dashscope/happyhorse-1.1-t2v",
    "gemini/veo-3.1-generate-001",
    "gemini/gemini-omni-1.1-flash",
    "vertex/veo-3.1-generate-001",
]
LOST = ["cutsubmit", "slowsubmit"]


def _lost_entry(server, pid: str, scenario: str, tag: str, *, api: str = "ok", **params):
    """An entry whose first submission's answer is lost (its own scenario name, so each fault fires once)."""
    extra = dict(params)
    if "slowsubmit" in scenario:
        extra["timeout_s"] = 0.5  # the fake answers after 2 s: a read timeout after the job was created
        if pid.startswith("gemini/gemini-omni"):
            extra.setdefault("submit_timeout_s", 0.5)  # Omni's submit waits longer by default (see below)
    if pid.startswith("fal/"):
        extra["api_base_url"] = server.url("falapi", api)
    return _entry(server, pid, f"{scenario}+{tag}{_short(pid)}", **extra)


def _short(pid: str) -> str:
    """A per-model token: faults fire once per vendor and scenario name, so each entry gets its own."""
    return "-" + re.sub(r"[^a-z0-9]", "", pid.split("/", 1)[1])[:16]


def _jobs(server, entry) -> int:
    """Jobs the fake vendor created under this entry's base URL."""
    base = entry["params"]["base_url"]
    return sum(j.base == base for j in list(server.jobs.values()))


def test_lost_answer_is_found_by_the_vendor_lookup_and_never_resent(tmp_path, server, keys):
    entries = [_lost_entry(server, pid, scen, "found") for pid in LOOKUP for scen in LOST]
    res = _run(_cfg(entries), tmp_path, "found")
    by = {s.model: s for s in res.samples}
    for e in entries:
        s = by[e["label"]]
        assert (s.status, s.has_audio) == ("ok", True), (e["label"], s.kind, s.reason)
        assert _jobs(server, e) == 1, e["label"]  # one paid job, polled to the end
        assert any("the job it created was found in" in n for n in s.notes), (e["label"], s.notes)
    assert not server.duplicates()
    events = Journal(tmp_path / "found" / "journal.jsonl").events()
    kinds = [ev["event"] for ev in events]
    # journaled before it was sent, then the job the lookup found
    assert kinds.count("submitting") == len(entries) and kinds.count("submitted") == len(entries)
    kling = [ev for ev in events if ev["event"] == "submitting" and ev["provider"].startswith("kling/")]
    assert all(ev["ref"].startswith("wb-") for ev in kling)
    _assert_no_secrets(tmp_path)


def test_lost_answer_without_a_lookup_is_recorded_uncertain_and_never_resent(tmp_path, server, keys):
    entries = [_lost_entry(server, pid, scen, "nolookup") for pid in NO_LOOKUP for scen in LOST]
    res = _run(_cfg(entries), tmp_path, "unc")
    by = {s.model: s for s in res.samples}
    for e in entries:
        s = by[e["label"]]
        assert (s.status, s.kind) == ("failed", "submit_uncertain"), (e["label"], s.kind, s.reason)
        assert "answer was lost" in s.reason and "not sent again, so it is not paid twice" in s.reason
        assert "offers no way to look a lost submission up" in s.reason and "(sent 20" in s.reason
        assert _jobs(server, e) == 1, e["label"]
    assert not server.duplicates()
    samples = (tmp_path / "unc" / "samples.jsonl").read_text()
    assert samples.count('"kind": "submit_uncertain"') == len(entries)


def test_omni_submit_that_blocks_is_waited_for_not_resent(tmp_path, server, keys):
    """If Omni ignores ``background: true`` the POST blocks while it generates: the submit waits for it."""
    entry = _lost_entry(server, "gemini/gemini-omni-1.1-flash", "slowsubmit", "blocks", submit_timeout_s=10)
    res = _run(_cfg([entry]), tmp_path, "blocks")
    assert [(s.status, s.has_audio) for s in res.samples] == [("ok", True)]
    assert _jobs(server, entry) == 1 and not server.duplicates()


def test_lookup_that_finds_nothing_leaves_the_cell_uncertain_with_its_reference(tmp_path, server, keys):
    entries = [_lost_entry(server, pid, "cutsubmit+nolist", "empty", api="nolist") for pid in LOOKUP]
    res = _run(_cfg(entries), tmp_path, "empty")
    by = {s.model: s for s in res.samples}
    for e in entries:
        s = by[e["label"]]
        assert (s.status, s.kind) == ("failed", "submit_uncertain"), (e["label"], s.kind, s.reason)
        assert "not found in" in s.reason and _jobs(server, e) == 1
    assert "client reference wb-" in by[entries[2]["label"]].reason  # Kling's external_task_id
    assert not server.duplicates()


def test_server_error_before_acceptance_is_retried(tmp_path, server, keys):
    pids = [*LOOKUP, *NO_LOOKUP]
    entries = [_entry(server, pid, f"e500+before{_short(pid)}") for pid in pids]
    t0 = time.time()
    res = _run(_cfg(entries), tmp_path, "e500")
    assert [(s.status, s.kind) for s in res.samples] == [("ok", None)] * len(pids), [s.reason for s in res.samples]
    for e in entries:
        assert _jobs(server, e) == 1, e["label"]
        prefix = e["params"]["base_url"].removeprefix(server.origin)
        posts = [st for t, m, path, st in server.log
                 if m == "POST" and path.startswith(prefix) and t >= t0 and "fetchPredictOperation" not in path]  # fmt: skip
        assert posts[0] == 500 and 200 <= posts[1] < 300 and len(posts) == 2, (e["label"], posts)
    assert not server.duplicates()


def test_request_that_never_left_is_retried_not_uncertain(tmp_path, keys):
    """A refused connection cannot have reached a server: retryable, never ``submit_uncertain``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    entry = {"id": "fal/fal-ai/veo3.1", "label": "refused", "params": {"base_url": f"http://127.0.0.1:{port}/fal"}}
    res = _run(_cfg([entry], max_retries=1), tmp_path, "refused")
    (s,) = res.samples
    assert (s.status, s.kind) == ("failed", "transient") and "connection failed" in s.reason


def test_resend_lost_opts_in_to_paying_again(tmp_path, server, keys):
    entry = _lost_entry(server, "dashscope/happyhorse-1.1-t2v", "cutsubmit", "resend", resend_lost=True)
    res = _run(_cfg([entry]), tmp_path, "resend")
    assert [(s.status, s.kind) for s in res.samples] == [("ok", None)]
    assert _jobs(server, entry) == 2  # the documented price of the opt-in
    assert list(server.duplicates().values()) == [2]
    server.created.clear()  # the module's later tests count duplicates afresh


def test_resume_looks_an_uncertain_cell_up_again(tmp_path, server, keys):
    """fal lists a request late (it sorts by end time): a later ``--resume`` finds it instead of paying again."""
    first = _lost_entry(server, "fal/fal-ai/veo3.1", "cutsubmit", "resume", api="nolist")
    r1 = _run(_cfg([first]), tmp_path, "run")
    assert [s.kind for s in r1.samples] == ["submit_uncertain"]
    again = {**first, "params": {**first["params"], "api_base_url": server.url("falapi", "ok")}}  # not in the key
    r2 = _run(_cfg([again]), tmp_path, "run")
    assert [(s.status, s.has_audio) for s in r2.samples] == [("ok", True)]
    assert _jobs(server, first) == 1 and not server.duplicates()


def _killed_mid_submit(server, tmp_path, pid: str, scenario: str, *, reached: bool):
    """A previous process journaled ``submitting`` and died; its request did (or did not) reach the vendor."""
    cfg = _cfg([_entry(server, pid, scenario)])
    cell = plan_cells(cfg)[0]
    params = {"base_url": server.url(pid.split("/", 1)[0], scenario), "input": {"test_scenario": scenario}}
    prov = get_provider(pid, params)
    ref = prov.new_submit_ref(cell.request)
    sent = time.time()
    if reached:

        async def go() -> None:
            try:
                await prov.submit(cell.request, None)
            finally:
                await prov.aclose()

        asyncio.run(go())
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    Journal(run_dir / "journal.jsonl").append(
        event="submitting", key=cell.request.key(), provider=pid, ref=ref, sent=sent
    )
    return cfg, run_dir


def test_run_killed_mid_submit_is_looked_up_on_resume(tmp_path, server, keys):
    cfg, run_dir = _killed_mid_submit(server, tmp_path, "kling/kling-v2-6", "killed", reached=True)
    res = _run(cfg, tmp_path, "killed")
    assert [(s.status, s.has_audio) for s in res.samples] == [("ok", True)]
    assert sum(j.base.endswith("/kling/killed") for j in list(server.jobs.values())) == 1
    events = [e["event"] for e in Journal(run_dir / "journal.jsonl").events()]
    assert events == ["submitting", "submitted", "done"]


def test_run_killed_mid_submit_without_a_lookup_stays_uncertain(tmp_path, server, keys):
    cfg, _ = _killed_mid_submit(server, tmp_path, "gemini/veo-3.1-generate-001", "killedg", reached=True)
    res = _run(cfg, tmp_path, "killed")
    (s,) = res.samples
    assert (s.status, s.kind) == ("failed", "submit_uncertain")
    assert s.reason.startswith("the previous run stopped while it was sent")
    assert sum(j.base.endswith("/gemini/killedg") for j in list(server.jobs.values())) == 1
    assert KEYS["gemini"] not in s.reason
