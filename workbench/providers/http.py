"""Shared HTTP plumbing for the remote adapters: client, base URL, keys, errors, downloads.

Adapters only speak HTTP: no retries, caching or budget here (that is the runner, :mod:`workbench.generate`).
Every failure becomes a :class:`~workbench.providers.base.ProviderError` whose ``kind`` the
runner understands, and every text that could reach a file goes through :class:`Redactor`,
so an API key, a signed token or a URL query string is never written anywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from workbench.errors import ConfigError, ProviderError
from workbench.providers.base import Capabilities, GenerationRequest, JobStatus, Provider

#: Default cap on a downloaded clip (bytes).
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024

#: Param keys every remote adapter understands (besides its own).
COMMON_PARAMS = frozenset({"base_url", "timeout_s", "max_concurrency", "input", "resend_lost"})

_SECRETISH_PARAM = re.compile(r"(^|_)(api_?key|key|secret|token|password|credential)s?$", re.I)
_QUERY = re.compile(r"\?[^\s\"'<>?]*=[^\s\"'<>]*")
_BEARER = re.compile(r"(?i)\b(bearer|key)\s+[A-Za-z0-9._~+/=:-]{8,}")


# -- model specs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """Where one catalogued fact comes from and when it was last checked against that source.

    ``status`` is the evidence label of ``../shared/research/provider-audit.md``:
    verified-in-source, verified-in-docs, verified-3p, third-party, assumed or unverified.
    """

    source: str
    checked: str
    status: str = "verified-in-docs"

    def __str__(self) -> str:
        return f"{self.source} [{self.status}; checked {self.checked}]"


#: The facts each catalogued model carries a source for (``workbench models --detail``).
FACT_KEYS = ("id", "price", "durations", "audio", "prompt")

#: Request fields that rewrite, expand or "fix" the prompt, across vendors. A catalogued model is
#: only ever sent them switched off (the whole-catalogue rule test and ``workbench probe`` check it).
REWRITE_FIELDS = frozenset({
    "auto_fix", "enable_prompt_expansion", "prompt_extend", "enhance_prompt", "enhancePrompt", "prompt_optimizer",
    "prompt_enhancement", "expand_prompt", "prompt_expansion", "prompt_rewrite", "rewrite_prompt", "magic_prompt",
    "prompt_upsampling", "prompt_enhance", "enhance",
})  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """What the workbench knows about one remote model (offline, no network).

    ``durations`` lists the durations the API accepts (empty: any whole second in
    ``duration_range``). ``price_note`` says where the price comes from. ``rewrite_off``
    holds the request fields that turn the vendor's prompt rewriting or expansion off (sent
    with every request); ``prompt_rewrite`` is non-empty when the model rewrites the prompt
    anyway and the vendor offers no off switch. ``sources`` says, per fact (:data:`FACT_KEYS`),
    where it comes from and when it was last checked.
    """

    model: str
    description: str
    price_per_second_usd: float
    durations: tuple[int, ...] = ()
    duration_range: tuple[int, int] = (1, 60)
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16")
    seed: bool = True
    audio: str = "always on"
    """How sound is requested ("generate_audio=true", "sound=on", "always on")."""
    price_note: str = ""
    rewrite_off: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    prompt_rewrite: str = ""
    sources: Mapping[str, Fact] = dataclasses.field(default_factory=dict)

    @property
    def capabilities(self) -> Capabilities:
        lo = min(self.durations) if self.durations else self.duration_range[0]
        hi = max(self.durations) if self.durations else self.duration_range[1]
        return Capabilities(durations_s=(float(lo), float(hi)), aspect_ratios=self.aspect_ratios, seed=self.seed)

    def snap_duration(self, seconds: float) -> int:
        """The API duration to ask for: the shortest allowed one that is not shorter than requested.

        Falls back to the longest allowed duration when the request is longer than all of them.
        """
        allowed = self.durations or tuple(range(self.duration_range[0], self.duration_range[1] + 1))
        longer = [d for d in sorted(allowed) if d >= seconds - 1e-6]
        return longer[0] if longer else max(allowed)


# -- configuration ---------------------------------------------------------------------------------


def base_url_env(vendor: str) -> str:
    """The env var that overrides a vendor's base URL, e.g. ``WORKBENCH_FAL_BASE_URL``."""
    return f"WORKBENCH_{re.sub(r'[^A-Z0-9]', '_', vendor.upper())}_BASE_URL"


