"""Batches of parametrized notebooks, run with papermill from a schedule YAML.

A schedule lists jobs; each job is a notebook with parameters, optionally a ``grid`` whose
every combination becomes one job. Each job runs in its own process (``python -m
workbench.batch --one``), which runs papermill with an explicit kernel; the parent waits
at most the job's ``timeout_s`` of wall-clock time and then stops the process (and so its
kernel). A failed or timed-out notebook never stops the others. ``workers`` jobs run at
once (threads, each waiting on one papermill process).

Everything lands in ``<results>/batches/<UTC stamp>_<name>/``: one executed notebook per
job (``NN_<job>.ipynb``, with the failing cell's traceback when it failed), its log, an
optional HTML export, and ``manifest.json`` (rewritten atomically as jobs start and end):
what ran with which parameters, status, duration, error and the paths the notebook
recorded (for a comparison: its run folder and report).

Example schedule::

    name: nightly
    kernel: python3
    timeout_s: 1800
    workers: 2
    jobs:
      - notebook: ../comparison.ipynb
        name: local-models
        parameters: {models: [local/synced, local/dubbed], repeats: 1}
      - notebook: ../comparison.ipynb
        grid: {repeats: [1, 2]}
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench._util import atomic_write_json, slug
from workbench.errors import ConfigError
from workbench.prompt import read_yaml, validate_mapping

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class JobSpec(BaseModel):
    """One entry of a schedule's ``jobs``."""

    model_config = ConfigDict(extra="forbid")
    notebook: str = Field(min_length=1)
    """Path relative to the schedule file (or a notebook name in the bundled ``notebooks/``)."""
    name: str | None = Field(default=None, pattern=_NAME)
    parameters: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    """Each key a parameter, each value a list: every combination runs as one job."""
    timeout_s: float | None = Field(default=None, gt=0)
    kernel: str | None = None

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for k, vals in v.items():
            if not vals:
                raise ValueError(f"grid {k!r} has no values")
        return v


class Schedule(BaseModel):
    """A schedule file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)
    description: str = ""
    kernel: str = "python3"
    timeout_s: float = Field(default=3600, gt=0)
    """Wall-clock limit per notebook (a job's own ``timeout_s`` wins)."""
    workers: int = Field(default=1, ge=1, le=64)
    html: bool = False
    """Also export each executed notebook to HTML (code hidden) beside it."""
    jobs: list[JobSpec] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)


@dataclass
class Job:
    """One notebook run of a batch."""

    index: int
    name: str
    notebook: Path
    parameters: dict[str, Any]
    timeout_s: float
    kernel: str
    status: str = "pending"
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    returncode: int | None = None
    output: str | None = None
    log: str | None = None
    html: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return f"{self.index:02d}_{self.name}"


def _slug(v: Any) -> str:
    s = slug(json.dumps(v) if not isinstance(v, str) else v, keep="-._")
    while "--" in s:
        s = s.replace("--", "-")
    return s[:40]


def _resolve_notebook(ref: str, source: str | None) -> Path | None:
    from workbench.report.render import notebooks_dir

    p = Path(ref)
    cands = [p] if p.is_absolute() else [Path(source).parent / p if source else p, notebooks_dir() / p, p]
    return next((c.resolve() for c in cands if c.is_file()), None)


def _known_kernels() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def load_schedule(path: str | Path) -> Schedule:
    """Read and validate a schedule: its keys, notebooks, parameters and kernels.

    Raises
    ------
    ConfigError
        Naming the file and the key at fault.
    """
    src = str(path)
    data = read_yaml(path)
    sch = validate_mapping(Schedule, data, source=src, what="a schedule")
    check_schedule(sch)
    return sch


