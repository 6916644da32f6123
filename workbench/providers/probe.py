"""``workbench probe``: check with the user's keys, cheaply, that the catalogue is still true.

Per catalogued remote model it answers: is the vendor reachable with this key, does the model
id exist, is the audio switch the adapter sends accepted, and what the check cost. The free
checks, per vendor:

==========  ==========================================================================  ======
vendor      check                                                                        cost
==========  ==========================================================================  ======
gemini      ``GET /v1beta/models`` (the key's model list; Veo and Omni ids)              $0
vertex      ``:predictLongRunning`` with no instances: a 400 proves the model exists,    $0
            a 404 that it does not; nothing can be generated from an empty request
kling       the task list (auth), then a create with an empty prompt (a 4xx; Kling's     $0
            error names the model only when the id is wrong)
fal         Platform API model search with the OpenAPI schema (``GET api.fal.ai/v1/      $0
            models?endpoint_id=…&expand=openapi-3.0``): id, status, every field the
            adapter sends, the audio and prompt-rewrite switches, the duration enum
replicate   ``GET /v1/models/{owner}/{name}``: the latest version's input schema, same    $0
            checks as fal
dashscope   a create without a prompt (a 400; "Model not exist." when the id is wrong)   $0
ltx         a generate call with an empty prompt (a 4xx)                                $0
==========  ==========================================================================  ======

What only a generation proves (Omni honouring ``background: true`` and its durations, Kling's
single-key auth, a live model id on Kling/DashScope/LTX, sound actually in the clip) is checked
by ``--paid``: one real clip of the shortest duration per model, at its stated price, asked for
explicitly. Nothing here runs unless called; tests drive it against the fake vendor server.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._util import did_you_mean
from workbench.errors import ConfigError, ProviderError
from workbench.providers.base import GenerationRequest, Provider
from workbench.providers.http import REWRITE_FIELDS, HttpProvider, body_json, error_message
from workbench.providers.registry import ModelInfo, catalogue, get_provider

YES, NO, UNKNOWN, NA = "yes", "no", "?", "n/a"
PROBE_PROMPT = "A glass is set down on a wooden table with a soft clink; a quiet room."

#: Exit codes of ``workbench probe``.
EXIT_OK, EXIT_BAD_ARGS, EXIT_DIFFERS, EXIT_NO_KEY = 0, 1, 2, 3


@dataclass
class ProbeResult:
    """What one model's probe found."""

    model: str
    reachable: str = "-"
    exists: str = "-"
    audio: str = "-"
    cost: str = "$0"
    checked: str = ""
    notes: list[str] = field(default_factory=list)
    status: str = "ok"
    """ok, differs (the vendor disagrees with the catalogue), failed, no key."""

    def differs(self, note: str) -> None:
        self.notes.append(note)
        if self.status == "ok":
            self.status = "differs"