def resolve_base_url(vendor: str, params: Mapping[str, Any], default: str) -> str:
    """Base URL: config ``params["base_url"]`` > env ``WORKBENCH_<VENDOR>_BASE_URL`` > ``default``."""
    url = params.get("base_url") or os.environ.get(base_url_env(vendor)) or default
    return str(url).rstrip("/")


def key_is_set(*env_names: str) -> bool:
    """Whether any of the env vars holds a non-empty value."""
    return any(os.environ.get(n) for n in env_names)


def get_key(*env_names: str) -> str:
    """The first non-empty env var among ``env_names`` (keys come only from the environment).

    Raises
    ------
    ProviderError
        kind ``auth`` naming the variables, never a value.
    """
    for n in env_names:
        v = os.environ.get(n)
        if v:
            return v.strip()
    raise ProviderError("auth", f"no API key: set {' or '.join(env_names)}")


def check_params(params: Mapping[str, Any], allowed: Iterable[str], *, provider_id: str) -> None:
    """Refuse unknown param keys and anything that looks like a secret (keys belong in env vars)."""
    allowed = set(allowed) | COMMON_PARAMS
    for k in params:
        if _SECRETISH_PARAM.search(k):
            raise ConfigError(f"{provider_id}: params.{k}: keys are read from environment variables only", key="params")
        if k not in allowed:
            raise ConfigError(f"{provider_id}: unknown param {k!r}; known: {', '.join(sorted(allowed))}", key="params")
    extra = params.get("input")
    if extra is not None and not isinstance(extra, Mapping):
        raise ConfigError(f"{provider_id}: params.input must be a mapping of extra request fields", key="params")
    for k in extra or {}:
        if _SECRETISH_PARAM.search(str(k)):
            raise ConfigError(f"{provider_id}: params.input.{k}: keys are read from environment variables only")


def timeout_for(params: Mapping[str, Any], default_read_s: float = 60.0) -> httpx.Timeout:
    """HTTP timeout: ``params["timeout_s"]`` (per request; not part of the cache key) or the default."""
    read = float(params.get("timeout_s") or default_read_s)
    return httpx.Timeout(read, connect=min(10.0, read))


def new_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """An async client; redirects are followed by hand (see :func:`download_bytes`)."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, headers={"User-Agent": "av-workbench"})


# -- redaction -------------------------------------------------------------------------------------


class Redactor:
    """Removes secrets from text: known key values, bearer tokens and URL query strings.

    Query strings go because result links are pre-signed (their signature is a credential).
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def __call__(self, text: Any) -> str:
        s = str(text)
        for sec in sorted(self._secrets, key=len, reverse=True):
            s = s.replace(sec, "***")
        s = _QUERY.sub("?…", s)
        return _BEARER.sub(r"\1 ***", s)


# -- errors ----------------------------------------------------------------------------------------


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def body_json(resp: httpx.Response) -> Any:
    """The JSON body, or None when it is not JSON."""
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def error_message(resp: httpx.Response) -> str:
    """The provider's own error text from common envelopes, else the start of the body."""
    data = body_json(resp)
    msg = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("status")
        elif isinstance(err, str) and err:
            msg = err
        for k in ("detail", "message", "msg", "title"):
            if msg:
                break
            v = data.get(k)
            msg = v if isinstance(v, str) else (json.dumps(v)[:300] if v else None)
    if not msg:
        msg = resp.text[:300] if resp.content and "json" not in resp.headers.get("content-type", "x") else ""
    return " ".join(str(msg).split())[:500] or resp.reason_phrase or "error"