def check_schedule(sch: Schedule) -> None:
    """Check that every notebook exists and has a ``parameters`` cell naming the job's parameters."""
    import papermill as pm

    kernels = _known_kernels()
    if sch.kernel not in kernels:
        raise ConfigError(
            f"unknown kernel {sch.kernel!r}; installed: {', '.join(sorted(kernels))}", path=sch.source, key="kernel"
        )
    for i, job in enumerate(sch.jobs):
        nb = _resolve_notebook(job.notebook, sch.source)
        if nb is None:
            raise ConfigError(f"notebook {job.notebook!r} not found", path=sch.source, key=f"jobs[{i}].notebook")
        if job.kernel is not None and job.kernel not in kernels:
            raise ConfigError(
                f"unknown kernel {job.kernel!r}; installed: {', '.join(sorted(kernels))}",
                path=sch.source,
                key=f"jobs[{i}].kernel",
            )
        known = pm.inspect_notebook(str(nb))
        if not known:
            raise ConfigError(f"{nb.name} has no cell tagged 'parameters'", path=sch.source, key=f"jobs[{i}].notebook")
        for where in ("parameters", "grid"):
            for k in getattr(job, where):
                if k not in known:
                    raise ConfigError(
                        f"{nb.name} has no parameter {k!r}; known: {', '.join(known)}",
                        path=sch.source,
                        key=f"jobs[{i}].{where}.{k}",
                    )
        both = set(job.parameters) & set(job.grid)
        if both:
            raise ConfigError(
                f"{sorted(both)} given in both parameters and grid", path=sch.source, key=f"jobs[{i}].grid"
            )


def expand(sch: Schedule) -> list[Job]:
    """Every job of a schedule, grids expanded, numbered in order."""
    jobs: list[Job] = []
    for spec in sch.jobs:
        nb = _resolve_notebook(spec.notebook, sch.source)
        assert nb is not None, spec.notebook
        keys = list(spec.grid)
        combos = list(itertools.product(*(spec.grid[k] for k in keys))) if keys else [()]
        for combo in combos:
            params = {**spec.parameters, **dict(zip(keys, combo, strict=True))}
            name = spec.name or nb.stem
            if keys:
                name += "_" + "_".join(f"{k}-{_slug(v)}" for k, v in zip(keys, combo, strict=True))
            jobs.append(Job(
                index=len(jobs) + 1, name=_slug(name) or "job", notebook=nb, parameters=params,
                timeout_s=spec.timeout_s or sch.timeout_s, kernel=spec.kernel or sch.kernel,
            ))  # fmt: skip
    return jobs