def _sample_request(model_id: str, info: ModelInfo) -> GenerationRequest:
    lo = info.capabilities.durations_s[0]
    return GenerationRequest(
        provider=model_id, prompt_id="probe", text=PROBE_PROMPT, duration_s=lo,
        aspect_ratio=info.capabilities.aspect_ratios[0], seed=0,
    )  # fmt: skip


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` (or a one-item ``allOf`` of one) inside an OpenAPI document."""
    for _ in range(5):
        ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("allOf") or [] if "$ref" in s), None)
        if not ref or not str(ref).startswith("#/"):
            return schema
        node: Any = root
        for part in str(ref)[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = {**{k: v for k, v in schema.items() if k not in ("$ref", "allOf")}, **node}
    return schema


def fal_input_properties(openapi: dict[str, Any]) -> dict[str, Any] | None:
    """The input properties of a fal endpoint's OpenAPI document (the POST request body's schema)."""
    for item in (openapi.get("paths") or {}).values():
        post = (item or {}).get("post") or {}
        content = ((post.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
        if content.get("schema"):
            props = _resolve(content["schema"], openapi).get("properties")
            if isinstance(props, dict):
                return props
    schemas = (openapi.get("components") or {}).get("schemas") or {}
    props = {}
    for name, sch in schemas.items():
        if name.endswith("Input") and isinstance(sch, dict):
            props.update(sch.get("properties") or {})
    return props or None


def _enum(prop: dict[str, Any], root: dict[str, Any]) -> list[Any] | None:
    values = _resolve(prop, root).get("enum")
    return list(values) if isinstance(values, list) else None


def _as_seconds(v: Any) -> int | None:
    try:
        return int(float(str(v).rstrip("s")))
    except ValueError:
        return None


def compare_schema(
    res: ProbeResult, sent: dict[str, Any], props: dict[str, Any], root: dict[str, Any], *,
    audio_field: str | None, rewrite_off: dict[str, Any], durations: Sequence[int], duration_field: str = "duration",
) -> None:  # fmt: skip
    """Compare what the adapter sends with the vendor's input schema; differences go to ``res``."""
    unknown = sorted(k for k in sent if k not in props)
    if unknown:
        res.differs(f"sent but not in the vendor's schema: {', '.join(unknown)}")
    if audio_field:
        res.audio = YES if audio_field in props else NO
        if audio_field not in props:
            res.differs(f"audio switch {audio_field} is not in the schema")
    else:
        res.audio = NA
    for k in rewrite_off:
        if k not in props:
            res.differs(f"prompt-rewrite switch {k} is not in the schema any more")
    missing_off = sorted(k for k in props if k in REWRITE_FIELDS and k not in sent)
    if missing_off:
        res.differs(f"the schema has {', '.join(missing_off)}, which is not sent switched off: may rewrite prompts")
    for k, v in sent.items():
        values = _enum(props[k], root) if isinstance(props.get(k), dict) else None
        if values is not None and v not in values:
            res.differs(f"{k}={v!r} is not among the schema's values {values}")
    if duration_field in props and durations:
        values = _enum(props[duration_field], root) if isinstance(props[duration_field], dict) else None
        if values is not None:
            theirs = sorted(x for x in (_as_seconds(v) for v in values) if x is not None)
            if theirs and sorted(durations) != theirs:
                res.differs(f"durations: catalogue {list(durations)}, vendor {theirs}")


def _allowed_durations(prov: HttpProvider) -> list[int]:
    spec = prov.spec
    return list(spec.durations or range(spec.duration_range[0], spec.duration_range[1] + 1))


def _error_text(exc: ProviderError) -> str:
    return exc.reason


async def _invalid_call(
    prov: HttpProvider, res: ProbeResult, path: str, body: dict[str, Any], *, headers: dict[str, str] | None = None
) -> None:
    """Send a request that cannot generate anything; read what the 4xx says about the model id."""
    model = getattr(prov, "model", "")
    try:
        resp = await prov.request("POST", path, json_body=body, what="probe", headers=headers, ok=range(400, 500))
    except ProviderError as exc:
        res.reachable = YES if exc.status else NO
        res.status = "failed"
        res.notes.append(_error_text(exc))
        return
    res.reachable = YES
    if resp.status_code < 300:
        res.status = "failed"
        res.cost = "?"
        res.notes.append(f"HTTP {resp.status_code}: the invalid request was accepted (check the vendor's console)")
        return
    data = body_json(resp)
    code = data.get("code") if isinstance(data, dict) else None
    text = prov.redact(f"HTTP {resp.status_code}: {error_message(resp)}" + (f" (code {code})" if code else ""))
    if resp.status_code in (401, 403):
        res.status = "failed"
        res.notes.append(text)
        return
    low = text.lower()
    if (
        resp.status_code == 404
        or code in (1203, "ModelNotFound")
        or ("model" in low and model.lower() in low)
        or ("model" in low and ("not exist" in low or "not found" in low or "unknown" in low or "invalid" in low))
    ):
        res.exists = NO
        res.differs(f"the vendor does not know the model: {text}")
        return
    res.exists = UNKNOWN
    res.notes.append(f"{text}: the endpoint answers, and the error is about the input, not the model")


async def _probe_free(prov: Provider, model_id: str, info: ModelInfo, res: ProbeResult, cache: dict) -> None:
    from workbench.providers import dashscope, fal, gemini_omni, kling, ltx, replicate, veo

    req = _sample_request(model_id, info)
    if isinstance(prov, veo.GeminiVeoProvider | gemini_omni.GeminiOmniProvider):
        lister = prov if isinstance(prov, veo.GeminiVeoProvider) else veo.make_gemini_veo("veo-3.1-generate-001", {})
        key = lister.base_url
        try:
            if key not in cache:
                cache[key] = await lister.list_models()
        finally:
            if lister is not prov:
                await lister.aclose()
        res.reachable, res.checked = YES, "GET /v1beta/models (free)"
        res.exists = YES if prov.model in cache[key] else NO
        if res.exists == NO:
            veos = sorted(m for m in cache[key] if m.startswith(("veo", "gemini-omni")))
            res.differs(f"not in the key's model list; video models it lists: {', '.join(veos) or 'none'}")
        res.audio = NA
        if isinstance(prov, gemini_omni.GeminiOmniProvider):
            res.notes.append("background: true and the accepted durations are only proven by a generation (--paid)")
    elif isinstance(prov, veo.VertexVeoProvider):
        body = prov.build_body(req)
        body["instances"] = []
        res.checked = ":predictLongRunning with no instances (free: nothing to generate)"
        await _invalid_call(prov, res, prov.predict_url(), body)
        if res.exists == UNKNOWN:
            res.exists = YES  # Vertex answers 404 for a publisher model it does not have
        res.audio = NO if any("generateaudio" in n.lower() for n in res.notes) else UNKNOWN
    elif isinstance(prov, kling.KlingProvider):
        await prov.list_tasks()
        res.reachable = YES
        res.notes.append(f"auth: {kling.auth_note()}")
        body = {**prov.build_body(req), "prompt": "", "duration": "0"}
        res.checked = "task list (auth), then a create with an empty prompt (free: rejected)"
        await _invalid_call(prov, res, "v1/videos/text2video", body)
        res.audio = UNKNOWN
    elif isinstance(prov, fal.FalProvider):
        res.checked = "Platform API model search with the OpenAPI schema (free)"
        try:
            entry = await prov.model_schema()
        except ProviderError as exc:
            if exc.kind != "not_found":
                raise
            res.reachable, res.exists = YES, NO
            res.differs(exc.reason)
            return
        res.reachable, res.exists = YES, YES
        status = (entry.get("metadata") or {}).get("status")
        if status and status != "active":
            res.differs(f"fal lists the endpoint as {status}")
        openapi = entry.get("openapi") or {}
        props = fal_input_properties(openapi) if openapi else None
        if props is None:
            res.audio = UNKNOWN
            res.notes.append("no schema came back: fields not checked")
            return
        compare_schema(
            res, prov.build_input(req), props, openapi, audio_field=prov.model.audio_field,
            rewrite_off=dict(prov.spec.rewrite_off), durations=_allowed_durations(prov),
            duration_field=prov.model.duration_field if prov.model.duration else "",
        )  # fmt: skip
    elif isinstance(prov, replicate.ReplicateProvider):
        res.checked = "GET /v1/models/{owner}/{name} with the input schema (free)"
        try:
            model = await prov.model_info()
        except ProviderError as exc:
            if exc.kind != "not_found":
                raise
            res.reachable, res.exists = YES, NO
            res.differs(exc.reason)
            return
        res.reachable, res.exists = YES, YES
        openapi = (model.get("latest_version") or {}).get("openapi_schema") or {}
        props = ((openapi.get("components") or {}).get("schemas") or {}).get("Input", {}).get("properties")
        if not isinstance(props, dict):
            res.audio = UNKNOWN
            res.notes.append("no input schema came back: fields not checked")
            return
        compare_schema(
            res, prov.build_input(req), props, openapi, audio_field=prov.model.audio_field,
            rewrite_off=dict(prov.spec.rewrite_off), durations=_allowed_durations(prov),
        )  # fmt: skip
    elif isinstance(prov, dashscope.DashScopeProvider):
        body = prov.build_body(req)
        body["input"], body["parameters"]["duration"] = {}, 0
        res.checked = "a create without a prompt (free: rejected)"
        await _invalid_call(prov, res, dashscope.SYNTHESIS_PATH, body, headers={"X-DashScope-Async": "enable"})
        res.audio = UNKNOWN if prov.model.startswith("wan") else NA
    elif isinstance(prov, ltx.LtxProvider):
        body = {**prov.build_body(req), "prompt": "", "duration": 0}
        res.checked = "a generate call with an empty prompt (free: rejected)"
        await _invalid_call(prov, res, "v1/text-to-video", body)
        res.audio = UNKNOWN
    else:
        res.status, res.checked = "failed", "no probe for this adapter"


async def _probe_paid(
    prov: Provider, model_id: str, info: ModelInfo, res: ProbeResult, timeout_s: float, poll_s: float
) -> None:
    """One real generation of the shortest duration: what only a generation proves."""
    from workbench.media import probe as probe_media

    req = _sample_request(model_id, info)
    res.cost = f"${prov.estimate_cost(req):.2f} (one paid clip)"
    res.checked = f"one {req.duration_s:g} s generation (paid)"
    t0 = time.monotonic()
    job = await prov.submit(req, None)  # type: ignore[arg-type]
    submit_s = time.monotonic() - t0
    res.reachable = res.exists = YES
    res.notes.append(f"submit answered in {submit_s:.1f} s")
    if model_id.startswith("kling/"):
        from workbench.providers.kling import auth_note

        res.notes.append(f"auth: {auth_note()} (accepted)")
    if model_id.startswith("gemini/gemini-omni") and submit_s > 30:
        res.differs("the submit took over 30 s: background: true was probably not honoured")
    n = 0
    while True:
        st = await prov.poll(job)
        if st.state == "done":
            break
        if st.state == "failed":
            res.status = "failed"
            res.notes.append(f"{st.kind}: {st.reason}")
            return
        if time.monotonic() - t0 > timeout_s:
            res.status = "failed"
            res.notes.append(f"job {job} not finished after {timeout_s:g} s")
            return
        await asyncio.sleep(min(poll_s, 0.25 * 2**n) if prov.resumable else 0)
        n += 1
    data = await prov.download(job)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "probe.mp4"
        path.write_bytes(data)
        media = probe_media(path)
    res.audio = YES if media.has_audio else NO
    res.notes.append(f"clip of {len(data)} bytes, audio stream: {res.audio}")
    if not media.has_audio:
        res.differs("the clip has no audio stream")


async def probe_models(
    model_ids: Sequence[str], *, paid: bool = False, timeout_s: float = 1800.0, poll_s: float = 5.0
) -> list[ProbeResult]:
    """Probe each model (catalogued remote ids); a missing key is reported per model, never an exception."""
    infos = {m.id: m for m in catalogue(folder=False)}
    cache: dict[str, Any] = {}
    out = []
    for mid in model_ids:
        info = infos[mid]
        res = ProbeResult(mid)
        out.append(res)
        if not info.key_set:
            res.status = "no key"
            res.notes.append(f"key missing: set {' or '.join(info.key_env)}")
            continue
        prov = get_provider(mid, {})
        try:
            if paid:
                await _probe_paid(prov, mid, info, res, timeout_s, poll_s)
            else:
                await _probe_free(prov, mid, info, res, cache)
        except ProviderError as exc:
            res.status = "failed"
            res.reachable = YES if exc.status else (NO if res.reachable == "-" else res.reachable)
            if exc.kind == "not_found" and res.exists == "-":
                res.exists = NO
            res.notes.append(f"{exc.kind}: {exc.reason}")
        finally:
            await prov.aclose()
    return out


def resolve_ids(requested: Sequence[str]) -> list[str]:
    """The remote catalogue ids to probe: all of them, or the requested ones (checked)."""
    remote = [m.id for m in catalogue(folder=False) if m.key_env]
    if not requested:
        return remote
    bad = [m for m in requested if m not in remote]
    if bad:
        hints = "".join(did_you_mean(m, remote, list_known=False) for m in bad)
        raise ConfigError(
            f"nothing to probe for {', '.join(bad)}: probe takes catalogued remote models (workbench models){hints}",
            key="MODEL",
        )
    return list(requested)


def format_results(results: Sequence[ProbeResult], *, width: int = 100) -> str:
    """The probe table: one line per model, then its findings indented."""
    w = max([len(r.model) for r in results] + [5])
    lines = [f"{'model':{w}s}  {'reach':5s}  {'id':3s}  {'audio':5s}  cost"]
    for r in results:
        lines.append(f"{r.model:{w}s}  {r.reachable:5s}  {r.exists:3s}  {r.audio:5s}  {r.cost}")
        sub = ([f"checked: {r.checked}"] if r.checked else []) + r.notes
        if r.status not in ("ok",):
            sub.insert(0, f"status: {r.status}")
        for note in sub:
            lines += textwrap.wrap(note, width=width, initial_indent="    ", subsequent_indent="      ")
    return "\n".join(lines)


def exit_code(results: Sequence[ProbeResult]) -> int:
    """0 all probed and as catalogued; 2 one differs or failed; 3 otherwise some keys were missing."""
    if any(r.status in ("differs", "failed") for r in results):
        return EXIT_DIFFERS
    if any(r.status == "no key" for r in results):
        return EXIT_NO_KEY
    return EXIT_OK


__all__ = [
    "EXIT_BAD_ARGS",
    "EXIT_DIFFERS",
    "EXIT_NO_KEY",
    "EXIT_OK",
    "ProbeResult",
    "compare_schema",
    "exit_code",
    "fal_input_properties",
    "format_results",
    "probe_models",
    "resolve_ids",
]
