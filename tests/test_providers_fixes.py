"""Issue 13's request-body and status fixes, one fake-server test per finding, and the prompt rule.

Every finding of ``../shared/research/provider-audit.md`` that changes what is sent or what a
failure is called has a test here that asserts the exact body the fake vendor recorded, or the
recorded status. The whole-catalogue rule: no model is sent a switch that rewrites, expands or
"fixes" the prompt, and the models whose vendor offers no off switch say so everywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fake_provider_server import KEYS
from test_providers import _cfg, _entry, _run

from workbench.cli.main import main
from workbench.errors import ProviderError
from workbench.generate import plan_cells
from workbench.providers.base import GenerationRequest
from workbench.providers.http import FACT_KEYS, REWRITE_FIELDS
from workbench.providers.registry import catalogue, get_provider

pytest_plugins = ["provider_fixtures"]  # server, keys, no_figures
pytestmark = pytest.mark.usefixtures("no_figures")

REPO = Path(__file__).resolve().parents[1]
TEXT = "A heavy door slams in a tiled corridor; a man says 'There it is.'"


def _req(pid: str, aspect: str = "16:9", duration: float = 5.0, seed: int | None = 3) -> GenerationRequest:
    return GenerationRequest(
        provider=pid, prompt_id="p", text=TEXT, duration_s=duration, aspect_ratio=aspect, seed=seed
    )


def _submit(server, pid: str, req: GenerationRequest, bodies: str, scenario: str = "ok", **params: Any) -> dict:
    """Send one request straight through the adapter to the fake vendor; the body it recorded."""

    async def go() -> None:
        p = get_provider(pid, {"base_url": server.url(pid.split("/", 1)[0], scenario), **params})
        try:
            await p.submit(req, None)
        finally:
            await p.aclose()

    n = len(server.bodies[bodies])
    asyncio.run(go())
    assert len(server.bodies[bodies]) == n + 1
    return server.bodies[bodies][-1]


# -- identical prompts (audit F5, R2) ------------------------------------------------------------------


def test_fal_prompt_rewriting_switches_are_sent_off_and_noted(tmp_path, server, keys):
    """fal Veo 3.1 ``auto_fix`` and Wan 2.5/2.7 / LTX-2 19B ``enable_prompt_expansion`` default to true."""
    off = {
        "fal/fal-ai/veo3.1": "auto_fix",
        "fal/fal-ai/veo3.1/fast": "auto_fix",
        "fal/fal-ai/wan-25-preview/text-to-video": "enable_prompt_expansion",
        "fal/fal-ai/wan/v2.7/text-to-video": "enable_prompt_expansion",
        "fal/fal-ai/ltx-2-19b/text-to-video": "enable_prompt_expansion",
    }
    cfg = _cfg([_entry(server, pid, "rewrite") for pid in off])
    res = _run(cfg, tmp_path, "rw")
    assert all(s.status == "ok" for s in res.samples), [(s.model, s.reason) for s in res.samples]
    sent = {b["endpoint"]: b for b in server.bodies["fal"] if b.get("test_scenario") == "rewrite"}
    for pid, switch in off.items():
        body = sent[pid.removeprefix("fal/")]
        assert body[switch] is False, (pid, body)
        assert body["prompt"] == plan_cells(cfg)[0].request.text  # the canonical text, untouched
    by = {s.provider: s for s in res.samples}
    # Veo's own rewriter cannot be turned off: the clip says so; the others carry no such note
    assert any(n.startswith("prompt rewritten by the vendor: Veo 3/3.1") for n in by["fal/fal-ai/veo3.1"].notes)
    assert not any("rewritten" in n for n in by["fal/fal-ai/wan/v2.7/text-to-video"].notes)
    samples = [json.loads(x) for x in (tmp_path / "rw" / "samples.jsonl").read_text().splitlines()]
    assert any("prompt rewritten by the vendor" in " ".join(x["notes"]) for x in samples)


def test_replicate_wan27_prompt_expansion_is_sent_off(server, keys):
    body = _submit(server, "replicate/wan-video/wan-2.7-t2v", _req("replicate/wan-video/wan-2.7-t2v"), "replicate")
    assert body["input"]["enable_prompt_expansion"] is False and body["input"]["prompt"] == TEXT


def test_dashscope_wan_prompt_extend_stays_off(server, keys):
    body = _submit(server, "dashscope/wan2.5-t2v-preview", _req("dashscope/wan2.5-t2v-preview"), "dashscope")
    assert body["parameters"]["prompt_extend"] is False and body["input"]["prompt"] == TEXT


def _walk(node: Any, path: str = "") -> list[tuple[str, str, Any]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((f"{path}.{k}", k, v))
            out += _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _walk(v, f"{path}[{i}]")
    return out


#: Models whose vendor schema has a prompt-rewriting switch that defaults on (audit F5, R2; DashScope SDK).
REWRITE_DEFAULTS = {
    "fal/fal-ai/veo3.1": "auto_fix",
    "fal/fal-ai/veo3.1/fast": "auto_fix",
    "fal/fal-ai/wan-25-preview/text-to-video": "enable_prompt_expansion",
    "fal/fal-ai/wan/v2.7/text-to-video": "enable_prompt_expansion",
    "fal/fal-ai/ltx-2-19b/text-to-video": "enable_prompt_expansion",
    "replicate/wan-video/wan-2.7-t2v": "enable_prompt_expansion",
    "dashscope/wan2.5-t2v-preview": "prompt_extend",
}


def test_no_catalogued_model_is_sent_a_prompt_rewriting_switch_on(keys):
    """The whole-catalogue rule: every rewriting switch is sent off; where none exists, the model says so."""
    remote = [m for m in catalogue() if m.key_env]
    assert len(remote) >= 30
    for m in remote:
        prov = get_provider(m.id)
        body = prov.build_body(_req(m.id, duration=m.capabilities.durations_s[0]))
        fields = _walk(body)
        for path, k, v in fields:
            if k in REWRITE_FIELDS:
                assert v is False, f"{m.id}: {path} = {v!r} rewrites the prompt"
        # the prompt itself goes out verbatim, exactly once
        assert [p for p, _, v in fields if v == TEXT] and sum(v == TEXT for _, _, v in fields) == 1, m.id
        for k, v in m.rewrite_off.items():
            assert any(key == k and val == v for _, key, val in fields), f"{m.id}: {k} not sent"
        if m.id in REWRITE_DEFAULTS:
            assert REWRITE_DEFAULTS[m.id] in m.rewrite_off, f"{m.id}: the vendor's off switch is not sent"
        # Veo 3/3.1 rewrites every prompt and Google offers no off switch: a visible note, on every route
        if "veo" in m.id:
            assert m.prompt_rewrite_note.startswith("Veo 3/3.1 rewrites every prompt"), m.id
        else:
            assert not m.prompt_rewrite_note, m.id
        assert prov.prompt_rewrite_note == m.prompt_rewrite_note


def test_readme_lists_the_models_that_still_rewrite_prompts():
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- prompt-rewriters -->", 2)[1]
    listed = set(re.findall(r"`([a-z]+/[^`]+)`", block))
    assert listed == {m.id for m in catalogue() if m.prompt_rewrite_note}


# -- wrong aspect ratio, silently (audit F1, F2, L1) -----------------------------------------------


@pytest.mark.parametrize(("aspect", "size"), [("16:9", "landscape_16_9"), ("9:16", "portrait_16_9")])
def test_fal_ltx2_19b_sends_video_size_for_the_aspect_ratio(server, keys, aspect, size):
    """fal's default ``landscape_4_3`` made every LTX-2 19B clip 4:3."""
    pid = "fal/fal-ai/ltx-2-19b/text-to-video"
    body = _submit(server, pid, _req(pid, aspect=aspect), "fal")
    assert body["video_size"] == size and "aspect_ratio" not in body