class Batch:
    """Runs the jobs of a schedule and keeps the manifest."""

    def __init__(
        self, sch: Schedule, *, results_root: Path, workers: int | None = None, html: bool | None = None
    ) -> None:
        self.sch = sch
        self.root = Path(results_root).resolve()
        self.workers = workers or sch.workers
        self.html = sch.html if html is None else html
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.dir = self.root / "batches" / f"{stamp}_{sch.name}"
        n = 1
        while self.dir.exists():
            n += 1
            self.dir = self.root / "batches" / f"{stamp}_{sch.name}_{n}"
        self.dir.mkdir(parents=True)
        self.jobs = expand(sch)
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.finished: str | None = None
        self._lock = threading.Lock()
        self.write_manifest()

    def _rel(self, p: str | Path | None) -> str | None:
        if p is None:
            return None
        p = Path(p)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict."""
        states = [j.status for j in self.jobs]
        status = "running" if self.finished is None else ("ok" if all(s == "ok" for s in states) else "failed")
        return {
            "format": MANIFEST_FORMAT,
            "name": self.sch.name,
            "description": self.sch.description,
            "schedule": self.sch.source,
            "results_root": str(self.root),
            "batch_dir": self._rel(self.dir),
            "started": self.started,
            "finished": self.finished,
            "status": status,
            "workers": self.workers,
            "counts": {s: states.count(s) for s in sorted(set(states))},
            "jobs": [
                {
                    "index": j.index, "name": j.name, "notebook": str(j.notebook), "kernel": j.kernel,
                    "parameters": j.parameters, "timeout_s": j.timeout_s, "status": j.status, "error": j.error,
                    "started": j.started, "finished": j.finished, "duration_s": j.duration_s, "returncode": j.returncode,
                    "output": j.output, "log": j.log, "html": j.html, "outputs": j.outputs,
                }
                for j in self.jobs
            ],
        }  # fmt: skip

    def write_manifest(self) -> Path:
        """Rewrite ``manifest.json`` atomically."""
        with self._lock:
            atomic_write_json(self.dir / "manifest.json", self.manifest())
        return self.dir / "manifest.json"

    def run_job(self, job: Job) -> Job:
        """Run one job in its own process with a wall-clock limit; never raises."""
        out = self.dir / f"{job.stem}.ipynb"
        log = self.dir / f"{job.stem}.log"
        res = self.dir / f".{job.stem}.result.json"
        spec = self.dir / f".{job.stem}.spec.json"
        spec.write_text(json.dumps({
            "input": str(job.notebook), "output": str(out), "parameters": job.parameters, "kernel": job.kernel,
            "cwd": os.getcwd(), "result": str(res), "html": str(out.with_suffix(".html")) if self.html else None,
        }))  # fmt: skip
        job.status, job.started = "running", datetime.now(UTC).isoformat(timespec="seconds")
        job.output, job.log = self._rel(out), self._rel(log)
        self.write_manifest()
        env = {**os.environ, "WORKBENCH_RESULTS_DIR": str(self.root), "PYTHONUNBUFFERED": "1"}
        t0 = time.monotonic()
        with open(log, "wb") as lf:
            proc = subprocess.Popen(
                [sys.executable, "-m", "workbench.batch", "--one", str(spec)],
                stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )  # fmt: skip
            try:
                job.returncode = proc.wait(timeout=job.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop(proc)
                job.returncode = proc.returncode
        job.duration_s = round(time.monotonic() - t0, 2)
        job.finished = datetime.now(UTC).isoformat(timespec="seconds")
        result = {}
        if res.is_file():
            try:
                result = json.loads(res.read_text())
            except ValueError:
                result = {}
        if timed_out:
            job.status, job.error = "timeout", f"stopped after {job.timeout_s:g} s (timeout_s)"
        elif result.get("status") == "ok" and job.returncode == 0:
            job.status = "ok"
        else:
            job.status = "failed"
            job.error = result.get("error") or f"papermill process exited with {job.returncode}; see {job.log}"
        if out.is_file():
            from workbench.ui.nbtools import read_outputs

            job.outputs = {k: self._rel(v) or v for k, v in read_outputs(out).items()}
        else:
            job.output = None
        if result.get("html"):
            job.html = self._rel(result["html"])
        for f in (res, spec):
            f.unlink(missing_ok=True)
        self.write_manifest()
        return job

    def run(self, *, on_done=None) -> dict[str, Any]:
        """Run every job (``workers`` at a time); return the final manifest."""

        def one(job: Job) -> Job:
            self.run_job(job)
            if on_done is not None:
                on_done(job)
            return job

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="batch") as pool:
            list(pool.map(one, self.jobs))
        self.finished = datetime.now(UTC).isoformat(timespec="seconds")
        self.write_manifest()
        from workbench.report.render import write_index

        try:
            write_index(self.root)
        except Exception as exc:  # the index is a convenience; the batch stands without it
            log.warning("results index not updated: %s: %s", type(exc).__name__, exc)
        return self.manifest()


def _stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the job's process group (papermill then shuts its kernel down), SIGKILL after ``grace_s``."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


# -- the child process ----------------------------------------------------------------------------


def _one(spec_path: str) -> int:
    """Run one notebook as described by a spec file; write the result file; exit 0 on success."""
    import logging

    import papermill as pm

    from workbench.report.render import kernel_options

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    result: dict[str, Any] = {"status": "failed"}

    def on_term(signum, frame):  # let papermill shut the kernel down
        raise SystemExit(124)

    signal.signal(signal.SIGTERM, on_term)
    try:
        pm.execute_notebook(
            spec["input"], spec["output"], parameters=spec["parameters"], kernel_name=spec["kernel"], cwd=spec["cwd"],
            progress_bar=False, log_output=True, request_save_on_cell_execute=True,
            **(kernel_options() if spec["kernel"].startswith("python") else {}),  # ipykernel: local sockets
        )  # fmt: skip
        result["status"] = "ok"
    except pm.PapermillExecutionError as exc:
        result["error"] = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"[:2000]
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    if spec.get("html") and Path(spec["output"]).is_file():
        try:
            _export_html(Path(spec["output"]), Path(spec["html"]))
            result["html"] = spec["html"]
        except Exception as exc:  # the notebook result stands
            result["html_error"] = f"{type(exc).__name__}: {exc}"
    Path(spec["result"]).write_text(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


def _export_html(executed: Path, out: Path) -> None:
    from workbench._util import atomic_write_bytes
    from workbench.report.html import page, scrub
    from workbench.report.render import export_body

    atomic_write_bytes(out, scrub(page(executed.stem, export_body(executed)), paths=[]).encode())
    os.chmod(out, 0o644)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m workbench.batch")
    ap.add_argument("--one", required=True, metavar="SPEC_JSON", help="internal: run one job")
    sys.exit(_one(ap.parse_args().one))
