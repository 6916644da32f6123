"""The ``workbench`` command line.

Exit codes: 0 success; 1 a config, suite, id or prerequisite is wrong (nothing was run or paid
for); 2 the run finished but some cells failed (``analyze``: some clips could not be analyzed).
``workbench probe``: 2 a model differs from the catalogue or failed, 3 some keys are missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, WorkbenchError

if TYPE_CHECKING:
    from workbench.config import ComparisonConfig


def _load_cfg(args: argparse.Namespace) -> ComparisonConfig:
    """The config from the file (or the built-in default) with the command line's overrides, fully checked."""
    from workbench.config import default_config, load_config
    from workbench.validate import check_config

    overrides = {}
    if args.models:
        overrides["providers"] = list(args.models)
    if args.prompts:
        overrides["prompts"] = list(args.prompts)
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.config is None:
        cfg = default_config(**overrides)
    elif overrides:
        from workbench.config import parse_config
        from workbench.prompt import read_yaml

        data = read_yaml(args.config)
        if not isinstance(data, dict):
            raise ConfigError("a comparison config must be a mapping", path=str(args.config))
        flags = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in overrides.items())
        described = str(data.get("description") or "").strip()
        data = {**data, **overrides, "description": f"{described} (overridden on the command line: {flags})".strip()}
        cfg = parse_config(data, source=str(args.config))
    else:
        cfg = load_config(args.config)
    check_config(cfg)
    return cfg


#: The widest line the end of a run prints (the full numbers are in the CSV).
SUMMARY_WIDTH = 100


def _failure_lines(samples: Any, width: int = SUMMARY_WIDTH) -> list[str]:
    """Each failed cell with its kind and reason, wrapped to ``width`` columns."""
    import textwrap

    failed = [s for s in samples if s.status != "ok"]
    if not failed:
        return []
    out = [f"Failed: {len(failed)} of {len(samples)} cells:"]
    for s in failed:
        text = f"{s.sample_id}: {s.kind or 'failed'}: {s.reason or 'no reason recorded'}"
        out += textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="      ")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.pipeline import run_comparison
    from workbench.rundir import RunDir

    cfg = _load_cfg(args)
    run = RunDir.open(args.resume, key="--resume") if args.resume else None
    if args.executor or args.scheduler:
        cfg = cfg.model_copy(
            update={"executor": args.executor or "dask", "scheduler": args.scheduler or cfg.scheduler}
        )
    n_models = len(cfg.providers)
    print(f"workbench: {cfg.name}: {n_models} models, suite {cfg.suite}, {cfg.repeats} repeat(s)", file=sys.stderr)
    res = run_comparison(
        cfg, run_dir=run.path if run else None, jobs=args.jobs, quiet=args.quiet,
        report=False if args.no_report else None,
    )  # fmt: skip
    st = res.stats
    print(_verdict_summary(res.run_dir))
    print()
    if st["generated"] == 0 and st["cache_hits"] == st["cells"]:
        print(f"All {st['cells']} clips were cache hits: nothing was generated.")
    else:
        print(f"Generated {st['generated']} clips, {st['cache_hits']} cache hits, {st['failed']} failed.")
    print(f"Run folder: {res.run_dir}")
    out = RunDir(res.run_dir)
    for path in (out.leaderboard_path("csv"), out.leaderboard_path("md"), out.leaderboard_path("html"), out.scores_path):
        print(f"  {path.name}: {path}")
    if res.report is not None:
        print(f"Report: {res.report}")
    elif "report_error" in st:
        print(f"Report failed: {st['report_error']}", file=sys.stderr)
    for line in _failure_lines(res.samples):
        print(line)
    print(f"Done in {st['wall_s']} s.")
    return 2 if st["failed"] else 0


def _verdict_summary(run_dir: Path) -> str:
    """The end of a run: usable takes and each check's pass count per model (fits 100 columns)."""
    import textwrap

    from workbench.outputs.checks import verdict_table
    from workbench.outputs.leaderboard import leaderboard, to_text

    lb = leaderboard(run_dir)
    notes = [
        line
        for r in lb.itertuples()
        if r.separable
        for line in textwrap.wrap(f"{r.model}: {r.separable}", SUMMARY_WIDTH, initial_indent="  ", subsequent_indent="    ")
    ]
    table = verdict_table(lb)
    left_out: list[str] = []
    while max(map(len, to_text(table, width=10_000).splitlines())) > SUMMARY_WIDTH and len(table.columns) > 3:
        left_out.insert(0, str(table.columns[-2]))  # the last check before gen.fail; model names stay whole
        table = table.drop(columns=table.columns[-2])
    if left_out:
        notes.append(f"  (no room for: {', '.join(left_out)}; every check is in leaderboard.md)")
    return (
        "Usable takes (pass every check their prompt asks for); checks passed/told (?n: could not tell):\n"
        + to_text(table, width=SUMMARY_WIDTH)
        + ("\n".join(notes) + "\n" if notes else "")
        + "Every number: leaderboard.csv; each check's reason per clip: verdicts.csv and the report."
    )


