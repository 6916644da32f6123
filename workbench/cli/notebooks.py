"""Command-line verbs for notebook batches and run-over-run comparison.

``workbench batch SCHEDULE.yaml``: run a schedule of parametrized notebooks with papermill
(exit 0 when every notebook succeeded, 2 when some failed or timed out).
``workbench compare RUN_DIR RUN_DIR ...``: the change of every metric between runs and
whether it is beyond noise (exit 0; 2 with ``--fail-on-worse`` when a metric got worse).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.errors import ConfigError


def cmd_batch(args: argparse.Namespace) -> int:
    from workbench.batch import Batch, expand, load_schedule
    from workbench.rundir import results_root

    sch = load_schedule(args.schedule)
    if args.only:
        keep = [j for j in sch.jobs if (j.name or Path(j.notebook).stem) in args.only]
        if not keep:
            raise ConfigError(f"no job named {', '.join(args.only)}", path=args.schedule, key="jobs")
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
    p = sub.add_parser("batch", help="run a schedule of parametrized notebooks with papermill")
    p.add_argument("schedule", metavar="SCHEDULE.yaml")
    p.add_argument("--workers", type=int, help="notebooks at once, each in its own kernel (default: the schedule's)")
    p.add_argument("--kernel", help="Jupyter kernel name (default: the schedule's, else python3)")
    p.add_argument("--only", nargs="+", metavar="JOB", help="only the jobs with these names")
    p.add_argument("--html", action="store_true", help="also export each executed notebook to HTML")
    p.add_argument("--results", metavar="DIR", help="results root (default: $WORKBENCH_RESULTS_DIR or ./results)")
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
