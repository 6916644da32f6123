"""Provider registry: ``vendor/model`` ids to adapters, and the offline model catalogue.

A new provider is one module and one line in :data:`_FACTORIES`. Remote adapters read
their keys from environment variables only; :func:`catalogue` says which variable each
model needs and whether it is set (never its value).
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError, UnknownModel
from workbench.providers.base import Capabilities, Provider

Factory = Callable[[str, Mapping[str, Any]], Provider]


def _lazy(target: str) -> Factory:
    """A factory ``module:function`` imported on first use: a vendor's code loads only when a config names it."""
    module, _, name = target.partition(":")

    def factory(model: str, params: Mapping[str, Any]) -> Provider:
        make: Factory = getattr(importlib.import_module(module), name)
        return make(model, params)

    return factory


def _gemini(model: str, params: Mapping[str, Any]) -> Provider:
    """Two protocols behind one key: Gemini Omni (Interactions API) and Veo 3.1 (predictLongRunning)."""
    target = "gemini_omni:make_gemini_omni" if model.startswith("gemini-omni") else "veo:make_gemini_veo"
    return _lazy(f"workbench.providers.{target}")(model, params)


#: vendor prefix -> factory(model, params) returning an adapter.
_FACTORIES: dict[str, Factory] = {
    "local": _lazy("workbench.providers.local:make_local"),
    "gemini": _gemini,  # Veo 3.1 (predictLongRunning) and Gemini Omni (Interactions API)
    "vertex": _lazy("workbench.providers.veo:make_vertex_veo"),  # Veo 3.1 on Vertex AI
    "kling": _lazy("workbench.providers.kling:make_kling"),
    "fal": _lazy("workbench.providers.fal:make_fal"),
    "replicate": _lazy("workbench.providers.replicate:make_replicate"),
    "dashscope": _lazy("workbench.providers.dashscope:make_dashscope"),  # HappyHorse, Wan
    "ltx": _lazy("workbench.providers.ltx:make_ltx"),
    "folder": _lazy("workbench.providers.folder:make_folder"),  # bring your own clips
}


def register_provider(vendor: str, factory: Factory) -> None:
    """Register an adapter factory for ``vendor/...`` ids (one line per new provider module)."""
    _FACTORIES[vendor] = factory


@dataclass(frozen=True)
class ModelInfo:
    """One catalogued model, as ``workbench models`` shows it (no key values, ever)."""

    id: str
    description: str
    capabilities: Capabilities
    price_per_second_usd: float
    price_note: str
    audio: str
    """How sound is requested from this model."""
    key_env: tuple[str, ...]
    """Environment variable(s) holding the key (any one of them; Kling: API key, or access + secret key)."""
    key_set: bool
    base_url_env: str | None
    resumable: bool = True
    prompt_rewrite_note: str = ""
    """Non-empty when the model rewrites or expands the prompt and the vendor offers no off switch."""
    rewrite_off: Mapping[str, Any] = field(default_factory=dict)
    """Fields sent with every request to turn the vendor's prompt rewriting off."""
    sources: Mapping[str, Any] = field(default_factory=dict)
    """Per fact (id, price, durations, audio, prompt): a :class:`~workbench.providers.http.Fact`."""
    auth_note: str = ""
    """Which credentials are used when several are set (Kling), never a value."""
    lost_submit: str = ""
    """What happens to a submission whose answer was lost (looked up how, or recorded as uncertain)."""
    usage: str = ""
    """How to use an entry that is not a ready model id (the folder importer)."""

    @property
    def checked(self) -> str:
        """The oldest 'last checked' date among the sourced facts ('' when none)."""
        dates = [getattr(f, "checked", "") for f in self.sources.values()]
        return min((d for d in dates if d), default="")


FOLDER_ID = "folder/<name>"
FOLDER_USAGE = (
    "your own clips (web-UI exports, models without an API): "
    "{id: folder/NAME, params: {path: DIR}} and DIR/manifest.yaml with 'clips: {prompt id: file}'"
)


def local_model_ids() -> list[str]:
    """Every built-in local reference model id."""
    from workbench.providers.local.synth.variants import VARIANTS

    return [f"local/{v}" for v in VARIANTS]


def _fact_order(key: str) -> int:
    from workbench.providers.http import FACT_KEYS

    return FACT_KEYS.index(key) if key in FACT_KEYS else len(FACT_KEYS)