#: Metrics whose evidence ``analyze --json`` prints (the transcript and the lines; the phonetic events).
ANALYZE_EVIDENCE = ("line_wer", "lip_offset_phonetic_ms")


def cmd_analyze(args: argparse.Namespace) -> int:
    from workbench.analysis.engine import analyze_clips, check_clip, select_analyzers
    from workbench.metrics.context import ClipContext
    from workbench.metrics.evidence import LIP_TURNS
    from workbench.prompt import resolve_suite

    prompt = None
    if args.prompt:
        if not args.suite:
            raise ConfigError("--prompt needs --suite (a suite file or 'builtin')", key="--prompt")
        prompt = resolve_suite(args.suite).get(args.prompt)
    analyzers = select_analyzers(args.metrics or None)
    per_clip = analyze_clips(args.clips, prompt, analyzers)
    out = []
    for clip, scores in zip(args.clips, per_clip, strict=True):
        bad = check_clip(ClipContext(path=Path(clip)))
        entry: dict[str, Any] = {
            "clip": str(clip),
            "metrics": {k: v.value for k, v in scores.items() if v.value is not None},
            "unscored": {k: v.reason for k, v in scores.items() if v.value is None},
        }
        evidence = {k: dict(scores[k].details) for k in ANALYZE_EVIDENCE if k in scores and scores[k].details}
        if evidence:
            entry["evidence"] = evidence
        if bad:
            entry["error"] = bad
        lip = scores.get(LIP_TURNS[0])
        turns = (lip.details or {}).get(LIP_TURNS[1]) if lip is not None else None
        if turns:  # who speaks when: each turn's face, its box (full-resolution pixels) and frames
            entry["speaker_turns"] = turns
        out.append(entry)
    code = 2 if any("error" in e for e in out) else 0  # some clips could not be analyzed (each says why)
    if args.json:
        print(json.dumps(out, indent=1))
        return code
    for e in out:
        print(f"{e['clip']}" + (f": {e['error']}" if "error" in e else ""))
        if "error" in e:
            continue
        for k, v in e["metrics"].items():
            print(f"  {k:28s} {v:10.4g}")
        for k, why in e["unscored"].items():
            print(f"  {k:28s} {'–':>10s}  ({why})")
        for t in e.get("speaker_turns") or []:
            off = "" if t["offset_ms"] is None else f", {t['offset_ms']:+.0f} ms"
            print(f"  turn {t['start_s']:5.1f}-{t['end_s']:5.1f} s: face {t['face']} ({t['position']}) box {t['box']}{off}")
    bad = sum("error" in e for e in out)
    if bad:
        print(f"{bad} of {len(out)} clips could not be analyzed (exit code 2).", file=sys.stderr)
    return code


def cmd_validate(args: argparse.Namespace) -> int:
    from workbench.config import load_config_suite
    from workbench.prompt import load_suite, read_yaml
    from workbench.validate import check_config_file

    data = read_yaml(args.file)
    if isinstance(data, dict) and "providers" in data:
        cfg = check_config_file(str(args.file))  # every problem in one pass
        suite = load_config_suite(cfg)
        print(f"{args.file}: OK: comparison {cfg.name!r}, {len(suite.prompts)} prompts x {len(cfg.providers)} models")
    else:
        suite = load_suite(args.file)
        print(f"{args.file}: OK: suite {suite.name!r} v{suite.version}, {len(suite.prompts)} prompts")
    return 0


