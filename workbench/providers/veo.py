"""Google Veo 3.1: the Gemini API (``gemini/veo-*``) and Vertex AI (``vertex/veo-*``).

Gemini API: ``POST {B}/v1beta/models/{model}:predictLongRunning`` with ``x-goog-api-key``,
poll ``GET {B}/v1beta/{operation name}``, download ``video.uri`` with the key. The Gemini
API always generates audio and rejects ``generateAudio`` and ``seed``, so neither is sent.
Before the first submission the adapter lists ``GET {B}/v1beta/models`` and refuses a model
the key cannot see (retired preview ids fail fast as ``not_found``).

Vertex AI: ``POST https://{loc}-aiplatform.googleapis.com/v1/projects/{p}/locations/{loc}/
publishers/google/models/{model}:predictLongRunning`` (``aiplatform.googleapis.com`` for
``global``, ``aiplatform.{loc}.rep.googleapis.com`` for the multi-regions ``us``/``eu``, as
the official SDK builds them) with an OAuth bearer token,
``parameters.generateAudio = true`` and ``seed``; poll with ``:fetchPredictOperation``. The
clip comes back inline (``bytesBase64Encoded``) unless ``storage_uri`` is set, in which case
it is read from Cloud Storage with the same token (``WORKBENCH_GCS_BASE_URL`` overrides
``https://storage.googleapis.com``).

Job ids are operation names (no secret); they are enough to poll after a restart. Neither
API offers a way to find an operation whose create answer was lost, so such a submission is
recorded as ``submit_uncertain`` and not sent again. Veo 3/3.1 rewrites every prompt and
Google offers no off switch for it (``enhancePrompt`` cannot be disabled for Veo 3 and 3.1).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import (
    Fact,
    HttpProvider,
    ModelSpec,
    Redactor,
    body_json,
    check_params,
    get_key,
    http_error,
    resolve_base_url,
    same_origin,
)

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
GEMINI_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
VERTEX_TOKEN_ENV = ("GOOGLE_CLOUD_ACCESS_TOKEN",)
VERTEX_PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
VERTEX_LOCATION_ENV = "GOOGLE_CLOUD_LOCATION"
GCS_BASE_URL = "https://storage.googleapis.com"

_AUDIT = "2026-12"
_GENAI = "googleapis/python-genai @66807187 (2026-08-21) models.py"
VEO_REWRITE = "Veo 3/3.1 rewrites every prompt: Google's prompt rewriter cannot be turned off for Veo 3 and 3.1"
_REWRITER = Fact(
    "docs.cloud.google.com …/models/video/turn-the-prompt-rewriter-off: \"You can't disable the prompt "
    'rewriter when using Veo 3 and 3.1 models"',
    _AUDIT,
)


def _gemini_facts(price: Fact) -> dict[str, Fact]:
    return {
        "id": Fact("Google's pages show -preview ids only; -001 on the Gemini API is used by third-party code and "
                   "LiteLLM (the adapter lists GET /v1beta/models before submitting)", _AUDIT, "unverified"),
        "price": price,
        "durations": Fact(f"{_GENAI} L1950-1996 (durationSeconds); Gemini API video docs: 4/6/8 s", _AUDIT,
                          "verified-in-source"),
        "audio": Fact(f"{_GENAI} L1978-1982: generateAudio is rejected in Gemini API mode", _AUDIT,
                      "verified-in-source"),
        "prompt": _REWRITER,
    }  # fmt: skip


def _vertex_facts(price: Fact) -> dict[str, Fact]:
    return {
        "id": Fact("docs.cloud.google.com …/gemini-enterprise-agent-platform/models/video (GA ids)", _AUDIT),
        "price": price,
        "durations": Fact(f"{_GENAI} L2089-2171 (Vertex mapping); Vertex Veo reference: 4/6/8 s", _AUDIT,
                          "verified-in-source"),
        "audio": Fact(f"{_GENAI} L2089-2171: parameters.generateAudio", _AUDIT, "verified-in-source"),
        "prompt": _REWRITER,
    }  # fmt: skip


_P40 = Fact("LiteLLM catalogue and other third parties", "2026-11-25", "third-party")
_P15 = Fact("third-party price lists", "2026-11-25", "third-party")
_VEO = dict(durations=(4, 6, 8), aspect_ratios=("16:9", "9:16"), prompt_rewrite=VEO_REWRITE)

#: Gemini API Veo models (GA ids; the preview ids were retired on 2026-10-22).
GEMINI_MODELS: dict[str, ModelSpec] = {
    "veo-3.1-generate-001": ModelSpec(
        "veo-3.1-generate-001", "Google Veo 3.1 (Gemini API), audio always on", 0.40, seed=False,
        audio="always on (generateAudio is rejected)", price_note="$0.40/s [third-party, LiteLLM catalogue]", **_VEO,
        sources=_gemini_facts(_P40),
    ),
    "veo-3.1-fast-generate-001": ModelSpec(
        "veo-3.1-fast-generate-001", "Google Veo 3.1 Fast (Gemini API), audio always on", 0.15, seed=False,
        audio="always on (generateAudio is rejected)", price_note="$0.15/s [third-party]", **_VEO,
        sources=_gemini_facts(_P15),
    ),
}  # fmt: skip

#: Vertex AI Veo models.
VERTEX_MODELS: dict[str, ModelSpec] = {
    "veo-3.1-generate-001": ModelSpec(
        "veo-3.1-generate-001", "Google Veo 3.1 (Vertex AI), generateAudio=true", 0.40,
        audio="generateAudio=true", price_note="$0.40/s [third-party]", **_VEO, sources=_vertex_facts(_P40),
    ),
    "veo-3.1-fast-generate-001": ModelSpec(
        "veo-3.1-fast-generate-001", "Google Veo 3.1 Fast (Vertex AI), generateAudio=true", 0.15,
        audio="generateAudio=true", price_note="$0.15/s [third-party]", **_VEO, sources=_vertex_facts(_P15),
    ),
    "veo-3.1-lite-generate-001": ModelSpec(
        "veo-3.1-lite-generate-001", "Google Veo 3.1 Lite (Vertex AI, preview), generateAudio=true", 0.08,
        audio="generateAudio=true", price_note="≤$0.08/s [inferred from fal's Veo 3.1 Lite price]", **_VEO,
        sources=_vertex_facts(Fact("inferred from fal's Veo 3.1 Lite price", _AUDIT, "assumed")),
    ),
}  # fmt: skip

#: Vertex multi-regional locations, served from ``aiplatform.{loc}.rep.googleapis.com`` (python-genai).
MULTI_REGIONS = frozenset({"us", "eu"})


def vertex_host(location: str) -> str:
    """The Vertex AI base URL for a location, as the official SDK builds it (audit X1)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


