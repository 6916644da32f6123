"""Speed and memory of the whole per-clip analysis against PyAV decoding alone (not a test).

Target (issue: the sound metrics): analysing a 10 s 720p clip with ALL metrics takes at most
2x the time of just decoding it with PyAV, on one core, measured side by side in the same
run, with peak memory under 1 GiB.

Clips: the local reference model's long monologue (speech, a face, a room) re-encoded to
10 s of 1280x720, so the benchmark needs nothing outside the repository; and, when
``../shared/data/real`` is present, every real 1280x720 clip there (a talking child, axe, ice
and drums: camera footage at 1.3-3 Mbit/s). The synthetic clip is a still photo with a moving
mouth at 0.2 Mbit/s, so its H.264 decode is unusually cheap while the analysis costs what it
costs on any clip: the ratio depends on the clip, and every clip's ratio is printed.

Each clip is measured in a child process pinned to one core; CPU time is what is judged
(wall time is printed too, since other processes on the machine inflate it).

    python benchmarks/speed_analysis.py [--repeats 3] [--json OUT] [--clip PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling benchmark scripts


def make_clip(out: Path, seconds: float = 10.0, prompt_id: str = "office-long-monologue") -> Path:
    """Render a built-in prompt (``office-long-monologue``: one face; ``two-shot-dialogue``: two faces
    taking turns) with ``local/synced`` and re-encode it to 10 s of 1280x720."""
    from validate_sync import make_720p

    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    src = out.with_name("src.mp4")
    src.write_bytes(render_clip(resolve_suite("builtin").get(prompt_id), "synced").data)
    make_720p(src, out, seconds=seconds)
    src.unlink()
    return out


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_decode(path: str, *, rgb: bool) -> None:
    """PyAV alone: every video and audio frame of the clip decoded (``rgb``: video frames also
    converted to full-size RGB arrays), nothing kept. The plainest reading of "just decode it"."""
    import av

    with av.open(path) as c:
        for frame in c.decode(*c.streams.video[:1], *c.streams.audio[:1]):
            if rgb and isinstance(frame, av.VideoFrame):
                frame.to_ndarray(format="rgb24")


def parts(path: str, prompt: Any, analyzers: Sequence[Any]) -> dict[str, float]:
    """CPU seconds of each part of one analysis: the decode (with the full-resolution face watch riding
    on it), the face watch's own work (first-frame decision, and the tracker's parts when it ran), the
    mouth track on the analysis frames (one large face), then each analyzer."""
    from workbench.analysis.engine import _run_one, clip_context
    from workbench.metrics import face

    ctx = clip_context(path, prompt, analyzers)
    out: dict[str, float] = {}
    c = time.process_time()
    ctx.decoded  # noqa: B018 (the decode, watched)
    out["decode + face watch"] = time.process_time() - c
    scan = ctx.memo.peek(face.FACES)
    if scan is not None:
        out["  face watch: first frame"] = scan.first_s
        for k, v in (scan.tracks.stats if scan.tracks is not None else {}).items():
            if k.endswith("_s"):
                out[f"  face watch: {k[:-2]}"] = v
    c = time.process_time()
    track = face.mouth_track(ctx)
    out[f"mouth track ({track.source}, {track.n_faces} faces)"] = time.process_time() - c
    for an in analyzers:
        c = time.process_time()
        if an.is_batch:
            if an.features is not None:
                an.features(ctx)
        else:
            _run_one(an, ctx)
        out[an.name] = time.process_time() - c
    return out


def worker(path: str, repeats: int) -> None:
    """Child: pinned to one core; decode-only vs every analyzer but the speech ones, CPU and wall time; the speech
    analyzers apart; peak RSS of it all."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from workbench.analysis.engine import analyze_clip, batch_features, clip_context, select_analyzers
    from workbench.media import decode
    from workbench.metrics.context import ANALYSIS_MAX_SIDE, ANALYSIS_SR
    from workbench.prompt import resolve_suite

    prompt = resolve_suite("builtin").get("office-long-monologue")
    every = select_analyzers(None)
    analyzers = [a for a in every if a.name not in SPEECH_ANALYZERS]
    spoken = [a for a in every if a.name in SPEECH_ANALYZERS]
    warm = clip_context(path, prompt, analyzers)
    analyze_clip(warm, analyzers)  # warm-up: numba JIT, graphs, the speech models' loading and sha256 check
    analyze_clip(warm, spoken)
    del warm
    rows, bare, rgb, speech = [], [], [], []
    for _ in range(repeats):
        c = time.process_time()
        plain_decode(path, rgb=False)
        bare.append(time.process_time() - c)
        c = time.process_time()
        plain_decode(path, rgb=True)
        rgb.append(time.process_time() - c)
        c, t = time.process_time(), time.perf_counter()
        decode(path, sr=ANALYSIS_SR, max_side=ANALYSIS_MAX_SIDE)
        dec = (time.process_time() - c, time.perf_counter() - t)
        c, t = time.process_time(), time.perf_counter()
        ctx = clip_context(path, prompt, analyzers)  # as a run analyses it: the face watch on the decode
        scores = analyze_clip(ctx, analyzers)
        batch_features(ctx, analyzers)
        full = (time.process_time() - c, time.perf_counter() - t)
        rows.append((dec, full))
        # the spoken line on the same clip: Silero VAD, Whisper, forced alignment, the phonetic lip offset
        # (the decode and the mouth track are already in the clip's memo, as in a run)
        c = time.process_time()
        scores.update(analyze_clip(ctx, spoken))
        speech.append(time.process_time() - c)
        del ctx
    unscored = sorted(k for k, v in scores.items() if v.value is None)
    best = min(rows, key=lambda r: r[1][0])
    print(json.dumps({
        "plain_decode_cpu_s": min(bare), "plain_decode_rgb_cpu_s": min(rgb),
        "decode_cpu_s": min(r[0][0] for r in rows), "analysis_cpu_s": best[1][0],
        "decode_wall_s": min(r[0][1] for r in rows), "analysis_wall_s": best[1][1],
        "speech_cpu_s": min(speech),
        "peak_rss_mb": _peak_rss_mb(), "metrics": len(scores), "unscored": unscored,
        "parts_cpu_s": parts(path, prompt, analyzers),
    }))  # fmt: skip


