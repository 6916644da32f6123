"""Gemini Omni Flash through the Interactions API (``gemini/gemini-omni-…``).

``POST {B}/v1beta/interactions`` with ``background: true`` and a video ``response_format``,
poll ``GET {B}/v1beta/interactions/{id}`` until ``status`` is terminal, then take the last
``model_output`` step's ``video`` content: inline ``data`` (base64) or a ``uri`` fetched with
the key. Audio is always generated. The job id is the interaction id.

Nothing confirms that Omni honours ``background: true`` (audit O1). If it does not, the POST
blocks while the video is made: the submit request waits up to ``params.submit_timeout_s``
(default 900 s) and then returns the finished interaction, which polls as done. A POST whose
answer never comes (read timeout, cut connection) is ``submit_uncertain``: never resent on
its own, since each resend could bill a new generation, and there is no way to look it up.
``requires_action`` (the model waits for input this runner never gives) fails at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import Fact, HttpProvider, ModelSpec, check_params, get_key, same_origin, timeout_for
from workbench.providers.veo import GEMINI_BASE_URL, GEMINI_KEY_ENV, _b64, google_error

_AUDIT = "2026-12"
_GAOS = "googleapis/python-genai @66807187 google/genai/_gaos/types/interactions"
OMNI_MODELS: dict[str, ModelSpec] = {
    "gemini-omni-1.1-flash": ModelSpec(
        "gemini-omni-1.1-flash", "Google Gemini Omni Flash 1.1 (Interactions API), audio always on", 0.10,
        duration_range=(3, 10), audio="always on", price_note="≈$0.10/s [third-party]",
        sources={
            "id": Fact("ai.google.dev/gemini-api/docs/omni (gemini-omni-1.1-flash)", _AUDIT),
            "price": Fact("third-party figures (gmicloud, openmontage)", "2026-11-25", "third-party"),
            "durations": Fact(f"{_GAOS}/videoresponseformat.py: duration is a string; allowed values disagree "
                              "between third parties (3-10 s assumed)", _AUDIT, "unverified"),
            "audio": Fact("ai.google.dev Omni docs: video always comes with audio", _AUDIT),
            "prompt": Fact(f"{_GAOS}: no prompt-rewriting field (what the model does inside is not documented)",
                           _AUDIT, "verified-in-source"),
        },
    ),
}  # fmt: skip

_FAILED = {"failed", "cancelled", "incomplete", "budget_exceeded", "requires_action"}
_KIND = {"cancelled": "fatal", "incomplete": "fatal", "budget_exceeded": "quota", "requires_action": "fatal"}
#: How long the submit POST may take when Omni ignores ``background`` and generates synchronously.
SUBMIT_TIMEOUT_S = 900.0


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
        self._submit_timeout = timeout_for({"timeout_s": params.get("submit_timeout_s") or SUBMIT_TIMEOUT_S})

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        return google_error(resp, self.redact, what=what)

    def auth_headers(self) -> dict[str, str]:
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"x-goog-api-key": key}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
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
        return self.body_with_extras(
            {
                "model": self.model,
                "input": request.text,
                "background": True,
                "response_format": fmt,
                "generation_config": gen,
            }
        )

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        data = await self.call_json(
            "POST", "v1beta/interactions", json_body=self.build_body(request), what="submit", once=True,
            timeout=self._submit_timeout,
        )  # fmt: skip
        if not data.get("id"):
            raise ProviderError("fatal", self.redact(f"submit: no interaction id in the answer: {str(data)[:200]}"))
        return str(data["id"])

    async def poll(self, job_id: str) -> JobStatus:
        data = await self.call_json("GET", f"v1beta/interactions/{job_id}", what="poll")
        status = str(data.get("status") or "")
        if status in _FAILED:
            errs = data.get("errors") or []
            msg = "; ".join(str(e.get("message") or e.get("code")) for e in errs if isinstance(e, dict))
            if status == "requires_action" and not msg:
                msg = "the interaction waits for an action (input or a tool result) that this runner never gives"
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
        raise UnknownModel(model)
    check_params(params, ("delivery", "submit_timeout_s"), provider_id=f"gemini/{model}")
    return GeminiOmniProvider(model, params)
