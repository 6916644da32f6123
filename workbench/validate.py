"""Checks that need more than the config's schema: its providers exist and its metrics are known.

:func:`check_config` runs before anything is generated or paid for (``workbench validate``,
``plan`` and ``run``, the notebooks, batches); every problem names the file and the key. It
imports neither the analyzers nor the local renderer, so validating a config stays fast.
"""

from __future__ import annotations

import difflib

from workbench.config import ComparisonConfig, load_config_suite
from workbench.errors import ConfigError
from workbench.metrics.registry import known_names
from workbench.providers.registry import get_provider


def check_config(cfg: ComparisonConfig) -> None:
    """Fail fast on anything that would break later: suite and prompts, providers, labels, metrics.

    Raises
    ------
    ConfigError
        Naming the config file and the key at fault.
    """
    load_config_suite(cfg)
    labels: set[str] = set()
    for i, entry in enumerate(cfg.providers):
        try:
            get_provider(entry.id, entry.params)
        except ConfigError as exc:
            raise exc.rekey(path=cfg.source, key=f"providers[{i}].id") from None
        if entry.name in labels:
            raise ConfigError(f"duplicate provider label {entry.name!r}", path=cfg.source, key=f"providers[{i}]")
        labels.add(entry.name)
    names = known_names()
    for i, m in enumerate(cfg.metrics or ()):
        if m not in names:
            hint = difflib.get_close_matches(m, names, n=3)
            known = f"did you mean {', '.join(hint)}?" if hint else f"known: {', '.join(sorted(names))}"
            raise ConfigError(f"unknown metric {m!r}; {known}", path=cfg.source, key=f"metrics[{i}]")
