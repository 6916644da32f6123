"""Where per-clip analysis runs: in this process, or in local worker processes.

An executor maps a picklable task over argument tuples and yields ``(index, result)``
as results arrive (unordered), so callers can write each result as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol


class AnalysisExecutor(Protocol):
    """What the runner needs from an executor."""

    name: str
    dashboard_link: str | None

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        """Run ``fn(*a)`` for each ``a`` in ``args``; yield ``(index, result)`` as they finish."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class InProcessExecutor:
    """Runs tasks one after another in this process (default for a handful of clips)."""

    name = "in-process"
    dashboard_link = None

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        for i, a in enumerate(args):
            yield i, fn(*a)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Runs tasks in ``workers`` local processes."""

    name = "processes"
    dashboard_link = None

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers)

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        futs = {self._pool.submit(fn, *a): i for i, a in enumerate(args)}
        for fut in as_completed(futs):
            yield futs[fut], fut.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def make_executor(kind: str = "auto", *, workers: int | None = None, n_tasks: int = 0) -> AnalysisExecutor:
    """An executor by name: ``in-process``, ``processes`` or ``auto`` (processes when worth it)."""
    import os

    workers = workers or os.cpu_count() or 1
    if kind == "auto":
        kind = "processes" if workers > 1 and n_tasks > 2 else "in-process"
    if kind == "in-process":
        return InProcessExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    raise ValueError(f"unknown executor {kind!r}; known: auto, in-process, processes")