@pytest.mark.parametrize(("aspect", "resolution"), [("16:9", "992x512"), ("9:16", "512x992")])
def test_fal_ovi_portrait_cells_ask_for_a_portrait_resolution(server, keys, aspect, resolution):
    """A fixed ``992x512`` made Ovi's 9:16 cells come back landscape."""
    body = _submit(server, "fal/fal-ai/ovi", _req("fal/fal-ai/ovi", aspect=aspect), "fal")
    assert body["resolution"] == resolution


def test_ltx_portrait_is_refused_before_anything_is_sent(server, keys, tmp_path, monkeypatch, capsys):
    """No LTX source lists 1080x1920: 9:16 is not offered until a live call shows it works."""
    for mid in ("ltx/ltx-2-pro", "ltx/ltx-2-fast"):
        assert get_provider(mid).capabilities.aspect_ratios == ("16:9",)
    n = len(server.bodies["ltx"])
    with pytest.raises(ProviderError) as err:
        _submit(server, "ltx/ltx-2-pro", _req("ltx/ltx-2-pro", aspect="9:16"), "ltx")
    assert err.value.kind == "invalid_request" and "9:16" in err.value.reason
    assert len(server.bodies["ltx"]) == n  # nothing reached LTX, nothing was paid
    assert get_provider("ltx/ltx-2-pro").validate(_req("ltx/ltx-2-pro", aspect="9:16", duration=6)) == [
        "aspect ratio 9:16 not in 16:9"
    ]


