"""The metric registry: what each metric is called, its unit, direction and aggregation.

An *analyzer* is one registered function that reads a clip (through a
:class:`~workbench.analysis.ClipContext`) and returns one :class:`Score` per output
metric it declares. Several outputs share one analyzer when they share the work (lip
offset, drift and confidence come from one mouth track). An analyzer that cannot score
a clip returns :meth:`Score.unscored` with the reason: it never guesses.

Batch analyzers (the mute-test swap) compute per-clip features first (``features``),
then one cross-clip step over the whole batch (``batch``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from workbench.analysis import ClipContext


@dataclass(frozen=True)
class Score:
    """One metric reading: a number, or the reason there is none."""

    value: float | None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            object.__setattr__(self, "reason", self.reason or "not a finite number")
            object.__setattr__(self, "value", None)
        if self.value is None and not self.reason:
            object.__setattr__(self, "reason", "unscored")

    @classmethod
    def unscored(cls, reason: str, **details: Any) -> Score:
        """A metric that could not measure this clip, with why."""
        return cls(value=None, reason=reason, details=details)

    @property
    def scored(self) -> bool:
        """True when the score carries a number."""
        return self.value is not None


@dataclass(frozen=True)
class MetricSpec:
    """Metadata of one output metric (a leaderboard column)."""

    name: str
    unit: str
    higher_is_better: bool | None
    """None when neither direction is better (a signed offset: closer to 0 is better)."""
    description: str
    aggregate: Literal["median", "mean"] = "median"
    best_at_zero: bool = False
    """Signed metrics whose ideal value is 0; the leaderboard ranks them by |value|."""
    resolution: float | None = None
    """Step below which two models' values are a tie in the leaderboard rank: the accuracy the
    metric is validated to (README, "Accuracy"). The rank compares ``floor(value / resolution)``."""


ClipFn = Callable[["ClipContext"], dict[str, Score]]
FeatureFn = Callable[["ClipContext"], Any]
BatchFn = Callable[[Sequence[Any], Sequence["ClipContext"]], list[dict[str, Score]]]


@dataclass(frozen=True)
class Analyzer:
    """A registered analysis producing one or more output metrics."""

    name: str
    version: int
    outputs: tuple[MetricSpec, ...]
    fn: ClipFn | None = None
    features: FeatureFn | None = None
    batch: BatchFn | None = None
    default: bool = True
    """Whether runs use this analyzer when the config names no metrics."""

    @property
    def is_batch(self) -> bool:
        """True for cross-clip analyzers (features then one batch step)."""
        return self.batch is not None


_ANALYZERS: dict[str, Analyzer] = {}


def register(analyzer: Analyzer) -> Analyzer:
    """Add an analyzer to the registry (its output names must be unique)."""
    taken = {m.name: a.name for a in _ANALYZERS.values() for m in a.outputs if a.name != analyzer.name}
    for m in analyzer.outputs:
        if m.name in taken:
            raise ValueError(f"metric {m.name!r} already registered by analyzer {taken[m.name]!r}")
    if analyzer.fn is None and analyzer.batch is None:
        raise ValueError(f"analyzer {analyzer.name!r} needs fn or batch")
    _ANALYZERS[analyzer.name] = analyzer
    return analyzer


def analyzer(
    name: str,
    *,
    version: int,
    outputs: Sequence[MetricSpec],
    default: bool = True,
) -> Callable[[ClipFn], ClipFn]:
    """Decorator registering a per-clip analyzer ``fn(ctx) -> {metric: Score}``."""

    def deco(fn: ClipFn) -> ClipFn:
        register(Analyzer(name=name, version=version, outputs=tuple(outputs), fn=fn, default=default))
        return fn

    return deco


def _load_builtin() -> None:
    # Importing the package registers every built-in analyzer.
    import workbench.metrics  # noqa: F401


def list_analyzers() -> list[Analyzer]:
    """Every registered analyzer, in registration order."""
    _load_builtin()
    return list(_ANALYZERS.values())


def get_analyzer(name: str) -> Analyzer:
    """The analyzer called ``name`` (or the one that outputs metric ``name``)."""
    _load_builtin()
    if name in _ANALYZERS:
        return _ANALYZERS[name]
    for a in _ANALYZERS.values():
        if any(m.name == name for m in a.outputs):
            return a
    raise KeyError(name)


def metric_specs() -> dict[str, MetricSpec]:
    """Every output metric by name."""
    return {m.name: m for a in list_analyzers() for m in a.outputs}
