"""A real HTTP server on 127.0.0.1 that speaks each provider's protocol, with fault injection.

Base URLs look like ``http://127.0.0.1:PORT/<vendor>/<scenario>``; the rest of the path is
the vendor's own (``/v1beta/models/...``, ``/v1/videos/text2video``, ``/fal-ai/veo3.1`` ...).
The scenario is ``+``-joined tokens that inject faults for every request under that prefix:

==============  ==================================================================================
``ok``          normal behaviour (jobs finish after ``job_seconds``)
``delay=S``     jobs finish after S seconds
``hang``        jobs never finish
``r429``        the first submission is answered 429 with ``Retry-After: 1`` (Kling: code 1303)
``e500``        the first submission is answered 500
``p500``        the first poll is answered 500
``slowpoll``    the first poll answers only after 4 s (the client waits 2 s: a sure timeout, and room for a loaded machine)
``auth``        every API call is 401 (the error body echoes the key, to test redaction)
``quota``       submission refused for lack of credit (Kling 1102, Replicate 402, ...)
``policy``      submission refused by content moderation (Kling 1301, fal 422, DashScope ...)
``fail``        the job fails with the provider's own message (fal: COMPLETED with error)
``safety``      the job succeeds with no video (Veo: raiMediaFilteredCount/Reasons)
``retired``     the Gemini model list lacks the model and predictLongRunning answers 404
``expired``     the result link answers 410 (Kling: 403 on the signed URL)
``drop``        the first media download is cut mid-body; ``dropall``: every one
``noaudio``     the MP4 has no audio stream; ``corrupt``: the bytes are not media
``cutsubmit``   the first submission creates its job, then the connection is cut with no answer
``slowsubmit``  the first submission creates its job, then answers only after 2 s (a read timeout)
``locked``      fal: every call is 403 "User is locked. Reason: Exhausted balance"
``needsaction`` Omni: the interaction polls as ``requires_action``
``nolist``      the vendor's lookup lists nothing (Kling task list, Replicate predictions, fal requests)
==============  ==================================================================================

Besides the generation protocols it serves what the lookups and ``workbench probe`` read:
Kling's task list, Replicate's prediction list and model schemas, fal's Platform API (model
search with OpenAPI schemas, requests by endpoint, under ``/falapi/<scenario>``), and the
invalid-input answers of Vertex, Kling, DashScope and LTX (a 4xx, no job created).

The server checks each vendor's auth header (Kling JWTs are verified with HMAC-SHA256),
validates request bodies as the docs describe, records every body, and counts *created*
jobs per (vendor, model, prompt, seed, body hash) so tests can assert there are no duplicates
(the hash leaves out per-submission references such as Kling's ``external_task_id``, so a
resent request counts as a duplicate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import make_mp4

#: Fake credentials the server expects (tests put them in the environment with ``ENV``).
KEYS = {
    "gemini": "FAKEgeminiKEY-000111",
    "vertex": "FAKEvertexTOKEN-000222",
    "kling_ak": "FAKEklingAK-000333",
    "kling_sk": "FAKEklingSK-000444",
    "kling_api": "FAKEklingAPIKEY-000999",
    "fal": "FAKEfalKEY-000555:secretpart",
    "replicate": "FAKEreplicate-000666",
    "dashscope": "FAKEdashscope-000777",
    "ltx": "FAKEltxKEY-000888",
}
ENV = {
    "GEMINI_API_KEY": KEYS["gemini"],
    "GOOGLE_CLOUD_ACCESS_TOKEN": KEYS["vertex"],
    "GOOGLE_CLOUD_PROJECT": "proj-test",
    "KLING_ACCESS_KEY": KEYS["kling_ak"],
    "KLING_SECRET_KEY": KEYS["kling_sk"],
    "FAL_KEY": KEYS["fal"],
    "REPLICATE_API_TOKEN": KEYS["replicate"],
    "DASHSCOPE_API_KEY": KEYS["dashscope"],
    "LTX_API_KEY": KEYS["ltx"],
}
UNSET = ("GOOGLE_API_KEY", "KLING_API_KEY", "LTXV_API_KEY", "GOOGLE_CLOUD_LOCATION")

#: Body fields that differ between two sendings of the same request (not part of the duplicate count).
SUBMISSION_REFS = frozenset({"external_task_id"})

SIGNATURE = "sig-SECRET-TOKEN-0123456789"
"""Query token on result URLs, standing in for a pre-signed link's signature."""


def _enum(*values: Any) -> dict[str, Any]:
    return {"enum": list(values)}


