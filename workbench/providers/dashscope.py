"""Alibaba Model Studio / DashScope async video synthesis: HappyHorse and Wan.

``POST {D}/api/v1/services/aigc/video-generation/video-synthesis`` with
``X-DashScope-Async: enable`` and bearer ``DASHSCOPE_API_KEY`` returns
``output.task_id``; poll ``GET {D}/api/v1/tasks/{task_id}`` until ``output.task_status`` is
``SUCCEEDED`` (then ``output.video_url``, kept 24 h) or ``FAILED``/``CANCELED``/``UNKNOWN``.
HappyHorse always makes sound; Wan 2.5+ makes sound when ``parameters.audio`` is true and
no audio file is given. The job id is the task id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import Fact, HttpProvider, ModelSpec, body_json, check_params, http_error

DASHSCOPE_URL = "https://dashscope-intl.aliyuncs.com"
DASHSCOPE_KEY_ENV = ("DASHSCOPE_API_KEY",)
SYNTHESIS_PATH = "api/v1/services/aigc/video-generation/video-synthesis"

_HH_AR = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
_AUDIT = "2026-12"
_HH_DOC = "Alibaba Model Studio HappyHorse text-to-video API reference (verbatim copy, 2026-10-12)"
_HH_FACTS = {
    "id": Fact(_HH_DOC, _AUDIT), "durations": Fact(f"{_HH_DOC}: duration 3-15", _AUDIT),
    "audio": Fact(f"{_HH_DOC}: no audio switch, joint audio", _AUDIT),
    "price": Fact("pricing table lists the Chinese mainland deployment only", _AUDIT, "assumed"),
    "prompt": Fact(f"{_HH_DOC}: no prompt-rewriting parameter", _AUDIT),
}  # fmt: skip
_WAN_FACTS = {
    "id": Fact("dashscope-sdk-python video_synthesis.py + mirrors of the DashScope schema", _AUDIT, "verified-3p"),
    "durations": Fact("mirrors of the DashScope schema: 5 or 10", _AUDIT, "verified-3p"),
    "audio": Fact("parameters.audio in third-party code only", _AUDIT, "verified-3p"),
    "price": Fact("no verified price", _AUDIT, "assumed"),
    "prompt": Fact("dashscope-sdk-python VideoSynthesis.call(prompt_extend=...): sent false", _AUDIT, "verified-in-source"),
}  # fmt: skip
DASHSCOPE_MODELS: dict[str, ModelSpec] = {
    "happyhorse-1.0-t2v": ModelSpec("happyhorse-1.0-t2v", "Alibaba HappyHorse 1.0 (DashScope), joint audio", 0.20,
                                    duration_range=(3, 15), aspect_ratios=_HH_AR, price_note="assumed", sources=_HH_FACTS),
    "happyhorse-1.1-t2v": ModelSpec("happyhorse-1.1-t2v", "Alibaba HappyHorse 1.1 (DashScope), joint audio", 0.20,
                                    duration_range=(3, 15), aspect_ratios=_HH_AR, price_note="assumed", sources=_HH_FACTS),
    "wan2.5-t2v-preview": ModelSpec("wan2.5-t2v-preview", "Alibaba Wan 2.5 preview (DashScope), parameters.audio=true",
                                    0.10, durations=(5, 10), audio="parameters.audio=true", price_note="assumed",
                                    rewrite_off={"prompt_extend": False}, sources=_WAN_FACTS),
}  # fmt: skip

#: Wan ``size`` per aspect ratio (1080p class).
_WAN_SIZE = {"16:9": "1920*1080", "9:16": "1080*1920", "1:1": "1440*1440"}

#: DashScope error codes -> failure kinds ([I] from Alibaba's error-code page as mirrored by clients).
CODE_KINDS = {
    "InvalidApiKey": "auth", "AccessDenied": "auth", "Unauthorized": "auth",
    "Arrearage": "quota", "AllocationQuota": "quota",
    "Throttling": "rate_limit", "Throttling.RateQuota": "rate_limit", "Throttling.AllocationQuota": "rate_limit",
    "DataInspectionFailed": "content_policy", "IPInfringementSuspect": "content_policy",
    "InvalidParameter": "invalid_request", "ModelNotFound": "not_found", "InternalError": "transient",
}  # fmt: skip


def _code_kind(code: Any) -> str | None:
    if not isinstance(code, str):
        return None
    for prefix in sorted(CODE_KINDS, key=len, reverse=True):
        if code == prefix or code.startswith(prefix + "."):
            return CODE_KINDS[prefix]
    return None


class DashScopeProvider(HttpProvider):
    """HappyHorse / Wan through the DashScope async task API."""

    vendor: ClassVar[str] = "dashscope"
    key_env: ClassVar[tuple[str, ...]] = DASHSCOPE_KEY_ENV
    default_base_url: ClassVar[str] = DASHSCOPE_URL
    max_concurrency: ClassVar[int] = 2
    # No lookup: DashScope's task list (GET /api/v1/tasks) filters by model and time but shows no
    # prompt, so a lost submission cannot be told apart from another one: it stays submit_uncertain.

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        super().__init__(f"dashscope/{model}", DASHSCOPE_MODELS[model], params)
        self.model = model

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        data = body_json(resp)
        code = data.get("code") if isinstance(data, dict) else None
        err = http_error(resp, self.redact, what=what, kind=_code_kind(code))
        if code:
            err.reason = f"{err.reason} (code {code})"
        return err

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The synthesis request body."""
        dur = self.spec.snap_duration(request.duration_s)
        params: dict[str, Any] = {"duration": dur}
        if self.model.startswith("happyhorse"):
            params.update(resolution="1080P", ratio=request.aspect_ratio, watermark=False)
        else:
            params.update(size=_WAN_SIZE.get(request.aspect_ratio, "1920*1080"), audio=True)
        params.update(self.spec.rewrite_off)
        if request.seed is not None:
            params["seed"] = int(request.seed)
        params.update(self.extra_input)
        return {"model": self.model, "input": {"prompt": request.text}, "parameters": params}

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        data = await self.call_json(
            "POST",
            SYNTHESIS_PATH,
            json_body=self.build_body(request),
            headers={"X-DashScope-Async": "enable"},
            what="submit",
            once=True,
        )
        task_id = (data.get("output") or {}).get("task_id")
        if not task_id:
            raise ProviderError("fatal", self.redact(f"submit: no task_id in the answer: {str(data)[:200]}"))
        return str(task_id)

    async def poll(self, job_id: str) -> JobStatus:
        data = await self.call_json("GET", f"api/v1/tasks/{job_id}", what="poll")
        out = data.get("output") or {}
        status = out.get("task_status")
        if status in ("PENDING", "RUNNING"):
            return JobStatus("pending")
        if status == "SUCCEEDED":
            url = out.get("video_url")
            if not url:
                return JobStatus("failed", reason="task succeeded without a video_url", kind="safety_filtered")
            self._done[job_id] = str(url)
            return JobStatus("done")
        if status == "UNKNOWN":
            return JobStatus("failed", reason="task unknown to DashScope (expired after 24 h?)", kind="not_found")
        msg = " ".join(str(out.get("message") or status or "no task status").split())[:500]
        code = out.get("code")
        kind = _code_kind(code) or "fatal"
        return JobStatus(
            "failed", reason=f"DashScope task {status}: {msg}" + (f" (code {code})" if code else ""), kind=kind
        )


def make_dashscope(model: str, params: Mapping[str, Any]) -> DashScopeProvider:
    """Factory for ``dashscope/<model>``."""
    if model not in DASHSCOPE_MODELS:
        raise UnknownModel(model)
    check_params(params, (), provider_id=f"dashscope/{model}")
    return DashScopeProvider(model, params)
