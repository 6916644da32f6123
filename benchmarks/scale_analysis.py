"""Benchmark: per-clip analysis on a local Dask cluster (not a timed test).

Prints clips per second with 1 and 2 single-threaded workers on the same batch of
local-model clips (rendered once), the scaling efficiency ``(rate2 / rate1) / 2``, and the
client's peak memory while a 2-worker cluster scores a 200-clip and a 1000-clip batch
through :func:`workbench.analysis.engine.score_samples` (the streaming path that writes each result to
the store as it arrives). The big batches reuse the rendered files under distinct clip
hashes, so every task really runs; what the client holds grows with the task count.
Throughput uses every default analyzer (lip sync, acoustics, mute test, ...); the memory
part uses ``basic`` only, to keep 1000 tasks within a few minutes (the task count is what
the client's memory depends on).

Usage::

    python benchmarks/scale_analysis.py                    # about 10 min on 2 cores
    python benchmarks/scale_analysis.py --sizes 100 300    # quicker memory part
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROMPTS = [
    "kitchen-footsteps", "whisper-closeup", "quiet-street", "office-short-line",
    "glass-on-table", "door-slam", "french-line", "dialogue-over-music",
]  # fmt: skip
VARIANTS = ["synced", "dubbed", "drift", "generic"]


def _render(pid: str, variant: str, out: str) -> str:
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    prompt = next(p for p in resolve_suite("builtin").prompts if p.id == pid)
    path = Path(out) / "clips" / f"{pid}__{variant}.mp4"
    if not path.is_file():
        path.write_bytes(render_clip(prompt, variant, seed=0).data)
    return path.name


def render_batch(work: Path, n: int) -> list[str]:
    """Render ``n`` local-model clips (prompt x variant) into ``work/clips`` once."""
    (work / "clips").mkdir(parents=True, exist_ok=True)
    cells = [(p, v) for v in VARIANTS for p in PROMPTS][:n]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(_render, *zip(*cells, strict=True), [str(work)] * len(cells)))


def make_samples(names: list[str], n: int) -> list:
    """``n`` samples cycling over the rendered files, each under its own (fake) clip hash."""
    from workbench.rundir import Sample

    out = []
    for i in range(n):
        name = names[i % len(names)]
        pid, variant = name.removesuffix(".mp4").split("__")
        out.append(
            Sample(
                sample_id=f"{pid}__{variant}__{i:05d}", prompt_id=pid, model=f"local/{variant}",
                provider=f"local/{variant}", repeat=i, request_key=f"bench-{i}", status="ok",
                clip_sha256=f"{i:064x}", clip=f"clips/{name}",
            )
        )  # fmt: skip
    return out


def score(samples: list, work: Path, executor, metrics: list[str]) -> float:
    """Score ``samples`` into a fresh store; return the wall time in seconds."""
    from workbench.analysis.engine import score_samples, select_analyzers
    from workbench.prompt import resolve_suite
    from workbench.store import ClipStore

    prompts = {p.id: p for p in resolve_suite("builtin").prompts}
    store = ClipStore(tempfile.mkdtemp(prefix="store-", dir=work))
    t0 = time.perf_counter()
    score_samples(samples, prompts, store, work, select_analyzers(metrics), quiet=True, executor=executor)
    return time.perf_counter() - t0


def throughput(work: Path, names: list[str], metrics: list[str], repeats: int) -> list[dict]:
    """Clips per second over the whole batch on 1- and 2-process local clusters (warm workers).

    Both clusters stay up and the timed passes alternate (1, 2, 1, 2, ...), so a burst of
    load from elsewhere on the machine hits both alike; the best pass of each is kept. CPU
    seconds per clip (workers, and the client with its in-process scheduler) do not depend
    on that load: equal worker CPU per clip at 1 and 2 workers means no per-worker overhead.
    """
    import workbench.analysis.engine as engine
    from workbench.analysis.executor import DaskExecutor

    batch_s = [0.0]
    inner = engine.analyze_batch

    def timed_batch(*a, **k):  # the cross-clip step: serial, on the client
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            batch_s[0] += time.perf_counter() - t

    engine.analyze_batch = timed_batch
    rows, execs = [], []
    try:
        for w in (1, 2):
            t0 = time.perf_counter()
            execs.append(DaskExecutor(workers=w))
            row = {
                "workers": w,
                "clips": len(names),
                "wall_s": [],
                "worker_cpu_s": [],
                "client_cpu_s": [],
                "batch_s": [],
            }
            rows.append({**row, "start_s": time.perf_counter() - t0})
            score(make_samples(names, 2 * w), work, execs[-1], metrics)  # imports, model loads on every worker
        samples = make_samples(names, len(names))
        for _ in range(repeats):
            for row, ex in zip(rows, execs, strict=True):
                w0, c0 = sum(ex.client.run(time.process_time).values()), time.process_time()
                batch_s[0] = 0.0
                row["wall_s"].append(score(samples, work, ex, metrics))
                row["batch_s"].append(batch_s[0])
                row["client_cpu_s"].append(time.process_time() - c0)
                row["worker_cpu_s"].append(sum(ex.client.run(time.process_time).values()) - w0)
    finally:
        engine.analyze_batch = inner
        for ex in execs:
            ex.close()
    for row in rows:
        row["rate"] = len(names) / min(row["wall_s"])
    return rows


def memory_child(work: Path, n: int, metrics: list[str], heap: bool, log_length: int) -> dict:
    """In a fresh process: the client's memory while a 2-worker cluster scores ``n`` clips.

    Peak RSS is measured without tracemalloc (whose own bookkeeping grows with live blocks);
    ``heap`` adds tracemalloc's peak of Python allocations during the streaming step.
    """
    from workbench.analysis.engine import analyze_task
    from workbench.analysis.executor import DaskExecutor

    names = sorted(p.name for p in (work / "clips").glob("*.mp4"))
    ex = DaskExecutor(workers=2, log_length=log_length)
    try:
        list(ex.map_unordered(analyze_task, [(str(work / "clips" / names[0]), None, metrics)] * 4))
        samples = make_samples(names, n)
        base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if heap:
            tracemalloc.start()
        wall = score(samples, work, ex, metrics)
        heap_peak = tracemalloc.get_traced_memory()[1] if heap else float("nan")
        tracemalloc.stop()
    finally:
        ex.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n": n, "base_rss_mb": base_mb, "peak_rss_mb": peak_mb, "heap_peak_mb": heap_peak / 2**20, "wall_s": wall}


def _child(work: Path, n: int, args: argparse.Namespace, heap: bool) -> dict:
    cmd = [sys.executable, __file__, "--_memory", str(n), "--work", str(work), "--log-length", str(args.log_length)]
    cmd += ["--memory-metrics", *args.memory_metrics]
    out = subprocess.run([*cmd, "--heap"] if heap else cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory_part(work: Path, args: argparse.Namespace) -> None:
    """Peak client memory per batch size, each in a fresh process."""
    mem = []
    for n in args.sizes:
        m = _child(work, n, args, heap=False)
        if args.heap:
            m["heap_peak_mb"] = _child(work, n, args, heap=True)["heap_peak_mb"]
        mem.append(m)
    print(f"\nclient memory, 2 workers, Dask log length {args.log_length} (the client also runs the scheduler):\n")
    print("| batch | wall (s) | clips/s | RSS after warm-up (MiB) | peak RSS (MiB) | Python heap peak (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for m in mem:
        print(
            f"| {m['n']} | {m['wall_s']:.0f} | {m['n'] / m['wall_s']:.2f} | {m['base_rss_mb']:.0f} | "
            f"{m['peak_rss_mb']:.0f} | {m['heap_peak_mb']:.1f} |"
        )
    if len(mem) >= 2:
        grow = mem[-1]["peak_rss_mb"] / mem[0]["peak_rss_mb"] - 1
        print(f"\npeak RSS {mem[-1]['n']} vs {mem[0]['n']} clips: {grow:+.1%} (goal within 10%)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=32, help="rendered clips in the throughput batch (max 32)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 1000], help="batch sizes for the memory part")
    ap.add_argument("--metrics", nargs="+", help="analyzers for the throughput part (default: every default one)")
    ap.add_argument("--memory-metrics", nargs="+", default=["basic"], help="analyzers for the memory part")
    ap.add_argument("--repeats", type=int, default=2, help="timed passes per worker count (best is kept)")
    ap.add_argument("--log-length", type=int, default=10, help="Dask's debug log length in the memory part")
    ap.add_argument("--work", type=Path, help="folder for clips and stores (default: a temporary one)")
    ap.add_argument("--parts", nargs="+", choices=["throughput", "memory"], default=["throughput", "memory"])
    ap.add_argument("--heap", action="store_true", help="also trace Python allocations (second run per size)")
    ap.add_argument("--_memory", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    if args._memory:
        print(json.dumps(memory_child(work, args._memory, args.memory_metrics, args.heap, args.log_length)))
        return

    if not args.metrics:
        from workbench.analysis.engine import select_analyzers

        args.metrics = [a.name for a in select_analyzers(None)]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; work {work}")
    print(f"throughput analyzers: {' '.join(args.metrics)}; memory analyzers: {' '.join(args.memory_metrics)}")
    t0 = time.perf_counter()
    names = render_batch(work, args.clips)
    print(f"rendered {len(names)} local-model clips in {time.perf_counter() - t0:.0f} s")

    if "throughput" in args.parts:
        load0 = os.getloadavg()[0]
        rows = throughput(work, names, args.metrics, args.repeats)
        eff = rows[1]["rate"] / rows[0]["rate"] / 2
        print(
            "\n| workers | clips | passes (s) | clips/s (best) | worker CPU s/clip | client CPU s/clip "
            "| cross-clip step (s) | start (s) |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in rows:
            passes = ", ".join(f"{w:.1f}" for w in r["wall_s"])
            wcpu = min(r["worker_cpu_s"]) / r["clips"]
            ccpu = min(r["client_cpu_s"]) / r["clips"]
            print(
                f"| {r['workers']} | {r['clips']} | {passes} | {r['rate']:.2f} | {wcpu:.3f} | {ccpu:.3f} | "
                f"{min(r['batch_s']):.1f} | {r['start_s']:.1f} |"
            )
        print(f"\nscaling efficiency at 2 workers: {eff:.0%} (goal >= 80%)")
        print(f"load average (1 min) before/after: {load0:.1f} / {os.getloadavg()[0]:.1f}")
    if "memory" in args.parts:
        memory_part(work, args)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
