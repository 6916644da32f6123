"""The report as a file: papermill runs the report notebook on a run folder, nbconvert exports
its outputs (code hidden), and :func:`render_report` wraps them into a page that stands alone:
``report.html`` beside an ``assets/`` folder. :func:`bundle_report` zips both to send.

:func:`write_index` keeps ``<results>/index.html``, a list of every run and batch with links to
their reports; each render updates it.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import sys
import zipfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from workbench._util import atomic_write_bytes
from workbench.report.html import page, scrub
from workbench.rundir import RUNS, RunDir, as_run, list_runs

REPORT_NOTEBOOK = "compare.ipynb"
#: Cells tagged with this are left out of the exported report (notes for notebook users).
SKIP_TAG = "report-skip"


def notebooks_dir() -> Path:
    """The folder of the bundled notebooks (``notebooks/`` of a checkout, or inside an installed wheel)."""
    return Path(str(resources.files("workbench.notebooks")))


def notebook_path(name: str = REPORT_NOTEBOOK) -> Path:
    """Path of a bundled notebook."""
    p = notebooks_dir() / name
    if not p.is_file():
        raise FileNotFoundError(f"notebook {name} not found in {notebooks_dir()}")
    return p


@functools.cache
def _ipc_kernel_manager() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        """A kernel reached over local sockets (IPC) instead of TCP.

        Each kernel's sockets live in a private temporary folder: jupyter_client's default
        (``kernel-ipc-<n>`` in the working directory) lets two kernels started at once in the same
        folder (a batch's parallel jobs) pick the same socket names, and one of them never answers.
        """

        def __init__(self, **kw: Any) -> None:
            import tempfile

            kw.setdefault("transport", "ipc")
            self._socket_dir = tempfile.mkdtemp(prefix="wb-kernel-")
            kw.setdefault("ip", os.path.join(self._socket_dir, "kernel"))
            super().__init__(**kw)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._socket_dir, ignore_errors=True)

    return IpcKernelManager


#: Seconds a notebook kernel may take to start. papermill's default (60 s) is too short on a loaded
#: machine: a batch starts several kernels at once and each imports the scientific stack (a kernel
#: "didn't respond in 60 seconds" on a 2-core machine running 3 notebooks in parallel).
KERNEL_START_TIMEOUT_S = 300


def kernel_options() -> dict[str, Any]:
    """papermill options for the kernels the workbench starts: local sockets (IPC) on POSIX, and
    a start timeout for loaded machines.

    Over TCP, ipykernel warns on every start that it is "running over TCP without encryption";
    these kernels never leave the machine, so the IPC transport is both quiet and right.
    """
    opts: dict[str, Any] = {"start_timeout": KERNEL_START_TIMEOUT_S}
    if sys.platform != "win32":
        opts["kernel_manager_class"] = _ipc_kernel_manager()
    return opts


def export_body(executed: Path) -> str:
    """The outputs of an executed notebook as an HTML fragment (no code, no skipped cells)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(
        template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={SKIP_TAG}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def render_report(run_dir: str | Path | RunDir, *, timeout_s: int = 600, embed_media_mb: float = 0.0) -> Path:
    """Execute the compare notebook on ``run_dir`` and write the standalone ``report.html``.

    Rebuilds from stored results only (nothing is generated or scored). Updates
    ``<results>/index.html`` when the run sits in a ``runs/`` folder.
    """
    import papermill as pm

    run = RunDir(as_run(run_dir).path.resolve())
    run_dir = run.path
    executed = run_dir / REPORT_NOTEBOOK
    pm.execute_notebook(
        str(notebook_path()),
        str(executed),
        parameters={"run_dir": ".", "embed_media_mb": embed_media_mb},
        cwd=str(run_dir),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        execution_timeout=timeout_s,
        **kernel_options(),
    )
    title = f"AV Workbench report: {run.info().name} ({run.name})"
    text = scrub(page(title, export_body(executed)), paths=[run_dir, run_dir.parent.parent])
    out = run.report_path
    atomic_write_bytes(out, text.encode())
    os.chmod(out, 0o644)
    if run_dir.parent.name == RUNS:
        write_index(run_dir.parent.parent)
    return out


def bundle_report(run_dir: str | Path | RunDir, out: str | Path | None = None) -> Path:
    """Zip ``report.html`` and ``assets/`` of a run into ``<run id>-report.zip`` (in the run folder by default)."""
    run = RunDir(as_run(run_dir).path.resolve())
    run_dir = run.path
    report = run.report_path
    if not report.is_file():
        raise FileNotFoundError(f"{run_dir.name} has no report.html: run `workbench report` first")
    out = Path(out) if out else run_dir / f"{run_dir.name}-report.zip"
    tmp = out.with_name(f".{out.name}.tmp")
    files = [report, *sorted(f for f in run.assets_dir.rglob("*") if f.is_file())]
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for f in files:
            info = zipfile.ZipInfo.from_file(f, f"{run_dir.name}/{f.relative_to(run_dir).as_posix()}")
            info.external_attr = (0o100644 & 0xFFFF) << 16  # readable by whoever unpacks it
            z.writestr(info, f.read_bytes())
    os.replace(tmp, out)
    return out


# -- index --------------------------------------------------------------------------------------


def _run_row(run: RunDir, root: Path) -> dict | None:
    try:
        info = run.info()
        samples = run.samples()
    except (OSError, ValueError, TypeError):
        return None

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix() if p.is_file() else ""

    return {
        "run": run.name,
        "name": info.name,
        "started": info.started[:19].replace("T", " "),
        "status": info.status,
        "models": len({s.model for s in samples}),
        "prompts": len({s.prompt_id for s in samples}),
        "clips": sum(s.status == "ok" for s in samples),
        "failed": sum(s.status != "ok" for s in samples),
        "report": rel(run.report_path),
        "leaderboard": rel(run.leaderboard_path("html")),
    }


def _batch_row(p: Path) -> dict | None:
    try:
        m = json.loads((p / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    jobs = m.get("jobs", [])
    return {
        "batch": p.name,
        "schedule": m.get("name", ""),
        "started": str(m.get("started", ""))[:19].replace("T", " "),
        "status": m.get("status", "?"),
        "ok": sum(j.get("status") == "ok" for j in jobs),
        "failed": sum(j.get("status") not in ("ok", "pending", "running") for j in jobs),
        "manifest": f"batches/{p.name}/manifest.json",
    }


def _links_table(rows: list[dict], link_cols: tuple[str, ...]) -> str:
    if not rows:
        return "<p><i>None yet.</i></p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if c in link_cols:
                cells.append(f'<td><a href="{html.escape(v)}">{html.escape(c)}</a></td>' if v else "<td>–</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="dataframe leaderboard" data-sortable="1"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def write_index(results_root: str | Path) -> Path:
    """Write ``<results_root>/index.html``: every run (newest first) with links to its report, and every batch."""
    root = Path(results_root).resolve()
    batches_dir = root / "batches"
    runs = list_runs(root)[::-1]
    batches = sorted(
        (p for p in batches_dir.glob("*") if (p / "manifest.json").is_file()), key=lambda p: p.name, reverse=True
    )
    run_rows = [r for r in (_run_row(run, root) for run in runs) if r is not None]
    batch_rows = [r for r in map(_batch_row, batches) if r is not None]
    body = (
        "<h1>AV Workbench results</h1>"
        f"<p>{len(run_rows)} runs, {len(batch_rows)} batches. Updated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        "Click a column to sort.</p><h2>Runs</h2>" + _links_table(run_rows, ("report", "leaderboard")) +
        "<h2>Batches</h2>" + _links_table(batch_rows, ("manifest",))
    )  # fmt: skip
    out = root / "index.html"
    atomic_write_bytes(out, scrub(page("AV Workbench results", body), paths=[root]).encode())
    os.chmod(out, 0o644)
    return out
