"""Command-line verbs for notebooks, batches and run-over-run comparison.

``workbench explore [RUN]``: JupyterLab at the results root on a working copy of the explorer
notebook with the run preselected (exit 1 when there is no such run; the tracked notebooks are
never opened, so they stay output-free).
``workbench batch SCHEDULE.yaml``: run a schedule of parametrized notebooks with papermill
(exit 0 when every notebook succeeded, 2 when some failed or timed out).
``workbench compare RUN_DIR RUN_DIR ...``: the change of every metric between runs and
whether it is beyond noise (exit 0; 2 with ``--fail-on-worse`` when a metric got worse).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench._util import did_you_mean
from workbench.errors import ConfigError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyterlab_argv(root: Path, notebook: Path, *, port: int, token: str, browser: bool) -> list[str]:
    """The JupyterLab command ``workbench explore`` runs: at ``root``, on 127.0.0.1, opening ``notebook``."""
    argv = [
        sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        "--ContentsManager.pre_save_hook=workbench.ui.savehook.pre_save_hook",
    ]  # fmt: skip
    if sys.platform != "win32":
        argv.append("--KernelManager.transport=ipc")  # local sockets: no "running over TCP without encryption"
    if not browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers often run as root; JupyterLab refuses it otherwise
    argv.append(str(notebook))
    return argv


def _launch(argv: Sequence[str]) -> int:
    """Replace this process with JupyterLab (POSIX), or run it and wait (elsewhere)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], list(argv))
    import subprocess

    return subprocess.call(list(argv))


def cmd_explore(args: argparse.Namespace) -> int:
    from workbench.rundir import RUNS, find_run, latest_run, results_root
    from workbench.ui.workspace import open_explorer

    root = Path(args.results).expanduser().absolute() if args.results else results_root()
    if args.run:
        run = find_run(args.run, root, key="RUN")
    else:
        try:
            run = latest_run(root)
        except FileNotFoundError:
            raise ConfigError(
                f"no runs under {root / RUNS} yet: make one first (`workbench run`, or `make demo` in a checkout)",
                key="RUN",
            ) from None
    notebook = open_explorer(run, root=root, fresh=args.fresh)
    port = args.port or _free_port()
    token = secrets.token_hex(24)
    rel = notebook.relative_to(root).as_posix()
    url = f"http://127.0.0.1:{port}/lab/tree/{rel}?token={token}"
    print(f"Run: {run.name}")
    print(f"Notebook: {notebook} (your working copy; the tracked notebooks/ stay untouched)")
    print(f"JupyterLab at {root}: {url}")
    print("Run all cells (Run > Run All Cells). Stop JupyterLab with Ctrl-C.", flush=True)
    return _launch(jupyterlab_argv(root, notebook, port=port, token=token, browser=not args.no_browser))


def cmd_batch(args: argparse.Namespace) -> int:
    from workbench.batch import Batch, expand, load_schedule
    from workbench.rundir import results_root

    sch = load_schedule(args.schedule)
    if args.only:
        names = [j.name or Path(j.notebook).stem for j in sch.jobs]
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise ConfigError(
                f"no job named {', '.join(unknown)}{did_you_mean(unknown[0], list(dict.fromkeys(names)))}",
                path=args.schedule, key="--only",
            )  # fmt: skip
        keep = [j for j in sch.jobs if (j.name or Path(j.notebook).stem) in args.only]
        sch = sch.model_copy(update={"jobs": keep})
    if args.kernel:
        sch = sch.model_copy(update={"kernel": args.kernel})
    if args.dry_run:
        for j in expand(sch):
            print(f"{j.stem}: {j.notebook.name} {j.parameters} (kernel {j.kernel}, timeout {j.timeout_s:g} s)")
        return 0
    root = Path(args.results) if args.results else results_root()
    batch = Batch(sch, results_root=root, workers=args.workers, html=True if args.html else None)
    print(f"batch {sch.name}: {len(batch.jobs)} notebooks, {batch.workers} at a time -> {batch.dir}", file=sys.stderr)

    def done(job) -> None:
        extra = f": {job.error}" if job.error else ""
        print(f"  {job.stem}: {job.status} in {job.duration_s:.1f} s{extra}", file=sys.stderr)

    man = batch.run(on_done=done)
    print(f"Manifest: {batch.dir / 'manifest.json'}")
    counts = ", ".join(f"{v} {k}" for k, v in man["counts"].items())
    print(f"{len(batch.jobs)} notebooks: {counts}.")
    return 0 if man["status"] == "ok" else 2


def cmd_compare(args: argparse.Namespace) -> int:
    from workbench._util import atomic_write_bytes
    from workbench.outputs.compare import compare_runs, to_text

    cmp = compare_runs(args.run_dirs, baseline=args.baseline)
    print(to_text(cmp, only_changes=args.changes_only))
    if args.csv:
        atomic_write_bytes(Path(args.csv), cmp.changes.to_csv(index=False).encode())
        print(f"CSV: {args.csv}")
    worse = bool((cmp.changes["verdict"] == "worse").any())
    return 2 if args.fail_on_worse and worse else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ``workbench`` parser."""
    p = sub.add_parser(
        "explore", help="open the explorer in JupyterLab on a run (a working copy of the notebook)",
        description="Start JupyterLab at the results root on <results>/notebooks/explore_<run>.ipynb, a working copy "
        "of the explorer with the run preselected (made once; your edits are kept). Exit 1 when there is no such run.",
    )  # fmt: skip
    p.add_argument("run", nargs="?", metavar="RUN", help="a run folder or run id (default: the newest run)")
    p.add_argument("--results", metavar="DIR", help="results root (default: $WORKBENCH_RESULTS_DIR, else the checkout's results/)")
    p.add_argument("--port", type=int, help="JupyterLab's port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p.add_argument("--fresh", action="store_true", help="make the working copy again from the bundled notebook")
    p.set_defaults(fn=cmd_explore)

    p = sub.add_parser("batch", help="run a schedule of parametrized notebooks with papermill")
    p.add_argument("schedule", metavar="SCHEDULE.yaml")
    p.add_argument("--workers", type=int, help="notebooks at once, each in its own kernel (default: the schedule's)")
    p.add_argument("--kernel", help="Jupyter kernel name (default: the schedule's, else python3)")
    p.add_argument("--only", nargs="+", metavar="JOB", help="only the jobs with these names")
    p.add_argument("--html", action="store_true", help="also export each executed notebook to HTML")
    p.add_argument("--results", metavar="DIR", help="results root (default: $WORKBENCH_RESULTS_DIR, else the checkout's results/)")
    p.add_argument("--dry-run", action="store_true", help="list the jobs (grids expanded) and stop")
    p.set_defaults(fn=cmd_batch)

    p = sub.add_parser(
        "compare", help="compare runs: the change of each metric per model, and whether it is beyond noise"
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="two or more run folders, oldest first")
    p.add_argument(
        "--baseline",
        choices=["previous", "first"],
        default="previous",
        help="compare each run with the previous (default) or the first",
    )
    p.add_argument("--changes-only", action="store_true", help="list only changes beyond noise")
    p.add_argument("--csv", metavar="FILE", help="also write every change as CSV")
    p.add_argument("--fail-on-worse", action="store_true", help="exit 2 when a metric got worse beyond noise")
    p.set_defaults(fn=cmd_compare)
