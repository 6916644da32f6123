"""Live smoke tests against the real providers (they cost money).

Each test is skipped unless ``WORKBENCH_LIVE=1`` and that provider's key variable(s) are set.
One short prompt, one clip, the cheapest catalogued model per route, a budget cap; the clip
must come home with a video and an audio stream.

    WORKBENCH_LIVE=1 FAL_KEY=... pytest tests/test_providers_live.py -k fal
"""

from __future__ import annotations

import os

import pytest

from workbench.config import parse_config
from workbench.pipeline import run_comparison
from workbench.store import ClipStore

#: (provider id, env vars that must all be set)
LIVE = [
    ("gemini/veo-3.1-fast-generate-001", ("GEMINI_API_KEY",)),
    ("gemini/gemini-omni-1.1-flash", ("GEMINI_API_KEY",)),
    ("vertex/veo-3.1-fast-generate-001", ("GOOGLE_CLOUD_ACCESS_TOKEN", "GOOGLE_CLOUD_PROJECT")),
    ("kling/kling-v2-6", ("KLING_API_KEY",)),
    ("kling/kling-v2-6", ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")),
    ("fal/fal-ai/kling-video/v2.6/pro/text-to-video", ("FAL_KEY",)),
    ("replicate/google/veo-3.1-fast", ("REPLICATE_API_TOKEN",)),
    ("dashscope/wan2.5-t2v-preview", ("DASHSCOPE_API_KEY",)),
    ("ltx/ltx-2-fast", ("LTX_API_KEY",)),
]


@pytest.mark.slow
@pytest.mark.parametrize(("provider_id", "env"), LIVE, ids=[f"{p}[{'+'.join(e)}]" for p, e in LIVE])
def test_live_provider_makes_one_clip_with_sound(tmp_path, provider_id, env):
    if os.environ.get("WORKBENCH_LIVE") != "1":
        pytest.skip("live provider tests need WORKBENCH_LIVE=1 (they cost money)")
    missing = [e for e in env if not os.environ.get(e)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not set")
    cfg = parse_config(
        {
            "name": "live",
            "prompts": ["glass-on-table"],
            "providers": [provider_id],
            "metrics": ["basic"],
            "budget_usd": 5.0,
            "timeout_s": 1800,
            "poll_interval_s": 10,
            "max_retries": 2,
            "backoff_s": 5,
            "report": False,
        },
        source="<live>",
    )
    res = run_comparison(cfg, run_dir=tmp_path / "run", store=ClipStore(tmp_path / "store"), quiet=True)
    (s,) = res.samples
    assert s.status == "ok", f"{s.kind}: {s.reason}"
    assert s.has_audio, "clip came back without an audio stream"
    for p in tmp_path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert not any(os.environ[e].encode() in data for e in env if "KEY" in e or "TOKEN" in e), p