_S, _I, _B, _N = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}
_VEO31 = {
    "prompt": _S,
    "aspect_ratio": _enum("16:9", "9:16"),
    "duration": _enum("4s", "6s", "8s"),
    "resolution": _S,
    "negative_prompt": _S,
    "seed": _I,
    "generate_audio": _B,
    "auto_fix": _B,
    "safety_tolerance": _S,
}
_HH = {"prompt": _S, "duration": _I, "resolution": _S, "aspect_ratio": _S, "seed": _I, "enable_safety_checker": _B}
#: fal input properties per endpoint, after fal-js endpoints.ts @381105e1 (what the fake Platform API serves).
FAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "fal-ai/veo3.1": _VEO31,
    "fal-ai/veo3.1/fast": _VEO31,
    "fal-ai/kling-video/v2.6/pro/text-to-video": {
        "prompt": _S,
        "duration": _enum("5", "10"),
        "aspect_ratio": _S,
        "negative_prompt": _S,
        "cfg_scale": _N,
        "generate_audio": _B,
    },
    "fal-ai/kling-video/v3/pro/text-to-video": {
        "prompt": _S,
        "duration": _enum(*map(str, range(3, 16))),
        "aspect_ratio": _S,
        "negative_prompt": _S,
        "cfg_scale": _N,
        "generate_audio": _B,
        "multi_prompt": {"type": "array"},
    },
    "alibaba/happy-horse/text-to-video": _HH,
    "alibaba/happy-horse/v1.1/text-to-video": _HH,
    "fal-ai/ltx-2.3/text-to-video": {
        "prompt": _S,
        "duration": _enum(6, 8, 10),
        "resolution": _S,
        "fps": _I,
        "aspect_ratio": _S,
        "generate_audio": _B,
    },
    "fal-ai/ltx-2-19b/text-to-video": {
        "prompt": _S,
        "num_frames": _I,
        "fps": _N,
        "generate_audio": _B,
        "seed": _I,
        "video_size": _enum("landscape_4_3", "landscape_16_9", "portrait_16_9"),
        "enable_prompt_expansion": _B,
        "negative_prompt": _S,
        "guidance_scale": _N,
    },
    "fal-ai/ovi": {
        "prompt": _S,
        "negative_prompt": _S,
        "audio_negative_prompt": _S,
        "num_inference_steps": _I,
        "resolution": _enum("512x992", "992x512", "960x512", "512x960", "720x720"),
        "seed": _I,
    },
    "fal-ai/bytedance/seedance/v1.5/pro/text-to-video": {
        "prompt": _S,
        "duration": _enum(*map(str, range(4, 13))),
        "resolution": _S,
        "aspect_ratio": _S,
        "camera_fixed": _B,
        "seed": _I,
        "enable_safety_checker": _B,
        "generate_audio": _B,
    },
    "fal-ai/wan-25-preview/text-to-video": {
        "prompt": _S,
        "duration": _enum("5", "10"),
        "resolution": _S,
        "aspect_ratio": _S,
        "negative_prompt": _S,
        "enable_prompt_expansion": _B,
        "seed": _I,
        "audio_url": _S,
    },
    "fal-ai/wan/v2.7/text-to-video": {
        "prompt": _S,
        "duration": _I,
        "resolution": _S,
        "aspect_ratio": _S,
        "negative_prompt": _S,
        "enable_prompt_expansion": _B,
        "seed": _I,
        "audio_url": _S,
    },
    "google/gemini-omni-flash": {"prompt": _S, "aspect_ratio": _S, "duration": _N},
}
_RVEO = {
    "properties": {
        "prompt": _S,
        "aspect_ratio": _S,
        "duration": _enum(4, 6, 8),
        "image": _S,
        "negative_prompt": _S,
        "resolution": _S,
        "generate_audio": _B,
        "seed": _I,
    }
}
#: Replicate ``Input`` schemas per model, after the replicate.com /api pages (what the fake serves).
REPLICATE_SCHEMAS: dict[str, dict[str, Any]] = {
    "google/veo-3.1": _RVEO,
    "google/veo-3.1-fast": _RVEO,
    "kwaivgi/kling-v2.6": {"properties": {"prompt": _S, "negative_prompt": _S, "start_image": _S, "aspect_ratio": _S,
                                          "duration": _enum(5, 10), "generate_audio": _B}},
    "kwaivgi/kling-v3-video": {"properties": {"prompt": _S, "mode": _S, "duration": _I, "aspect_ratio": _S,
                                              "generate_audio": _B, "negative_prompt": _S}},
    "wan-video/wan-2.7-t2v": {"properties": {"prompt": _S, "negative_prompt": _S, "audio": _S, "resolution": _S,
                                             "aspect_ratio": _S, "duration": _I, "enable_prompt_expansion": _B,
                                             "seed": _I}},
}  # fmt: skip