#: Analyzers timed apart, against their own target (issue 15: the speech analysis of a 10 s clip on one
#: core, transcription and alignment included, at most :data:`SPEECH_TARGET_S`).
SPEECH_ANALYZERS = ("speech", "lip_phonetic")
SPEECH_TARGET_S = 3.0


def real_720p() -> list[Path]:
    """The real 1280x720 clips in ``../shared/data/real`` (none in a fresh clone)."""
    from validate_sync import REAL

    from workbench.media import probe

    out = []
    for p in sorted(REAL.glob("*/*.mp4")) if REAL.is_dir() else []:
        info = probe(p)
        if info.has_video and info.has_audio and (info.width, info.height) == (1280, 720):
            out.append(p)
    return out


def measure(clip: Path, repeats: int) -> dict:
    """Run the worker on one clip in a child process; its figures plus the ratios."""
    from workbench.media import probe

    res = subprocess.run(
        [sys.executable, __file__, "--worker", str(clip), "--repeats", str(repeats)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    out = json.loads(res.stdout.strip().splitlines()[-1])
    info = probe(clip)
    a = out["analysis_cpu_s"]
    out["ratios"] = {
        "plain": a / out["plain_decode_cpu_s"],
        "plain_rgb": a / out["plain_decode_rgb_cpu_s"],
        "analysis_decode": a / out["decode_cpu_s"],
    }
    out["duration_s"] = info.duration_s
    out["mbit_s"] = info.size_bytes * 8 / 1e6 / max(info.duration_s, 1e-9)
    # judged against the plainest decode: the strictest reading of the target
    out["pass"] = out["ratios"]["plain"] <= 2.0 and out["peak_rss_mb"] < 1024
    out["speech_per_10s"] = out["speech_cpu_s"] * 10.0 / max(info.duration_s, 1e-9)
    out["speech_pass"] = out["speech_per_10s"] <= SPEECH_TARGET_S
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--clip", action="append", type=Path, help="measure this clip instead (repeatable)")
    ap.add_argument("--worker", metavar="CLIP", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return 0
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="wb_speed_") as tmp:
        clips = args.clip or [
            make_clip(Path(tmp) / "synthetic_monologue_720p.mp4"),
            make_clip(Path(tmp) / "synthetic_two_shot_720p.mp4", prompt_id="two-shot-dialogue"),
            *real_720p(),
        ]
        for clip in clips:
            print(f"measuring {clip.name} ...", file=sys.stderr, flush=True)
            results[clip.name] = measure(clip, args.repeats)
    print(f"all metrics vs PyAV decode, one core, CPU seconds, best of {args.repeats}")
    head = f"{'clip':40s} {'s':>4s} {'Mbit/s':>6s} {'decode':>6s} {'RGB':>5s} {'own':>5s} {'all':>5s}"
    print(f"{head} {'/decode':>8s} {'/RGB':>5s} {'/own':>5s} {'MiB':>5s}       {'speech':>6s} {'/10 s':>6s}")
    for name, o in results.items():
        r = o["ratios"]
        print(
            f"{name[:40]:40s} {o['duration_s']:4.1f} {o['mbit_s']:6.2f} {o['plain_decode_cpu_s']:6.2f} "
            f"{o['plain_decode_rgb_cpu_s']:5.2f} {o['decode_cpu_s']:5.2f} {o['analysis_cpu_s']:5.2f} "
            f"{r['plain']:7.2f}x {r['plain_rgb']:4.2f}x {r['analysis_decode']:4.2f}x {o['peak_rss_mb']:5.0f}"
            f"  {'PASS' if o['pass'] else 'FAIL'} {o['speech_cpu_s']:6.2f} {o['speech_per_10s']:6.2f}"
            f"  {'PASS' if o['speech_pass'] else 'FAIL'}"
        )
    print("decode = PyAV, every frame, nothing converted (judged: all <= 2x decode, peak < 1024 MiB);")
    print("RGB = the same with full-size RGB arrays; own = the analysis' decode (16 kHz mono, YUV <= 480 px)")
    print("\nper part (CPU s, one pass; the face watch's parts are inside the decode):")
    for name, o in results.items():
        print(f"  {name}: " + ", ".join(f"{k.strip()} {v:.2f}" for k, v in o["parts_cpu_s"].items() if v >= 0.005))
    print(
        f"speech = the spoken line (Silero VAD, Whisper tiny.en, PocketSphinx alignment, phonetic lip offset) on the same"
        f" clip after the other metrics, one core; judged per 10 s of clip <= {SPEECH_TARGET_S:g} s; MiB includes it"
    )
    n_pass = sum(o["pass"] for o in results.values())
    print(f"{n_pass} of {len(results)} clips within 2x of the plain decode")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
