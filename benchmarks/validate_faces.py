"""Validate "every speaking face" (issue 14): coverage, speaker turns and per-turn offsets (not a test).

Cases:

* ``../shared/data/generated``: outputs of public audio-video generators (talking heads, a two-shot,
  four panels of one face, small and turned faces). No clip has sync ground truth; who speaks when
  was read from the frames (mouth strips every 0.5 s along the tracked boxes, and the manifest's
  notes): :data:`GENERATED`. Printed: which clips with a visible speaking face of at least
  ``MIN_FACE_PX`` get a confident reading (coverage, goal >= 80 %), the share of speaker turns
  given to the right face (goal >= 90 %), and every clip left unscored with its reason.
* The local reference models' two-speaker prompt (``two-shot-dialogue`` of the built-in suite),
  every variant, plus one speaker dubbed 200 ms late (the man's lines shifted in the decoded
  sound): per turn, the right face (box against the ground truth's) and the offset within one
  frame (40 ms) of the truth (the variant's offset, plus the drift at the turn's middle).
* The same two-shot scaled into a 1280x720 frame at face heights around the stated minimum:
  what is read at each size, and the reason when it is not ("face too small (N px)").

Usage::

    python benchmarks/validate_faces.py [--json OUT] [--no-generated] [--no-local] [--no-sizes]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from validate_sync import mux_audio  # noqa: E402

from workbench.analysis.engine import analyze_clip, clip_context, select_analyzers  # noqa: E402
from workbench.metrics import face, lipsync  # noqa: E402
from workbench.metrics.kernels import faces as fk  # noqa: E402

GENERATED = ROOT / ".." / "shared" / "data" / "generated"
FRAME_MS = 40.0
#: A truth segment's edges: this much at each end is not judged (the speaker changes inside it).
GUARD_S = 0.15


@dataclasses.dataclass(frozen=True)
class Who:
    """Who speaks from ``t0`` to ``t1`` (s): the face whose box centre lies between ``x_lo`` and ``x_hi`` (px)."""

    t0: float
    t1: float
    x_lo: float
    x_hi: float
    who: str


@dataclasses.dataclass(frozen=True)
class Truth:
    """What a look at the frames says about a generated clip."""

    speaking_face: bool
    """A face of at least MIN_FACE_PX is seen speaking (counts for coverage)."""
    who: tuple[Who, ...] = ()
    """Who speaks when, where it can be told."""
    note: str = ""


def everywhere(t1: float, who: str, x_lo: float = 0.0, x_hi: float = 1e9, t0: float = 0.0) -> tuple[Who, ...]:
    return (Who(t0, t1, x_lo, x_hi, who),)


#: Read from the frames (mouth strips along the tracked boxes every 0.5 s; scratch folder, not shipped)
#: and the manifest's notes. Times are where the mouth visibly articulates during speech.
GENERATED_TRUTH: dict[str, Truth] = {
    "multi_person/infinitetalk_i2v_two_men_inkpainting.mp4": Truth(
        True,
        (Who(0.5, 5.9, 640, 1280, "the right man"), Who(9.6, 12.8, 0, 640, "the left man"), Who(13.8, 15.0, 0, 640, "the left man")),
        "two men in 3/4 profile; the right man's black moustache fills his mouth box",
    ),
    "multi_person/fantasytalking_vs_omnihuman_nezha.mp4": Truth(
        True, everywhere(8.7, "an animated panel (2-4)", 512, 2048), "four panels: a still reference and three animated copies"
    ),
    "multi_person/universe1_other_case10_three_girls_fireworks.mp4": Truth(
        True, everywhere(5.0, "the front girl"), "anime; the two girls behind are small profiles; her mouth barely moves"
    ),
    "dialogue/universe1_speech_case3_bookshelf_man.mp4": Truth(True, everywhere(5.0, "him")),
    "dialogue/universe1_speech_case11_anime_noodles.mp4": Truth(True, everywhere(5.0, "the girl"), "anime, eating and talking"),
    "dialogue/universe1_speech_case18_stage_hat_man.mp4": Truth(True, everywhere(5.0, "him"), "~65 px, turns to profile"),
    "dialogue/fantasytalking_20_old_man_profile.mp4": Truth(True, everywhere(5.1, "him"), "strict profile"),
    "dialogue/infinitetalk_dubbing_11_profile_man.mp4": Truth(True, everywhere(10.6, "him"), "near profile, 500 px"),
    "dialogue/infinitetalk_cmp1_doctor_infinitetalk.mp4": Truth(True, everywhere(8.0, "him")),
    "dialogue/infinitetalk_cmp1_doctor_latentsync.mp4": Truth(True, everywhere(8.0, "him")),
    "dialogue/infinitetalk_cmp1_doctor_musetalk.mp4": Truth(True, everywhere(8.0, "him")),
    "dialogue/infinitetalk_dubbing_5_teacher_classroom.mp4": Truth(True, everywhere(8.0, "her")),
    "dialogue/stableavatar_case52_apple_man.mp4": Truth(True, everywhere(17.1, "him"), "singing over music"),
    "dialogue/vasflow_veo3_keyboard_streamer.mp4": Truth(
        True, everywhere(8.0, "her", t0=4.5), "no face until ~4 s, then behind a microphone; teeth in a wide-open mouth"
    ),
    "foley/universe1_instrument_case6_drums_boy.mp4": Truth(False, (), "a drummer, 49 px, no speech"),
}


def _lips(path: Path, prompt: Any = None) -> tuple[dict[str, Any], dict[str, Any], float]:
    """The lip-sync analyzer on one clip as a run reads it (full-resolution watch attached): scores, evidence, CPU s."""
    analyzers = select_analyzers(["lipsync"])
    c = time.process_time()
    ctx = clip_context(path, prompt, analyzers)
    out = analyze_clip(ctx, analyzers)
    cpu = time.process_time() - c
    scan = ctx.memo.peek(face.FACES)
    track = ctx.memo.peek(face.MOUTH)
    info = {
        "path": scan.mode if scan is not None else "no watch",
        "source": track.source if track is not None else None,
        "z": out["lip_confidence"].value,
        "offset_ms": out["lip_offset_ms"].value,
        "drift": out["lip_drift_ms_per_s"].value,
        "reason": out["lip_offset_ms"].reason or out["lip_confidence"].reason,
    }
    return info, dict(out["lip_offset_ms"].details), cpu


def judge_turns(turns: list[dict[str, Any]], who: tuple[Who, ...]) -> list[str]:
    """Per truth segment: R (most of its decided speech to the right face), W (to another), U (less than half decided)."""
    marks = []
    for w in who:
        a, b = w.t0 + GUARD_S, w.t1 - GUARD_S
        right = wrong = 0.0
        for t in turns:
            ov = max(0.0, min(b, t["end_s"]) - max(a, t["start_s"]))
            if ov <= 0 or t.get("box") is None:
                continue
            cx = (t["box"][0] + t["box"][2]) / 2
            if w.x_lo <= cx <= w.x_hi:
                right += ov
            else:
                wrong += ov
        if right + wrong < 0.5 * (b - a):
            marks.append("U")
        else:
            marks.append("R" if right > wrong else "W")
    return marks


def generated() -> dict[str, Any]:
    rows = []
    for rel, truth in GENERATED_TRUTH.items():
        path = GENERATED / rel
        if not path.is_file():
            continue
        info, d, cpu = _lips(path)
        confident = info["offset_ms"] is not None
        marks = judge_turns(d.get("turns") or [], truth.who) if confident else ["U"] * len(truth.who)
        rows.append({"clip": rel, **info, "cpu_s": round(cpu, 2), "confident": confident, "marks": marks,
                     "speaking_face": truth.speaking_face, "note": truth.note,
                     "faces": [(t["face"], t["height_px"], t["position"]) for t in d.get("tracks") or []],
                     "turns": [(t["face"], t["position"], t["start_s"], t["end_s"], t["offset_ms"], t["z"]) for t in d.get("turns") or []]})  # fmt: skip
    return {"rows": rows}


def print_generated(g: dict[str, Any]) -> None:
    rows = g["rows"]
    print("\n== generated clips (../shared/data/generated) ==")
    print(f"{'clip':52s} {'path':8s} {'faces (id, px, where)':34s} {'z':>6s} {'offset':>7s}  turns (R right, W wrong, U undecided)")
    for r in rows:
        faces = ", ".join(f"{i}:{h:.0f}{w[0]}" for i, h, w in r["faces"] if h is not None)[:34]
        z = "-" if r["z"] is None else f"{r['z']:.2f}"
        off = "-" if r["offset_ms"] is None else f"{r['offset_ms']:+.0f}"
        print(f"{r['clip'][:52]:52s} {r['path']:8s} {faces:34s} {z:>6s} {off:>7s}  {''.join(r['marks']) or '-'}  {'' if r['confident'] else r['reason']}")
        for t in r["turns"] if len({t[0] for t in r["turns"]}) > 1 else []:
            print(f"{'':60s} turn: face {t[0]} ({t[1]}) {t[2]:.1f}-{t[3]:.1f} s, {t[4]} ms, z {t[5]}")
    speaking = [r for r in rows if r["speaking_face"]]
    conf = [r for r in speaking if r["confident"]]
    marks = [m for r in rows for m in r["marks"]]
    judged = [m for m in marks if m != "U"]
    print(f"\ncoverage: {len(conf)}/{len(speaking)} clips with a visible speaking face read confidently "
          f"({100 * len(conf) / max(1, len(speaking)):.0f} %, goal >= 80 %)")  # fmt: skip
    print(f"speaker turns: {marks.count('R')} right, {marks.count('W')} wrong, {marks.count('U')} undecided of {len(marks)} "
          f"(right {100 * marks.count('R') / max(1, len(judged)):.0f} % of the decided ones, goal >= 90 %)")  # fmt: skip
    print("unscored:")
    for r in rows:
        if not r["confident"]:
            print(f"  {r['clip']}: {r['reason']}" + (f" ({r['note']})" if r["note"] else ""))


# --------------------------------------------------------------------------- the local two-speaker prompt


def _shift_segments(y: np.ndarray, sr: int, segments: list[dict[str, Any]], ms: float) -> np.ndarray:
    """The sound with the given speech segments moved ``ms`` later (their reverb tail with them)."""
    out = y.copy()
    k = int(round(ms / 1000 * sr))
    for s in segments:
        a, b = int(max(0.0, s["start_s"] - 0.05) * sr), min(len(y), int((s["end_s"] + 0.3) * sr))
        piece = y[a:b].copy()
        out[a:b] = 0.0
        out[a + k : min(len(y), b + k)] += piece[: max(0, min(len(y), b + k) - (a + k))]
    return out


def local_two_shot() -> dict[str, Any]:
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip
    from workbench.providers.local.synth.variants import VARIANTS

    prompt = resolve_suite("builtin").get("two-shot-dialogue")
    rows = []
    with tempfile.TemporaryDirectory(prefix="validate_faces_") as tmp:
        for variant in [*VARIANTS, "synced+dub-man-200"]:
            base = variant.split("+")[0]
            rc = render_clip(prompt, base, seed=0)
            gt = rc.ground_truth
            path = Path(tmp) / f"{base}.mp4"
            path.write_bytes(rc.data)
            if variant == base:
                info, d, cpu = _lips(path, prompt)
                dub = {}
            else:  # the man's lines alone 200 ms late: the decoded sound changed in numpy, the picture kept
                analyzers = select_analyzers(["lipsync"])
                ctx = clip_context(path, prompt, analyzers)
                clip = ctx.decoded
                man = [s for s in gt["speech_segments"] if s["speaker"] == "man"]
                clip = dataclasses.replace(clip, audio=_shift_segments(clip.audio, clip.sr, man, 200.0).astype(np.float32))
                memo = ctx.memo.only([face.FACES])
                c = time.process_time()
                out = lipsync.measure_lipsync(clip, memo=memo)
                cpu = time.process_time() - c
                d = dict(out["lip_offset_ms"].details)
                info = {"z": out["lip_confidence"].value, "offset_ms": out["lip_offset_ms"].value, "reason": out["lip_offset_ms"].reason}
                dub = {"man": 200.0}
            turns = d.get("turns") or []
            segs = gt["speech_segments"]
            checks = []
            for s in segs:
                box = gt["faces"][s["face"]]["bbox"]
                mid = (s["start_s"] + s["end_s"]) / 2
                truth_ms = gt["audio_offset_ms"] + gt["drift_ms_per_s"] * mid + dub.get(s["speaker"], 0.0)
                best = max(turns, key=lambda t: max(0.0, min(t["end_s"], s["end_s"]) - max(t["start_s"], s["start_s"])), default=None)
                ov = 0.0 if best is None else max(0.0, min(best["end_s"], s["end_s"]) - max(best["start_s"], s["start_s"]))
                right = best is not None and ov > 0.5 * (s["end_s"] - s["start_s"]) and _iou(best["box"], box) > 0.5
                err = None if best is None or best["offset_ms"] is None else best["offset_ms"] - truth_ms
                checks.append({"speaker": s["speaker"], "face": s["face"], "right": right, "truth_ms": round(truth_ms, 1),
                               "read_ms": None if best is None else best["offset_ms"], "err_ms": None if err is None else round(err, 1),
                               "turn_z": None if best is None else best["z"]})  # fmt: skip
            rows.append({"variant": variant, **info, "cpu_s": round(cpu, 2), "lines": checks})
    return {"rows": rows}


def _iou(a: list[float] | None, b: list[float]) -> float:
    if a is None:
        return 0.0
    return float(fk.box_iou(np.array([a], float), np.array([b], float))[0, 0])


def print_local(loc: dict[str, Any]) -> None:
    print("\n== local models, two-shot-dialogue (two faces, four lines) ==")
    print(f"{'variant':22s} {'z':>6s} {'offset':>7s}  per line: speaker face right? read / truth ms (error)")
    n_lines = n_right = n_frame = n_err = 0
    for r in loc["rows"]:
        z = "-" if r["z"] is None else f"{r['z']:.2f}"
        off = "-" if r["offset_ms"] is None else f"{r['offset_ms']:+.0f}"
        parts = []
        for c in r["lines"]:
            n_lines += 1
            n_right += c["right"]
            if c["err_ms"] is not None:
                n_err += 1
                n_frame += abs(c["err_ms"]) <= FRAME_MS
            e = "-" if c["err_ms"] is None else f"{c['read_ms']:+.0f}/{c['truth_ms']:+.0f} ({c['err_ms']:+.0f})"
            parts.append(f"{c['speaker'][0]}{c['face']} {'R' if c['right'] else 'W'} {e}")
        print(f"{r['variant']:22s} {z:>6s} {off:>7s}  " + " | ".join(parts) + (f"   {r['reason']}" if r["offset_ms"] is None else ""))
    print(f"speaker right on {n_right}/{n_lines} lines; per-turn offset within one frame (40 ms) on {n_frame}/{n_err} lines read")


# --------------------------------------------------------------------------- sizes


def _scaled_two_shot(face_px: float) -> bytes:
    """The synced two-shot with its picture scaled so the faces are ``face_px`` tall, pasted in a 1280x720 frame."""
    import av
    import cv2

    from workbench.media import decode
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    prompt = resolve_suite("builtin").get("two-shot-dialogue")
    rc = render_clip(prompt, "synced", seed=0)
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(rc.data)
        f.flush()
        d = decode(f.name, sr=48000, max_side=4096)
    b = rc.ground_truth["faces"][0]["bbox"]
    s = face_px / (b[3] - b[1])  # the box is forehead to chin (the photo's 103 px, scaled)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 1280, 720, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        for k in range(d.n_frames):
            img = d.rgb(k)
            small = cv2.resize(img, (max(2, int(img.shape[1] * s)), max(2, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
            canvas = np.full((720, 1280, 3), 150, np.uint8)
            h, w = small.shape[:2]
            canvas[300 : 300 + h, 400 : 400 + w] = small[: 720 - 300, : 1280 - 400]
            for p in vs.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        mux_audio(c, a, d.audio)
    return buf.getvalue()


def sizes(heights: list[float]) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="validate_faces_sizes_") as tmp:
        for h in heights:
            path = Path(tmp) / f"two_{h:g}.mp4"
            path.write_bytes(_scaled_two_shot(h))
            info, d, cpu = _lips(path)
            faces = [t["height_px"] for t in d.get("tracks") or []]
            turns = d.get("turns") or []
            rows.append({"face_px": h, **info, "faces_px": faces, "turns": len(turns), "cpu_s": round(cpu, 2)})
    return {"rows": rows}


def print_sizes(sz: dict[str, Any]) -> None:
    print(f"\n== the two-shot scaled into 1280x720 (stated minimum {face.MIN_FACE_PX:g} px forehead to chin) ==")
    for r in sz["rows"]:
        z = "-" if r["z"] is None else f"{r['z']:.2f}"
        faces = ", ".join(f"{h:.0f}" for h in r["faces_px"] if h is not None) or "none"
        print(f"  faces ~{r['face_px']:>4.0f} px: tracked {faces:12s} z {z:>5s}  turns {r['turns']}  {r['reason'] or ''}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-generated", action="store_true")
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--no-sizes", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result: dict[str, Any] = {}
    if not args.no_generated:
        if GENERATED.is_dir():
            result["generated"] = generated()
            print_generated(result["generated"])
        else:
            print(f"note: {GENERATED} not present (fresh clone): generated clips skipped")
    if not args.no_local:
        result["local"] = local_two_shot()
        print_local(result["local"])
    if not args.no_sizes:
        result["sizes"] = sizes([20.0, 26.0, 30.0, 34.0, 48.0])
        print_sizes(result["sizes"])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
