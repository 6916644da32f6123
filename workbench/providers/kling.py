"""Kling (Kuaishou) official API: ``kling/kling-v2-6``, ``kling/kling-v3``.

``POST {K}/v1/videos/text2video`` then ``GET {K}/v1/videos/text2video/{task_id}`` until
``task_status`` is ``succeed`` (sic) or ``failed``; the clip is ``task_result.videos[0].url``
(a pre-signed link, fetched without credentials). Sound needs ``sound: "on"`` with
``mode: "pro"`` (v2.6 and later); both are always sent.

Auth: ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` (the documented pair), from which an
HS256 JWT (``iss`` = access key, 30 min expiry) is signed with PyJWT, or ``KLING_API_KEY``
(a Kling-issued key, sent as bearer; not in Kling's public docs). When both are set the pair
wins, so a secret key stored under ``KLING_API_KEY`` cannot break every call; which one is
used is logged and shown by ``workbench models`` (never the value). Business error codes map
to failure kinds (1303 concurrency -> rate_limit, 1301 content -> content_policy, 1102
depleted -> quota, ...).

Every submission carries a unique ``external_task_id`` (Kling: "must be unique per user"),
journaled before it is sent: a submission whose answer was lost is found again in the task
list (``GET /v1/videos/text2video?pageNum=…``) by that id instead of being paid twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import Fact, HttpProvider, ModelSpec, body_json, check_params, http_error

log = logging.getLogger(__name__)

KLING_BASE_URL = "https://api-singapore.klingai.com"
API_KEY_ENV = "KLING_API_KEY"
ACCESS_KEY_ENV = "KLING_ACCESS_KEY"
SECRET_KEY_ENV = "KLING_SECRET_KEY"
KEY_ENVS = (API_KEY_ENV, ACCESS_KEY_ENV, SECRET_KEY_ENV)

_AR = ("16:9", "9:16", "1:1")
_AUDIT = "2026-12"
_DOC = "Kling API docs (mirror inference-sh/grid api/klingai/docs/03-video-text2video.md) + vercel/ai klingai"


def _facts(price: Fact, durations: str) -> dict[str, Fact]:
    return {
        "id": Fact(_DOC, _AUDIT, "verified-3p"),
        "price": price,
        "durations": Fact(durations, _AUDIT, "verified-3p"),
        "audio": Fact(f"{_DOC}: sound on|off, V2.6+ and mode pro only", _AUDIT, "verified-3p"),
        "prompt": Fact(f"{_DOC}: no prompt-rewriting field", _AUDIT, "verified-3p"),
    }


KLING_MODELS: dict[str, ModelSpec] = {
    "kling-v2-6": ModelSpec(
        "kling-v2-6", "Kling 2.6 pro with native sound (official API)", 0.147, durations=(5, 10),
        aspect_ratios=_AR, seed=False, audio='sound="on", mode="pro"', price_note="≈$0.147/s with audio [third-party]",
        sources=_facts(Fact("docs.krea.ai (third-party)", "2026-11-25", "third-party"), f"{_DOC}: 5 or 10"),
    ),
    "kling-v3": ModelSpec(
        "kling-v3", "Kling 3.0 pro with native sound (official API)", 0.20, duration_range=(3, 15),
        aspect_ratios=_AR, seed=False, audio='sound="on", mode="pro"', price_note="assumed (no verified price)",
        sources=_facts(Fact("no verified price", _AUDIT, "assumed"), "copy of the Chinese doc + clients: 3-15"),
    ),
}  # fmt: skip

#: Kling business code -> failure kind (official error table as mirrored in client code).
CODE_KINDS = {
    **{c: "auth" for c in (1000, 1001, 1002, 1003, 1004)},
    1100: "quota", 1101: "quota", 1102: "quota", 1103: "auth",
    **{c: "invalid_request" for c in (1200, 1201, 1202)},
    1203: "not_found",
    1300: "content_policy", 1301: "content_policy",
    1302: "rate_limit", 1303: "rate_limit", 1304: "auth",
    5000: "transient", 5001: "transient", 5002: "transient",
}  # fmt: skip


def make_jwt(access_key: str, secret_key: str, *, now: float | None = None, ttl_s: int = 1800) -> str:
    """An HS256 JWT for Kling: ``{"iss": access_key, "exp": now+ttl, "nbf": now-5}`` (PyJWT)."""
    t = int(now if now is not None else time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the key is Kling's, not ours to lengthen
        return jwt.encode(
            {"iss": access_key, "exp": t + ttl_s, "nbf": t - 5}, secret_key, algorithm="HS256", headers={"typ": "JWT"}
        )


def auth_mode() -> str | None:
    """Which Kling credentials are used: ``"pair"`` (access + secret key), ``"api_key"``, or None."""
    if os.environ.get(ACCESS_KEY_ENV) and os.environ.get(SECRET_KEY_ENV):
        return "pair"
    if os.environ.get(API_KEY_ENV):
        return "api_key"
    return None


def auth_note() -> str:
    """Which variables authenticate Kling calls, in words (never a value)."""
    mode = auth_mode()
    if mode == "pair":
        extra = f"; {API_KEY_ENV} is also set and ignored" if os.environ.get(API_KEY_ENV) else ""
        return f"JWT from {ACCESS_KEY_ENV} + {SECRET_KEY_ENV}{extra}"
    if mode == "api_key":
        return f"{API_KEY_ENV} as bearer (undocumented single key)"
    return ""


class KlingProvider(HttpProvider):
    """Kling text-to-video with sound."""

    vendor: ClassVar[str] = "kling"
    key_env: ClassVar[tuple[str, ...]] = KEY_ENVS
    default_base_url: ClassVar[str] = KLING_BASE_URL
    max_concurrency: ClassVar[int] = 2
    lookup: ClassVar[str] = "Kling's task list, by the external_task_id sent with the submission"

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        super().__init__(f"kling/{model}", KLING_MODELS[model], params)
        self.model = model
        self.mode = str(params.get("mode") or "pro")
        self._jwt: tuple[str, float] | None = None
        self._said_auth = False

    def prerequisites(self) -> list[str]:
        if auth_mode() is None:
            return [f"no Kling credentials: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}, or {API_KEY_ENV}"]
        return []

    def auth_headers(self) -> dict[str, str]:
        mode = auth_mode()
        if mode is not None and not self._said_auth:
            log.info("kling: authenticating with %s", auth_note())
            self._said_auth = True
        if mode == "api_key":
            key = os.environ[API_KEY_ENV].strip()
            self.redact.add(key)
            return {"Authorization": f"Bearer {key}"}
        ak, sk = os.environ.get(ACCESS_KEY_ENV), os.environ.get(SECRET_KEY_ENV)
        if not (ak and sk):
            raise ProviderError(
                "auth", f"no Kling credentials: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}, or {API_KEY_ENV}"
            )
        if self._jwt is None or self._jwt[1] - time.time() < 300:
            tok = make_jwt(ak.strip(), sk.strip())
            self._jwt = (tok, time.time() + 1800)
            self.redact.add(ak.strip(), sk.strip(), tok)
        return {"Authorization": f"Bearer {self._jwt[0]}"}

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        data = body_json(resp)
        code = data.get("code") if isinstance(data, dict) else None
        kind = CODE_KINDS.get(code) if isinstance(code, int) else None
        err = http_error(resp, self.redact, what=what, kind=kind)
        if code is not None:
            err.reason = f"{err.reason} (Kling code {code})"
        if kind == "rate_limit" and err.retry_after is None and code == 1303:
            err.retry_after = 1.0  # the docs ask for at least a second of back-off on 1303
        return err

    def _check_code(self, data: Mapping[str, Any], resp_status: int, *, what: str) -> None:
        code = data.get("code", 0)
        if code not in (0, None):
            kind = CODE_KINDS.get(code, "fatal") if isinstance(code, int) else "fatal"
            msg = " ".join(str(data.get("message") or "error").split())[:300]
            raise ProviderError(kind, self.redact(f"{what}: Kling code {code}: {msg}"), status=resp_status)

    def make_ref(self, request: GenerationRequest) -> str:
        """A unique ``external_task_id`` (Kling refuses a reused one)."""
        return f"wb-{request.key()[:16]}-{secrets.token_hex(6)}"

    def build_body(self, request: GenerationRequest, ref: str | None = None) -> dict[str, Any]:
        body = {
            "model_name": self.model,
            "prompt": request.text,
            "mode": self.mode,
            "aspect_ratio": request.aspect_ratio,
            "duration": str(self.spec.snap_duration(request.duration_s)),
            "sound": "on",
        }
        if ref:
            body["external_task_id"] = ref
        return self.body_with_extras(body)

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        body = self.build_body(request, self.ref_for(request))
        data = await self.call_json("POST", "v1/videos/text2video", json_body=body, what="submit", once=True)
        self._check_code(data, 200, what="submit")
        task_id = (data.get("data") or {}).get("task_id")
        if not task_id:
            raise ProviderError("fatal", self.redact(f"submit: no task_id in the answer: {str(data)[:200]}"))
        self.submitted_ids.add(str(task_id))
        return str(task_id)

    async def find_submitted(
        self, request: GenerationRequest, ref: str | None, since: float, exclude: frozenset[str] = frozenset()
    ) -> str | None:
        """The task whose ``task_info.external_task_id`` is ``ref`` (the task list, newest first)."""
        if not ref:
            raise ProviderError("submit_uncertain", "no external_task_id was journaled for this submission")
        for page in range(1, 6):
            data = await self.call_json(
                "GET", "v1/videos/text2video", what="lookup", params={"pageNum": page, "pageSize": 100}
            )
            self._check_code(data, 200, what="lookup")
            tasks = data.get("data") or []
            for t in tasks:
                if isinstance(t, dict) and (t.get("task_info") or {}).get("external_task_id") == ref:
                    return str(t.get("task_id"))
            created = [t.get("created_at") for t in tasks if isinstance(t, dict)]
            if len(tasks) < 100 or any(isinstance(c, int | float) and c / 1000 < since - 600 for c in created):
                break
        return None

    async def list_tasks(self) -> dict[str, Any]:
        """One page of the task list (the probe's free auth check)."""
        data = await self.call_json(
            "GET", "v1/videos/text2video", what="list tasks", params={"pageNum": 1, "pageSize": 1}
        )
        self._check_code(data, 200, what="list tasks")
        return data

    async def poll(self, job_id: str) -> JobStatus:
        data = await self.call_json("GET", f"v1/videos/text2video/{job_id}", what="poll")
        self._check_code(data, 200, what="poll")
        task = data.get("data") or {}
        status = task.get("task_status")
        if status == "failed":
            msg = str(task.get("task_status_msg") or "task failed")
            low = msg.lower()
            kind = "content_policy" if any(w in low for w in ("risk", "policy", "sensitive", "safety")) else "fatal"
            return JobStatus("failed", reason=f"Kling task failed: {msg}", kind=kind)
        if status != "succeed":
            return JobStatus("pending")
        videos = (task.get("task_result") or {}).get("videos") or []
        url = next((v.get("url") for v in videos if v.get("url")), None)
        if not url:
            return JobStatus("failed", reason="task succeeded without a video URL", kind="safety_filtered")
        self._done[job_id] = self.url(str(url))
        return JobStatus("done")


def make_kling(model: str, params: Mapping[str, Any]) -> KlingProvider:
    """Factory for ``kling/<model_name>``."""
    if model not in KLING_MODELS:
        raise UnknownModel(model)
    check_params(params, ("mode",), provider_id=f"kling/{model}")
    return KlingProvider(model, params)


__all__ = ["CODE_KINDS", "KLING_MODELS", "KlingProvider", "auth_mode", "auth_note", "make_jwt", "make_kling"]
