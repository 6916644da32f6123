"""Gemini Omni Flash through the Interactions API (``gemini/gemini-omni-…``).

``POST {B}/v1beta/interactions`` with ``background: true`` and a video ``response_format``,
poll ``GET {B}/v1beta/interactions/{id}`` until ``status`` is terminal, then take the last
``model_output`` step's ``video`` content: inline ``data`` (base64) or a ``uri`` fetched with
the key. Audio is always generated. The job id is the interaction id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import HttpProvider, ModelSpec, check_params, get_key, same_origin
from workbench.providers.veo import GEMINI_BASE_URL, GEMINI_KEY_ENV, _b64, google_error

OMNI_MODELS: dict[str, ModelSpec] = {
    "gemini-omni-1.1-flash": ModelSpec(
        "gemini-omni-1.1-flash", "Google Gemini Omni Flash 1.1 (Interactions API), audio always on", 0.10,
        duration_range=(3, 10), audio="always on", price_note="≈$0.10/s [third-party]",
    ),
}  # fmt: skip

_FAILED = {"failed", "cancelled", "incomplete", "budget_exceeded"}
_KIND = {"cancelled": "fatal", "incomplete": "fatal", "budget_exceeded": "quota"}


def _video_content(interaction: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``video`` content item of the last ``model_output`` step, if any."""
    for step in reversed(interaction.get("steps") or []):
        if step.get("type") != "model_output":
            continue
        for item in step.get("content") or []:
            if item.get("type") == "video" and (item.get("data") or item.get("uri")):
                return item
    return None


class GeminiOmniProvider(HttpProvider):
    """Gemini Omni Flash video generation (background interaction + polling)."""

    vendor: ClassVar[str] = "gemini"
    key_env: ClassVar[tuple[str, ...]] = GEMINI_KEY_ENV
    default_base_url: ClassVar[str] = GEMINI_BASE_URL
    max_concurrency: ClassVar[int] = 2

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        spec = OMNI_MODELS.get(model) or ModelSpec(
            model, f"Google {model} (Interactions API)", 0.10, duration_range=(3, 15)
        )
        super().__init__(f"gemini/{model}", spec, params)
        self.model = model
        self.delivery = str(params.get("delivery") or "uri")

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        return google_error(resp, self.redact, what=what)

    def auth_headers(self) -> dict[str, str]:
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"x-goog-api-key": key}

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        fmt = {
            "type": "video",
            "aspect_ratio": request.aspect_ratio,
            "resolution": "720p",
            "duration": f"{self.spec.snap_duration(request.duration_s)}s",
            "delivery": self.delivery,
        }
        gen: dict[str, Any] = {"video_config": {"task": "text_to_video"}}
        if request.seed is not None:
            gen["seed"] = int(request.seed)
        body = self.body_with_extras(
            {
                "model": self.model,
                "input": request.text,
                "background": True,
                "response_format": fmt,
                "generation_config": gen,
            }
        )
        data = await self.call_json("POST", "v1beta/interactions", json_body=body, what="submit")
        if not data.get("id"):
            raise ProviderError("fatal", self.redact(f"submit: no interaction id in the answer: {str(data)[:200]}"))
        return str(data["id"])

    async def poll(self, job_id: str) -> JobStatus:
        data = await self.call_json("GET", f"v1beta/interactions/{job_id}", what="poll")
        status = str(data.get("status") or "")
        if status in _FAILED:
            errs = data.get("errors") or []
            msg = "; ".join(str(e.get("message") or e.get("code")) for e in errs if isinstance(e, dict))
            kind = _KIND.get(status, "fatal")
            if any(w in msg.lower() for w in ("safety", "policy", "blocked", "prohibited")):
                kind = "content_policy"
            return JobStatus("failed", reason=f"interaction {status}" + (f": {msg}" if msg else ""), kind=kind)
        if status != "completed":
            return JobStatus("pending")
        video = _video_content(data)
        if video is None:
            return JobStatus("failed", reason="interaction completed without a video", kind="safety_filtered")
        self._done[job_id] = video
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        video = await self.finished(job_id, pop=True)
        if video.get("data"):
            return _b64(video["data"])
        uri = self.url(str(video["uri"]))
        return await self.fetch_media(uri, headers=self.auth_headers() if same_origin(uri, self.base_url) else None)


def make_gemini_omni(model: str, params: Mapping[str, Any]) -> GeminiOmniProvider:
    """Factory for ``gemini/gemini-omni-*``."""
    if not model.startswith("gemini-omni"):
        raise KeyError(model)
    check_params(params, ("delivery",), provider_id=f"gemini/{model}")
    return GeminiOmniProvider(model, params)