# -- smaller, verified (audit X1, K1, F4, F3, O4) --------------------------------------------------


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("global", "https://aiplatform.googleapis.com"),
        ("us", "https://aiplatform.us.rep.googleapis.com"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com"),
        ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
    ],
)
def test_vertex_host_for_global_and_multiregional_locations(monkeypatch, location, host):
    """python-genai: ``global`` -> aiplatform.googleapis.com, multi-regions -> aiplatform.{loc}.rep.googleapis.com."""
    monkeypatch.delenv("WORKBENCH_VERTEX_BASE_URL", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    prov = get_provider("vertex/veo-3.1-generate-001", {"location": location})
    assert prov._where() == ("p", location, host)


def test_fal_exhausted_balance_lock_is_quota(tmp_path, server, keys):
    """fal answers 403 "User is locked. Reason: Exhausted balance": that is no credit, not a bad key."""
    res = _run(_cfg([_entry(server, "fal/fal-ai/veo3.1", "locked")]), tmp_path, "lock")
    (s,) = res.samples
    assert (s.status, s.kind) == ("failed", "quota") and "Exhausted balance" in s.reason


def test_fal_ltx23_is_sent_no_seed(server, keys):
    """``fal-ai/ltx-2.3``'s input schema has no seed field."""
    pid = "fal/fal-ai/ltx-2.3/text-to-video"
    body = _submit(server, pid, _req(pid, duration=6, seed=7), "fal")
    assert "seed" not in body and body["duration"] == 6


def test_omni_requires_action_fails_at_once_with_its_reason(tmp_path, server, keys):
    """``requires_action`` waited until the run's timeout instead of failing with its reason."""
    # a long timeout: had the runner waited for it, the cell would end as a timeout, not with this reason
    res = _run(_cfg([_entry(server, "gemini/gemini-omni-1.1-flash", "needsaction")], timeout_s=600), tmp_path, "ra")
    (s,) = res.samples
    assert (s.status, s.kind) == ("failed", "fatal") and "requires_action" in s.reason, s.reason
    assert "waits for an action" in s.reason


# -- the catalogue says where each fact comes from ----------------------------------------------------


def test_every_catalogued_model_says_where_each_fact_comes_from():
    labels = {"verified-in-source", "verified-in-docs", "verified-3p", "third-party", "assumed", "unverified"}
    for m in catalogue():
        if not m.key_env:
            continue
        assert tuple(m.sources) == FACT_KEYS, m.id
        for k, f in m.sources.items():
            assert f.source and f.status in labels and re.fullmatch(r"20\d\d-\d\d(-\d\d)?", f.checked), (m.id, k, f)
        assert m.checked and m.lost_submit, m.id


def test_models_lists_the_folder_importer_and_fits_100_columns(keys, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "folder/<name>" in out and "manifest.yaml" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("fal/", "gemini/", "ltx/"))}
    assert "rewrites prompts*" in rows["fal/fal-ai/veo3.1"] and "rewrites" not in rows["fal/fal-ai/ovi"]
    assert rows["ltx/ltx-2-pro"].split()[2] == "set"
    assert main(["models", "--detail"]) == 0
    detail = capsys.readouterr().out
    assert max(len(line) for line in detail.splitlines()) <= 100
    assert "source of price: fal llms.txt" in detail and "lost submission: looked up in Kling's task list" in detail
    assert "prompt rewriting sent off: enable_prompt_expansion=False" in detail
    assert main(["models", "--json"]) == 0
    data = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert data["folder/<name>"]["usage"].startswith("your own clips")
    assert data["replicate/google/veo-3.1-fast"]["sources"]["durations"]["status"] == "unverified"
    assert not any(v in json.dumps(data) for v in KEYS.values())


def test_plan_shows_the_prompt_rewrite_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("FAL_KEY", "x")  # without it, plan lists the missing key and exits 1 (tests/test_firsthour.py)
    rc = main(["plan", "--models", "fal/fal-ai/veo3.1", "fal/fal-ai/ovi", "--prompts", "glass-on-table"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "prompt rewriting: fal/fal-ai/veo3.1: Veo 3/3.1 rewrites every prompt" in out
    assert "prompt rewriting: fal/fal-ai/ovi" not in out
