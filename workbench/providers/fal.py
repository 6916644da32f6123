"""fal.ai queue: ``fal/<endpoint id>``, e.g. ``fal/fal-ai/veo3.1``.

Submit ``POST {Q}/{endpoint}`` (``Authorization: Key $FAL_KEY``), poll the returned
``status_url`` until ``COMPLETED``, then ``GET response_url`` for the raw model output
(``{"video": {"url": ...}}``) and fetch ``video.url`` (public CDN link, kept about an hour).
fal has no FAILED status: a failed run is ``COMPLETED`` with ``error``/``error_type``, which
is checked before the result is fetched.

Each catalogued endpoint carries its own audio switch (``generate_audio``, or none where the
model always makes sound) and duration format. The job id is ``<endpoint>|<request id>``:
after a restart the status and result URLs are rebuilt from the endpoint's ``owner/alias``
(fal's rule), so nothing secret or signed is journaled.

Every prompt-rewriting switch an endpoint has is sent off (Veo ``auto_fix``, Wan / LTX-2 19B
``enable_prompt_expansion``). A submission whose answer was lost is found again through fal's
Platform API (``api.fal.ai``: requests by endpoint, with their inputs), which also serves the
model search with OpenAPI schemas that ``workbench probe`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import (
    Fact,
    HttpProvider,
    ModelSpec,
    base_url_env,
    check_params,
    get_key,
    http_error,
    same_origin,
)

FAL_QUEUE_URL = "https://queue.fal.run"
#: fal's Platform API (model search with schemas, requests by endpoint): not the queue's host.
FAL_API_URL = "https://api.fal.ai"
FAL_KEY_ENV = ("FAL_KEY",)


def _seconds_s(d: int) -> str:
    return f"{d}s"


def _aspect_ratio(ar: str) -> dict[str, Any]:
    return {"aspect_ratio": ar}


@dataclass(frozen=True)
class FalModel:
    """A fal endpoint: its spec, audio switch and how it wants the duration and the aspect ratio."""

    spec: ModelSpec
    audio_field: str | None
    """Input field that turns sound on (sent as ``true``); None when the model always makes sound."""
    duration: Callable[[int], Any] | None = str
    """Duration value from whole seconds; None when the endpoint has no duration input."""
    duration_field: str = "duration"
    extra: Mapping[str, Any] = field(default_factory=dict)
    aspect: Callable[[str], Mapping[str, Any]] | None = _aspect_ratio
    """Input fields for an aspect ratio (the capability lists the ones it maps); None: no such input."""


def _ltx2_frames(d: int) -> int:
    # LTX-2 wants 8k+1 frames at 25 fps (121 = 4.8 s is the default).
    return 8 * max(1, round(d * 25 / 8)) + 1


def _mapped(field_name: str, values: Mapping[str, str]) -> Callable[[str], dict[str, Any]]:
    def fields(ar: str) -> dict[str, Any]:
        if ar not in values:
            raise ProviderError("invalid_request", f"aspect ratio {ar} has no {field_name} value on this endpoint")
        return {field_name: values[ar]}

    return fields


#: fal's default is landscape_4_3: without it every LTX-2 19B clip was 4:3 (audit F1).
_ltx2_video_size = _mapped("video_size", {"16:9": "landscape_16_9", "9:16": "portrait_16_9"})
#: A fixed 992x512 made Ovi's 9:16 cells landscape (audit F2).
_ovi_resolution = _mapped("resolution", {"16:9": "992x512", "9:16": "512x992"})


_FALJS = "fal-js libs/client/src/types/endpoints.ts @381105e1 (2026-08-02)"
_AUDIT = "2026-12"
_VEO_REWRITE = (
    "Veo 3/3.1 rewrites every prompt: Google's prompt rewriter cannot be turned off for Veo 3 and 3.1 "
    "(auto_fix: false only stops fal's own policy rewrite)"
)
_GOOGLE_REWRITER = "Google Cloud docs, 'Turn off the prompt rewriter': cannot be disabled for Veo 3 and 3.1"


def _facts(input_type: str, price: Fact, *, prompt: str = "no prompt-rewriting field in the input type") -> dict:
    src = f"{_FALJS}: {input_type}"
    return {
        "id": Fact(f"{_FALJS}: endpoint map L73073-78115", _AUDIT, "verified-in-source"),
        "price": price,
        "durations": Fact(src, _AUDIT, "verified-in-source"),
        "audio": Fact(src, _AUDIT, "verified-in-source"),
        "prompt": Fact(f"{src}; {prompt}", _AUDIT, "verified-in-source"),
    }


def _assumed() -> Fact:
    return Fact("no verified price found", _AUDIT, "assumed")


_VEO = dict(durations=(4, 6, 8), aspect_ratios=("16:9", "9:16"))
_AR3 = ("16:9", "9:16", "1:1")
_NO_EXPANSION = {"enable_prompt_expansion": False}

FAL_MODELS: dict[str, FalModel] = {m.spec.model: m for m in (
    FalModel(ModelSpec("fal-ai/veo3.1", "Google Veo 3.1 via fal", 0.40, audio="generate_audio=true",
                       price_note="$0.40/s with audio [fal pricing page]", rewrite_off={"auto_fix": False},
                       prompt_rewrite=_VEO_REWRITE, **_VEO,
                       sources={**_facts("Veo31Input L62112", Fact("fal llms.txt: $0.40/s with audio", "2026-11-25"),
                                         prompt="auto_fix default true, sent false"),
                                "prompt": Fact(_GOOGLE_REWRITER, _AUDIT)}),
             "generate_audio", _seconds_s),
    FalModel(ModelSpec("fal-ai/veo3.1/fast", "Google Veo 3.1 Fast via fal", 0.15, audio="generate_audio=true",
                       price_note="$0.15/s with audio [as fal's Veo 3 Fast; unverified for 3.1]",
                       rewrite_off={"auto_fix": False}, prompt_rewrite=_VEO_REWRITE, **_VEO,
                       sources={**_facts("Veo31FastInput = Veo31Input L72845",
                                         Fact("fal llms.txt price of fal-ai/veo3/fast", "2026-11-25", "third-party")),
                                "prompt": Fact(_GOOGLE_REWRITER, _AUDIT)}),
             "generate_audio", _seconds_s),
    FalModel(ModelSpec("fal-ai/kling-video/v2.6/pro/text-to-video", "Kling 2.6 pro via fal", 0.14, durations=(5, 10),
                       aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="≈$0.14/s [third-party]",
                       sources=_facts("KlingVideoV26ProTextToVideoInput L27853",
                                      Fact("third-party price list", "2026-11-25", "third-party"))),
             "generate_audio"),
    FalModel(ModelSpec("fal-ai/kling-video/v3/pro/text-to-video", "Kling 3.0 pro via fal", 0.25, duration_range=(3, 15),
                       aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="assumed",
                       sources=_facts("= KlingVideoV34kTextToVideoInput L27959", _assumed())),
             "generate_audio"),
    FalModel(ModelSpec("alibaba/happy-horse/text-to-video", "Alibaba HappyHorse 1.0 via fal (joint audio)", 0.20,
                       duration_range=(3, 15), aspect_ratios=_AR3,
                       price_note="assumed", sources=_facts("HappyHorseTextToVideoInput L18571", _assumed())),
             None, int),
    FalModel(ModelSpec("alibaba/happy-horse/v1.1/text-to-video", "Alibaba HappyHorse 1.1 via fal (joint audio)", 0.20,
                       duration_range=(3, 15), aspect_ratios=_AR3, price_note="assumed",
                       sources=_facts("= HappyHorse15TextToVideoInput L18480", _assumed())), None, int),
    FalModel(ModelSpec("fal-ai/ltx-2.3/text-to-video", "Lightricks LTX-2.3 via fal", 0.10, durations=(6, 8, 10),
                       seed=False, audio="generate_audio=true", price_note="assumed",
                       sources=_facts("Ltx23TextToVideoInput L36783 (no seed field)", _assumed())),
             "generate_audio", int),
    FalModel(ModelSpec("fal-ai/ltx-2-19b/text-to-video", "Lightricks LTX-2 19B via fal (25 fps)", 0.10,
                       duration_range=(1, 10), audio="generate_audio=true", price_note="assumed",
                       rewrite_off=_NO_EXPANSION,
                       sources=_facts("= LTX2TextToVideoInput L40051 (video_size default landscape_4_3)", _assumed(),
                                      prompt="enable_prompt_expansion default true, sent false")),
             "generate_audio", _ltx2_frames, "num_frames", {"fps": 25}, aspect=_ltx2_video_size),
    FalModel(ModelSpec("fal-ai/ovi", "Ovi (joint audio-video, ~5 s) via fal", 0.10, durations=(5,),
                       price_note="assumed", sources=_facts("oviInput L44845 (resolution 992x512 | 512x992)", _assumed())),
             None, None, aspect=_ovi_resolution),
    FalModel(ModelSpec("fal-ai/bytedance/seedance/v1.5/pro/text-to-video", "ByteDance Seedance 1.5 pro via fal", 0.15,
                       duration_range=(4, 12), aspect_ratios=_AR3, audio="generate_audio=true", price_note="assumed",
                       sources=_facts("= SeedanceProv15TextToVideoInput L53762", _assumed())),
             "generate_audio"),
    FalModel(ModelSpec("fal-ai/wan-25-preview/text-to-video", "Alibaba Wan 2.5 preview via fal (auto audio)", 0.10,
                       durations=(5, 10), price_note="assumed", rewrite_off=_NO_EXPANSION,
                       sources=_facts("Wan25PreviewTextToVideoInput L65607", _assumed(),
                                      prompt="enable_prompt_expansion default true, sent false")), None),
    FalModel(ModelSpec("fal-ai/wan/v2.7/text-to-video", "Alibaba Wan 2.7 via fal (auto audio)", 0.10,
                       duration_range=(2, 15), price_note="assumed", rewrite_off=_NO_EXPANSION,
                       sources=_facts("= Wan27TextToVideoInput L65778", _assumed(),
                                      prompt="enable_prompt_expansion default true, sent false")), None, int),
    FalModel(ModelSpec("google/gemini-omni-flash", "Google Gemini Omni Flash via fal", 0.10, duration_range=(3, 10),
                       seed=False, price_note="≈$0.10/s [third-party]",
                       sources=_facts("GeminiOmniFlashInput L17405",
                                      Fact("third-party price", "2026-11-25", "third-party"))), None, int),
)}  # fmt: skip

_TERMINAL_OK = "COMPLETED"


def _owner_alias(endpoint: str) -> str:
    return "/".join(endpoint.split("/")[:2])


def _error_kind(error_type: Any, message: str) -> str:
    t = f"{error_type or ''} {message}".lower()
    if any(w in t for w in ("content_policy", "nsfw", "safety", "moderation", "policy")):
        return "content_policy"
    if "timeout" in t:
        return "timeout"
    return "fatal"


def _is_balance_lock(text: str) -> bool:
    low = text.lower()
    return "exhausted balance" in low or "user is locked" in low


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FalProvider(HttpProvider):
    """One fal queue endpoint."""

    vendor: ClassVar[str] = "fal"
    key_env: ClassVar[tuple[str, ...]] = FAL_KEY_ENV
    default_base_url: ClassVar[str] = FAL_QUEUE_URL
    max_concurrency: ClassVar[int] = 4
    version: ClassVar[str] = "2"  # video_size / Ovi resolution / prompt-rewrite switches / no LTX-2.3 seed
    lookup: ClassVar[str] = "fal's request list (Platform API, requests by endpoint, with their inputs)"

    def __init__(self, endpoint: str, model: FalModel, params: Mapping[str, Any]) -> None:
        super().__init__(f"fal/{endpoint}", model.spec, params)
        self.endpoint = endpoint
        self.model = model
        self._urls: dict[str, tuple[str, str]] = {}
        self.api_base_url = self._platform_url(params)

    @staticmethod
    def _platform_url(params: Mapping[str, Any]) -> str | None:
        """The Platform API base: ``params.api_base_url`` > ``WORKBENCH_FAL_API_BASE_URL`` > api.fal.ai.

        None when the queue's base URL is overridden (a proxy or a test server) and the Platform API's
        is not: the key is then never sent to fal's real host on the side.
        """
        url = params.get("api_base_url") or os.environ.get(base_url_env("fal-api"))
        if url:
            return str(url).rstrip("/")
        if params.get("base_url") or os.environ.get(base_url_env("fal")):
            return None
        return FAL_API_URL

    def auth_headers(self) -> dict[str, str]:
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"Authorization": f"Key {key}"}

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        err = http_error(resp, self.redact, what=what)
        etype = resp.headers.get("x-fal-error-type", "")
        if resp.status_code in (400, 422) and _error_kind(etype, resp.text[:2000]) == "content_policy":
            err.kind = "content_policy"
        if resp.status_code in (402, 403) and _is_balance_lock(resp.text[:2000]):
            err.kind = "quota"  # 403 "User is locked. Reason: Exhausted balance" (fal-ai/fal#1147)
        return err

    def build_input(self, request: GenerationRequest) -> dict[str, Any]:
        """The endpoint's input JSON for a request."""
        m = self.model
        body: dict[str, Any] = {"prompt": request.text, **m.extra}
        if m.duration is not None:
            body[m.duration_field] = m.duration(self.spec.snap_duration(request.duration_s))
        if m.aspect is not None:
            body.update(m.aspect(request.aspect_ratio))
        if self.spec.seed and request.seed is not None:
            body["seed"] = int(request.seed)
        if m.audio_field:
            body[m.audio_field] = True
        body.update(self.spec.rewrite_off)
        return self.body_with_extras(body)

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        return self.build_input(request)

    def _job_urls(self, job_id: str) -> tuple[str, str]:
        endpoint, _, rid = job_id.rpartition("|")
        if not endpoint or not rid:
            raise ProviderError("invalid_request", f"not a fal job id: {job_id}")
        got = self._urls.get(job_id)
        if got is not None:
            return got
        base = f"{self.base_url}/{_owner_alias(endpoint)}/requests/{rid}"
        return f"{base}/status", base

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        data = await self.call_json(
            "POST", self.endpoint, json_body=self.build_input(request), what="submit", once=True
        )
        rid = data.get("request_id")
        if not rid:
            raise ProviderError("fatal", self.redact(f"submit: no request_id in the answer: {str(data)[:200]}"))
        job_id = f"{self.endpoint}|{rid}"
        self.submitted_ids.add(job_id)
        status_url, response_url = str(data.get("status_url") or ""), str(data.get("response_url") or "")
        # Use the returned URLs (fal's advice), but only where the key is meant to go.
        if same_origin(status_url, self.base_url) and same_origin(response_url, self.base_url):
            self._urls[job_id] = (status_url, response_url)
        return job_id

    async def find_submitted(
        self, request: GenerationRequest, ref: str | None, since: float, exclude: frozenset[str] = frozenset()
    ) -> str | None:
        """The request whose input is exactly this request's, sent since ``since`` (Platform API).

        ``GET {api}/v1/models/requests/by-endpoint?endpoint_id=…&start=…&expand=payloads`` lists the
        requests of this endpoint with their ``json_input``. fal sorts them by end time, so a request
        still running may not be listed yet: then the cell stays ``submit_uncertain`` and
        ``--resume`` looks again.
        """
        if self.api_base_url is None:
            raise ProviderError(
                "submit_uncertain",
                "fal's request list was not asked: base_url is overridden, so set params.api_base_url "
                "(or WORKBENCH_FAL_API_BASE_URL) to the Platform API too",
            )
        want = self.build_input(request)
        found: list[str] = []
        cursor = None
        for _ in range(5):
            q: dict[str, Any] = {"endpoint_id": self.endpoint, "start": _iso(since - 120), "expand": "payloads",
                                 "limit": 100}  # fmt: skip
            if cursor:
                q["cursor"] = cursor
            data = await self.call_json(
                "GET", f"{self.api_base_url}/v1/models/requests/by-endpoint", what="lookup", params=q
            )
            for item in data.get("items") or []:
                rid = item.get("request_id")
                got = item.get("json_input")
                job_id = f"{self.endpoint}|{rid}"
                if rid and isinstance(got, dict) and got == want and job_id not in exclude | self.submitted_ids:
                    found.append(job_id)
            cursor = data.get("next_cursor")
            if not (cursor and data.get("has_more")):
                break
        if len(found) > 1:
            raise ProviderError(
                "submit_uncertain",
                f"{len(found)} fal requests with this exact input: {', '.join(r.split('|')[1] for r in found)}",
            )
        return found[0] if found else None

    async def model_schema(self) -> dict[str, Any]:
        """This endpoint's Platform API entry with its OpenAPI schema (``GET /v1/models?endpoint_id=…``); free."""
        if self.api_base_url is None:
            raise ProviderError("invalid_request", "the Platform API URL is unknown: set params.api_base_url")
        data = await self.call_json(
            "GET", f"{self.api_base_url}/v1/models", what="model search",
            params={"endpoint_id": self.endpoint, "expand": "openapi-3.0"},
        )  # fmt: skip
        for m in data.get("models") or []:
            if m.get("endpoint_id") == self.endpoint:
                return m
        raise ProviderError("not_found", f"fal's model search does not list {self.endpoint}")

    async def poll(self, job_id: str) -> JobStatus:
        status_url, response_url = self._job_urls(job_id)
        st = await self.call_json("GET", status_url, what="poll")
        status = st.get("status")
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return JobStatus("pending")
        if status != _TERMINAL_OK:
            return (
                JobStatus("pending") if status is None else JobStatus("failed", reason=f"status {status}", kind="fatal")
            )
        if st.get("error") or st.get("error_type"):
            msg = str(st.get("error") or st.get("error_type"))
            return JobStatus("failed", reason=f"fal: {msg}", kind=_error_kind(st.get("error_type"), msg))
        out = await self.call_json("GET", response_url, what="result")
        video = out.get("video") if isinstance(out.get("video"), dict) else None
        url = (video or {}).get("url") or (out.get("video_url") if isinstance(out.get("video_url"), str) else None)
        if not url:
            flagged = out.get("has_nsfw_concepts")
            if flagged:
                return JobStatus("failed", reason="fal: output flagged by the safety checker", kind="safety_filtered")
            return JobStatus("failed", reason="fal: result has no video.url", kind="fatal")
        self._done[job_id] = str(url)
        return JobStatus("done")


def make_fal(endpoint: str, params: Mapping[str, Any]) -> FalProvider:
    """Factory for ``fal/<endpoint>``; uncatalogued endpoints need ``params.audio_field`` (null: none)."""
    check_params(params, ("audio_field", "api_base_url"), provider_id=f"fal/{endpoint}")
    model = FAL_MODELS.get(endpoint)
    if model is None:
        if "audio_field" not in params or endpoint.count("/") < 1:
            raise UnknownModel(endpoint)
        spec = ModelSpec(endpoint, f"fal endpoint {endpoint} (uncatalogued)", 0.40, duration_range=(1, 20),
                         aspect_ratios=_AR3, price_note="assumed (uncatalogued: $0.40/s for the budget)")  # fmt: skip
        model = FalModel(spec, params.get("audio_field"))
    return FalProvider(endpoint, model, {k: v for k, v in params.items() if k != "audio_field"})
