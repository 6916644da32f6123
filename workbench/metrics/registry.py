"""The metric registry: which analyzers exist and which metrics each one outputs.

An *analyzer* is one registered function that reads a clip (through a
:class:`~workbench.metrics.context.ClipContext`) and returns one
:class:`~workbench.metrics.spec.Score` per output metric it declares. Several outputs share
one analyzer when they share the work (lip offset, drift and confidence come from one mouth
track). An analyzer that cannot score a clip returns :meth:`Score.unscored` with the reason:
it never guesses.

Batch analyzers (the mute-test swap) compute per-clip features first (``features``), then one
cross-clip step over the whole batch (``batch``).

Registration is explicit: importing an analyzer module registers it, and
:mod:`workbench.metrics.builtin` imports every built-in one (the analysis engine does). The
built-in metrics' specs are known without that import (:data:`workbench.metrics.spec.BUILTIN`),
so naming and describing metrics never loads the signal-processing stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.metrics.spec import BUILTIN, MetricSpec, Score

if TYPE_CHECKING:
    from workbench.metrics.context import ClipContext, Watch

ClipFn = Callable[["ClipContext"], dict[str, Score]]
FeatureFn = Callable[["ClipContext"], Any]
BatchFn = Callable[[Sequence[Any], Sequence["ClipContext"]], list[dict[str, Score]]]


@dataclass(frozen=True)
class Analyzer:
    """A registered analysis producing one or more output metrics.

    A per-clip analyzer has ``fn``; a batch analyzer has ``features`` and ``batch``.
    """

    name: str
    version: int
    outputs: tuple[MetricSpec, ...]
    fn: ClipFn | None = None
    features: FeatureFn | None = None
    batch: BatchFn | None = None
    default: bool = True
    """Whether runs use this analyzer when the config names no metrics."""
    watches: tuple[Watch[Any], ...] = ()
    """Results it reads that are computed from the full-resolution frames during the decode
    (:class:`~workbench.metrics.context.Watch`): the engine attaches them to the clip's context."""

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
    if analyzer.fn is None and (analyzer.batch is None or analyzer.features is None):
        raise ValueError(f"analyzer {analyzer.name!r} needs fn, or features and batch")
    _ANALYZERS[analyzer.name] = analyzer
    return analyzer


def analyzer(
    name: str,
    *,
    version: int,
    outputs: Sequence[MetricSpec],
    default: bool = True,
    watches: Sequence[Watch[Any]] = (),
) -> Callable[[ClipFn], ClipFn]:
    """Decorator registering a per-clip analyzer ``fn(ctx) -> {metric: Score}``."""

    def deco(fn: ClipFn) -> ClipFn:
        register(
            Analyzer(name=name, version=version, outputs=tuple(outputs), fn=fn, default=default, watches=tuple(watches))
        )
        return fn

    return deco


def watches_of(analyzers: Sequence[Analyzer]) -> tuple[Watch[Any], ...]:
    """The watches the given analyzers read, each once (in first-seen order)."""
    return tuple(dict.fromkeys(w for a in analyzers for w in a.watches))


def list_analyzers() -> list[Analyzer]:
    """Every registered analyzer: the built-in ones in :data:`BUILTIN` order, then the others as registered."""
    order = {name: i for i, name in enumerate(BUILTIN)}
    return sorted(_ANALYZERS.values(), key=lambda a: order.get(a.name, len(order)))


def get_analyzer(name: str) -> Analyzer:
    """The registered analyzer called ``name`` (or the one that outputs metric ``name``).

    Raises
    ------
    KeyError
        No registered analyzer has that name or outputs that metric.
    """
    if name in _ANALYZERS:
        return _ANALYZERS[name]
    for a in _ANALYZERS.values():
        if any(m.name == name for m in a.outputs):
            return a
    raise KeyError(name)


def metric_specs() -> dict[str, MetricSpec]:
    """Every known output metric by name: the built-in ones and any registered since."""
    specs = {m.name: m for outs in BUILTIN.values() for m in outs}
    specs.update({m.name: m for a in _ANALYZERS.values() for m in a.outputs})
    return specs


def known_names() -> dict[str, str]:
    """Every name a config may list under ``metrics:``: analyzer and metric names -> analyzer name."""
    names: dict[str, str] = {}
    groups = {**{a: tuple(o) for a, o in BUILTIN.items()}, **{a.name: a.outputs for a in _ANALYZERS.values()}}
    for an, outs in groups.items():
        names[an] = an
        names.update({m.name: an for m in outs})
    return names