_RPC_KINDS = {
    3: "invalid_request", 5: "not_found", 7: "auth", 8: "quota", 9: "invalid_request",
    4: "timeout", 13: "transient", 14: "transient", 16: "auth",
}  # fmt: skip


_STATUS_KINDS = {
    "UNAUTHENTICATED": "auth", "PERMISSION_DENIED": "auth", "RESOURCE_EXHAUSTED": "rate_limit",
    "NOT_FOUND": "not_found", "INVALID_ARGUMENT": "invalid_request", "FAILED_PRECONDITION": "invalid_request",
    "UNAVAILABLE": "transient", "INTERNAL": "transient", "DEADLINE_EXCEEDED": "timeout",
}  # fmt: skip


def google_error(resp: httpx.Response, redact: Redactor, *, what: str) -> ProviderError:
    """A ProviderError from Google's ``{"error": {code, message, status}}`` envelope.

    A wrong Gemini API key comes back as 400 INVALID_ARGUMENT "API key not valid": that is auth.
    """
    data = body_json(resp)
    err = data.get("error") if isinstance(data, dict) else None
    kind = None
    if isinstance(err, dict):
        kind = _STATUS_KINDS.get(str(err.get("status")))
        msg = str(err.get("message") or "")
        if "api key" in msg.lower() or "API_KEY" in json.dumps(err.get("details") or []):
            kind = "auth"
        elif kind == "invalid_request" and any(w in msg.lower() for w in ("safety", "policy", "prohibited")):
            kind = "content_policy"
    return http_error(resp, redact, what=what, kind=kind if resp.status_code != 429 else "rate_limit")


def _op_error(err: Mapping[str, Any]) -> JobStatus:
    """A failed JobStatus from a ``google.rpc.Status`` on a finished operation."""
    msg = str(err.get("message") or "operation failed")
    kind = _RPC_KINDS.get(int(err.get("code") or 0), "fatal")
    if any(w in msg.lower() for w in ("safety", "policy", "blocked", "prohibited")):
        kind = "content_policy"
    return JobStatus("failed", reason=f"{msg} (code {err.get('code')})", kind=kind)


def _filtered(resp: Mapping[str, Any]) -> JobStatus | None:
    """The safety-filtered outcome: done, no video, RAI counts and reasons instead."""
    reasons = resp.get("raiMediaFilteredReasons") or []
    if resp.get("raiMediaFilteredCount") or reasons:
        why = "; ".join(str(r) for r in reasons) or "filtered by the provider's safety filters"
        return JobStatus("failed", reason=why, kind="safety_filtered")
    return None