def kind_for_status(status: int) -> str:
    """The ProviderError kind for an HTTP status of an API call."""
    if status == 401:
        return "auth"
    if status == 402:
        return "quota"
    if status == 403:
        return "auth"
    if status in (404, 410):
        return "not_found"
    if status == 408:
        return "timeout"
    if status == 429:
        return "rate_limit"
    if status in (400, 409, 413, 415, 422):
        return "transient" if status == 409 else "invalid_request"
    if status >= 500:
        return "transient"
    return "fatal"


def http_error(resp: httpx.Response, redact: Redactor, *, what: str, kind: str | None = None) -> ProviderError:
    """A ProviderError for an error response (kind from the status unless given)."""
    k = kind or kind_for_status(resp.status_code)
    ra = parse_retry_after(resp.headers.get("retry-after")) if k in ("rate_limit", "transient", "quota") else None
    reason = redact(f"{what}: HTTP {resp.status_code}: {error_message(resp)}")
    return ProviderError(k, reason, retry_after=ra, status=resp.status_code)


#: Transport failures that happen before a request can have reached the server: safe to send again.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(exc: httpx.HTTPError, redact: Redactor, *, what: str, once: bool = False) -> ProviderError:
    """A ProviderError for a connection-level failure (timeout or dropped connection).

    With ``once`` (a request that creates a paid job), a failure after the connection was made
    (read timeout, connection cut, a write that may have gone through) is ``submit_uncertain``:
    the server may have accepted it, so it must not be sent again blindly. Failures before that
    (:data:`NEVER_SENT`) stay retryable.
    """
    if once and not isinstance(exc, NEVER_SENT):
        return ProviderError(
            "submit_uncertain",
            redact(f"{what}: the request was sent but its answer was lost ({type(exc).__name__})"),
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError("timeout", redact(f"{what}: no answer in time ({type(exc).__name__})"))
    return ProviderError("transient", redact(f"{what}: connection failed ({type(exc).__name__}: {exc})"))


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


# -- the adapter base ------------------------------------------------------------------------------


class HttpProvider(Provider):
    """Base of the HTTP adapters: one lazily made client, key lookup, redaction, JSON calls."""

    vendor: ClassVar[str] = ""
    key_env: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""
    max_concurrency: ClassVar[int] = 2
    paid: ClassVar[bool] = True

    def __init_subclass__(cls, **kw: Any) -> None:
        # Every failure reason a subclass's poll() returns is redacted before the runner writes it.
        super().__init_subclass__(**kw)
        inner = cls.__dict__.get("poll")
        if inner is None or getattr(inner, "_redacting", False):
            return

        @functools.wraps(inner)
        async def poll(self: HttpProvider, job_id: str) -> JobStatus:
            st = await inner(self, job_id)
            return dataclasses.replace(st, reason=self.redact(st.reason)) if st.reason else st

        poll._redacting = True  # type: ignore[attr-defined]
        cls.poll = poll  # type: ignore[method-assign]

    def __init__(self, provider_id: str, spec: ModelSpec, params: Mapping[str, Any], *, default_read_s: float = 60.0):
        self.id = provider_id  # type: ignore[misc]
        self.spec = spec
        self.params = dict(params)
        self.description = spec.description  # type: ignore[misc]
        self.capabilities = spec.capabilities  # type: ignore[misc]
        self.price_per_second_usd = spec.price_per_second_usd  # type: ignore[misc]
        self.prompt_rewrite_note = spec.prompt_rewrite
        if params.get("max_concurrency"):
            self.max_concurrency = int(params["max_concurrency"])  # type: ignore[misc]
        self.base_url = resolve_base_url(self.vendor, params, self.default_base_url)
        self.extra_input: dict[str, Any] = dict(params.get("input") or {})
        self.redact = Redactor()
        self._timeout = timeout_for(params, default_read_s)
        self._client: httpx.AsyncClient | None = None
        self._done: dict[str, Any] = {}
        """What ``poll`` found for each finished job (a result URL, or the vendor's video object)."""
        self._refs: dict[str, str] = {}
        """Client reference per request key for the next submission (see :meth:`new_submit_ref`)."""
        self.submitted_ids: set[str] = set()
        """Job ids this adapter's submissions returned (never adopted by a lookup for another cell)."""

    async def finished(self, job_id: str, *, pop: bool = False) -> Any:
        """The result ``poll`` remembered for a finished job, polling once more after a restart."""
        if job_id not in self._done:
            st = await self.poll(job_id)
            if st.state != "done":
                raise ProviderError(st.kind or "fatal", st.reason or f"job {job_id} is not finished")
        return self._done.pop(job_id) if pop else self._done[job_id]

    async def download(self, job_id: str) -> bytes:
        """Fetch the clip at the result URL ``poll`` remembered."""
        data = await self.fetch_media(await self.finished(job_id))
        self._done.pop(job_id, None)
        return data

    # -- overridable ---------------------------------------------------------------------------
    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body :meth:`submit` sends for ``request`` (offline; the rule tests read it)."""
        raise NotImplementedError

    def prerequisites(self) -> list[str]:
        """The API key must be set (one of :attr:`key_env`)."""
        if self.key_env and not key_is_set(*self.key_env):
            return [f"no API key: set {' or '.join(self.key_env)}"]
        return []

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate an API call (keys registered with the redactor)."""
        key = get_key(*self.key_env)
        self.redact.add(key)
        return {"Authorization": f"Bearer {key}"}

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Price of the duration actually requested from the API (after snapping)."""
        return round(self.price_per_second_usd * self.spec.snap_duration(request.duration_s), 4)

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = new_client(self._timeout)
        return self._client

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        ok: Iterable[int] = (),
        once: bool = False,
        timeout: httpx.Timeout | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One API call; non-2xx (except ``ok``) and transport failures raise ProviderError.

        ``once`` marks a request that creates a paid job: once it may have reached the server, a
        lost answer is ``submit_uncertain`` instead of a retryable timeout (see :func:`transport_error`).
        An HTTP error status is an answer, so it keeps its usual kind (a 5xx before acceptance is retried).
        """
        hdrs = {**(self.auth_headers() if auth else {}), **(headers or {})}
        kw: dict[str, Any] = {"json": json_body, "headers": hdrs, "params": params}
        if timeout is not None:
            kw["timeout"] = timeout
        try:
            resp = await self.client.request(method, self.url(path), **kw)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.redact, what=what, once=once) from None
        if resp.status_code >= 400 and resp.status_code not in set(ok):
            raise self.classify(resp, what=what)
        return resp

    def classify(self, resp: httpx.Response, *, what: str) -> ProviderError:
        """Vendor hook: turn an error response into a ProviderError."""
        return http_error(resp, self.redact, what=what)

    async def call_json(self, method: str, path: str, *, what: str, **kw: Any) -> dict[str, Any]:
        """An API call whose answer must be a JSON object."""
        resp = await self.request(method, path, what=what, **kw)
        data = body_json(resp)
        if not isinstance(data, dict):
            # An accepted submission with a garbled answer may still have created a job.
            kind = "submit_uncertain" if kw.get("once") and resp.status_code < 300 else "transient"
            raise ProviderError(kind, self.redact(f"{what}: HTTP {resp.status_code} with a body that is not JSON"))
        return data

    def new_submit_ref(self, request: GenerationRequest) -> str | None:
        """Adapters that send a client reference override :meth:`make_ref`; it is kept for :meth:`submit`."""
        ref = self.make_ref(request)
        if ref is not None:
            self._refs[request.key()] = ref
        return ref

    def make_ref(self, request: GenerationRequest) -> str | None:
        """A fresh client reference for a submission (None: this vendor takes none)."""
        return None

    def ref_for(self, request: GenerationRequest) -> str | None:
        """The reference :meth:`new_submit_ref` made for this request, or a fresh one."""
        ref = self._refs.get(request.key())
        if ref is None:
            ref = self._refs[request.key()] = self.make_ref(request)  # type: ignore[assignment]
        return ref

    async def fetch_media(self, url: str, *, headers: Mapping[str, str] | None = None, what: str = "download") -> bytes:
        """Download a result file (see :func:`download_bytes`)."""
        return await download_bytes(self.client, url, headers=headers, redact=self.redact, what=what)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def body_with_extras(self, body: dict[str, Any]) -> dict[str, Any]:
        """Merge ``params.input`` (extra vendor fields) into a request body (extras win)."""
        return {**body, **self.extra_input}