def _remote_catalogue() -> list[ModelInfo]:
    from workbench.providers import dashscope, fal, gemini_omni, kling, ltx, replicate, veo
    from workbench.providers.http import ModelSpec, base_url_env, key_is_set

    groups: list[tuple[str, tuple[str, ...], Mapping[str, Any], type]] = [
        ("gemini", veo.GEMINI_KEY_ENV, veo.GEMINI_MODELS, veo.GeminiVeoProvider),
        ("gemini", veo.GEMINI_KEY_ENV, gemini_omni.OMNI_MODELS, gemini_omni.GeminiOmniProvider),
        ("vertex", (*veo.VERTEX_TOKEN_ENV, veo.VERTEX_PROJECT_ENV), veo.VERTEX_MODELS, veo.VertexVeoProvider),
        ("kling", kling.KEY_ENVS, kling.KLING_MODELS, kling.KlingProvider),
        ("fal", fal.FAL_KEY_ENV, fal.FAL_MODELS, fal.FalProvider),
        ("replicate", replicate.REPLICATE_KEY_ENV, replicate.REPLICATE_MODELS, replicate.ReplicateProvider),
        ("dashscope", dashscope.DASHSCOPE_KEY_ENV, dashscope.DASHSCOPE_MODELS, dashscope.DashScopeProvider),
        ("ltx", ltx.LTX_KEY_ENV, ltx.LTX_MODELS, ltx.LtxProvider),
    ]
    out = []
    for vendor, envs, models, cls in groups:
        resumable = cls.resumable
        if cls.billed_when_lost:
            lost = "lost_in_transit: probably billed, never resent (params.resend_lost: true pays again)"
        elif cls.lookup:
            lost = f"looked up in {cls.lookup}; if not found: submit_uncertain, never resent"
        else:
            lost = "submit_uncertain: no vendor lookup exists; never resent (params.resend_lost: true pays again)"
        if vendor == "vertex":
            key_set = key_is_set(veo.VERTEX_TOKEN_ENV[0]) and key_is_set(veo.VERTEX_PROJECT_ENV)
        elif vendor == "kling":
            key_set = key_is_set(kling.API_KEY_ENV) or (
                key_is_set(kling.ACCESS_KEY_ENV) and key_is_set(kling.SECRET_KEY_ENV)
            )
        else:
            key_set = key_is_set(*envs)
        for mid, m in models.items():
            spec: ModelSpec = getattr(m, "spec", m)
            out.append(
                ModelInfo(
                    id=f"{vendor}/{mid}",
                    description=spec.description,
                    capabilities=spec.capabilities,
                    price_per_second_usd=spec.price_per_second_usd,
                    price_note=spec.price_note,
                    audio=spec.audio,
                    key_env=tuple(envs),
                    key_set=key_set,
                    base_url_env=base_url_env(vendor),
                    resumable=resumable,
                    prompt_rewrite_note=spec.prompt_rewrite,
                    rewrite_off=dict(spec.rewrite_off),
                    sources={k: spec.sources[k] for k in sorted(spec.sources, key=_fact_order)},
                    auth_note=kling.auth_note() if vendor == "kling" else "",
                    lost_submit=lost,
                )
            )
    return out


def folder_entry() -> ModelInfo:
    """The folder importer as ``workbench models`` lists it (``folder/<name>``: its params define it)."""
    from workbench.providers.folder import FolderProvider

    return ModelInfo(
        FOLDER_ID, "your own clips from a folder + manifest.yaml", FolderProvider.capabilities, 0.0,
        "free (no generation)", "whatever the clips have", (), True, None, True, usage=FOLDER_USAGE,
    )  # fmt: skip


def catalogue(*, folder: bool = True) -> list[ModelInfo]:
    """Every model the workbench knows without network access: local references, remote ones, the folder importer.

    The folder importer is listed as ``folder/<name>`` (its params define it); ``folder=False`` leaves it out.
    """
    from workbench.providers.local import LocalProvider

    local = []
    for mid in local_model_ids():
        p = LocalProvider(mid.split("/", 1)[1])
        local.append(
            ModelInfo(
                mid, p.description, p.capabilities, 0.0, "free (local)", "rendered locally", (), True, None, False
            )
        )
    return local + _remote_catalogue() + ([folder_entry()] if folder else [])


def known_model_ids() -> list[str]:
    """Every catalogued model id (no network access); the folder importer's pattern is ``folder/<name>``."""
    return [m.id for m in catalogue()]


@functools.cache
def _rewrite_notes() -> dict[str, str]:
    return {m.id: m.prompt_rewrite_note for m in _remote_catalogue() if m.prompt_rewrite_note}


def prompt_rewrite_note(provider_id: str) -> str:
    """The catalogue's note for a model that rewrites prompts with no off switch ("" otherwise; offline)."""
    return _rewrite_notes().get(provider_id, "")


def get_provider(provider_id: str, params: Mapping[str, Any] | None = None) -> Provider:
    """An adapter for ``vendor/model``; ``params`` are the config entry's provider params.

    Raises
    ------
    ConfigError
        Unknown vendor or model, with the closest known ids; bad params.
    """
    vendor, _, model = provider_id.partition("/")
    factory = _FACTORIES.get(vendor)
    if factory is None or not model:
        hint = difflib.get_close_matches(provider_id, known_model_ids(), n=3)
        raise ConfigError(
            f"unknown provider {provider_id!r}" + (f"; did you mean {', '.join(hint)}?" if hint else ""),
            key="providers",
        )
    try:
        return factory(model, dict(params or {}))
    except UnknownModel:
        hint = difflib.get_close_matches(provider_id, known_model_ids(), n=3)
        raise ConfigError(
            f"unknown model {provider_id!r}" + (f"; did you mean {', '.join(hint)}?" if hint else ""),
            key="providers",
        ) from None
