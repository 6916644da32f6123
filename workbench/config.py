"""Comparison configs: which suite, which models, how many repeats, which metrics.

A config is YAML validated before anything runs; every problem names the file and key.
``workbench run`` with no config uses :func:`default_config` (the built-in suite against
the local reference models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.errors import ConfigError
from workbench.prompt import BUILTIN_SUITE, Expect, PromptSuite, read_yaml, resolve_suite, validate_mapping

DEFAULT_LOCAL_MODELS = ("synced", "dubbed", "drift", "late-foley", "dry-room", "generic")


class ProviderEntry(BaseModel):
    """One model in a comparison."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=3)
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """Label shown on the leaderboard."""
        return self.label or self.id


class ComparisonConfig(BaseModel):
    """A comparison: suite x providers x repeats, then metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(default="comparison", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    suite: str = "builtin"
    """Path to a suite YAML (relative to the config file) or ``builtin``."""
    prompts: tuple[str, ...] | None = None
    """Subset of prompt ids; all when absent."""
    providers: tuple[ProviderEntry, ...] = Field(min_length=1)
    repeats: int = Field(default=1, ge=1, le=100)
    seed: int = 0
    metrics: tuple[str, ...] | None = None
    """Analyzer or metric names; every default analyzer when absent."""
    budget_usd: float | None = Field(default=None, ge=0)
    timeout_s: float = Field(default=1800, gt=0)
    poll_interval_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    """Retries of rate-limited, transient and timed-out calls; 0 disables."""
    backoff_s: float = Field(default=2.0, ge=0)
    """First retry delay; doubles each attempt unless the provider sends Retry-After."""
    max_backoff_s: float = Field(default=120.0, ge=0)
    report: bool = True
    expect: Expect = Expect()
    """Thresholds of the creator's checks for every prompt (a prompt's own ``expect`` wins)."""
    executor: Literal["auto", "in-process", "processes", "dask"] = "auto"
    """Where per-clip analysis runs; ``dask`` starts a local cluster unless ``scheduler`` is set."""
    scheduler: str | None = None
    """Address of an existing Dask scheduler, e.g. ``tcp://host:8786``."""
    workers: int | None = Field(default=None, ge=1)
    """Analysis workers (default: every core)."""
    source: str | None = Field(default=None, exclude=True)

    @field_validator("providers", mode="before")
    @classmethod
    def _strings_to_entries(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [{"id": x} if isinstance(x, str) else x for x in v]
        return v

    def suite_ref(self) -> str:
        """The suite path resolved against the config file's folder."""
        if self.suite == BUILTIN_SUITE or self.source is None:
            return self.suite
        p = Path(self.suite)
        return str(p if p.is_absolute() else Path(self.source).parent / p)


def parse_config(data: Any, *, source: str) -> ComparisonConfig:
    """Validate config data against the schema and check its suite and prompt ids exist.

    Providers and metric names are checked by :func:`workbench.validate.check_config`, which
    every entry point runs before anything is generated.
    """
    cfg = validate_mapping(ComparisonConfig, data, source=source, what="a comparison config")
    load_config_suite(cfg)
    return cfg


def load_config(path: str | Path) -> ComparisonConfig:
    """Load and validate a comparison config YAML (no network, nothing run; see :func:`parse_config`)."""
    return parse_config(read_yaml(path), source=str(path))


def load_config_suite(cfg: ComparisonConfig) -> PromptSuite:
    """The config's suite, restricted to its prompt subset."""
    ref = cfg.suite_ref()
    if ref != BUILTIN_SUITE and not Path(ref).is_file():
        raise ConfigError(f"suite {cfg.suite!r} not found", path=cfg.source, key="suite")
    suite = resolve_suite(ref)
    if cfg.prompts is not None:
        prompts = []
        for i, pid in enumerate(cfg.prompts):
            try:
                prompts.append(suite.get(pid))
            except ConfigError as exc:
                raise exc.rekey(path=cfg.source, key=f"prompts[{i}]") from None
        suite = suite.model_copy(update={"prompts": tuple(prompts)})
    return suite


def default_config(**overrides: Any) -> ComparisonConfig:
    """The built-in default: the built-in suite against every local reference model."""
    data: dict[str, Any] = {
        "name": "builtin-local",
        "description": "Built-in suite against the local reference models (no key, no network).",
        "suite": "builtin",
        "providers": [f"local/{m}" for m in DEFAULT_LOCAL_MODELS],
    }
    providers = overrides.get("providers")
    if providers is not None:  # named after the models actually run, not the default's
        ids = [p if isinstance(p, str) else str(p.get("id", "")) for p in providers]
        vendors = list(dict.fromkeys(i.partition("/")[0] for i in ids if i))
        local = all(v == "local" for v in vendors)
        data["name"] = "builtin-" + "-".join(vendors)[:60] if vendors else "builtin"
        data["description"] = f"Built-in suite against {', '.join(ids)}" + (
            " (no key, no network)." if local else "."
        )
    data.update(overrides)
    return parse_config(data, source="<built-in default>")
