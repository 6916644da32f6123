"""Replicate predictions: ``replicate/<owner>/<name>``, e.g. ``replicate/google/veo-3.1``.

``POST {R}/v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` (bearer
``REPLICATE_API_TOKEN``), poll ``urls.get`` (= ``{R}/v1/predictions/{id}``) until
``succeeded | failed | canceled | aborted``. Outputs are deleted an hour after the
prediction, so the clip is fetched inside the poll that sees ``succeeded`` and kept in
memory for :meth:`download`. The job id is the prediction id. A submission whose answer was
lost is found again in ``GET /v1/predictions`` (same model, same input, created since).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import Fact, HttpProvider, ModelSpec, check_params, same_origin

REPLICATE_URL = "https://api.replicate.com"
REPLICATE_KEY_ENV = ("REPLICATE_API_TOKEN",)


@dataclass(frozen=True)
class ReplicateModel:
    """A Replicate model: its spec and audio switch (None: the model always makes sound)."""

    spec: ModelSpec
    audio_field: str | None = "generate_audio"
    extra: Mapping[str, Any] | None = None


_AUDIT = "2026-12"
_PY = "replicate-python @0110c2c5 model.py L538 (POST /v1/models/{owner}/{name}/predictions)"
_VEO_REWRITE = "Veo 3/3.1 rewrites every prompt: Google's prompt rewriter cannot be turned off for Veo 3 and 3.1"
_GOOGLE_REWRITER = "Google Cloud docs, 'Turn off the prompt rewriter': cannot be disabled for Veo 3 and 3.1"


def _facts(page: str, status: str, price: Fact, prompt: Fact | None = None) -> dict[str, Fact]:
    schema = Fact(page, _AUDIT, status)
    return {"id": schema, "price": price, "durations": schema, "audio": schema,
            "prompt": prompt or Fact(f"{page}: no prompt-rewriting input", _AUDIT, status)}  # fmt: skip


_VEO_FACTS = _facts(
    "replicate.com google/veo-3-fast /api page (sibling model; 3.1 inferred); one proxy lists 3.1 Fast as 5/8 s",
    "unverified",
    Fact("third-party price", "2026-11-25", "third-party"),
    Fact(_GOOGLE_REWRITER, _AUDIT),
)
_VEO = dict(durations=(4, 6, 8), aspect_ratios=("16:9", "9:16"), audio="generate_audio=true",
            prompt_rewrite=_VEO_REWRITE, sources=_VEO_FACTS)  # fmt: skip
_AR3 = ("16:9", "9:16", "1:1")

REPLICATE_MODELS: dict[str, ReplicateModel] = {m.spec.model: m for m in (
    ReplicateModel(ModelSpec("google/veo-3.1", "Google Veo 3.1 on Replicate", 0.40, price_note="≈$0.40/s [third-party]",
                             **_VEO)),
    ReplicateModel(ModelSpec("google/veo-3.1-fast", "Google Veo 3.1 Fast on Replicate", 0.15,
                             price_note="≈$0.15/s [third-party]", **_VEO)),
    ReplicateModel(ModelSpec("kwaivgi/kling-v2.6", "Kling 2.6 on Replicate", 0.15, durations=(5, 10), aspect_ratios=_AR3,
                             seed=False, audio="generate_audio=true", price_note="assumed",
                             sources=_facts("replicate.com kwaivgi/kling-v2.6 /api page (version b13f36d0)",
                                            "verified-in-docs", Fact("no verified price", _AUDIT, "assumed")))),
    ReplicateModel(ModelSpec("kwaivgi/kling-v3-video", "Kling 3.0 on Replicate (pro mode)", 0.25, duration_range=(3, 15),
                             aspect_ratios=_AR3, seed=False, audio="generate_audio=true", price_note="assumed",
                             sources=_facts("replicate.com kwaivgi/kling-v3-video /api page (version 3cdf949f)",
                                            "verified-in-docs", Fact("no verified price", _AUDIT, "assumed"))),
                   extra={"mode": "pro"}),
    ReplicateModel(ModelSpec("wan-video/wan-2.7-t2v", "Alibaba Wan 2.7 on Replicate (auto audio)", 0.10,
                             duration_range=(2, 15), audio="always on (no audio file given)", price_note="assumed",
                             rewrite_off={"enable_prompt_expansion": False},
                             sources=_facts("replicate.com wan-video/wan-2.7-t2v /api page (version 6c53841e)",
                                            "verified-in-docs", Fact("no verified price", _AUDIT, "assumed"),
                                            Fact("replicate.com wan-2.7-t2v /api page: enable_prompt_expansion "
                                                 "default true, sent false", _AUDIT))),
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
    version: ClassVar[str] = "2"  # wan-2.7-t2v: enable_prompt_expansion false
    lookup: ClassVar[str] = "Replicate's prediction list (GET /v1/predictions, with their inputs)"

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
        inp.update(self.spec.rewrite_off)
        return self.body_with_extras(inp)

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        return {"input": self.build_input(request)}

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        data = await self.call_json(
            "POST", f"v1/models/{self.model_ref}/predictions", json_body=self.build_body(request), what="submit",
            once=True,
        )  # fmt: skip
        pid = data.get("id")
        if not pid:
            raise ProviderError("fatal", self.redact(f"submit: no prediction id in the answer: {str(data)[:200]}"))
        self.submitted_ids.add(str(pid))
        get_url = str((data.get("urls") or {}).get("get") or "")
        if same_origin(get_url, self.base_url):
            self._get_urls[str(pid)] = get_url
        return str(pid)

    async def find_submitted(
        self, request: GenerationRequest, ref: str | None, since: float, exclude: frozenset[str] = frozenset()
    ) -> str | None:
        """The prediction of this model with exactly this input, created since ``since``.

        ``GET /v1/predictions`` lists the account's predictions, newest first, with ``model``,
        ``input`` and ``created_at``; pages are walked until they are older than ``since``.
        """
        want = self.build_input(request)
        found: list[str] = []
        url: str | None = "v1/predictions"
        for _ in range(5):
            if not url:
                break
            data = await self.call_json("GET", url, what="lookup")
            older = False
            for p in data.get("results") or []:
                created = _epoch(p.get("created_at"))
                if created is not None and created < since - 120:
                    older = True
                    continue
                pid = str(p.get("id") or "")
                if (pid and p.get("model") == self.model_ref and p.get("input") == want
                        and pid not in exclude | self.submitted_ids):  # fmt: skip
                    found.append(pid)
            nxt = data.get("next")
            url = str(nxt) if nxt and not older and same_origin(str(nxt), self.base_url) else None
        if len(found) > 1:
            raise ProviderError(
                "submit_uncertain", f"{len(found)} predictions with this exact input: {', '.join(found)}"
            )
        return found[0] if found else None

    async def model_info(self) -> dict[str, Any]:
        """``GET /v1/models/{owner}/{name}``: the model with its latest version's OpenAPI schema; free."""
        return await self.call_json("GET", f"v1/models/{self.model_ref}", what="model")

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


def _epoch(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def make_replicate(model_ref: str, params: Mapping[str, Any]) -> ReplicateProvider:
    """Factory for ``replicate/<owner>/<name>``; uncatalogued models need ``params.audio_field``."""
    check_params(params, ("audio_field",), provider_id=f"replicate/{model_ref}")
    model = REPLICATE_MODELS.get(model_ref)
    if model is None:
        if "audio_field" not in params or model_ref.count("/") != 1:
            raise UnknownModel(model_ref)
        spec = ModelSpec(model_ref, f"Replicate model {model_ref} (uncatalogued)", 0.40, duration_range=(1, 20),
                         aspect_ratios=_AR3, price_note="assumed (uncatalogued: $0.40/s for the budget)")  # fmt: skip
        model = ReplicateModel(spec, params.get("audio_field"))
    return ReplicateProvider(model_ref, model, {k: v for k, v in params.items() if k != "audio_field"})
