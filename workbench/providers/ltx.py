"""Lightricks LTX API: ``ltx/ltx-2-pro``, ``ltx/ltx-2-fast``.

``POST {L}/v1/text-to-video`` (bearer ``LTX_API_KEY``) is synchronous: the response body
*is* the MP4. :meth:`submit` therefore makes the whole call (long read timeout) and keeps
the bytes; :meth:`poll` answers at once. There is no server-side job to poll after a
restart, so the adapter is not resumable.

Never paid twice: once LTX has accepted the call (the 200 headers arrived, or the read timed
out while it was generating), a connection lost before the last byte is a generation that was
probably billed and cannot be fetched again. It becomes ``lost_in_transit`` (not retried)
with the ``x-request-id`` for the vendor's support (the runner sends it again only under
``params.resend_lost: true``). Failures before acceptance (connect errors, 429, 5xx) are retried.
Sound needs ``generate_audio: true`` (it defaults off), which is always sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from workbench.errors import ProviderError, UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus
from workbench.providers.http import Fact, HttpProvider, ModelSpec, check_params, read_capped, transport_error

LTX_URL = "https://api.ltx.video"
LTX_KEY_ENV = ("LTX_API_KEY", "LTXV_API_KEY")

_AUDIT = "2026-12"
_DOCS = "docs.ltx.video/quickstart"
_COMFY = "ComfyUI comfy_api_nodes/nodes_ltxv.py @2bf859de"


def _facts(durations: str) -> dict[str, Fact]:
    return {
        "id": Fact(f"{_DOCS} (ltx-2-pro, ltx-2-fast); newer ltx-2-3-*/ltx-2-5-* ids exist", _AUDIT),
        "price": Fact(f"catalogue price is about 2x {_COMFY}'s price badge", _AUDIT, "assumed"),
        "durations": Fact(f"{_COMFY}: {durations}", _AUDIT, "verified-3p"),
        "audio": Fact(f"{_COMFY}: generate_audio (default differs between sources; always sent true)", _AUDIT,
                      "verified-3p"),
        "prompt": Fact(f"{_DOCS}, {_COMFY}: no prompt-rewriting field", _AUDIT, "verified-3p"),
    }  # fmt: skip


#: Landscape only: no LTX source lists a portrait size (1080x1920 appears in none; audit L1). A
#: live call that shows portrait works (one 16:9 prompt with ``params.input.resolution: 1080x1920``)
#: is needed before 9:16 comes back.
_LTX_AR = ("16:9",)
LTX_MODELS: dict[str, ModelSpec] = {
    "ltx-2-pro": ModelSpec("ltx-2-pro", "Lightricks LTX-2 Pro (LTX API), generate_audio=true", 0.12,
                           durations=(6, 8, 10), aspect_ratios=_LTX_AR, audio="generate_audio=true",
                           price_note="assumed", sources=_facts("Pro up to 10 s")),
    "ltx-2-fast": ModelSpec("ltx-2-fast", "Lightricks LTX-2 Fast (LTX API), generate_audio=true", 0.08,
                            durations=(6, 8, 10, 12, 14, 16, 18, 20), aspect_ratios=_LTX_AR, audio="generate_audio=true",
                            price_note="assumed", sources=_facts("Fast 6-20 s, over 10 s only at 1920x1080 25 fps")),
}  # fmt: skip

_RESOLUTION = {"16:9": "1920x1080"}


class LtxProvider(HttpProvider):
    """LTX text-to-video; one synchronous call per clip."""

    vendor: ClassVar[str] = "ltx"
    key_env: ClassVar[tuple[str, ...]] = LTX_KEY_ENV
    default_base_url: ClassVar[str] = LTX_URL
    resumable: ClassVar[bool] = False
    billed_when_lost: ClassVar[bool] = True
    max_concurrency: ClassVar[int] = 2

    def __init__(self, model: str, params: Mapping[str, Any]) -> None:
        super().__init__(f"ltx/{model}", LTX_MODELS[model], params, default_read_s=900.0)
        self.model = model
        self._clips: dict[str, bytes] = {}

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The request JSON; an aspect ratio LTX is not known to take is refused before anything is sent."""
        if request.aspect_ratio not in _RESOLUTION:
            raise ProviderError(
                "invalid_request",
                f"LTX: aspect ratio {request.aspect_ratio} is not offered (no LTX source lists a portrait size; "
                "one 16:9 prompt with params.input.resolution: 1080x1920 checks it with one paid call)",
            )
        return self.body_with_extras(
            {
                "prompt": request.text,
                "model": self.model,
                "duration": self.spec.snap_duration(request.duration_s),
                "resolution": _RESOLUTION[request.aspect_ratio],
                "fps": 25,
                "generate_audio": True,
            }
        )

    def lost(self, reason: str, request_id: str | None) -> ProviderError:
        """The error for an accepted (so probably billed) call whose MP4 did not arrive whole."""
        rid = f" (x-request-id {request_id})" if request_id else ""
        return ProviderError(
            "lost_in_transit",
            self.redact(
                f"{reason}{rid}; LTX had accepted the call, so it was probably billed; not sent again, so it is "
                "not paid twice (a new run, or params.resend_lost: true, generates it again)"
            ),
        )

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        what = "generate"
        hdrs = self.auth_headers()
        request_id: str | None = None
        accepted = False
        try:
            async with self.client.stream(
                "POST", self.url("v1/text-to-video"), json=self.build_body(request), headers=hdrs
            ) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise self.classify(r, what=what)
                accepted = True
                request_id = r.headers.get("x-request-id")
                ctype = r.headers.get("content-type", "")
                data, expected = await read_capped(r, what=what)
        except httpx.HTTPError as exc:
            err = transport_error(exc, self.redact, what=what)
            if accepted or isinstance(exc, httpx.ReadTimeout):
                # the body was cut, or LTX was still generating when we stopped waiting
                raise self.lost(err.reason, request_id) from None
            raise err from None
        if "json" in ctype or not data:
            raise ProviderError(
                "fatal", self.redact(f"{what}: expected an MP4 body, got {ctype or 'nothing'}: {data[:200]!r}")
            )
        if expected is not None and expected != len(data):
            raise self.lost(f"{what}: got {len(data)} of {expected} bytes", request_id)
        job_id = f"ltx-{request.key()}"
        self._clips[job_id] = data
        return job_id

    async def poll(self, job_id: str) -> JobStatus:
        if job_id in self._clips:
            return JobStatus("done")
        return JobStatus(
            "failed", reason="LTX calls are synchronous; this clip was lost with its process", kind="not_found"
        )

    async def download(self, job_id: str) -> bytes:
        try:
            return self._clips.pop(job_id)
        except KeyError:
            raise ProviderError("not_found", f"no clip kept for {job_id}") from None


def make_ltx(model: str, params: Mapping[str, Any]) -> LtxProvider:
    """Factory for ``ltx/<model>``."""
    if model not in LTX_MODELS:
        raise UnknownModel(model)
    check_params(params, ("resend_lost",), provider_id=f"ltx/{model}")
    return LtxProvider(model, params)
