"""Replicate predictions: ``replicate/<owner>/<name>``, e.g. ``replicate/google/veo-3.1``.

``POST {R}/v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` (bearer
``REPLICATE_API_TOKEN``), poll ``urls.get`` (= ``{R}/v1/predictions/{id}``) until
``succeeded | failed | canceled | aborted``. Outputs are deleted an hour after the
prediction, so the clip is fetched inside the poll that sees ``succeeded`` and kept in
memory for :meth:`download`. The job id is the prediction id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.errors import ProviderError
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import HttpProvider, ModelSpec, check_params, same_origin

REPLICATE_URL = "https://api.replicate.com"
REPLICATE_KEY_ENV = ("REPLICATE_API_TOKEN",)


@dataclass(frozen=True)
class ReplicateModel:
    """A Replicate model: its spec and audio switch (None: the model always makes sound)."""

    spec: ModelSpec
    audio_field: str | None = "generate_audio"
    extra: Mapping[str, Any] | None = None


_VEO = dict(durations=(4, 6, 8), aspect_ratios=("16:9", "9:16"), audio="generate_audio=true")
_AR3 = ("16:9", "9:16", "1:1")

REPLICATE_MODELS: dict[str, ReplicateModel] = {m.spec.model: m for m in (
    ReplicateModel(ModelSpec("google/veo-3.1", "Google Veo 3.1 on Replicate", 0.40, price_note="≈$0.40/s [third-party]",
                             **_VEO)),
    ReplicateModel(ModelSpec("google/veo-3.1-fast", "Google Veo 3.1 Fast on Replicate", 0.15,
                             price_note="≈$0.15/s [third-party]", **_VEO)),
    ReplicateModel(ModelSpec("kwaivgi/kling-v2.6", "Kling 2.6 on Replicate", 0.15, durations=(5, 10), aspect_ratios=_AR3,
                             seed=False, audio="generate_audio=true", price_note="assumed")),
    ReplicateModel(ModelSpec("kwaivgi/kling-v3-video", "Kling 3.0 on Replicate (pro mode)", 0.25, duration_range=(3, 15),
                             aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="assumed"),
                   extra={"mode": "pro"}),
    ReplicateModel(ModelSpec("wan-video/wan-2.7-t2v", "Alibaba Wan 2.7 on Replicate (auto audio)", 0.10,
                             duration_range=(2, 15), audio="always on (no audio file given)", price_note="assumed"),
                   audio_field=None),
)}  # fmt: skip

_FAILED = {"failed", "canceled", "aborted"}


def _failure_kind(status: str, msg: str) -> str:
    low = msg.lower()
    if "e005" in low or any(w in low for w in ("sensitive", "nsfw", "safety", "content policy", "flagged")):
        return "content_policy"
    if status == "canceled":
        return "fatal"
    if "timed out" in low or "timeout" in low:
        return "timeout"
    return "fatal"


class ReplicateProvider(HttpProvider):
    """One Replicate official model."""

    vendor: ClassVar[str] = "replicate"
    key_env: ClassVar[tuple[str, ...]] = REPLICATE_KEY_ENV
    default_base_url: ClassVar[str] = REPLICATE_URL
    max_concurrency: ClassVar[int] = 4

    def __init__(self, model_ref: str, model: ReplicateModel, params: Mapping[str, Any]) -> None:
        super().__init__(f"replicate/{model_ref}", model.spec, params)
        self.model_ref = model_ref
        self.model = model
        self._get_urls: dict[str, str] = {}
        self._clips: dict[str, bytes] = {}

    def build_input(self, request: GenerationRequest) -> dict[str, Any]:
        """The model's ``input`` object for a request."""
        inp: dict[str, Any] = {"prompt": request.text, **(self.model.extra or {})}
        inp["duration"] = self.spec.snap_duration(request.duration_s)
        inp["aspect_ratio"] = request.aspect_ratio
        if self.spec.seed and request.seed is not None:
            inp["seed"] = int(request.seed)
        if self.model.audio_field:
            inp[self.model.audio_field] = True
        return self.body_with_extras(inp)

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        body = {"input": self.build_input(request)}
        data = await self.call_json("POST", f"v1/models/{self.model_ref}/predictions", json_body=body, what="submit")
        pid = data.get("id")
        if not pid:
            raise ProviderError("fatal", self.redact(f"submit: no prediction id in the answer: {str(data)[:200]}"))
        get_url = str((data.get("urls") or {}).get("get") or "")
        if same_origin(get_url, self.base_url):
            self._get_urls[str(pid)] = get_url
        return str(pid)

    async def poll(self, job_id: str) -> JobStatus:
        if job_id in self._clips:
            return JobStatus("done")
        url = self._get_urls.get(job_id) or f"v1/predictions/{job_id}"
        data = await self.call_json("GET", url, what="poll")
        status = str(data.get("status") or "")
        if status in _FAILED:
            msg = " ".join(str(data.get("error") or status).split())[:500]
            return JobStatus("failed", reason=f"Replicate prediction {status}: {msg}", kind=_failure_kind(status, msg))
        if status != "succeeded":
            return JobStatus("pending")
        out = data.get("output")
        if isinstance(out, list):
            out = next((o for o in out if isinstance(o, str)), None)
        if not isinstance(out, str) or not out:
            return JobStatus("failed", reason="prediction succeeded without an output file", kind="safety_filtered")
        # Outputs are deleted after an hour: fetch now.
        self._clips[job_id] = await self.fetch_media(out)
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        if job_id not in self._clips:
            st = await self.poll(job_id)
            if st.state != "done":
                raise ProviderError(st.kind or "fatal", st.reason or f"job {job_id} is not finished")
        return self._clips.pop(job_id)


def make_replicate(model_ref: str, params: Mapping[str, Any]) -> ReplicateProvider:
    """Factory for ``replicate/<owner>/<name>``; uncatalogued models need ``params.audio_field``."""
    check_params(params, ("audio_field",), provider_id=f"replicate/{model_ref}")
    model = REPLICATE_MODELS.get(model_ref)
    if model is None:
        if "audio_field" not in params or model_ref.count("/") != 1:
            raise KeyError(model_ref)
        spec = ModelSpec(model_ref, f"Replicate model {model_ref} (uncatalogued)", 0.40, duration_range=(1, 20),
                         aspect_ratios=_AR3, price_note="assumed (uncatalogued: $0.40/s for the budget)")  # fmt: skip
        model = ReplicateModel(spec, params.get("audio_field"))
    return ReplicateProvider(model_ref, model, {k: v for k, v in params.items() if k != "audio_field"})