def _veo_parameters(spec: ModelSpec, request: GenerationRequest) -> dict[str, Any]:
    return {
        "aspectRatio": request.aspect_ratio,
        "durationSeconds": spec.snap_duration(request.duration_s),
        "resolution": "720p",
        "sampleCount": 1,
    }


class GeminiVeoProvider(HttpProvider):
    """Veo on the Gemini API (``gemini/veo-…``)."""

    vendor: ClassVar[str] = "gemini"
    key_env: ClassVar[tuple[str, ...]] = GEMINI_KEY_ENV
    default_base_url: ClassVar[str] = GEMINI_BASE_URL
    max_concurrency: ClassVar[int] = 2

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        spec = GEMINI_MODELS.get(model) or ModelSpec(model, f"Google {model} (Gemini API)", 0.40, seed=False, **_VEO)
        super().__init__(f"gemini/{model}", spec, params)
        self.model = model
        self._visible: set[str] | None = None

    def auth_headers(self) -> dict[str, str]:
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"x-goog-api-key": key}

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        return google_error(resp, self.redact, what=what)

    async def list_models(self) -> set[str]:
        """Model ids this key can see (all pages of ``GET /v1beta/models``)."""
        ids: set[str] = set()
        token = None
        for _ in range(50):
            path = "v1beta/models?pageSize=1000" + (f"&pageToken={token}" if token else "")
            data = await self.call_json("GET", path, what="list models")
            ids.update(str(m.get("name", "")).removeprefix("models/") for m in data.get("models") or [])
            token = data.get("nextPageToken")
            if not token:
                break
        return ids

    async def _check_visible(self) -> None:
        if self._visible is None:
            self._visible = await self.list_models()
        if self.model not in self._visible:
            veo = sorted(m for m in self._visible if m.startswith("veo"))
            raise ProviderError(
                "not_found",
                f"model {self.model} is not available to this key (retired or not enabled); "
                f"Veo models it can see: {', '.join(veo) or 'none'}",
            )

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        body = {"instances": [{"prompt": request.text}], "parameters": _veo_parameters(self.spec, request)}
        body["parameters"].update(self.extra_input)
        return body

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        await self._check_visible()
        data = await self.call_json(
            "POST", f"v1beta/models/{self.model}:predictLongRunning", json_body=self.build_body(request),
            what="submit", once=True,
        )  # fmt: skip
        name = data.get("name")
        if not name:
            raise ProviderError("fatal", self.redact(f"submit: no operation name in the answer: {str(data)[:200]}"))
        return str(name)

    async def poll(self, job_id: str) -> JobStatus:
        op = await self.call_json("GET", f"v1beta/{job_id}", what="poll")
        if not op.get("done"):
            return JobStatus("pending")
        if op.get("error"):
            return _op_error(op["error"])
        resp = (op.get("response") or {}).get("generateVideoResponse") or {}
        samples = [s for s in resp.get("generatedSamples") or [] if (s.get("video") or {})]
        if not samples:
            return _filtered(resp) or JobStatus(
                "failed", reason="operation finished without a video (nothing filtered was reported)", kind="fatal"
            )
        self._done[job_id] = samples[0]["video"]
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        video = await self.finished(job_id)
        if video.get("encodedVideo"):
            return _b64(video["encodedVideo"])
        uri = self.url(str(video["uri"]))
        # The key goes only to the API's own origin, never to wherever a URI points.
        return await self.fetch_media(uri, headers=self.auth_headers() if same_origin(uri, self.base_url) else None)


