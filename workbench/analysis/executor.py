"""Where per-clip analysis runs: in this process, in local worker processes, or on a Dask cluster.

An executor maps a picklable task over argument tuples and yields ``(index, result)`` as
results arrive (unordered), so callers can write each result as soon as it exists.

By convention the first argument of a task is the clip reference (a local path). Every
executor runs the task through :func:`run_task`, which pins the math libraries' thread
pools to one thread: OpenBLAS splits long dot products between its threads, and the
partial sums round differently with 1 and 2 threads, so without the pin a score would
depend on the core count of whichever machine computed it.

The Dask executor (:class:`DaskExecutor`) starts a local cluster using every core, or joins
an existing one by scheduler address. Workers read clips where the client wrote them: a
shared filesystem (the same absolute path everywhere), or any other path or fsspec URL
through a :class:`PathMap` (e.g. ``WORKBENCH_WORKER_RESULTS_DIR=file:///mnt/shared/results``);
URLs are fetched to a local temporary file on the worker. At most ``window`` tasks are in
flight, so client memory stays flat as the batch grows.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from workbench._util import clean_process_context
from workbench.errors import ConfigError, WorkbenchError
from workbench.metrics.registry import list_analyzers

log = logging.getLogger(__name__)

WORKER_ROOT_ENV = "WORKBENCH_WORKER_RESULTS_DIR"
"""Environment variable: the results folder as Dask workers see it (a path or an fsspec URL)."""


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


class ClipNotVisibleError(WorkbenchError, FileNotFoundError):
    """A worker cannot read a clip: the results folder is not shared (or mapped) as configured."""


class WorkerSetupError(WorkbenchError, RuntimeError):
    """A worker lacks a module the client's analyzers come from."""


# -- the task wrapper (runs wherever the task runs) --------------------------------------------

_CONTROLLER: Any = None
_CONTROLLER_NMODULES = -1


@contextmanager
def single_threaded_math() -> Iterator[None]:
    """Pin BLAS and OpenMP thread pools to one thread inside the block.

    Results of long reductions (``np.dot``, ``np.correlate``) then no longer depend on the
    machine's core count. The library scan is cached per process and redone only when new
    modules (and so possibly new shared libraries) were imported since.
    """
    global _CONTROLLER, _CONTROLLER_NMODULES
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (librosa)
        yield
        return
    if _CONTROLLER is None or len(sys.modules) != _CONTROLLER_NMODULES:
        _CONTROLLER, _CONTROLLER_NMODULES = ThreadpoolController(), len(sys.modules)
    with _CONTROLLER.limit(limits=1):
        yield


def is_url(ref: str) -> bool:
    """True for an fsspec URL such as ``s3://b/k`` or ``file:///p`` (not a plain path)."""
    head, sep, _ = ref.partition("://")
    return bool(sep) and head.replace("+", "").replace("-", "").isalnum()


def run_task(
    fn: Callable[..., Any],
    args: tuple,
    imports: Sequence[str] = (),
    *,
    fetch: bool = False,
    require_file: bool = False,
) -> Any:
    """Run ``fn(*args)`` with single-threaded math; the unit every executor ships.

    Parameters
    ----------
    fn : callable
        A picklable task (module-level function).
    args : tuple
        Its arguments; ``args[0]`` is the clip reference when ``fetch`` or ``require_file``.
    imports : sequence of str
        Modules to import first (they register the analyzers the client knows).
    fetch : bool
        Fetch ``args[0]`` when it is an fsspec URL to a local temporary file, call ``fn`` on that.
    require_file : bool
        Raise when ``args[0]`` is a path that does not exist here, instead of letting the
        task record the clip as unreadable (a misconfigured worker must not poison the cache).
    """
    for mod in imports:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise WorkerSetupError(
                f"analyzer module {mod!r} is not importable on worker {socket.gethostname()}: {exc}; "
                "install the same workbench (and plugins) on every worker"
            ) from exc
    with single_threaded_math():
        ref = args[0] if args and isinstance(args[0], str) else None
        if fetch and ref is not None and is_url(ref):
            with _fetched(ref) as local:
                return fn(local, *args[1:])
        if require_file and ref is not None and not os.path.isfile(ref):
            raise ClipNotVisibleError(
                f"clip {ref} is not visible on worker {socket.gethostname()}: share the results folder at the "
                f"same path on every machine, or set {WORKER_ROOT_ENV} to where workers find it"
            )
        return fn(*args)


