"""Checks before anything runs: a config's providers exist and its metrics are known
(:func:`check_config`), and everything a run would need to pay for is in place (:func:`preflight`).

:func:`check_config` runs before anything is generated or paid for (``workbench validate``,
``plan`` and ``run``, the notebooks, batches); it reports every problem it finds in one pass,
each naming the file and the key. It imports neither the analyzers nor the local renderer, so
validating a config stays fast. :func:`preflight` asks each model that has clips to generate
whether it can send them (its API key, its project), before a run folder is made.
"""

from __future__ import annotations

from typing import Any

from workbench._util import did_you_mean
from workbench.config import ComparisonConfig, load_config_suite, parse_config
from workbench.errors import ConfigError, PrerequisiteError, raise_problems
from workbench.metrics.registry import known_names
from workbench.prompt import BUILTIN_SUITE, read_yaml, resolve_suite, validate_mapping
from workbench.providers.registry import get_provider
from workbench.store import ClipStore


def config_problems(cfg: ComparisonConfig) -> list[ConfigError]:
    """Every problem of a schema-valid config that needs more than its schema: the suite and its
    prompt ids, each provider id and its params, duplicate labels, metric names."""
    problems: list[ConfigError] = []
    try:
        load_config_suite(cfg)
    except ConfigError as exc:
        if exc.key and exc.key.startswith("prompts"):
            problems += _prompt_problems(cfg)
        else:
            problems.append(exc if exc.path else exc.rekey(path=cfg.source, key=exc.key or "suite"))
    labels: set[str] = set()
    for i, entry in enumerate(cfg.providers):
        try:
            get_provider(entry.id, entry.params)
        except ConfigError as exc:
            problems.append(exc.rekey(path=cfg.source, key=f"providers[{i}].id"))
        if entry.name in labels:
            problems.append(ConfigError(f"duplicate provider label {entry.name!r}", path=cfg.source, key=f"providers[{i}]"))
        labels.add(entry.name)
    names = known_names()
    for i, m in enumerate(cfg.metrics or ()):
        if m not in names:
            problems.append(
                ConfigError(f"unknown metric {m!r}{did_you_mean(m, sorted(names))}", path=cfg.source, key=f"metrics[{i}]")
            )
    return problems


def _prompt_problems(cfg: ComparisonConfig) -> list[ConfigError]:
    """Each prompt id of the config that its suite lacks (not just the first)."""
    suite = resolve_suite(cfg.suite_ref())
    out = []
    for i, pid in enumerate(cfg.prompts or ()):
        try:
            suite.get(pid)
        except ConfigError as exc:
            out.append(exc.rekey(path=cfg.source, key=f"prompts[{i}]"))
    return out


def check_config(cfg: ComparisonConfig) -> None:
    """Fail fast on anything that would break later: suite and prompts, providers, labels, metrics.

    Raises
    ------
    ConfigError
        Naming the config file and the key at fault; :class:`~workbench.errors.ConfigProblems`
        (a ConfigError) listing every problem when there are several.
    """
    raise_problems(config_problems(cfg))


def check_config_file(path: str) -> ComparisonConfig:
    """Load a comparison config file and check it, reporting every problem found in one pass.

    When the schema itself fails, the parts that can still be read (suite, prompt ids, provider
    ids, labels, metric names) are checked too, so one run of ``workbench validate`` lists all.
    """
    data = read_yaml(path)
    try:
        cfg = parse_config(data, source=path)
    except ConfigError as exc:
        extra = _raw_problems(data, path) if isinstance(data, dict) else []
        seen = {str(exc)}
        problems = [exc, *[p for p in extra if str(p) not in seen and p.key not in _keys_of(exc)]]
        raise_problems(problems)
        raise
    check_config(cfg)
    return cfg


def _keys_of(exc: ConfigError) -> set[str]:
    """The keys a (possibly multi-line) schema error already names."""
    keys = {exc.key or ""}
    for line in str(exc).splitlines():
        parts = line.split(": ")
        if len(parts) >= 3:
            keys.add(parts[1])
    return keys


def _raw_problems(data: dict[str, Any], source: str) -> list[ConfigError]:
    """Cross-field checks on config data that failed its schema: what still has the right shape."""
    problems: list[ConfigError] = []
    suite = None
    ref = data.get("suite", BUILTIN_SUITE)
    if isinstance(ref, str):
        try:
            probe = validate_mapping(
                ComparisonConfig, {"suite": ref, "providers": ["local/synced"]}, source=source, what="a comparison config"
            )
            suite = load_config_suite(probe)
        except ConfigError as exc:
            problems.append(exc if exc.path else exc.rekey(path=source, key="suite"))
    prompts = data.get("prompts")
    if suite is not None and isinstance(prompts, list):
        for i, pid in enumerate(prompts):
            if isinstance(pid, str):
                try:
                    suite.get(pid)
                except ConfigError as exc:
                    problems.append(exc.rekey(path=source, key=f"prompts[{i}]"))
    providers = data.get("providers")
    labels: set[str] = set()
    for i, entry in enumerate(providers if isinstance(providers, list) else []):
        pid = entry if isinstance(entry, str) else entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(pid, str):
            continue
        params = entry.get("params") if isinstance(entry, dict) else None
        try:
            get_provider(pid, params if isinstance(params, dict) else None)
        except ConfigError as exc:
            problems.append(exc.rekey(path=source, key=f"providers[{i}].id"))
        label = entry.get("label") if isinstance(entry, dict) else None
        name = label if isinstance(label, str) and label else pid
        if name in labels:
            problems.append(ConfigError(f"duplicate provider label {name!r}", path=source, key=f"providers[{i}]"))
        labels.add(name)
    metrics = data.get("metrics")
    names = known_names()
    for i, m in enumerate(metrics if isinstance(metrics, list) else []):
        if isinstance(m, str) and m not in names:
            problems.append(
                ConfigError(f"unknown metric {m!r}{did_you_mean(m, sorted(names))}", path=source, key=f"metrics[{i}]")
            )
    return problems


def preflight(cfg: ComparisonConfig, store: ClipStore, *, pending_keys: frozenset[str] = frozenset()) -> list[str]:
    """Every prerequisite missing for what this run would send, in one list (empty: ready to go).

    Each model with at least one clip to generate (not already in ``store``), or with a job
    journaled in ``pending_keys`` (a resumed run polls those), is asked for its
    :meth:`~workbench.providers.base.Provider.prerequisites`: an API key, a project. A model whose
    every clip is a cache hit needs nothing. Offline, nothing is sent.
    """
    from workbench.generate import cached_clip, plan_cells

    needed: dict[str, int] = {}
    for cell in plan_cells(cfg):
        if cell.request.key() in pending_keys or cached_clip(store, cell.request) is None:
            needed[cell.model] = needed.get(cell.model, 0) + 1
    problems = []
    for i, entry in enumerate(cfg.providers):
        n = needed.get(entry.name, 0)
        if not n:
            continue
        for p in get_provider(entry.id, entry.params).prerequisites():
            where = f"providers[{i}] {entry.name}" + (f" ({entry.id})" if entry.name != entry.id else "")
            problems.append(f"{where}: {p} ({n} clip{'s' if n != 1 else ''} to generate)")
    return problems


def require_prerequisites(cfg: ComparisonConfig, store: ClipStore, *, pending_keys: frozenset[str] = frozenset()) -> None:
    """Raise :class:`~workbench.errors.PrerequisiteError` listing every missing prerequisite (see :func:`preflight`)."""
    problems = preflight(cfg, store, pending_keys=pending_keys)
    if problems:
        raise PrerequisiteError(problems)
