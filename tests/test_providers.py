"""Remote adapters end to end against a local fake provider server (no network).

Every run goes through :func:`workbench.pipeline.run_comparison`: submit, journal, poll, download,
verify, store, score, leaderboard. Faults are injected per provider entry through the base
URL (``/<vendor>/<scenario>``), see :mod:`fake_provider_server`.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_mp4
from fake_provider_server import KEYS, SIGNATURE

from workbench.config import parse_config
from workbench.errors import ConfigError, PrerequisiteError, ProviderError
from workbench.pipeline import run_comparison
from workbench.providers.base import GenerationRequest
from workbench.providers.http import Redactor, parse_retry_after, resolve_base_url
from workbench.providers.kling import make_jwt
from workbench.providers.registry import catalogue, get_provider, known_model_ids
from workbench.store import ClipStore
from workbench.validate import check_config

JWT_HEADER_B64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
PROMPT = "glass-on-table"  # 5 s
FAST = {"poll_interval_s": 0.05, "backoff_s": 0.01, "max_backoff_s": 5, "max_retries": 2, "timeout_s": 20}


pytest_plugins = ["provider_fixtures"]  # server, keys, no_figures
pytestmark = pytest.mark.usefixtures("no_figures")


def _cfg(providers, **kw):
    data = {"name": "prov", "suite": "builtin", "prompts": [PROMPT], "providers": providers, "metrics": ["basic"]}
    data.update(FAST)
    data.update(kw)
    cfg = parse_config(data, source="<test>")
    check_config(cfg)  # what every entry point runs before anything is generated
    return cfg


def _run(cfg, tmp_path: Path, name: str):
    return run_comparison(cfg, run_dir=tmp_path / name, store=ClipStore(tmp_path / "store"), quiet=True, report=False)


def _vendor(provider_id: str) -> str:
    return provider_id.split("/", 1)[0]


def _entry(server, pid, scenario="ok", label=None, **params):
    vendor = _vendor(pid)
    params = {"base_url": server.url(vendor, scenario), **params}
    if scenario != "ok":
        params.setdefault("input", {})["test_scenario"] = scenario  # a distinct cache key per scenario
    return {"id": pid, "label": label or f"{pid}@{scenario}", "params": params}


def _assert_no_secrets(root: Path) -> None:
    secrets = [*KEYS.values(), SIGNATURE, JWT_HEADER_B64]
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            for s in secrets:
                assert s.encode() not in data, f"{s!r} written to {p}"


# -- happy paths -----------------------------------------------------------------------------------


def test_every_adapter_end_to_end_into_store_and_leaderboard(tmp_path, server, keys):
    clips = tmp_path / "byo"
    clips.mkdir()
    (clips / "glass.mp4").write_bytes(make_mp4(duration_s=1.0, size=(64, 48), tone_hz=330.0))
    (clips / "manifest.yaml").write_text("model: my exported clips\nclips:\n  glass-on-table: glass.mp4\n")
    entries = [
        _entry(server, "gemini/veo-3.1-generate-001"),
        _entry(server, "gemini/gemini-omni-1.1-flash"),
        _entry(server, "gemini/gemini-omni-1.1-flash", label="omni-inline", delivery="inline"),
        _entry(server, "vertex/veo-3.1-generate-001"),
        _entry(server, "vertex/veo-3.1-fast-generate-001", storage_uri="gs://bucket/out/"),
        _entry(server, "kling/kling-v2-6"),
        _entry(server, "fal/fal-ai/veo3.1"),
        _entry(server, "fal/fal-ai/kling-video/v2.6/pro/text-to-video"),
        _entry(server, "fal/alibaba/happy-horse/v1.1/text-to-video"),
        _entry(server, "fal/fal-ai/ovi"),
        _entry(server, "replicate/google/veo-3.1"),
        _entry(server, "dashscope/happyhorse-1.1-t2v"),
        _entry(server, "dashscope/wan2.5-t2v-preview"),
        _entry(server, "ltx/ltx-2-pro"),
        {"id": "folder/mine", "params": {"path": str(clips)}},
        {"id": "local/synced"},  # one leaderboard across remote, imported and local models
    ]
    res = _run(_cfg(entries), tmp_path, "run")
    bad = [(s.model, s.status, s.kind, s.reason) for s in res.samples if s.status != "ok"]
    assert not bad
    assert all(s.has_audio for s in res.samples)
    assert not server.duplicates()
    # store: one bound clip per cell, provenance names the provider and its job id
    store = ClipStore(tmp_path / "store")
    for s in res.samples:
        _, rec = store.lookup(s.request_key)
        assert rec["provider"] == s.provider and rec["job_id"] and rec["has_audio"] is True
        assert (tmp_path / "run" / s.clip).is_file()
    lb = pd.read_csv(tmp_path / "run" / "leaderboard.csv").set_index("model")
    assert set(lb.index) == {e.get("label") or e["id"] for e in entries}
    assert (lb["failed"] == 0).all() and (lb["audio_present"] == 1.0).all()
    assert lb.loc["folder/mine", "cost_usd"] == 0
    assert lb.loc["gemini/veo-3.1-generate-001@ok", "cost_usd"] == pytest.approx(0.40 * 6)  # 5 s snapped to 6 s
    # what went over the wire: each protocol's audio switch, duration format, seed rules
    veo = server.bodies["gemini-veo"][-1]
    assert "generateAudio" not in veo["parameters"] and veo["parameters"]["durationSeconds"] == 6
    vtx = server.bodies["vertex"]
    assert all(b["parameters"]["generateAudio"] is True and b["parameters"]["seed"] == 0 for b in vtx)
    assert any(b["parameters"].get("storageUri") == "gs://bucket/out/" for b in vtx)
    kl = server.bodies["kling"][-1]
    assert (kl["sound"], kl["mode"], kl["duration"], kl["model_name"]) == ("on", "pro", "5", "kling-v2-6")
    fal = {b["endpoint"]: b for b in server.bodies["fal"]}
    assert fal["fal-ai/veo3.1"]["generate_audio"] is True and fal["fal-ai/veo3.1"]["duration"] == "6s"
    assert fal["fal-ai/kling-video/v2.6/pro/text-to-video"]["generate_audio"] is True
    hh = fal["alibaba/happy-horse/v1.1/text-to-video"]
    assert "generate_audio" not in hh and hh["duration"] == 5 and hh["seed"] == 0
    assert "duration" not in fal["fal-ai/ovi"] and "generate_audio" not in fal["fal-ai/ovi"]
    rep = server.bodies["replicate"][-1]["input"]
    assert rep["generate_audio"] is True and rep["duration"] == 6
    ds = {b["model"]: b["parameters"] for b in server.bodies["dashscope"]}
    assert ds["wan2.5-t2v-preview"]["audio"] is True and ds["wan2.5-t2v-preview"]["duration"] == 5
    assert "audio" not in ds["happyhorse-1.1-t2v"] and ds["happyhorse-1.1-t2v"]["resolution"] == "1080P"
    assert server.bodies["ltx"][-1]["generate_audio"] is True and server.bodies["ltx"][-1]["duration"] == 6
    omni = server.bodies["gemini-omni"][-1]
    assert omni["response_format"]["duration"] == "5s" and omni["generation_config"]["seed"] == 0
    # a second run is all cache hits: nothing is submitted again
    n = sum(server.created.values())
    res2 = _run(_cfg(entries), tmp_path, "run2")
    assert res2.stats["cache_hits"] == len(entries) and sum(server.created.values()) == n
    _assert_no_secrets(tmp_path)


# -- faults ----------------------------------------------------------------------------------------

#: (provider id, scenario, extra params) -> expected (status, kind, text in reason or None)
FAULTS = [
    ("fal/fal-ai/veo3.1", "r429", {}, ("ok", None, None)),
    ("kling/kling-v2-6", "r429", {}, ("ok", None, None)),
    ("dashscope/happyhorse-1.1-t2v", "r429", {}, ("ok", None, None)),
    ("ltx/ltx-2-pro", "r429", {}, ("ok", None, None)),
    ("replicate/google/veo-3.1", "e500", {}, ("ok", None, None)),
    ("gemini/veo-3.1-generate-001", "p500", {}, ("ok", None, None)),
    ("dashscope/happyhorse-1.1-t2v", "slowpoll", {"timeout_s": 2.0}, ("ok", None, None)),
    ("kling/kling-v2-6", "drop", {}, ("ok", None, None)),
    ("ltx/ltx-2-pro", "drop", {}, ("failed", "lost_in_transit", "probably billed")),
    ("fal/fal-ai/veo3.1", "dropall", {}, ("failed", "transient", "bytes")),
    ("replicate/google/veo-3.1", "hang", {}, ("failed", "timeout", "not finished")),
    ("fal/fal-ai/veo3.1", "fail", {}, ("failed", "fatal", "CUDA out of memory")),
    ("fal/fal-ai/veo3.1", "policy", {}, ("failed", "content_policy", "content checker")),
    ("fal/fal-ai/veo3.1", "safety", {}, ("failed", "safety_filtered", "safety checker")),
    ("gemini/veo-3.1-generate-001", "safety", {}, ("failed", "safety_filtered", "issue with the audio")),
    ("gemini/veo-3.1-generate-001", "fail", {}, ("failed", "transient", "failed on the backend")),
    ("gemini/veo-3.1-generate-001", "retired", {}, ("failed", "not_found", "not available to this key")),
    ("gemini/veo-3.1-generate-001", "auth", {}, ("failed", "auth", "API key not valid")),
    ("gemini/gemini-omni-1.1-flash", "fail", {}, ("failed", "fatal", "generation crashed")),
    ("gemini/gemini-omni-1.1-flash", "safety", {}, ("failed", "safety_filtered", "without a video")),
    ("vertex/veo-3.1-generate-001", "safety", {}, ("failed", "safety_filtered", "filtered by safety")),
    ("vertex/veo-3.1-generate-001", "noaudio", {}, ("ok", None, "no audio")),
    ("kling/kling-v2-6", "policy", {}, ("failed", "content_policy", "1301")),
    ("kling/kling-v2-6", "quota", {}, ("failed", "quota", "1102")),
    ("kling/kling-v2-6", "fail", {}, ("failed", "content_policy", "risk control")),
    ("kling/kling-v2-6", "expired", {}, ("failed", "expired", "link gone")),
    ("kling/kling-v2-6", "corrupt", {}, ("failed", "corrupt", "not valid media")),
    ("kling/kling-v2-6", "auth", {}, ("failed", "auth", "Authorization is invalid")),
    ("replicate/google/veo-3.1", "expired", {}, ("failed", "expired", "link gone")),
    ("replicate/google/veo-3.1", "fail", {}, ("failed", "content_policy", "E005")),
    ("replicate/google/veo-3.1", "safety", {}, ("failed", "safety_filtered", "without an output")),
    ("replicate/google/veo-3.1", "quota", {}, ("failed", "quota", "insufficient credit")),
    ("dashscope/happyhorse-1.1-t2v", "noaudio", {}, ("ok", None, "no audio")),
    ("dashscope/happyhorse-1.1-t2v", "policy", {}, ("failed", "content_policy", "DataInspectionFailed")),
    ("dashscope/happyhorse-1.1-t2v", "fail", {}, ("failed", "content_policy", "inappropriate")),
    ("fal/fal-ai/veo3.1", "auth", {}, ("failed", "auth", "No user found")),
    ("ltx/ltx-2-pro", "auth", {}, ("failed", "auth", "invalid key")),
]


def test_faults_end_in_their_documented_status_and_kind(tmp_path, server, keys):
    entries = [_entry(server, pid, scen, **params) for pid, scen, params, _ in FAULTS]
    t0 = time.time()
    res = _run(_cfg(entries, timeout_s=8), tmp_path, "faults")  # 3 s timed out on a loaded 2-core machine
    by = {s.model: s for s in res.samples}
    for (*_, (status, kind, text)), e in zip(FAULTS, entries, strict=True):
        s = by[e["label"]]
        assert (s.status, s.kind) == (status, kind), (e["label"], s.status, s.kind, s.reason)
        if text is not None:
            assert text in (s.reason or ""), (e["label"], s.reason)
    assert by["vertex/veo-3.1-generate-001@noaudio"].has_audio is False
    # Every retried fault re-polls or re-downloads and never resubmits; LTX's cut body is not retried.
    assert not server.duplicates()
    # Retry-After: 1 was honoured (backoff_s is 0.01): the retry came a second after the 429.
    for vendor in ("fal", "kling", "dashscope", "ltx"):
        subs = [t for t, m, path, st in server.log if m == "POST" and f"/{vendor}/r429/" in path and t >= t0]
        assert len(subs) == 2, (vendor, subs)
        assert subs[1] - subs[0] >= 0.95, (vendor, subs)
    # the failures are in the leaderboard and the run folder; no secret is anywhere
    lb = pd.read_csv(tmp_path / "faults" / "leaderboard.csv").set_index("model")
    assert lb.loc["kling/kling-v2-6@policy", "failed"] == 1 and lb.loc["kling/kling-v2-6@r429", "failed"] == 0
    samples = [json.loads(x) for x in (tmp_path / "faults" / "samples.jsonl").read_text().splitlines()]
    assert {x["kind"] for x in samples} >= {"auth", "expired", "safety_filtered", "content_policy", "timeout"}
    _assert_no_secrets(tmp_path)


def test_ltx_cut_body_is_sent_again_only_when_asked(tmp_path, server, keys):
    """``resend_lost: true`` pays for a lost synchronous generation again; the default does not."""
    entry = _entry(server, "ltx/ltx-2-fast", "drop+resend", label="ltx-resend", resend_lost=True)
    res = _run(_cfg([entry]), tmp_path, "resend")
    assert [(s.status, s.kind) for s in res.samples] == [("ok", None)]
    assert [(k[0], n) for k, n in server.duplicates().items() if "fast" in k[1]] == [("ltx", 2)]


def test_budget_stops_submissions(tmp_path, server, keys):
    # fal veo3.1: $0.40/s; both prompts snap to 6 s -> $2.40 each
    entry = _entry(server, "fal/fal-ai/veo3.1", "budget")
    before = sum(n for (v, m, *_), n in server.created.items() if v == "fal")
    res = _run(_cfg([entry], prompts=["glass-on-table", "door-slam"], budget_usd=3.0), tmp_path, "b")
    assert sorted((s.status, s.kind) for s in res.samples) == [("failed", "budget"), ("ok", None)]
    assert sum(n for (v, m, *_), n in server.created.items() if v == "fal") == before + 1
    assert res.stats["cost_usd"] == pytest.approx(2.40)


def test_missing_keys_stop_the_run_before_anything_is_sent(tmp_path, server, keys, monkeypatch):
    monkeypatch.delenv("FAL_KEY")
    monkeypatch.delenv("KLING_ACCESS_KEY")
    before = dict(server.created)
    cfg = _cfg([_entry(server, "fal/fal-ai/veo3.1", "nokey"), _entry(server, "kling/kling-v3", "nokey")])
    with pytest.raises(PrerequisiteError) as err:
        run_comparison(cfg, store=ClipStore(tmp_path / "store"), root=tmp_path / "results", quiet=True, report=False)
    assert len(err.value.problems) == 2  # every missing key at once, naming the variables
    assert "FAL_KEY" in err.value.problems[0] and "KLING_API_KEY" in err.value.problems[1]
    assert not (tmp_path / "results").exists() and dict(server.created) == before  # no run folder, nothing sent


def test_a_key_gone_after_the_preflight_is_an_auth_failure_that_costs_nothing(tmp_path, server, keys, monkeypatch):
    """The pre-flight checks keys first; should one vanish before the submission, the cell fails as
    ``auth`` naming the variable, and since nothing was sent it costs 0."""
    monkeypatch.setattr("workbench.pipeline.require_prerequisites", lambda *a, **k: None)
    monkeypatch.delenv("FAL_KEY")
    monkeypatch.delenv("KLING_ACCESS_KEY")
    res = _run(
        _cfg([_entry(server, "fal/fal-ai/veo3.1", "nokey"), _entry(server, "kling/kling-v3", "nokey")]), tmp_path, "k"
    )
    fal, kling = res.samples
    assert (fal.kind, kling.kind) == ("auth", "auth")
    assert "FAL_KEY" in fal.reason and "KLING_API_KEY" in kling.reason
    assert fal.cost_usd == kling.cost_usd == 0 and res.stats["cost_usd"] == 0


def test_kling_access_and_secret_key_win_over_a_single_api_key(tmp_path, server, keys, monkeypatch, caplog):
    """Audit K1: someone who stored the *secret key* as KLING_API_KEY must not get 401 on every call."""
    monkeypatch.setenv("KLING_API_KEY", KEYS["kling_sk"])  # the misconfiguration some public code invites
    caplog.set_level("INFO", logger="workbench.providers.kling")
    res = _run(_cfg([_entry(server, "kling/kling-v3", "pairwins")]), tmp_path, "k")
    assert [(s.status, s.has_audio) for s in res.samples] == [("ok", True)]
    assert "JWT from KLING_ACCESS_KEY + KLING_SECRET_KEY; KLING_API_KEY is also set and ignored" in caplog.text
    cat = {m.id: m for m in catalogue()}
    assert cat["kling/kling-v3"].auth_note.startswith("JWT from KLING_ACCESS_KEY + KLING_SECRET_KEY")
    assert KEYS["kling_sk"] not in caplog.text and KEYS["kling_sk"] not in repr(cat["kling/kling-v3"])
    _assert_no_secrets(tmp_path)


def test_kling_single_api_key_is_used_when_the_pair_is_not_set(tmp_path, server, keys, monkeypatch):
    monkeypatch.setenv("KLING_API_KEY", KEYS["kling_api"])
    monkeypatch.delenv("KLING_SECRET_KEY")
    res = _run(_cfg([_entry(server, "kling/kling-v3", "apikey")]), tmp_path, "k")
    assert [(s.status, s.has_audio) for s in res.samples] == [("ok", True)]
    assert server.bodies["kling"][-1]["model_name"] == "kling-v3" and server.bodies["kling"][-1]["duration"] == "5"
    assert {m.id: m for m in catalogue()}["kling/kling-v3"].auth_note.startswith("KLING_API_KEY as bearer")
    _assert_no_secrets(tmp_path)


# -- units: helpers and registry ---------------------------------------------------------------------


def test_catalogue_lists_every_model_with_its_key_variable(keys, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    cat = {m.id: m for m in catalogue()}
    assert known_model_ids() == list(cat)
    for mid in ("local/synced", "gemini/veo-3.1-generate-001", "gemini/gemini-omni-1.1-flash",
                "vertex/veo-3.1-generate-001", "kling/kling-v2-6", "kling/kling-v3", "fal/fal-ai/veo3.1",
                "fal/fal-ai/kling-video/v3/pro/text-to-video", "fal/alibaba/happy-horse/text-to-video",
                "fal/fal-ai/ltx-2.3/text-to-video", "fal/fal-ai/ovi", "fal/fal-ai/bytedance/seedance/v1.5/pro/text-to-video",
                "fal/fal-ai/wan/v2.7/text-to-video", "replicate/google/veo-3.1", "dashscope/happyhorse-1.0-t2v",
                "dashscope/wan2.5-t2v-preview", "ltx/ltx-2-fast"):  # fmt: skip
        assert mid in cat, mid
        get_provider(mid)  # every catalogued id builds offline, without params
    assert cat["fal/fal-ai/veo3.1"].key_env == ("FAL_KEY",) and cat["fal/fal-ai/veo3.1"].key_set
    assert cat["fal/fal-ai/veo3.1"].base_url_env == "WORKBENCH_FAL_BASE_URL"
    assert not cat["replicate/google/veo-3.1"].key_set
    assert cat["ltx/ltx-2-pro"].resumable is False and cat["local/synced"].price_per_second_usd == 0
    assert all(m.capabilities.native_audio for m in cat.values())
    assert not any(v in repr(list(cat.values())) for v in KEYS.values())


def test_bad_provider_params_fail_at_config_time(tmp_path):
    with pytest.raises(ConfigError, match="environment variables only"):
        _cfg([{"id": "fal/fal-ai/veo3.1", "params": {"api_key": "x"}}])
    with pytest.raises(ConfigError, match="unknown param 'resolution'"):
        _cfg([{"id": "kling/kling-v2-6", "params": {"resolution": "1080p"}}])
    with pytest.raises(ConfigError, match="unknown model 'kling/kling-v1'"):
        _cfg(["kling/kling-v1"])
    with pytest.raises(ConfigError, match="clip folder is required"):
        _cfg(["folder/mine"])
    with pytest.raises(ConfigError, match="unknown model 'fal/acme/new-model'"):
        _cfg(["fal/acme/new-model"])
    # an uncatalogued fal endpoint is allowed when its audio switch is named
    _cfg([{"id": "fal/acme/new-model", "params": {"audio_field": "with_sound"}}])


def test_base_url_precedence(monkeypatch):
    monkeypatch.delenv("WORKBENCH_FAL_BASE_URL", raising=False)
    assert resolve_base_url("fal", {}, "https://queue.fal.run") == "https://queue.fal.run"
    monkeypatch.setenv("WORKBENCH_FAL_BASE_URL", "http://proxy.local/fal/")
    assert resolve_base_url("fal", {}, "https://queue.fal.run") == "http://proxy.local/fal"
    assert resolve_base_url("fal", {"base_url": "http://cfg"}, "https://queue.fal.run") == "http://cfg"


def test_retry_after_and_redaction():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= parse_retry_after(future) <= 31
    red = Redactor()
    red.add("s3cr3t-value")
    text = red("bad key s3cr3t-value at https://cdn.example/x.mp4?X-Amz-Signature=abc&token=zz; Bearer abcdefghijkl")
    assert "s3cr3t" not in text and "abc&token" not in text and "abcdefghijkl" not in text
    assert "https://cdn.example/x.mp4" in text


def test_kling_jwt_is_hs256_over_the_access_key():
    import base64
    import hashlib
    import hmac

    tok = make_jwt("AK", "SK", now=1000.0)
    h, p, s = tok.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(h))) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(pad(p))) == {"iss": "AK", "exp": 2800, "nbf": 995}
    want = hmac.new(b"SK", f"{h}.{p}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(pad(s)) == want


def test_fal_job_id_is_enough_to_poll_after_a_restart(server, keys):
    """A fresh adapter (as after a restart) polls and downloads from the job id alone."""
    params = {"base_url": server.url("fal", "ok")}
    req = GenerationRequest(provider="fal/fal-ai/veo3.1/fast", prompt_id="p", text="a door slams", duration_s=4)

    async def go() -> tuple[str, bytes]:
        a = get_provider("fal/fal-ai/veo3.1/fast", params)
        job = await a.submit(req, None)
        await a.aclose()
        b = get_provider("fal/fal-ai/veo3.1/fast", params)
        for _ in range(100):
            st = await b.poll(job)
            if st.state != "pending":
                break
            await asyncio.sleep(0.05)
        data = await b.download(job)
        await b.aclose()
        return job, data

    job, data = asyncio.run(go())
    assert job.startswith("fal-ai/veo3.1/fast|") and KEYS["fal"] not in job
    assert data[4:8] == b"ftyp"
    # the status URL is built from owner/alias only (fal's rule), not from the full endpoint path
    assert any(f"/fal/ok/fal-ai/veo3.1/requests/{job.split('|')[1]}/status" in path for _, _, path, _ in server.log)


def test_provider_error_kinds_for_statuses():
    from workbench.providers.http import kind_for_status

    assert [kind_for_status(s) for s in (401, 402, 403, 404, 408, 410, 422, 429, 500, 503)] == [
        "auth", "quota", "auth", "not_found", "timeout", "not_found", "invalid_request", "rate_limit",
        "transient", "transient",
    ]  # fmt: skip
    assert ProviderError("rate_limit", "x").retryable and not ProviderError("expired", "x").retryable


def test_gemini_visible_models_walks_every_page(server, keys):
    from workbench.providers.veo import visible_models

    ids = visible_models({"base_url": server.url("gemini", "ok")})
    assert {"veo-3.1-generate-001", "veo-3.1-fast-generate-001", "gemini-omni-1.1-flash"} <= set(ids)
    assert "veo-3.1-generate-001" not in visible_models({"base_url": server.url("gemini", "retired")})


def test_failure_reasons_from_poll_are_redacted(server, keys):
    from workbench.providers.base import JobStatus
    from workbench.providers.http import HttpProvider

    class Echo(HttpProvider):
        async def poll(self, job_id):
            return JobStatus("failed", reason=f"bad link https://x/y.mp4?sig={job_id} key {KEYS['fal']}", kind="fatal")

        async def submit(self, request, prompt):  # pragma: no cover - not used
            raise NotImplementedError

        async def download(self, job_id):  # pragma: no cover - not used
            raise NotImplementedError

    p = Echo("echo/x", get_provider("fal/fal-ai/ovi").spec, {})
    p.redact.add(KEYS["fal"])
    st = asyncio.run(p.poll("SIGNATURE123"))
    assert "SIGNATURE123" not in st.reason and KEYS["fal"] not in st.reason and "https://x/y.mp4" in st.reason