@contextmanager
def _fetched(url: str) -> Iterator[str]:
    """Copy an fsspec URL to a temporary local file (same file name) and yield its path."""
    import fsspec

    tmpdir = tempfile.mkdtemp(prefix="workbench-clip-")
    local = os.path.join(tmpdir, PurePosixPath(url.split("://", 1)[1]).name or "clip")
    try:
        with fsspec.open(url, "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield local
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def analyzer_modules() -> tuple[str, ...]:
    """Modules defining the analyzers registered in this process (for workers to import)."""
    mods = {getattr(f, "__module__", None) for a in list_analyzers() for f in (a.fn, a.features, a.batch) if f}
    return tuple(sorted(m for m in mods if m and m not in ("__main__", "__mp_main__")))


# -- clip references as workers see them ------------------------------------------------------


@dataclass(frozen=True)
class PathMap:
    """Rewrite local paths under ``local`` to the same place under ``worker`` (a path or fsspec URL).

    Paths outside ``local`` pass through, made absolute.
    """

    local: str
    worker: str

    def __call__(self, path: str) -> str:
        p = Path(os.path.abspath(path))
        root = Path(os.path.abspath(self.local))
        if not p.is_relative_to(root):
            return str(p)
        rel = p.relative_to(root).as_posix()
        return f"{self.worker.rstrip('/')}/{rel}" if rel != "." else self.worker

    @classmethod
    def from_env(cls) -> PathMap | None:
        """The map set by ``WORKBENCH_WORKER_RESULTS_DIR`` (local root: ``WORKBENCH_RESULTS_DIR`` or ``results``)."""
        worker = os.environ.get(WORKER_ROOT_ENV)
        if not worker:
            return None
        return cls(local=os.path.abspath(os.environ.get("WORKBENCH_RESULTS_DIR", "results")), worker=worker)


# -- executors ----------------------------------------------------------------------------------


class InProcessExecutor:
    """Runs tasks one after another in this process (default for a handful of clips)."""

    name = "in-process"
    dashboard_link = None

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        for i, a in enumerate(args):
            yield i, run_task(fn, a)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Runs tasks in ``workers`` local processes, started clean (:func:`workbench._util.clean_process_context`)."""

    name = "processes"
    dashboard_link = None

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=clean_process_context(["workbench.analysis.engine"])
        )

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        mods = analyzer_modules()  # analyzers registered here (plugins, tests) are registered there too
        futs = {self._pool.submit(run_task, fn, a, mods): i for i, a in enumerate(args)}
        for fut in as_completed(futs):
            yield futs[fut], fut.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class DaskExecutor:
    """Runs tasks on a Dask cluster: a local one on every core, or an existing one by address.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); None starts a ``LocalCluster``
        on 127.0.0.1 with ``workers`` single-threaded worker processes.
    workers : int, optional
        Local cluster size (default: every core). Ignored with ``scheduler``.
    path_map : callable, optional
        Rewrites a clip path to what workers can read (see :class:`PathMap`); default from
        ``WORKBENCH_WORKER_RESULTS_DIR``, else paths are only made absolute.
    window : int, optional
        Most tasks in flight (default: 4 per worker thread, at least 8).
    memory_limit : str or int
        Per-worker memory limit of a local cluster (``"auto"``: machine memory / workers).
    dashboard : bool
        Report the dashboard link (served on a free port of 127.0.0.1 for a local cluster;
        only when ``bokeh`` is installed where the scheduler runs).
    timeout_s : float
        How long to wait for the scheduler.
    log_length : int
        Recent messages and transitions Dask keeps per stream for debugging (its default: 1000).
    """

    name = "dask"

    def __init__(
        self,
        *,
        scheduler: str | None = None,
        workers: int | None = None,
        path_map: Callable[[str], str] | None = None,
        window: int | None = None,
        memory_limit: str | int = "auto",
        dashboard: bool = True,
        timeout_s: float = 30.0,
        log_length: int = 10,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RuntimeError("the dask executor needs `pip install 'dask[distributed]'`") from exc
        if not log.isEnabledFor(logging.DEBUG):  # Dask logs every connection at INFO; keep the CLI readable
            logging.getLogger("distributed").setLevel(logging.WARNING)
        self.path_map = path_map if path_map is not None else PathMap.from_env()
        self.window = window
        self.max_in_flight = 0
        """Most tasks that were in flight at once in the last map (for tests and benchmarks)."""
        self._cluster = None
        import dask

        # Dask keeps the last ``low-level-log-length`` messages of every stream and transition
        # (task arguments included) for debugging: 1000 by default, several MiB held in this
        # process (client; scheduler too for a local cluster) however short the batch.
        with dask.config.set({"distributed.admin.low-level-log-length": log_length}):
            if scheduler:
                try:
                    self._client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
                except OSError as exc:
                    raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}", key="scheduler") from exc
            else:
                self._cluster = LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    # Never the default fixed port 8787: the scheduler's HTTP server always starts.
                    dashboard_address="127.0.0.1:0",
                    memory_limit=memory_limit,
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster, timeout=f"{timeout_s}s", set_as_default=False)
        self.scheduler_address: str = self._client.scheduler.address
        self.dashboard_link: str | None = self._find_dashboard() if dashboard else None

    def _find_dashboard(self) -> str | None:
        """The dashboard URL when the scheduler serves one (its HTTP server runs without bokeh too)."""
        try:
            if "dashboard" not in self._client.scheduler_info().get("services", {}):
                return None
            has_bokeh = self._client.run_on_scheduler(lambda: importlib.util.find_spec("bokeh") is not None)
        except Exception:
            return None
        return self._client.dashboard_link if has_bokeh else None

    @property
    def client(self) -> Any:
        """The ``distributed.Client``."""
        return self._client

    def nthreads(self) -> int:
        """Worker threads in the cluster now."""
        return sum(self._client.nthreads().values())

    def _ref(self, a: tuple) -> tuple:
        if not a or not isinstance(a[0], str) or is_url(a[0]):
            return a
        ref = self.path_map(a[0]) if self.path_map is not None else os.path.abspath(a[0])
        return (ref, *a[1:])

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed as dask_completed

        if not args:
            return
        imports = analyzer_modules()
        window = self.window or max(8, 4 * self.nthreads())
        tag = f"{getattr(fn, '__name__', 'task')}-{secrets.token_hex(3)}"
        todo = iter(enumerate(args))
        index: dict[str, int] = {}
        ac = dask_completed(loop=self._client.loop)
        self.max_in_flight = 0

        def submit_next() -> None:
            nxt = next(todo, None)
            if nxt is None:
                return
            i, a = nxt
            fut = self._client.submit(
                run_task, fn, self._ref(a), imports, fetch=True, require_file=True, key=f"{tag}-{i}", pure=False
            )
            index[fut.key] = i
            ac.add(fut)
            self.max_in_flight = max(self.max_in_flight, len(index))

        try:
            for _ in range(window):
                submit_next()
            for fut in ac:
                i = index.pop(fut.key)
                result = fut.result()
                fut.release()
                submit_next()
                yield i, result
        finally:
            pending = list(ac.futures)
            if pending:
                self._client.cancel(pending)
            ac.clear()

    def close(self) -> None:
        """Disconnect; a local cluster is shut down, an existing one is left running."""
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    kind: str = "auto",
    *,
    workers: int | None = None,
    n_tasks: int = 0,
    scheduler: str | None = None,
    path_map: Callable[[str], str] | None = None,
) -> AnalysisExecutor:
    """An executor by name: ``in-process``, ``processes``, ``dask`` or ``auto``.

    ``auto`` picks local processes when worth it, or Dask when a ``scheduler`` is given.
    ``dask`` without a scheduler starts a local cluster with ``workers`` processes (default:
    every core); ``path_map`` (default: from ``WORKBENCH_WORKER_RESULTS_DIR``) tells it where
    workers find the clips.
    """
    if scheduler and kind in ("auto", "dask"):
        return DaskExecutor(scheduler=scheduler, path_map=path_map)
    if scheduler:
        raise ConfigError(f"a Dask scheduler address needs the dask executor, not {kind!r}", key="executor")
    n = workers or os.cpu_count() or 1
    if kind == "auto":
        kind = "processes" if n > 1 and n_tasks > 2 else "in-process"
    if kind == "in-process":
        return InProcessExecutor()
    if kind == "processes":
        return ProcessExecutor(n)
    if kind == "dask":
        return DaskExecutor(workers=n, path_map=path_map)
    raise ConfigError(f"unknown executor {kind!r}; known: auto, in-process, processes, dask", key="executor")