def cmd_prompts(args: argparse.Namespace) -> int:
    from workbench.prompt import TEMPLATE_VERSION, resolve_suite

    suite = resolve_suite(args.suite)
    prompts = [suite.get(args.id)] if args.id else list(suite.prompts)  # an unknown id: exit 1
    for p in prompts:
        lo, hi = p.acoustics.expected_rt60_s()
        print(f"## {p.id} ({p.acoustics.space_class()}, RT60 {lo:g}-{hi:g} s) [{TEMPLATE_VERSION}]")
        print(p.canonical_text() + "\n")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from workbench.providers.registry import catalogue

    rows = catalogue()
    if args.json:
        print(json.dumps([_model_json(m) for m in rows], indent=1, default=str))
        return 0
    if args.detail:
        for m in rows:
            print(_model_detail(m))
        return 0
    # fits 100 columns: id (52 at most), price, key, when the facts were last checked, one short note
    w = max(len(m.id) for m in rows)
    print(f"{'model':{w}s} {'$/s':>5s} {'key':7s} {'checked':7s} notes")
    for m in rows:
        key = "-" if not m.key_env else ("set" if m.key_set else "MISSING")
        price = f"{m.price_per_second_usd:5.3f}" if m.price_per_second_usd else "    0"
        note = "rewrites prompts*" if m.prompt_rewrite_note else ("see below" if m.usage else m.audio)
        line = f"{m.id:{w}s} {price} {key:7s} {m.checked[:7] or '-':7s} {note}"
        print(line if len(line) <= 100 else line[:99] + "…")
    rewriters = [m.id for m in rows if m.prompt_rewrite_note]
    if rewriters:
        print("\n* the vendor rewrites the prompt and offers no off switch (Veo 3/3.1); every other rewriting switch")
        print("  is sent switched off. Recorded in each clip's notes.")
    for m in rows:
        if m.auth_note:
            print(f"\nKling auth: {m.auth_note}.")
            break
    print("\nfolder/<name>: your own clips; " + _folder_usage())
    print("Keys come only from environment variables: `--detail` names them, with each fact's source and")
    print("date; `--json` gives everything. `workbench probe` checks the catalogue with your keys.")
    return 0


def _folder_usage() -> str:
    from workbench.providers.registry import FOLDER_USAGE

    return FOLDER_USAGE.split(": ", 1)[1].replace(" and DIR", "\n  and DIR")


def _model_json(m) -> dict:
    from dataclasses import asdict

    d = asdict(m)
    d["sources"] = {k: {"source": f.source, "checked": f.checked, "status": f.status} for k, f in m.sources.items()}
    d["checked"] = m.checked
    return d


def _model_detail(m) -> str:
    import textwrap

    cap = m.capabilities
    lines = [f"{m.id}: {m.description}"]
    if m.usage:
        lines.append(f"usage: {m.usage}")
    lines.append(f"price: ${m.price_per_second_usd:.3f}/s ({m.price_note})")
    if m.key_env:
        lines.append(f"key: {' | '.join(m.key_env)} ({'set' if m.key_set else 'MISSING'})"
                     + (f"; base URL: {m.base_url_env}" if m.base_url_env else ""))  # fmt: skip
    if m.auth_note:
        lines.append(f"auth used: {m.auth_note}")
    lines.append(f"audio: {m.audio}; durations {cap.durations_s[0]:g}-{cap.durations_s[1]:g} s; "
                 f"aspect {', '.join(cap.aspect_ratios)}")  # fmt: skip
    if m.rewrite_off:
        lines.append("prompt rewriting sent off: " + ", ".join(f"{k}={v!r}" for k, v in m.rewrite_off.items()))
    if m.prompt_rewrite_note:
        lines.append(f"prompt rewritten anyway: {m.prompt_rewrite_note}")
    if m.lost_submit:
        lines.append(f"lost submission: {m.lost_submit}")
    for k, f in m.sources.items():
        lines.append(f"source of {k}: {f}")
    out = []
    for i, line in enumerate(lines):
        ind = "" if i == 0 else "  "
        out += textwrap.wrap(line, width=100, initial_indent=ind, subsequent_indent=ind + "    ") or [ind]
    return "\n".join(out) + "\n"


def cmd_plan(args: argparse.Namespace) -> int:
    from workbench.generate import cached_clip, plan_cells
    from workbench.providers.registry import get_provider
    from workbench.rundir import results_root
    from workbench.store import ClipStore
    from workbench.validate import preflight

    cfg = _load_cfg(args)
    store = ClipStore(results_root() / "store")
    cells = plan_cells(cfg)
    hits = cost = 0.0
    problems = []
    for c in cells:
        prov = get_provider(c.provider_id, c.request.params)
        if cached_clip(store, c.request) is not None:
            hits += 1
        else:
            cost += prov.estimate_cost(c.request)
        problems += [f"{c.sample_id}: {v}" for v in prov.validate(c.request)]
    n_p = len({c.prompt.id for c in cells})
    print(f"{cfg.name}: {n_p} prompts x {len(cfg.providers)} models x {cfg.repeats} repeats = {len(cells)} clips")
    print(f"cache hits: {int(hits)}; to generate: {len(cells) - int(hits)}; estimated cost: ${cost:.2f}")
    if cfg.budget_usd is not None:
        print(f"budget: ${cfg.budget_usd:.2f}" + ("  (EXCEEDED: run will stop at the budget)" if cost > cfg.budget_usd else ""))
    for p in problems:
        print(f"capability: {p}")
    for entry in cfg.providers:
        note = get_provider(entry.id, entry.params).prompt_rewrite_note
        if note:
            print(f"prompt rewriting: {entry.name}: {note}")
    missing = preflight(cfg, store)
    for p in missing:
        print(f"missing: {p}")
    if missing:
        print(f"{len(missing)} prerequisite(s) missing: `workbench run` would stop before anything is sent or paid for.")
    return 1 if problems or missing else 0