async def read_capped(
    resp: httpx.Response, *, what: str, max_bytes: int = MAX_DOWNLOAD_BYTES
) -> tuple[bytes, int | None]:
    """A streamed response's body, refusing more than ``max_bytes`` (kind ``fatal``).

    Returns the bytes and the announced Content-Length (None without one); the caller decides
    what a short body means.
    """
    announced = resp.headers.get("content-length")
    expected = int(announced) if announced is not None and announced.isdigit() else None
    if expected is not None and expected > max_bytes:
        raise ProviderError("fatal", f"{what}: file of {expected} bytes exceeds the {max_bytes} cap")
    chunks, n = [], 0
    async for chunk in resp.aiter_bytes():
        n += len(chunk)
        if n > max_bytes:
            raise ProviderError("fatal", f"{what}: file exceeds the {max_bytes} byte cap")
        chunks.append(chunk)
    return b"".join(chunks), expected


async def download_bytes(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    redact: Redactor,
    what: str = "download",
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    max_redirects: int = 5,
) -> bytes:
    """Stream a result file into memory with a size cap.

    Redirects are followed by hand and ``headers`` (credentials) are sent only to the origin
    they were meant for. 403/404/410 mean the link is gone (kind ``expired``); a connection
    dropped mid-body or a short body is ``transient``.
    """
    start = url
    for _ in range(max_redirects + 1):
        redact.add(*(v for vs in parse_qs(urlsplit(url).query).values() for v in vs if len(v) >= 8))
        hdrs = dict(headers or {}) if same_origin(url, start) else {}
        try:
            async with client.stream("GET", url, headers=hdrs) as resp:
                if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    continue
                if resp.status_code in (403, 404, 410):
                    await resp.aread()
                    raise http_error(resp, redact, what=f"{what} (result link gone)", kind="expired")
                if resp.status_code >= 400:
                    await resp.aread()
                    raise http_error(resp, redact, what=what)
                data, expected = await read_capped(resp, what=what, max_bytes=max_bytes)
                if expected is not None and len(data) != expected:
                    raise ProviderError("transient", f"{what}: got {len(data)} of {expected} bytes")
                if not data:
                    raise ProviderError("transient", f"{what}: empty body")
                return data
        except httpx.HTTPError as exc:
            raise transport_error(exc, redact, what=what) from None
    raise ProviderError("fatal", f"{what}: more than {max_redirects} redirects")


__all__ = [
    "COMMON_PARAMS",
    "FACT_KEYS",
    "NEVER_SENT",
    "REWRITE_FIELDS",
    "Fact",
    "HttpProvider",
    "ModelSpec",
    "Redactor",
    "base_url_env",
    "check_params",
    "download_bytes",
    "get_key",
    "http_error",
    "key_is_set",
    "kind_for_status",
    "parse_retry_after",
    "read_capped",
    "resolve_base_url",
]