class VertexVeoProvider(HttpProvider):
    """Veo on Vertex AI (``vertex/veo-…``): generateAudio and seed are honoured."""

    vendor: ClassVar[str] = "vertex"
    key_env: ClassVar[tuple[str, ...]] = VERTEX_TOKEN_ENV
    max_concurrency: ClassVar[int] = 2

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        spec = VERTEX_MODELS.get(model) or ModelSpec(model, f"Google {model} (Vertex AI)", 0.40, **_VEO)
        self.project = str(params.get("project") or "")
        self.location = str(params.get("location") or "")
        super().__init__(f"vertex/{model}", spec, params)
        self.model = model
        self.storage_uri = params.get("storage_uri")
        self.gcs_base_url = resolve_base_url("gcs", {}, GCS_BASE_URL)

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        return google_error(resp, self.redact, what=what)

    def prerequisites(self) -> list[str]:
        out = super().prerequisites()
        if not (self.project or os.environ.get(VERTEX_PROJECT_ENV)):
            out.append(f"no Google Cloud project: set {VERTEX_PROJECT_ENV} or params.project")
        return out

    def _where(self) -> tuple[str, str, str]:
        project = self.project or os.environ.get(VERTEX_PROJECT_ENV, "")
        location = self.location or os.environ.get(VERTEX_LOCATION_ENV, "") or "us-central1"
        if not project:
            raise ProviderError(
                "invalid_request", f"no Google Cloud project: set params.project or {VERTEX_PROJECT_ENV}"
            )
        return project, location, self.base_url or vertex_host(location)

    def _model_path(self, project: str, location: str) -> str:
        return f"v1/projects/{project}/locations/{location}/publishers/google/models/{self.model}"

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        params = _veo_parameters(self.spec, request)
        params["generateAudio"] = True
        if request.seed is not None:
            params["seed"] = int(request.seed) % 2**32
        if self.storage_uri:
            params["storageUri"] = self.storage_uri
        params.update(self.extra_input)
        return {"instances": [{"prompt": request.text}], "parameters": params}

    def predict_url(self) -> str:
        project, location, base = self._where()
        return f"{base}/{self._model_path(project, location)}:predictLongRunning"

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        url = self.predict_url()
        data = await self.call_json("POST", url, json_body=self.build_body(request), what="submit", once=True)
        if not data.get("name"):
            raise ProviderError("fatal", self.redact(f"submit: no operation name in the answer: {str(data)[:200]}"))
        return str(data["name"])

    async def poll(self, job_id: str) -> JobStatus:
        # projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{id}
        parts = job_id.split("/")
        if len(parts) < 8 or parts[0] != "projects" or parts[2] != "locations":
            raise ProviderError("invalid_request", f"not a Vertex operation name: {job_id}")
        _, _, base = self._where()
        model_path = "/".join(parts[: parts.index("operations")]) if "operations" in parts else ""
        url = f"{base}/v1/{model_path}:fetchPredictOperation"
        op = await self.call_json("POST", url, json_body={"operationName": job_id}, what="poll")
        if not op.get("done"):
            return JobStatus("pending")
        if op.get("error"):
            return _op_error(op["error"])
        resp = op.get("response") or {}
        videos = [v for v in resp.get("videos") or [] if v.get("bytesBase64Encoded") or v.get("gcsUri")]
        if not videos:
            return _filtered(resp) or JobStatus(
                "failed",
                reason="no video URIs in the completed operation (nothing filtered was reported)",
                kind="fatal",
            )
        self._done[job_id] = videos[0]
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        video = await self.finished(job_id, pop=True)
        if video.get("bytesBase64Encoded"):
            return _b64(video["bytesBase64Encoded"])
        bucket, _, obj = str(video["gcsUri"]).removeprefix("gs://").partition("/")
        url = f"{self.gcs_base_url}/download/storage/v1/b/{bucket}/o/{quote(obj, safe='')}?alt=media"
        return await self.fetch_media(url, headers=self.auth_headers(), what="download from Cloud Storage")


def visible_models(params: Mapping[str, Any] | None = None) -> list[str]:
    """Model ids the Gemini key can see right now (one ``GET /v1beta/models`` walk; needs network).

    For ``workbench models --online``: offer only the Veo/Omni ids listed here.
    """

    async def go() -> list[str]:
        p = GeminiVeoProvider("veo-3.1-generate-001", params or {})
        try:
            return sorted(await p.list_models())
        finally:
            await p.aclose()

    return asyncio.run(go())


def _b64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise ProviderError("fatal", "inline video is not valid base64") from None


GEMINI_VEO_PARAMS = ()
VERTEX_PARAMS = ("project", "location", "storage_uri")


def make_gemini_veo(model: str, params: Mapping[str, Any]) -> GeminiVeoProvider:
    """Factory for ``gemini/veo-*`` (any ``veo-`` id; the live model list decides availability)."""
    if not model.startswith("veo-"):
        raise UnknownModel(model)
    check_params(params, GEMINI_VEO_PARAMS, provider_id=f"gemini/{model}")
    return GeminiVeoProvider(model, params)


def make_vertex_veo(model: str, params: Mapping[str, Any]) -> VertexVeoProvider:
    """Factory for ``vertex/veo-*``."""
    if not model.startswith("veo-"):
        raise UnknownModel(model)
    check_params(params, VERTEX_PARAMS, provider_id=f"vertex/{model}")
    return VertexVeoProvider(model, params)
