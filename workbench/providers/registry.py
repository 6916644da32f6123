"""Provider registry: ``vendor/model`` ids to adapters, and the offline model catalogue.

A new provider is one module and one line in :data:`_FACTORIES`. Remote adapters read
their keys from environment variables only; :func:`catalogue` says which variable each
model needs and whether it is set (never its value).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError
from workbench.providers.base import Capabilities, Provider


def _local(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.local import LocalProvider

    return LocalProvider(model)


def _gemini(model: str, params: Mapping[str, Any]) -> Provider:
    if model.startswith("gemini-omni"):
        from workbench.providers.gemini_omni import make_gemini_omni

        return make_gemini_omni(model, params)
    from workbench.providers.veo import make_gemini_veo

    return make_gemini_veo(model, params)


def _vertex(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.veo import make_vertex_veo

    return make_vertex_veo(model, params)


def _kling(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.kling import make_kling

    return make_kling(model, params)


def _fal(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.fal import make_fal

    return make_fal(model, params)


def _replicate(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.replicate import make_replicate

    return make_replicate(model, params)


def _dashscope(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.dashscope import make_dashscope

    return make_dashscope(model, params)


def _ltx(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.ltx import make_ltx

    return make_ltx(model, params)


def _folder(model: str, params: Mapping[str, Any]) -> Provider:
    from workbench.providers.folder import make_folder

    return make_folder(model, params)


#: vendor prefix -> factory(model, params) returning an adapter.
_FACTORIES: dict[str, Callable[[str, Mapping[str, Any]], Provider]] = {
    "local": _local,
    "gemini": _gemini,  # Veo 3.1 (predictLongRunning) and Gemini Omni (Interactions API)
    "vertex": _vertex,  # Veo 3.1 on Vertex AI
    "kling": _kling,
    "fal": _fal,
    "replicate": _replicate,
    "dashscope": _dashscope,  # HappyHorse, Wan
    "ltx": _ltx,
    "folder": _folder,  # bring your own clips
}


def register_provider(vendor: str, factory: Callable[[str, Mapping[str, Any]], Provider]) -> None:
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


def local_model_ids() -> list[str]:
    """Every built-in local reference model id."""
    from workbench.providers.local.synth.variants import VARIANTS

    return [f"local/{v}" for v in VARIANTS]


def _remote_catalogue() -> list[ModelInfo]:
    from workbench.providers import dashscope, fal, gemini_omni, kling, ltx, replicate, veo
    from workbench.providers.http import ModelSpec, base_url_env, key_is_set

    groups: list[tuple[str, tuple[str, ...], Mapping[str, Any], bool]] = [
        ("gemini", veo.GEMINI_KEY_ENV, veo.GEMINI_MODELS, True),
        ("gemini", veo.GEMINI_KEY_ENV, gemini_omni.OMNI_MODELS, True),
        ("vertex", (*veo.VERTEX_TOKEN_ENV, veo.VERTEX_PROJECT_ENV), veo.VERTEX_MODELS, True),
        ("kling", kling.KEY_ENVS, kling.KLING_MODELS, True),
        ("fal", fal.FAL_KEY_ENV, fal.FAL_MODELS, True),
        ("replicate", replicate.REPLICATE_KEY_ENV, replicate.REPLICATE_MODELS, True),
        ("dashscope", dashscope.DASHSCOPE_KEY_ENV, dashscope.DASHSCOPE_MODELS, True),
        ("ltx", ltx.LTX_KEY_ENV, ltx.LTX_MODELS, False),
    ]
    out = []
    for vendor, envs, models, resumable in groups:
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
                )
            )
    return out


def catalogue() -> list[ModelInfo]:
    """Every model the workbench knows without network access: local references, then remote ones.

    ``folder/<name>`` (your own clips) is not listed: it is defined by its params.
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
    return local + _remote_catalogue()


def known_model_ids() -> list[str]:
    """Every catalogued model id (no network access)."""
    return [m.id for m in catalogue()]


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
    except KeyError:
        hint = difflib.get_close_matches(provider_id, known_model_ids(), n=3)
        raise ConfigError(
            f"unknown model {provider_id!r}" + (f"; did you mean {', '.join(hint)}?" if hint else ""),
            key="providers",
        ) from None
