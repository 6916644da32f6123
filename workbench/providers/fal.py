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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import HttpProvider, ModelSpec, check_params, get_key, http_error, same_origin

FAL_QUEUE_URL = "https://queue.fal.run"
FAL_KEY_ENV = ("FAL_KEY",)


def _seconds_s(d: int) -> str:
    return f"{d}s"


@dataclass(frozen=True)
class FalModel:
    """A fal endpoint: its spec, audio switch and how it wants the duration."""

    spec: ModelSpec
    audio_field: str | None
    """Input field that turns sound on (sent as ``true``); None when the model always makes sound."""
    duration: Callable[[int], Any] | None = str
    """Duration value from whole seconds; None when the endpoint has no duration input."""
    duration_field: str = "duration"
    extra: Mapping[str, Any] = field(default_factory=dict)
    aspect_field: str | None = "aspect_ratio"


def _ltx2_frames(d: int) -> int:
    # LTX-2 wants 8k+1 frames at 25 fps (121 = 4.8 s is the default).
    return 8 * max(1, round(d * 25 / 8)) + 1


_VEO = dict(durations=(4, 6, 8), aspect_ratios=("16:9", "9:16"))
_AR3 = ("16:9", "9:16", "1:1")

FAL_MODELS: dict[str, FalModel] = {m.spec.model: m for m in (
    FalModel(ModelSpec("fal-ai/veo3.1", "Google Veo 3.1 via fal", 0.40, audio="generate_audio=true",
                       price_note="$0.40/s with audio [fal pricing page]", **_VEO), "generate_audio", _seconds_s),
    FalModel(ModelSpec("fal-ai/veo3.1/fast", "Google Veo 3.1 Fast via fal", 0.15, audio="generate_audio=true",
                       price_note="$0.15/s with audio [as fal's Veo 3 Fast; unverified for 3.1]", **_VEO),
             "generate_audio", _seconds_s),
    FalModel(ModelSpec("fal-ai/kling-video/v2.6/pro/text-to-video", "Kling 2.6 pro via fal", 0.14, durations=(5, 10),
                       aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="≈$0.14/s [third-party]"),
             "generate_audio"),
    FalModel(ModelSpec("fal-ai/kling-video/v3/pro/text-to-video", "Kling 3.0 pro via fal", 0.25, duration_range=(3, 15),
                       aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="assumed"),
             "generate_audio"),
    FalModel(ModelSpec("alibaba/happy-horse/text-to-video", "Alibaba HappyHorse 1.0 via fal (joint audio)", 0.20,
                       duration_range=(3, 15), aspect_ratios=_AR3, price_note="assumed"), None, int),
    FalModel(ModelSpec("alibaba/happy-horse/v1.1/text-to-video", "Alibaba HappyHorse 1.1 via fal (joint audio)", 0.20,
                       duration_range=(3, 15), aspect_ratios=_AR3, price_note="assumed"), None, int),
    FalModel(ModelSpec("fal-ai/ltx-2.3/text-to-video", "Lightricks LTX-2.3 via fal", 0.10, durations=(6, 8, 10),
                       audio="generate_audio=true", price_note="assumed"), "generate_audio", int),
    FalModel(ModelSpec("fal-ai/ltx-2-19b/text-to-video", "Lightricks LTX-2 19B via fal (25 fps)", 0.10,
                       duration_range=(1, 10), audio="generate_audio=true", price_note="assumed"),
             "generate_audio", _ltx2_frames, "num_frames", {"fps": 25}, aspect_field=None),
    FalModel(ModelSpec("fal-ai/ovi", "Ovi (joint audio-video, ~5 s) via fal", 0.10, durations=(5,),
                       price_note="assumed"), None, None, extra={"resolution": "992x512"}, aspect_field=None),
    FalModel(ModelSpec("fal-ai/bytedance/seedance/v1.5/pro/text-to-video", "ByteDance Seedance 1.5 pro via fal", 0.15,
                       duration_range=(4, 12), aspect_ratios=_AR3, audio="generate_audio=true", price_note="assumed"),
             "generate_audio"),
    FalModel(ModelSpec("fal-ai/wan-25-preview/text-to-video", "Alibaba Wan 2.5 preview via fal (auto audio)", 0.10,
                       durations=(5, 10), price_note="assumed"), None),
    FalModel(ModelSpec("fal-ai/wan/v2.7/text-to-video", "Alibaba Wan 2.7 via fal (auto audio)", 0.10,
                       duration_range=(2, 15), price_note="assumed"), None, int),
    FalModel(ModelSpec("google/gemini-omni-flash", "Google Gemini Omni Flash via fal", 0.10, duration_range=(3, 10),
                       seed=False, price_note="≈$0.10/s [third-party]"), None, int),
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


class FalProvider(HttpProvider):
    """One fal queue endpoint."""

    vendor: ClassVar[str] = "fal"
    key_env: ClassVar[tuple[str, ...]] = FAL_KEY_ENV
    default_base_url: ClassVar[str] = FAL_QUEUE_URL
    max_concurrency: ClassVar[int] = 4

    def __init__(self, endpoint: str, model: FalModel, params: Mapping[str, Any]) -> None:
        super().__init__(f"fal/{endpoint}", model.spec, params)
        self.endpoint = endpoint
        self.model = model
        self._urls: dict[str, tuple[str, str]] = {}

    def auth_headers(self) -> dict[str, str]:
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"Authorization": f"Key {key}"}

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        err = http_error(resp, self.redact, what=what)
        etype = resp.headers.get("x-fal-error-type", "")
        if resp.status_code in (400, 422) and _error_kind(etype, resp.text[:2000]) == "content_policy":
            err.kind = "content_policy"
        return err

    def build_input(self, request: GenerationRequest) -> dict[str, Any]:
        """The endpoint's input JSON for a request."""
        m = self.model
        body: dict[str, Any] = {"prompt": request.text, **m.extra}
        if m.duration is not None:
            body[m.duration_field] = m.duration(self.spec.snap_duration(request.duration_s))
        if m.aspect_field:
            body[m.aspect_field] = request.aspect_ratio
        if self.spec.seed and request.seed is not None:
            body["seed"] = int(request.seed)
        if m.audio_field:
            body[m.audio_field] = True
        return self.body_with_extras(body)

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
        data = await self.call_json("POST", self.endpoint, json_body=self.build_input(request), what="submit")
        rid = data.get("request_id")
        if not rid:
            raise ProviderError("fatal", self.redact(f"submit: no request_id in the answer: {str(data)[:200]}"))
        job_id = f"{self.endpoint}|{rid}"
        status_url, response_url = str(data.get("status_url") or ""), str(data.get("response_url") or "")
        # Use the returned URLs (fal's advice), but only where the key is meant to go.
        if same_origin(status_url, self.base_url) and same_origin(response_url, self.base_url):
            self._urls[job_id] = (status_url, response_url)
        return job_id

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
    check_params(params, ("audio_field",), provider_id=f"fal/{endpoint}")
    model = FAL_MODELS.get(endpoint)
    if model is None:
        if "audio_field" not in params or endpoint.count("/") < 1:
            raise KeyError(endpoint)
        spec = ModelSpec(endpoint, f"fal endpoint {endpoint} (uncatalogued)", 0.40, duration_range=(1, 20),
                         aspect_ratios=_AR3, price_note="assumed (uncatalogued: $0.40/s for the budget)")  # fmt: skip
        model = FalModel(spec, params.get("audio_field"))
    return FalProvider(endpoint, model, {k: v for k, v in params.items() if k != "audio_field"})
