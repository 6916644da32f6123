"""``workbench probe`` against the fake vendor server: every vendor, free by default, exit codes.

The CLI runs in this process with every ``WORKBENCH_<VENDOR>_BASE_URL`` (and fal's Platform
API, ``WORKBENCH_FAL_API_BASE_URL``) pointing at the fake server, as a user's shell would point
them at the vendors. The free probe must create no job anywhere.
"""

from __future__ import annotations

import pytest
from fake_provider_server import ENV, KEYS, REPLICATE_SCHEMAS, UNSET, FakeProviderServer

from workbench.cli.main import main
from workbench.providers.registry import catalogue

VENDORS = ("gemini", "vertex", "kling", "fal", "replicate", "dashscope", "ltx")


@pytest.fixture
def fake(monkeypatch):
    srv = FakeProviderServer(KEYS).start()
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    for k in UNSET:
        monkeypatch.delenv(k, raising=False)
    for v in VENDORS:
        monkeypatch.setenv(f"WORKBENCH_{v.upper()}_BASE_URL", srv.url(v, "ok"))
    monkeypatch.setenv("WORKBENCH_FAL_API_BASE_URL", srv.url("falapi", "ok"))
    yield srv
    srv.stop()


def _rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines() if line and not line.startswith((" ", "model"))}


def test_probe_every_vendor_for_free(fake, capsys):
    rc = main(["probe"])
    out = capsys.readouterr().out
    print(out)  # the report pastes this output (pytest -s)
    remote = [m.id for m in catalogue() if m.key_env]
    rows = _rows(out)
    assert set(remote) <= set(rows), set(remote) - set(rows)
    for mid in remote:
        _, reach, exists, _, cost = rows[mid][:5]
        assert (reach, cost) == ("yes", "$0"), rows[mid]
        assert exists in ("yes", "?"), rows[mid]
    # where the vendor lists models or serves schemas, the id and the audio switch are proven
    for mid in remote:
        if mid.split("/")[0] in ("gemini", "fal", "replicate", "vertex"):
            assert rows[mid][2] == "yes", rows[mid]
    assert rows["fal/fal-ai/veo3.1"][3] == "yes" and rows["replicate/google/veo-3.1"][3] == "yes"
    assert "auth: JWT from KLING_ACCESS_KEY + KLING_SECRET_KEY" in out
    assert rc == 0 and out.rstrip().endswith("All probed models are as catalogued.")
    assert sum(fake.created.values()) == 0  # nothing was generated, nothing was paid
    assert not any(k in out for k in KEYS.values())
    assert max(len(line) for line in out.splitlines()) <= 100


def test_probe_says_which_keys_are_missing(fake, monkeypatch, capsys):
    monkeypatch.delenv("FAL_KEY")
    rc = main(["probe", "fal/fal-ai/ovi", "replicate/google/veo-3.1"])
    out = capsys.readouterr().out
    assert rc == 3, out
    assert "status: no key" in out and "key missing: set FAL_KEY" in out
    assert _rows(out)["replicate/google/veo-3.1"][1:3] == ["yes", "yes"]


def test_probe_finds_where_the_vendor_no_longer_matches_the_catalogue(fake, monkeypatch, capsys):
    """A retired id, a changed duration enum, a missing audio switch: each is a difference, exit 2."""
    monkeypatch.setenv("WORKBENCH_GEMINI_BASE_URL", fake.url("gemini", "retired"))
    veo_fast = {"properties": {**REPLICATE_SCHEMAS["google/veo-3.1-fast"]["properties"], "duration": {"enum": [5, 8]}}}
    monkeypatch.setitem(REPLICATE_SCHEMAS, "google/veo-3.1-fast", veo_fast)
    kling = dict(REPLICATE_SCHEMAS["kwaivgi/kling-v2.6"]["properties"])
    del kling["generate_audio"]
    monkeypatch.setitem(REPLICATE_SCHEMAS, "kwaivgi/kling-v2.6", {"properties": kling})
    ids = ["gemini/veo-3.1-generate-001", "replicate/google/veo-3.1-fast", "replicate/kwaivgi/kling-v2.6"]
    rc = main(["probe", *ids])
    out = capsys.readouterr().out
    assert rc == 2, out
    rows = _rows(out)
    assert rows["gemini/veo-3.1-generate-001"][2] == "no"
    assert "durations: catalogue [4, 6, 8], vendor [5, 8]" in out
    assert rows["replicate/kwaivgi/kling-v2.6"][3] == "no" and "audio switch generate_audio is not in" in out
    assert out.rstrip().endswith("Some models differ from the catalogue or failed.")


def test_probe_of_an_unknown_model_is_a_usage_error(fake, capsys):
    assert main(["probe", "local/synced"]) == 1
    assert "probe takes catalogued remote models" in capsys.readouterr().err


def test_probe_paid_makes_one_clip_per_model_only_when_asked(fake, capsys):
    rc = main(["probe", "--paid", "gemini/gemini-omni-1.1-flash", "kling/kling-v3"])
    captured = capsys.readouterr()
    assert rc == 0, captured.out
    assert "one real generation per model (2), billed at its price" in captured.err
    rows = _rows(captured.out)
    assert rows["gemini/gemini-omni-1.1-flash"][4] == "$0.30" and rows["kling/kling-v3"][4] == "$0.60"
    assert "audio stream: yes" in captured.out and "KLING_ACCESS_KEY + KLING_SECRET_KEY (accepted)" in captured.out
    assert sum(fake.created.values()) == 2