def use_fake_keys(monkeypatch: Any, server: FakeProviderServer) -> dict[str, str]:
    """Put the fake credentials in the environment (and nothing else a real key could be mistaken for)."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    for k in UNSET:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WORKBENCH_GCS_BASE_URL", server.url("gcs", "ok"))
    return ENV


@dataclass
class Job:
    id: str
    vendor: str
    scenario: set[str]
    model: str
    prompt: str
    seed: Any
    base: str
    created: float
    done_after: float | None
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    wall: float = field(default_factory=time.time)

    def finished(self) -> bool:
        return self.done_after is not None and time.monotonic() - self.created >= self.done_after


class FakeProviderServer:
    """The fake providers; ``start()`` binds a free port on 127.0.0.1 and serves in a thread."""

    def __init__(self, keys: dict[str, str], *, job_seconds: float = 0.15) -> None:
        self.keys = keys
        self.job_seconds = job_seconds
        self.jobs: dict[str, Job] = {}
        self.created: Counter[tuple[str, str, str, Any, str]] = Counter()
        self.bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.hits: Counter[tuple[str, str]] = Counter()
        self.log: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()
        self._clips: dict[tuple[int, bool], bytes] = {}
        self.httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeProviderServer:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def origin(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, vendor: str, scenario: str = "ok") -> str:
        """The base URL of a vendor under a fault scenario."""
        return f"{self.origin}/{vendor}/{scenario}"

    # -- helpers for tests -------------------------------------------------------------------
    def duplicates(self) -> dict[tuple[str, str, str, Any, str], int]:
        """Submissions that created more than one job."""
        return {k: n for k, n in self.created.items() if n > 1}

    def first_hit(self, scenario: str, phase: str) -> bool:
        """True the first time (``vendor/scenario``, phase) is seen on this server."""
        with self.lock:
            self.hits[(scenario, phase)] += 1
            return self.hits[(scenario, phase)] == 1

    def clip(self, job_id: str, *, audio: bool) -> bytes:
        tone = 200 + (int(hashlib.sha256(job_id.encode()).hexdigest()[:6], 16) % 24) * 25
        key = (tone, audio)
        with self.lock:
            if key not in self._clips:
                self._clips[key] = make_mp4(duration_s=1.0, size=(64, 48), audio=audio, tone_hz=float(tone))
            return self._clips[key]

    def new_job(
        self, vendor: str, scenario: set[str], base: str, model: str, prompt: str, seed: Any, self_body: Any = None
    ) -> Job:
        """Create a job; identical request bodies count as the same submission."""
        delay = next((float(t.split("=", 1)[1]) for t in scenario if t.startswith("delay=")), self.job_seconds)
        job = Job(uuid.uuid4().hex, vendor, scenario, model, prompt, seed, base, time.monotonic(),
                  None if "hang" in scenario else delay)  # fmt: skip
        same = (
            {k: v for k, v in self_body.items() if k not in SUBMISSION_REFS}
            if isinstance(self_body, dict)
            else self_body
        )
        body = hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:12]
        with self.lock:
            self.jobs[job.id] = job
            self.created[(vendor, model, prompt, seed, body)] += 1
        return job

    def media_url(self, job: Job) -> str:
        return f"{job.base}/media/{job.id}.mp4?token={SIGNATURE}"


# -- protocol handler ------------------------------------------------------------------------------


class _Sent(Exception):
    """The reply was already written (or cut on purpose)."""


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeProviderServer:
        return self.server.fake  # type: ignore[attr-defined]

    # -- plumbing ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        parts = urlsplit(self.path)
        segs = parts.path.strip("/").split("/")
        status = 500
        try:
            if len(segs) < 2:
                raise _Reply(404, {"error": "no vendor/scenario prefix"})
            vendor, scen, rest = segs[0], segs[1], "/".join(segs[2:])
            self.vendor, self.scenario_name = vendor, scen
            self.scenario = set(scen.split("+"))
            self.base = f"{self.fake.origin}/{vendor}/{scen}"
            self.query = parse_qs(parts.query)
            try:
                self.body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                raise _Reply(400, {"error": "body is not JSON"}) from None
            if rest.startswith("media/"):
                status = self._media(rest.removeprefix("media/").removesuffix(".mp4"))
                return
            handler = getattr(self, f"_{vendor}", None)
            if handler is None:
                raise _Reply(404, {"error": f"unknown vendor {vendor}"})
            handler(method, rest)
        except _Reply as r:
            status = r.status
            try:
                self._send(r.status, r.body, r.headers)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True
        except _Sent:
            status = 200
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            self.fake.log.append((time.time(), method, self.path, status))

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):
            data, ctype = body, "video/mp4"
        else:
            data, ctype = json.dumps(body).encode(), "application/json"
        hdrs = dict(headers or {})
        self.send_response(status)
        self.send_header("Content-Type", hdrs.pop("Content-Type", ctype))
        self.send_header("Content-Length", str(len(data)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _ok(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        raise _Reply(status, body, headers)

    def _has(self, token: str) -> bool:
        return token in self.scenario

    def _once(self, token: str, phase: str) -> bool:
        return self._has(token) and self.fake.first_hit(f"{self.vendor}/{self.scenario_name}", phase)

    def _job(self, job_id: str, err: Any) -> Job:
        job = self.fake.jobs.get(job_id)
        if job is None or job.vendor != self.vendor:
            raise _Reply(404, err)
        job.polls += 1
        return job

    def _poll_faults(self, err500: Any) -> None:
        if self._once("p500", "poll"):
            raise _Reply(500, err500)
        if self._once("slowpoll", "poll"):
            time.sleep(4.0)

    def _after_accept(self) -> None:
        """Lost-answer faults, after the job was created: cut the connection, or answer too late."""
        if self._once("cutsubmit", "accept"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            raise _Sent
        if self._once("slowsubmit", "accept"):
            time.sleep(2.0)

    def _record(self, vendor: str, body: Any) -> None:
        with self.fake.lock:
            self.fake.bodies[vendor].append(body)

    def _media(self, job_id: str) -> int:
        job = self.fake.jobs.get(job_id)
        if job is None or self.query.get("token", [""])[0] != SIGNATURE:
            raise _Reply(404, {"error": "no such file"})
        if self._has("expired"):
            raise _Reply(403 if job.vendor == "kling" else 410, {"error": f"link expired: {self.path}"})
        data = (
            b"this is not an mp4 file " * 40
            if self._has("corrupt")
            else self.fake.clip(job.id, audio=not self._has("noaudio"))
        )
        if self._has("dropall") or self._once("drop", "media"):
            self._cut(data)
        self._send(200, data)
        return 200

    def _cut(self, data: bytes) -> None:
        """Announce the whole body, send a third of it, then drop the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 3])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)
        raise _Sent

    # -- Google: Gemini API (Veo + Interactions) -----------------------------------------------
    def _google_err(self, code: int, status: str, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message, "status": status}}

    def _gemini(self, method: str, rest: str) -> None:
        key = self.headers.get("x-goog-api-key", "")
        if self._has("auth") or key != self.fake.keys["gemini"]:
            raise _Reply(400 if key else 401, self._google_err(400, "INVALID_ARGUMENT", f"API key not valid: {key}"))
        all_models = ["veo-3.1-generate-001", "veo-3.1-fast-generate-001", "gemini-omni-1.1-flash", "gemini-2.5-flash"]
        if self._has("retired"):
            all_models = [m for m in all_models if m != "veo-3.1-generate-001"]
        if method == "GET" and rest == "v1beta/models":
            start = int(self.query.get("pageToken", ["0"])[0])
            page = {"models": [{"name": f"models/{m}"} for m in all_models[start : start + 2]]}
            if start + 2 < len(all_models):
                page["nextPageToken"] = str(start + 2)
            self._ok(page)
        if m := re.fullmatch(r"v1beta/models/([^/:]+):predictLongRunning", rest):
            model = m.group(1)
            if model not in all_models:
                raise _Reply(404, self._google_err(404, "NOT_FOUND", f"models/{model} is no longer available"))
            if self._once("r429", "submit"):
                raise _Reply(429, self._google_err(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), {"Retry-After": "1"})
            if self._once("e500", "submit"):
                raise _Reply(500, self._google_err(500, "INTERNAL", "internal error"))
            b = self.body or {}
            self._record("gemini-veo", b)
            params, inst = b.get("parameters") or {}, (b.get("instances") or [{}])[0]
            if "generateAudio" in params:
                raise _Reply(
                    400,
                    self._google_err(
                        400, "INVALID_ARGUMENT", "generateAudio parameter is not supported in Gemini API."
                    ),
                )
            if "seed" in params:
                raise _Reply(
                    400, self._google_err(400, "INVALID_ARGUMENT", "seed parameter is not supported in Gemini API.")
                )
            if not isinstance(inst.get("prompt"), str) or params.get("durationSeconds") not in (4, 6, 8):
                raise _Reply(400, self._google_err(400, "INVALID_ARGUMENT", "bad prompt or durationSeconds"))
            if params.get("aspectRatio") not in ("16:9", "9:16"):
                raise _Reply(400, self._google_err(400, "INVALID_ARGUMENT", "bad aspectRatio"))
            job = self.fake.new_job("gemini", self.scenario, self.base, model, inst["prompt"], None, self.body)
            self._after_accept()
            self._ok({"name": f"models/{model}/operations/{job.id}"})
        if m := re.fullmatch(r"v1beta/models/([^/]+)/operations/([^/]+)", rest):
            job = self._job(m.group(2), self._google_err(404, "NOT_FOUND", "operation not found"))
            self._poll_faults(self._google_err(500, "INTERNAL", "internal error"))
            op: dict[str, Any] = {"name": f"models/{m.group(1)}/operations/{job.id}"}
            if not job.finished():
                self._ok({**op, "done": False})
            if self._has("fail"):
                self._ok(
                    {**op, "done": True, "error": {"code": 13, "message": "Video generation failed on the backend."}}
                )
            gvr: dict[str, Any]
            if self._has("safety"):
                gvr = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [
                    "We encountered an issue with the audio for your prompt, which means we could not create your video."]}  # fmt: skip
            else:
                gvr = {
                    "generatedSamples": [{"video": {"uri": f"{self.base}/v1beta/files/{job.id}:download?alt=media"}}]
                }
            self._ok({**op, "done": True, "response": {"@type": "type.googleapis.com/x", "generateVideoResponse": gvr}})
        if m := re.fullmatch(r"v1beta/files/([^/:]+):download", rest):
            job = self._job(m.group(1), self._google_err(404, "NOT_FOUND", "file not found"))
            self._ok({}, 302, {"Location": self.fake.media_url(job)})
        if method == "POST" and rest == "v1beta/interactions":
            if self._once("e500", "submit"):
                raise _Reply(500, self._google_err(500, "INTERNAL", "internal error"))
            b = self.body or {}
            self._record("gemini-omni", b)
            fmt = b.get("response_format") or {}
            if fmt.get("type") != "video" or not b.get("background") or not isinstance(b.get("input"), str):
                raise _Reply(400, self._google_err(400, "INVALID_ARGUMENT", "expected a background video interaction"))
            seed = (b.get("generation_config") or {}).get("seed")
            job = self.fake.new_job("gemini", self.scenario, self.base, b.get("model", ""), b["input"], seed, self.body)
            job.extra["delivery"] = fmt.get("delivery", "inline")
            self._after_accept()
            self._ok({"id": job.id, "status": "in_progress", "model": b.get("model")})
        if m := re.fullmatch(r"v1beta/interactions/([^/]+)", rest):
            job = self._job(m.group(1), self._google_err(404, "NOT_FOUND", "interaction not found"))
            self._poll_faults(self._google_err(500, "INTERNAL", "internal error"))
            if self._has("needsaction"):
                self._ok({"id": job.id, "status": "requires_action"})
            if not job.finished():
                self._ok({"id": job.id, "status": "in_progress"})
            if self._has("fail"):
                self._ok(
                    {
                        "id": job.id,
                        "status": "failed",
                        "errors": [{"code": "internal", "message": "generation crashed"}],
                    }
                )
            steps: list[dict[str, Any]] = [{"type": "user_input", "content": [{"type": "text", "text": job.prompt}]}]
            if not self._has("safety"):
                if job.extra["delivery"] == "uri":
                    item = {"type": "video", "uri": f"{self.base}/v1beta/files/{job.id}:download?alt=media"}
                else:
                    item = {"type": "video", "data": base64.b64encode(self.fake.clip(job.id, audio=True)).decode()}
                steps.append({"type": "model_output", "content": [{**item, "mime_type": "video/mp4"}]})
            self._ok({"id": job.id, "status": "completed", "steps": steps})
        raise _Reply(404, self._google_err(404, "NOT_FOUND", f"no route {method} {rest}"))

    # -- Google: Vertex AI -----------------------------------------------------------------------
    def _vertex(self, method: str, rest: str) -> None:
        tok = self.headers.get("Authorization", "")
        if self._has("auth") or tok != f"Bearer {self.fake.keys['vertex']}":
            raise _Reply(
                401, self._google_err(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            )
        pat = r"v1/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+):(predictLongRunning|fetchPredictOperation)"
        m = re.fullmatch(pat, rest)
        if not m or method != "POST":
            raise _Reply(404, self._google_err(404, "NOT_FOUND", f"no route {rest}"))
        project, loc, model, verb = m.groups()
        b = self.body or {}
        if verb == "predictLongRunning":
            if self._once("e500", "submit"):
                raise _Reply(500, self._google_err(500, "INTERNAL", "internal error"))
            if model not in ("veo-3.1-generate-001", "veo-3.1-fast-generate-001", "veo-3.1-lite-generate-001"):
                raise _Reply(404, self._google_err(404, "NOT_FOUND", f"Publisher Model `{model}` was not found"))
            if not b.get("instances"):  # the probe's invalid input: nothing to generate
                raise _Reply(400, self._google_err(400, "INVALID_ARGUMENT", "instances must not be empty"))
            self._record("vertex", b)
            params, inst = b.get("parameters") or {}, (b.get("instances") or [{}])[0]
            if params.get("generateAudio") is not True or params.get("durationSeconds") not in (4, 6, 8):
                raise _Reply(400, self._google_err(400, "INVALID_ARGUMENT", "bad parameters"))
            job = self.fake.new_job(
                "vertex", self.scenario, self.base, model, inst.get("prompt", ""), params.get("seed"), self.body
            )
            job.extra["storage"] = params.get("storageUri")
            name = f"projects/{project}/locations/{loc}/publishers/google/models/{model}/operations/{job.id}"
            self._after_accept()
            self._ok({"name": name})
        op_name = str(b.get("operationName", ""))
        job = self._job(op_name.rsplit("/", 1)[-1], self._google_err(404, "NOT_FOUND", "operation not found"))
        self._poll_faults(self._google_err(500, "INTERNAL", "internal error"))
        if not job.finished():
            self._ok({"name": op_name, "done": False})
        if self._has("safety"):
            resp = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["filtered by safety"]}
        elif job.extra.get("storage"):
            resp = {
                "videos": [
                    {"gcsUri": f"{job.extra['storage'].rstrip('/')}/{job.id}/sample_0.mp4", "mimeType": "video/mp4"}
                ]
            }
        else:
            data = base64.b64encode(self.fake.clip(job.id, audio=not self._has("noaudio"))).decode()
            resp = {"videos": [{"bytesBase64Encoded": data, "mimeType": "video/mp4"}]}
        self._ok({"name": op_name, "done": True, "response": {"raiMediaFilteredCount": 0, **resp}})

    def _gcs(self, method: str, rest: str) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.fake.keys['vertex']}":
            raise _Reply(401, {"error": {"code": 401, "message": "Anonymous caller"}})
        m = re.fullmatch(r"download/storage/v1/b/([^/]+)/o/(.+)", rest)
        if not m or self.query.get("alt") != ["media"]:
            raise _Reply(404, {"error": {"code": 404, "message": "No such object"}})
        job_id = m.group(2).replace("%2F", "/").split("/")[-2]
        self._ok(self.fake.clip(job_id, audio=True))

    # -- Kling -------------------------------------------------------------------------------------
    def _kling_auth(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        tok = auth.removeprefix("Bearer ")
        if self.fake.keys.get("kling_api") and tok == self.fake.keys["kling_api"]:
            return True
        try:
            h, p, s = tok.split(".")
            want = hmac.new(self.fake.keys["kling_sk"].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
            head, claims = json.loads(_b64url_decode(h)), json.loads(_b64url_decode(p))
        except (ValueError, KeyError):
            return False
        now = time.time()
        return (
            hmac.compare_digest(want, _b64url_decode(s))
            and head == {"alg": "HS256", "typ": "JWT"}
            and claims.get("iss") == self.fake.keys["kling_ak"]
            and claims["nbf"] <= now < claims["exp"]
        )

    def _kling(self, method: str, rest: str) -> None:
        def err(code: int, msg: str) -> dict[str, Any]:
            return {"code": code, "message": msg, "request_id": uuid.uuid4().hex}

        if self._has("auth") or not self._kling_auth():
            raise _Reply(401, err(1002, f"Authorization is invalid: {self.headers.get('Authorization', '')}"))
        if method == "POST" and rest == "v1/videos/text2video":
            if self._once("r429", "submit"):
                raise _Reply(429, err(1303, "parallel task over resource pack limit"))
            if self._once("e500", "submit"):
                raise _Reply(500, err(5000, "server internal error"))
            if self._has("quota"):
                raise _Reply(429, err(1102, "resource pack depleted"))
            if self._has("policy"):
                raise _Reply(400, err(1301, "prompt triggers the content security policy"))
            b = self.body or {}
            if b.get("model_name") not in ("kling-v2-6", "kling-v3"):
                raise _Reply(400, err(1201, f"model_name is invalid: {b.get('model_name')}"))
            if not b.get("prompt"):  # the probe's invalid input
                raise _Reply(400, err(1201, "prompt is required"))
            self._record("kling", b)
            if not isinstance(b.get("duration"), str):
                raise _Reply(400, err(1201, "invalid duration"))
            if b.get("sound") == "on" and b.get("mode") != "pro":
                raise _Reply(400, err(1201, "sound requires mode pro"))
            job = self.fake.new_job(
                "kling", self.scenario, self.base, b["model_name"], b.get("prompt", ""), None, self.body
            )
            job.extra["external_task_id"] = b.get("external_task_id")
            self._after_accept()
            self._ok({"code": 0, "message": "SUCCEED", "request_id": "r", "data": {
                "task_id": job.id, "task_status": "submitted", "created_at": int(job.wall * 1000),
                "task_info": {"external_task_id": b.get("external_task_id")}, "updated_at": 1}})  # fmt: skip
        if method == "GET" and rest == "v1/videos/text2video":
            page, size = int(self.query.get("pageNum", ["1"])[0]), int(self.query.get("pageSize", ["30"])[0])
            tasks = (
                []
                if self._has("nolist")
                else sorted((j for j in list(self.fake.jobs.values()) if j.vendor == "kling"), key=lambda j: -j.wall)
            )
            data = [{"task_id": j.id, "task_status": "succeed" if j.finished() else "processing",
                     "task_info": {"external_task_id": j.extra.get("external_task_id")},
                     "created_at": int(j.wall * 1000), "updated_at": int(j.wall * 1000)}
                    for j in tasks[(page - 1) * size : page * size]]  # fmt: skip
            self._ok({"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})
        if m := re.fullmatch(r"v1/videos/text2video/([^/]+)", rest):
            job = self._job(m.group(1), err(1203, "task not found"))
            self._poll_faults(err(5000, "server internal error"))
            data: dict[str, Any] = {"task_id": job.id, "task_status": "processing", "task_status_msg": ""}
            if job.finished():
                if self._has("fail"):
                    data.update(task_status="failed", task_status_msg="Failure to pass the risk control system")
                else:
                    videos = (
                        [] if self._has("safety") else [{"id": "v", "url": self.fake.media_url(job), "duration": "5"}]
                    )
                    data.update(task_status="succeed", task_result={"videos": videos})
            self._ok({"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})
        raise _Reply(404, err(1203, f"no route {rest}"))

    # -- fal -----------------------------------------------------------------------------------------
    def _fal(self, method: str, rest: str) -> None:
        if self._has("auth") or self.headers.get("Authorization") != f"Key {self.fake.keys['fal']}":
            raise _Reply(401, {"detail": f"No user found for Key {self.headers.get('Authorization', '')}"})
        if self._has("locked"):
            raise _Reply(403, {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai"})
        if m := re.fullmatch(r"([^/]+/[^/]+)/requests/([^/]+)(/status)?", rest):
            job = self._job(m.group(2), {"detail": "Request not found"})
            if job.model.split("/")[:2] != m.group(1).split("/"):
                raise _Reply(404, {"detail": "Request not found for this app"})
            if m.group(3):
                self._poll_faults({"detail": "Internal Server Error"})
                if not job.finished():
                    self._ok({"status": "IN_PROGRESS" if job.polls > 1 else "IN_QUEUE", "queue_position": 0})
                if self._has("fail"):
                    self._ok(
                        {
                            "status": "COMPLETED",
                            "error": "Inference failed: CUDA out of memory",
                            "error_type": "internal_error",
                        }
                    )
                self._ok({"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 1.0}})
            if not job.finished():
                raise _Reply(400, {"detail": "Request is still in progress"})
            if self._has("safety"):
                self._ok({"video": None, "has_nsfw_concepts": [True]})
            self._ok({"video": {"url": self.fake.media_url(job), "content_type": "video/mp4", "file_name": "output.mp4"},
                      "seed": job.seed})  # fmt: skip
        if method == "POST":
            endpoint = rest
            if self._once("r429", "submit"):
                raise _Reply(429, {"detail": "Too many requests"}, {"Retry-After": "1"})
            if self._once("e500", "submit"):
                raise _Reply(500, {"detail": "Internal Server Error"})
            if self._has("policy"):
                raise _Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "The content could not be processed "
                                               "because it contained material flagged by a content checker.",
                                               "type": "content_policy_violation"}]})  # fmt: skip
            b = self.body or {}
            self._record("fal", {"endpoint": endpoint, **b})
            if not isinstance(b.get("prompt"), str):
                raise _Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]})
            if endpoint.startswith("fal-ai/veo3.1") and b.get("duration") not in ("4s", "6s", "8s"):
                raise _Reply(422, {"detail": [{"loc": ["body", "duration"], "msg": "must be 4s, 6s or 8s"}]})
            job = self.fake.new_job("fal", self.scenario, self.base, endpoint, b["prompt"], b.get("seed"), self.body)
            job.extra["input"] = b
            self._after_accept()
            app = "/".join(endpoint.split("/")[:2])
            req = f"{self.base}/{app}/requests/{job.id}"
            self._ok({"request_id": job.id, "response_url": req, "status_url": f"{req}/status",
                      "cancel_url": f"{req}/cancel", "queue_position": 0})  # fmt: skip
        raise _Reply(404, {"detail": "Not Found"})

    # -- fal Platform API (model search with schemas, requests by endpoint) -----------------------------
    def _falapi(self, method: str, rest: str) -> None:
        if self.headers.get("Authorization") != f"Key {self.fake.keys['fal']}":
            raise _Reply(401, {"detail": "Invalid API key"})
        if method == "GET" and rest == "v1/models":
            models = []
            for eid in self.query.get("endpoint_id", []):
                props = FAL_SCHEMAS.get(eid)
                if props is None:
                    continue
                m: dict[str, Any] = {"endpoint_id": eid, "metadata": {"display_name": eid, "status": "active",
                                                                     "category": "text-to-video"}}  # fmt: skip
                if "openapi-3.0" in self.query.get("expand", []):
                    ref = {"$ref": "#/components/schemas/Input"}
                    m["openapi"] = {"openapi": "3.0.4",
                                    "paths": {f"/{eid}": {"post": {"requestBody": {"content": {
                                        "application/json": {"schema": ref}}}}}},
                                    "components": {"schemas": {"Input": {"type": "object", "properties": props}}}}  # fmt: skip
                models.append(m)
            self._ok({"models": models, "next_cursor": None, "has_more": False})
        if method == "GET" and rest == "v1/models/requests/by-endpoint":
            eid = self.query.get("endpoint_id", [""])[0]
            start = self.query.get("start", [""])[0]
            since = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() if start else time.time() - 86400
            jobs = [] if self._has("nolist") else sorted(
                (j for j in list(self.fake.jobs.values()) if j.vendor == "fal" and j.model == eid and j.wall >= since),
                key=lambda j: -j.wall)  # fmt: skip
            items = [{"request_id": j.id, "endpoint_id": eid, "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                      time.gmtime(j.wall)), "json_input": j.extra.get("input")} for j in jobs]  # fmt: skip
            self._ok({"items": items, "next_cursor": None, "has_more": False})
        raise _Reply(404, {"detail": "Not Found"})

    # -- Replicate -------------------------------------------------------------------------------------
    def _replicate(self, method: str, rest: str) -> None:
        def problem(status: int, detail: str) -> dict[str, Any]:
            return {"title": "error", "detail": detail, "status": status}

        auth = self.headers.get("Authorization", "")
        if self._has("auth") or auth != f"Bearer {self.fake.keys['replicate']}":
            raise _Reply(401, problem(401, f"Invalid token: {auth}"))
        if method == "POST" and (m := re.fullmatch(r"v1/models/([^/]+/[^/]+)/predictions", rest)):
            if self._once("r429", "submit"):
                raise _Reply(429, problem(429, "Request was throttled."), {"Retry-After": "1"})
            if self._once("e500", "submit"):
                raise _Reply(500, problem(500, "Internal server error"))
            if self._has("quota"):
                raise _Reply(402, problem(402, "You have insufficient credit to run this model."))
            b = self.body or {}
            self._record("replicate", {"model": m.group(1), **b})
            inp = b.get("input")
            if not isinstance(inp, dict) or not isinstance(inp.get("prompt"), str):
                raise _Reply(422, problem(422, "input.prompt is required"))
            job = self.fake.new_job(
                "replicate", self.scenario, self.base, m.group(1), inp["prompt"], inp.get("seed"), self.body
            )
            job.extra["input"] = inp
            self._after_accept()
            self._ok(self._prediction(job), 201)
        if method == "GET" and rest == "v1/predictions":
            jobs = (
                []
                if self._has("nolist")
                else sorted(
                    (j for j in list(self.fake.jobs.values()) if j.vendor == "replicate"), key=lambda j: -j.wall
                )
            )
            self._ok({"next": None, "previous": None, "results": [self._prediction(j) for j in jobs]})
        if method == "GET" and (m := re.fullmatch(r"v1/models/([^/]+/[^/]+)", rest)):
            schema = REPLICATE_SCHEMAS.get(m.group(1))
            if schema is None:
                raise _Reply(404, problem(404, "Not found."))
            owner, name = m.group(1).split("/")
            self._ok({"owner": owner, "name": name, "latest_version": {"id": "v" + uuid.uuid4().hex[:8],
                      "openapi_schema": {"components": {"schemas": {"Input": {"type": "object", **schema}}}}}})  # fmt: skip
        if m := re.fullmatch(r"v1/predictions/([^/]+)", rest):
            job = self._job(m.group(1), problem(404, "Not found."))
            self._poll_faults(problem(500, "Internal server error"))
            self._ok(self._prediction(job))
        raise _Reply(404, problem(404, "Not found."))

    def _prediction(self, job: Job) -> dict[str, Any]:
        get = f"{self.base}/v1/predictions/{job.id}"
        p: dict[str, Any] = {"id": job.id, "model": job.model, "status": "starting" if job.polls == 0 else "processing",
                             "input": job.extra.get("input", {"prompt": job.prompt}), "output": None, "error": None,
                             "logs": "", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(job.wall))
                             + f".{int(job.wall % 1 * 1e6):06d}Z",
                             "urls": {"get": get, "cancel": f"{get}/cancel", "web": f"https://replicate.invalid/p/{job.id}"}}  # fmt: skip
        if job.finished():
            if self._has("fail"):
                p.update(
                    status="failed", error="The input or output was flagged as sensitive. Please try again. (E005)"
                )
            else:
                p.update(status="succeeded", output=None if self._has("safety") else self.fake.media_url(job))
        return p

    # -- DashScope -------------------------------------------------------------------------------------
    def _dashscope(self, method: str, rest: str) -> None:
        def err(code: str, msg: str) -> dict[str, Any]:
            return {"request_id": uuid.uuid4().hex, "code": code, "message": msg}

        auth = self.headers.get("Authorization", "")
        if self._has("auth") or auth != f"Bearer {self.fake.keys['dashscope']}":
            raise _Reply(401, err("InvalidApiKey", f"Invalid API-key provided: {auth}"))
        if method == "POST" and rest == "api/v1/services/aigc/video-generation/video-synthesis":
            if self.headers.get("X-DashScope-Async") != "enable":
                raise _Reply(403, err("AccessDenied", "current user api does not support synchronous calls"))
            if self._once("r429", "submit"):
                raise _Reply(429, err("Throttling.RateQuota", "Requests rate limit exceeded"), {"Retry-After": "1"})
            if self._once("e500", "submit"):
                raise _Reply(500, err("InternalError", "internal error"))
            if self._has("policy"):
                raise _Reply(400, err("DataInspectionFailed", "Input data may contain inappropriate content."))
            b = self.body or {}
            if b.get("model") not in ("happyhorse-1.0-t2v", "happyhorse-1.1-t2v", "wan2.5-t2v-preview"):
                raise _Reply(400, err("InvalidParameter", "Model not exist."))
            self._record("dashscope", b)
            prompt, params = (b.get("input") or {}).get("prompt"), b.get("parameters") or {}
            if not isinstance(prompt, str) or not isinstance(params.get("duration"), int):
                raise _Reply(400, err("InvalidParameter", "input.prompt and parameters.duration are required"))
            job = self.fake.new_job(
                "dashscope", self.scenario, self.base, b.get("model", ""), prompt, params.get("seed"), self.body
            )
            self._after_accept()
            self._ok({"request_id": "r", "output": {"task_id": job.id, "task_status": "PENDING"}})
        if m := re.fullmatch(r"api/v1/tasks/([^/]+)", rest):
            job = self.fake.jobs.get(m.group(1))
            if job is None:
                self._ok({"request_id": "r", "output": {"task_id": m.group(1), "task_status": "UNKNOWN"}})
            job.polls += 1
            self._poll_faults(err("InternalError", "internal error"))
            out: dict[str, Any] = {"task_id": job.id, "task_status": "RUNNING" if job.polls > 1 else "PENDING"}
            if job.finished():
                if self._has("fail"):
                    out.update(
                        task_status="FAILED",
                        code="DataInspectionFailed",
                        message="Output data may contain inappropriate content.",
                    )
                else:
                    out.update(
                        task_status="SUCCEEDED",
                        **({} if self._has("safety") else {"video_url": self.fake.media_url(job)}),
                    )
            self._ok({"request_id": "r", "output": out, "usage": {"video_count": 1}})
        raise _Reply(404, err("NotFound", f"no route {rest}"))

    # -- LTX -----------------------------------------------------------------------------------------
    def _ltx(self, method: str, rest: str) -> None:
        auth = self.headers.get("Authorization", "")
        if self._has("auth") or auth != f"Bearer {self.fake.keys['ltx']}":
            raise _Reply(401, {"error": {"type": "authentication_error", "message": f"invalid key {auth}"}})
        if method != "POST" or rest != "v1/text-to-video":
            raise _Reply(404, {"error": {"type": "not_found", "message": "no route"}})
        if self._once("r429", "submit"):
            raise _Reply(429, {"error": {"type": "rate_limit", "message": "slow down"}}, {"Retry-After": "1"})
        b = self.body or {}
        if b.get("model") not in ("ltx-2-pro", "ltx-2-fast"):
            raise _Reply(400, {"error": {"type": "invalid_request", "message": f"unknown model {b.get('model')}"}})
        self._record("ltx", b)
        if not b.get("prompt") or b.get("generate_audio") is not True:
            raise _Reply(400, {"error": {"type": "invalid_request", "message": "prompt and generate_audio required"}})
        job = self.fake.new_job("ltx", self.scenario, self.base, b.get("model", ""), b["prompt"], None, self.body)
        time.sleep(job.done_after or 0)
        data = self.fake.clip(job.id, audio=not self._has("noaudio"))
        if self._once("drop", "media"):
            self._cut(data)
        self._ok(data, 200, {"x-request-id": job.id})
