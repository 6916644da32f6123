"""The generation cache key covers everything that changes a clip, and nothing that does not.

A clip is reused only when the whole request is the same: the canonical text, every output
parameter, the adapter's version, and what the adapter reads besides the text (the local
renderer: the structured prompt; the folder importer: the file's bytes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from workbench.config import parse_config
from workbench.generate import plan_cells
from workbench.pipeline import run_comparison
from workbench.prompt import Prompt, resolve_suite
from workbench.providers.base import NON_OUTPUT_FIELDS, REQUEST_KEY_FORMAT, GenerationRequest
from workbench.providers.registry import get_provider
from workbench.store import ClipStore

BASE = GenerationRequest(
    provider="local/synced", prompt_id="p", text="A kitchen.", duration_s=5.0, aspect_ratio="16:9", seed=0,
    repeat=0, params={"mode": "pro"}, provider_version="1", inputs={"prompt": "abc"},
)  # fmt: skip

#: A changed value for every field of the request.
MUTATIONS = {
    "provider": "local/dubbed",
    "prompt_id": "q",
    "text": "A kitchen at night.",
    "template_version": "av-prompt/v0",
    "duration_s": 6.0,
    "aspect_ratio": "9:16",
    "seed": 1,
    "repeat": 1,
    "params": {"mode": "std"},
    "provider_version": "2",
    "inputs": {"prompt": "abd"},
}


def test_every_request_field_is_covered_by_a_mutation() -> None:
    assert {f.name for f in dataclasses.fields(GenerationRequest)} == set(MUTATIONS)


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_changing_any_field_changes_the_key(field: str) -> None:
    assert dataclasses.replace(BASE, **{field: MUTATIONS[field]}).key() != BASE.key()


@pytest.mark.parametrize("param", sorted(NON_OUTPUT_FIELDS))
def test_params_that_do_not_change_the_output_stay_out_of_the_key(param: str) -> None:
    assert dataclasses.replace(BASE, params={**BASE.params, param: 123}).key() == BASE.key()


def test_the_key_format_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = BASE.key()
    monkeypatch.setattr("workbench.providers.base.REQUEST_KEY_FORMAT", REQUEST_KEY_FORMAT + 1)
    assert BASE.key() != before  # a format bump makes every old binding miss once, on purpose


def _prompt(**changes: object) -> Prompt:
    base = resolve_suite("builtin").get("glass-on-table")
    return Prompt.model_validate({**base.model_dump(mode="json"), **changes})


def test_the_local_renderer_keys_on_the_structured_prompt_it_reads() -> None:
    prov = get_provider("local/synced")
    p = _prompt()
    foley = [{**p.foley[0].model_dump(mode="json"), "kind": "slam"}]
    changed = _prompt(foley=foley)
    assert p.canonical_text() == changed.canonical_text()  # the text sent is the same...
    assert prov.key_inputs(p) != prov.key_inputs(changed)  # ...but the renderer reads the kind


def test_remote_adapters_key_on_the_text_only() -> None:
    prov = get_provider("fal/fal-ai/veo3.1")
    p = _prompt()
    changed = _prompt(foley=[{**p.foley[0].model_dump(mode="json"), "kind": "slam"}])
    assert prov.key_inputs(p) == prov.key_inputs(changed) == {}  # same text: a paid model is not asked again


def _cfg(suite: Path, providers: list, **kw: object):
    return parse_config({"name": "k", "suite": str(suite), "providers": providers, "metrics": ["basic"], **kw}, source="<test>")


@pytest.mark.slow
def test_a_structured_prompt_change_generates_a_new_clip(tmp_path: Path) -> None:
    """Two prompts that differ only in a foley event's kind render different clips (the cache used to reuse one)."""
    p = _prompt()
    store = ClipStore(tmp_path / "store")
    suites = {}
    for kind in ("impact", "slam"):
        data = {**p.model_dump(mode="json"), "foley": [{**p.foley[0].model_dump(mode="json"), "kind": kind}]}
        suites[kind] = tmp_path / f"{kind}.yaml"
        suites[kind].write_text(yaml.safe_dump({"name": "s", "prompts": [data]}))
    a = run_comparison(_cfg(suites["impact"], ["local/synced"]), run_dir=tmp_path / "a", store=store, quiet=True, report=False)
    b = run_comparison(_cfg(suites["slam"], ["local/synced"]), run_dir=tmp_path / "b", store=store, quiet=True, report=False)
    assert b.stats["cache_hits"] == 0 and b.stats["generated"] == 1
    assert a.samples[0].clip_sha256 != b.samples[0].clip_sha256
    again = run_comparison(_cfg(suites["slam"], ["local/synced"]), run_dir=tmp_path / "c", store=store, quiet=True, report=False)
    assert again.stats["cache_hits"] == 1  # the same structured prompt is still a hit


def test_a_replaced_folder_clip_is_read_again(tmp_path: Path) -> None:
    from conftest import make_mp4

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"model": "web UI", "clips": {"glass-on-table": "glass.mp4"}}))
    (folder / "glass.mp4").write_bytes(make_mp4(duration_s=1.5, tone_hz=300))
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "s", "prompts": [_prompt().model_dump(mode="json")]}))
    entry = [{"id": "folder/mine", "params": {"path": str(folder)}}]
    store = ClipStore(tmp_path / "store")
    first = run_comparison(_cfg(suite, entry), run_dir=tmp_path / "r1", store=store, quiet=True, report=False)
    assert first.stats["generated"] == 1
    same = run_comparison(_cfg(suite, entry), run_dir=tmp_path / "r2", store=store, quiet=True, report=False)
    assert same.stats["cache_hits"] == 1
    (folder / "glass.mp4").write_bytes(make_mp4(duration_s=1.5, tone_hz=500))  # re-downloaded, same name
    after = run_comparison(_cfg(suite, entry), run_dir=tmp_path / "r3", store=store, quiet=True, report=False)
    assert after.stats["cache_hits"] == 0 and after.samples[0].clip_sha256 != first.samples[0].clip_sha256


def test_planned_requests_carry_the_adapter_version_and_inputs() -> None:
    cfg = parse_config({"name": "k", "providers": ["local/synced"], "prompts": ["glass-on-table"]}, source="<test>")
    (cell,) = plan_cells(cfg)
    prov = get_provider("local/synced")
    assert cell.request.provider_version == prov.version
    assert cell.request.inputs == prov.key_inputs(cell.prompt)


def test_clips_bound_under_the_old_key_format_are_kept_where_they_are_still_right(tmp_path: Path) -> None:
    """A paid clip bound by format 1 is not paid again; a local render keyed by format 1 is rendered again."""
    from conftest import make_mp4

    from workbench.generate import cached_clip

    store = ClipStore(tmp_path / "store")
    remote = dataclasses.replace(BASE, provider="fal/fal-ai/veo3.1", inputs={})
    local = BASE  # reads the structured prompt: its format-1 key could hide a stale clip
    for req in (remote, local):
        old_key = dataclasses.replace(req, inputs={}).legacy_key()
        clip = store.put(make_mp4(duration_s=1.0, tone_hz=300 + len(req.provider)), provenance={"provider": req.provider})
        store.bind(old_key, clip, {"provider": req.provider})
    hit = cached_clip(store, remote)
    assert hit is not None and store.lookup(remote.key()) is not None  # found, and bound under the new key
    assert cached_clip(store, local) is None