def cmd_probe(args: argparse.Namespace) -> int:
    import asyncio

    from workbench.providers import probe

    ids = probe.resolve_ids(args.models)
    if args.paid:
        print(f"--paid: one real generation per model ({len(ids)}), billed at its price.", file=sys.stderr)
    results = asyncio.run(probe.probe_models(ids, paid=args.paid, timeout_s=args.timeout))
    print(probe.format_results(results))
    code = probe.exit_code(results)
    print({0: "All probed models are as catalogued.", 2: "Some models differ from the catalogue or failed.",
           3: "Some keys are missing: those models were not probed."}[code])  # fmt: skip
    return code


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.outputs.leaderboard import write_leaderboard
    from workbench.report.render import bundle_report, render_report
    from workbench.rundir import RunDir

    run = RunDir.open(args.run_dir, scored=True, key="RUN_DIR")
    write_leaderboard(run)
    print(f"Report: {render_report(run)}")
    if args.zip:
        print(f"Bundle to send: {bundle_report(run)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per verb)."""
    ap = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def matrix_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", nargs="?", help="comparison YAML (default: built-in suite x local models)")
        p.add_argument("--models", nargs="+", metavar="ID", help="override the providers, e.g. local/synced local/drift")
        p.add_argument("--prompts", nargs="+", metavar="ID", help="only these prompt ids")
        p.add_argument("--repeats", type=int, help="override repeats")

    p = sub.add_parser("run", help="generate, score and report a comparison")
    matrix_opts(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run in its folder (journaled jobs are polled, not resubmitted)")
    p.add_argument("--jobs", type=int, default=None, help="analysis workers (default: all cores)")
    p.add_argument(
        "--executor",
        choices=["auto", "in-process", "processes", "dask"],
        help="where analysis runs (default: the config's, else auto)",
    )
    p.add_argument("--scheduler", metavar="ADDR", help="an existing Dask scheduler, e.g. tcp://host:8786 (implies dask)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("plan", help="show the matrix, cache hits, capability problems and cost; runs nothing")
    matrix_opts(p)
    p.set_defaults(fn=cmd_plan)

    p = sub.add_parser("analyze", help="score clips you already have")
    p.add_argument("clips", nargs="+", metavar="CLIP")
    p.add_argument("--suite", help="suite file (or 'builtin') holding the prompt that gives targets")
    p.add_argument("--prompt", help="prompt id in --suite")
    p.add_argument("--metrics", nargs="+", metavar="NAME", help="analyzer or metric names (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(fn=cmd_analyze)

    p = sub.add_parser("validate", help="check a suite or comparison YAML; runs nothing")
    p.add_argument("file")
    p.set_defaults(fn=cmd_validate)

    p = sub.add_parser("prompts", help="print the canonical text of a suite's prompts")
    p.add_argument("suite", nargs="?", default="builtin")
    p.add_argument("--id", help="only this prompt")
    p.set_defaults(fn=cmd_prompts)

    p = sub.add_parser("models", help="list the models the workbench can call")
    p.add_argument("--detail", action="store_true", help="every fact with its source and date, keys, switches")
    p.add_argument("--json", action="store_true", help="the whole catalogue as JSON")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser(
        "probe", help="check with your keys that the catalogue is still true (free; --paid: one clip each)",
        description="Exit codes: 0 as catalogued; 1 bad arguments; 2 a model differs from the catalogue or "
        "failed; 3 keys missing for some models (not probed).",
    )  # fmt: skip
    p.add_argument("models", nargs="*", metavar="MODEL", help="catalogued remote model ids (default: all)")
    p.add_argument("--paid", action="store_true", help="one real generation of the shortest duration per model")
    p.add_argument("--timeout", type=float, default=1800.0, help="--paid: seconds to wait for each clip")
    p.set_defaults(fn=cmd_probe)

    p = sub.add_parser("report", help="rebuild a run's leaderboard and HTML report from stored results")
    p.add_argument("run_dir")
    p.add_argument("--zip", action="store_true", help="also zip report.html with its assets/ to send it")
    p.set_defaults(fn=cmd_report)

    from workbench.cli import notebooks

    notebooks.add_commands(sub)  # batch, compare: papermill schedules and run-over-run
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except WorkbenchError as exc:  # a config, suite or prerequisite is wrong: nothing ran
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun with --resume RUN_DIR to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
