"""Validate the acoustic-match and mix-balance metrics against ground truth.

Run ``python benchmarks/validate_acoustic.py [--json OUT] [--quick]``; prints one table.

Cases
-----
(a) espeak-ng speech (plus hand claps in half the cases) reverberated with shoebox rooms
    simulated by pyroomacoustics (image sources; absorption from Sabine's formula for
    targets 0.2-2.0 s); truth = :func:`rt60_from_rir` (mid-band T20) of the simulated RIR,
    not the requested RT60; ``room.measure_rt60()`` is printed for reference.
(b) the same speech convolved with the measured RIRs in ``../shared/data/real/rirs/`` (truth
    = RT60 measured from the RIR itself); skipped with a note when absent.
    (a) and (b) get pink noise at 20-40 dB SNR.
(c) speech mixed with stationary beds (pink noise, a sustained chord) and dynamic beds
    (changing chords, a swelling noise, a rhythmic bed) at known speech-to-background ratios
    -5..+25 dB; truth = BS.1770 loudness of the speech stem minus that of the bed while
    speech is active.
(d) space-class checks: dry speech in a quiet booth (dry) and dry speech over a wind-like
    outdoor bed (outdoor).

Targets: RT60 median relative error <= 20 % over rooms of 0.2-2.0 s; space class right on
>= 85 %; speech-to-background within 2 dB (90th percentile) on stationary beds.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, resample_poly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.metrics.acoustic import acoustic_scores, analyse_audio, classify_space, mix_scores  # noqa: E402
from workbench.metrics.kernels.levels import integrated_loudness  # noqa: E402
from workbench.metrics.kernels.reverb import clarity_from_rir, rt60_from_rir, rt60_ml  # noqa: E402
from workbench.prompt import RT60_RANGES, Acoustics, DialogueLine, Prompt  # noqa: E402

SR = 16000
REAL = ROOT / ".." / "shared" / "data" / "real" / "rirs"
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please hand me the red cup on the table.",
    "We will meet again tomorrow at noon.",
    "Nobody knew where the old key was hidden.",
    "Turn left at the corner and walk two blocks.",
    "It is getting cold, close the window.",
    "She sells sea shells by the sea shore.",
    "My brother plays the violin every evening.",
)


# ---------------------------------------------------------------- speech (espeak-ng)
class Espeak:
    """espeak-ng speech: ``workbench.providers.local.synth.speech`` when present, else a minimal ctypes binding."""

    _CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    SPEAKERS = ("A", "woman", "man")
    _VOICES = ("en-us", "en-us+f3", "en")

    def __init__(self) -> None:
        try:
            from workbench.providers.local.synth.speech import synthesize

            synthesize("test", sr=SR)
            self._synthesize = synthesize
            return
        except Exception:  # not there yet or a different API: use the local binding
            self._synthesize = None
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = os.path.dirname(espeakng_loader.get_data_path())
        self.sr = self._lib.espeak_Initialize(2, 0, data_parent.encode(), 0)  # 2: AUDIO_OUTPUT_SYNCHRONOUS
        if self.sr <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self._chunks: list[np.ndarray] = []
        self._cb = self._CB(self._collect)
        self._lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav, n, _events) -> int:  # type: ignore[no-untyped-def]
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def say(self, text: str, speaker: int = 0) -> np.ndarray:
        """Speech at 16 kHz, float64, leading/trailing silence trimmed."""
        if self._synthesize is not None:
            y = np.asarray(self._synthesize(text, speaker=self.SPEAKERS[speaker], sr=SR).y, dtype=np.float64)
        else:
            self._lib.espeak_SetVoiceByName(self._VOICES[speaker].encode())
            self._chunks.clear()
            b = text.encode()
            self._lib.espeak_Synth(b, len(b) + 1, 0, 1, 0, 0, None, None)  # 1: POS_CHARACTER
            self._lib.espeak_Synchronize()
            y = resample_poly(np.concatenate(self._chunks).astype(np.float64) / 32768.0, SR, self.sr)
        nz = np.flatnonzero(np.abs(y) > 1e-3)
        return y[nz[0] : nz[-1] + 1]


def dialogue(
    tts: Espeak, rng: np.random.Generator, dur: float = 10.0, gap: tuple[float, float] = (0.4, 1.0)
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Sentences separated by pauses (peak 0.5), and the pauses as (start, end) samples."""
    parts, n = [np.zeros(int(0.3 * SR))], int(0.3 * SR)
    pauses = []
    for k in rng.permutation(len(SENTENCES)):
        s = tts.say(SENTENCES[k], int(rng.integers(len(Espeak.SPEAKERS))))
        g = np.zeros(int(rng.uniform(*gap) * SR))
        pauses.append((n + len(s), n + len(s) + len(g)))
        parts += [s, g]
        n += len(s) + len(g)
        if n >= dur * SR:
            break
    y = np.concatenate(parts)[: int(dur * SR)]
    return 0.5 * y / np.abs(y).max(), [p for p in pauses if p[1] < len(y)]


def speech(tts: Espeak, rng: np.random.Generator, dur: float = 10.0) -> np.ndarray:
    return dialogue(tts, rng, dur)[0]


def with_claps(y: np.ndarray, pauses: list[tuple[int, int]], rng: np.random.Generator, k: int = 3) -> np.ndarray:
    """Add up to k hand-clap-like bursts (3 ms decaying noise, peak 0.5) inside pauses."""
    y = y.copy()
    m = int(0.02 * SR)
    burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.003 * SR))
    burst *= 0.5 / np.abs(burst).max()
    for a, b in pauses[:k]:
        i = a + int(0.3 * (b - a))
        y[i : i + m] += burst[: len(y) - i]
    return y


# ---------------------------------------------------------------- beds
def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return y / np.std(y)


def wind(n: int, rng: np.random.Generator) -> np.ndarray:
    """Outdoor-like bed: brownish noise with slow gusts plus a pink hiss (leaves, distance)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= f[1:] ** 0.8
    spec[0] = 0
    low = np.fft.irfft(spec, n)
    t = np.arange(n) / SR
    gust = 1 + 0.5 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6)) * np.sin(2 * np.pi * 0.07 * t)
    y = low / np.std(low) * gust + 0.5 * pink(n, rng)
    return y / np.std(y)


def chord(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    y = np.zeros(n)
    for f0 in (220.0, 277.2, 329.6, 440.0):
        for h in range(1, 6):
            y += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h
    return y / np.std(y)


def pad(n: int, rng: np.random.Generator, change_s: float = 2.0) -> np.ndarray:
    """Chord changes every 2 s with soft attacks and vibrato."""
    y = np.zeros(n)
    seg = int(change_s * SR)
    for k in range(0, n, seg):
        r = rng.choice([196.0, 220.0, 247.0, 262.0, 294.0, 330.0])
        m = min(seg + int(0.3 * SR), n - k)
        tt = np.arange(m) / SR
        env = np.minimum(tt / 0.15, 1) * np.clip((change_s + 0.3 - tt) / 0.3, 0, 1)
        for f0 in (r, r * 1.26, r * 1.5):
            for h in range(1, 6):
                ph = 2 * np.pi * f0 * h * tt * (1 + 0.002 * np.sin(2 * np.pi * 5 * tt))
                y[k : k + m] += env * np.sin(ph + rng.uniform(0, 6)) / h**1.5
    y += 0.02 * pink(n, rng)
    return y / np.std(y)


def swell(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise swelling by +-6 dB (passing traffic)."""
    t = np.arange(n) / SR
    return pink(n, rng) * 10 ** (6 * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 6)) / 20)


def rhythmic(n: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked chords every 0.5 s plus a kick drum: a hard, speech-like dynamic bed."""
    y = np.zeros(n)
    seg = int(0.5 * SR)
    for k in range(0, n, seg):
        tt = np.arange(min(seg, n - k)) / SR
        for f0 in rng.choice([196, 220, 247, 262, 294, 330, 349, 392, 440], 3, replace=False):
            for h in range(1, 5):
                y[k : k + len(tt)] += np.exp(-3 * tt) * np.sin(2 * np.pi * f0 * h * tt) / h
        tk = np.arange(min(int(0.15 * SR), n - k)) / SR
        y[k : k + len(tk)] += 2 * np.sin(2 * np.pi * 60 * tk * (1 - tk)) * np.exp(-30 * tk)
    return y / np.std(y)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Pink noise at ``snr_db`` below the power of the active (above -40 dB re peak) part."""
    act = np.abs(y) > 0.01 * np.abs(y).max()
    p = np.mean(y[act] ** 2)
    return y + pink(len(y), rng) * np.sqrt(p / 10 ** (snr_db / 10))


def true_class(rt60: float) -> str:
    if rt60 < RT60_RANGES["short"][0]:
        return "dry"
    if rt60 < RT60_RANGES["long"][0]:
        return "room"
    return "large_hall"


# ---------------------------------------------------------------- cases
def room_cases(tts: Espeak, rng: np.random.Generator, n_rooms: int) -> list[dict]:
    import pyroomacoustics as pra

    out = []
    targets = np.geomspace(0.2, 2.0, n_rooms)
    for i, target in enumerate(targets):
        scale = 0.7 + 1.6 * (i / max(1, n_rooms - 1))  # bigger rooms for longer targets
        dim = np.array([rng.uniform(4, 6), rng.uniform(3, 5), rng.uniform(2.5, 3.5)]) * [scale, scale, min(scale, 1.8)]
        e_abs, max_order = pra.inverse_sabine(float(target), dim)
        room = pra.ShoeBox(dim, fs=SR, materials=pra.Material(float(min(e_abs, 0.99))), max_order=max_order)
        src = dim * [rng.uniform(0.2, 0.4), rng.uniform(0.3, 0.7), 0] + [0, 0, 1.6]
        mic = dim * [rng.uniform(0.55, 0.8), rng.uniform(0.3, 0.7), 0] + [0, 0, 1.5]
        room.add_source(src.tolist())
        room.add_microphone(mic.tolist())
        room.compute_rir()
        h = np.asarray(room.rir[0][0])
        truth = rt60_from_rir(h=h, sr=SR)
        dry, pauses = dialogue(tts, rng)
        clapping = i % 2 == 1
        if clapping:
            dry = with_claps(dry, pauses, rng)
        y = add_noise(fftconvolve(dry, h)[: len(dry)], float(rng.uniform(20, 40)), rng)
        out.append(
            {
                "name": f"sim{i:02d}{'+claps' if clapping else ''}",
                "y": y,
                "rt60_true": truth,
                "rt60_pra": float(room.measure_rt60()[0][0]),
                "edt": rt60_from_rir(h=h, sr=SR, fit_db=(0.0, -10.0)),
                "c50_true": clarity_from_rir(h=h, sr=SR),
                "class_true": true_class(truth),
                "in_range": 0.2 <= truth <= 2.0,
            }
        )
    return out


def real_cases(tts: Espeak, rng: np.random.Generator) -> list[dict]:
    import soundfile as sf

    out = []
    for f in sorted(REAL.glob("*.wav")):
        h, fs = sf.read(str(f), always_2d=True)
        h = h[:, 0]
        truth = rt60_from_rir(h=h, sr=fs)
        h16 = resample_poly(h, SR, fs)
        outdoor = "outdoor" in f.stem
        dry = with_claps(*dialogue(tts, rng), rng)
        y = add_noise(fftconvolve(dry, h16)[: len(dry)], float(rng.uniform(20, 40)), rng)
        out.append(
            {
                "name": f.stem,
                "y": y,
                "rt60_true": truth,
                "c50_true": clarity_from_rir(h=h, sr=fs),
                "edt": rt60_from_rir(h=h, sr=fs, fit_db=(0.0, -10.0)),
                "class_true": "outdoor" if outdoor else true_class(truth),
                "in_range": (0.2 <= truth <= 2.0) and not outdoor,
            }
        )
    return out


def space_cases(tts: Espeak, rng: np.random.Generator, n: int) -> list[dict]:
    out = []
    for i in range(n):
        dry = speech(tts, rng)
        booth = dry + 10 ** (-float(rng.uniform(55, 70)) / 20) * pink(len(dry), rng) * 0.1
        out.append({"name": f"booth{i}", "y": booth, "class_true": "dry"})
        lvl = 0.1 * 10 ** (-float(rng.uniform(15, 30)) / 20)
        out.append({"name": f"outdoor{i}", "y": dry + lvl * wind(len(dry), rng), "class_true": "outdoor"})
    return out


BEDS = {
    "pink": (pink, True),
    "chord": (chord, True),
    "pad": (pad, False),
    "swell": (swell, False),
    "rhythmic": (rhythmic, False),
}


def stem_cases(tts: Espeak, rng: np.random.Generator, n_voices: int, ratios: list[float]) -> list[dict]:
    from scipy import ndimage

    out = []
    for v in range(n_voices):
        sp = speech(tts, rng)
        ls = integrated_loudness(y=sp, sr=SR)
        hop = int(0.01 * SR)
        n = len(sp) // hop
        lev = 10 * np.log10((sp[: n * hop] ** 2).reshape(n, hop).mean(axis=1) + 1e-20)
        active = ndimage.binary_dilation(lev > lev.max() - 40, np.ones(11))
        for bed_name, (fn, stationary) in BEDS.items():
            bed = fn(len(sp), rng)
            lb = integrated_loudness(y=bed[: n * hop].reshape(n, hop)[active].ravel(), sr=SR)
            for r in ratios:
                mix = sp + 10 ** ((ls - lb - r) / 20) * bed
                peak = np.abs(mix).max()
                out.append(
                    {
                        "name": f"v{v}-{bed_name}{r:+g}",
                        "y": mix / max(1.0, peak),
                        "sbr_true": r,
                        "bed": bed_name,
                        "stationary": stationary,
                    }
                )
    return out


# ---------------------------------------------------------------- evaluation
def _fmt(v: float | None) -> str:
    return "abstain" if v is None else f"{v:.2f} s"


def _merge(cls: str | None) -> str | None:
    return "no_room" if cls in ("dry", "outdoor") else cls


def stats(err: list[float]) -> tuple[int, float, float]:
    a = np.abs(np.asarray(err, dtype=float))
    a = a[np.isfinite(a)]
    if not len(a):
        return 0, float("nan"), float("nan")
    return len(a), float(np.median(a)), float(np.percentile(a, 90))


def mix_gate(y: np.ndarray, gate: str) -> np.ndarray | None:
    """The speech gate to score the mix with: Silero's voice activity (``silero``), or None for the scene's
    statistical gate (``statistical``, the mix analyzer's)."""
    if gate == "statistical":
        return None
    from workbench.metrics.kernels.vad import activity_from_probs
    from workbench.metrics.speechmodels import SILERO_CHUNK, silero_probs
    from workbench.metrics.voice import grid_length

    p = silero_probs(y=np.asarray(y, dtype=np.float32), sr=SR)
    return activity_from_probs(probs=p, n=grid_length(len(y), SR), chunk_s=SILERO_CHUNK / SR)


def run_seed(
    seed: int, tts: Espeak, *, quick: bool, verbose: bool, gate: str = "statistical"
) -> tuple[list[dict], list[dict]]:
    """All cases for one seed: acoustic rows and speech-to-background rows."""
    rng = np.random.default_rng(seed)
    cases = room_cases(tts, rng, 6 if quick else 14)
    if REAL.is_dir():
        cases += real_cases(tts, rng)
    cases += space_cases(tts, rng, 2 if quick else 5)
    prompt = Prompt(
        id="p", scene="a person talks", acoustics=Acoustics(setting="interior"), dialogue=(DialogueLine(text="hi"),)
    )
    rows = []
    for c in cases:
        scene = analyse_audio(y=c["y"], sr=SR)
        sc = acoustic_scores(scene, prompt)
        est = sc["rt60_s"].value
        row = {
            "seed": seed,
            "name": c["name"],
            "rt60_true": c.get("rt60_true"),
            "rt60_est": est,
            "rt60_ml": rt60_ml(y=c["y"], sr=SR).rt60_s,
            "edt_true": c.get("edt"),
            "rt60_pra": c.get("rt60_pra"),
            "n_decays": scene.rt.n_decays,
            "class_true": c["class_true"],
            "class_est": classify_space(rt60_s=est, floor=scene.floor) if est is not None else None,
            "c50_true": c.get("c50_true"),
            "drr_est": sc["drr_db"].value,
            "floor_rel_db": scene.floor.floor_rel_db,
            "bed_rel_db": scene.floor.bed_rel_db,
            "flatness": scene.floor.flatness,
            "in_range": c.get("in_range", False),
        }
        rows.append(row)
        if verbose:
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    sb_rows = []
    for c in stem_cases(tts, rng, 1 if quick else 3, [-5, 0, 5, 10, 15, 20, 25]):
        v = mix_scores(analyse_audio(y=c["y"], sr=SR), prompt, voice=mix_gate(c["y"], gate))["speech_to_background_db"].value
        err = (v - c["sbr_true"]) if v is not None else float("nan")
        sb_rows.append(
            {
                "seed": seed,
                "name": c["name"],
                "bed": c["bed"],
                "stationary": c["stationary"],
                "true": c["sbr_true"],
                "est": v,
                "err": err,
            }
        )
        if verbose:
            print(c["name"], v, round(err, 2))
    return rows, sb_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the numbers to this file")
    ap.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds (each about 40 s of CPU)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    ap.add_argument(
        "--gate", choices=("statistical", "silero"), default="statistical",
        help="the speech gate of speech_to_background: statistical (the mix analyzer's) or silero (measured, not used)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    t0 = time.time()
    if not REAL.is_dir():
        print(f"note: {REAL} not present (fresh clone): real-RIR cases skipped")
    tts = Espeak()
    rows: list[dict] = []
    sb_rows: list[dict] = []
    for seed in range(args.seed, args.seed + args.seeds):
        r, b = run_seed(seed, tts, quick=args.quick, verbose=args.verbose, gate=args.gate)
        rows += r
        sb_rows += b

    rt_rows = [r for r in rows if r["in_range"]]
    rt_err = [abs(r["rt60_est"] / r["rt60_true"] - 1) for r in rt_rows if r["rt60_est"] is not None]
    abstain = sum(r["rt60_est"] is None for r in rt_rows)
    out_rows = [r for r in rows if r["rt60_true"] is not None and not r["in_range"] and r["class_true"] != "outdoor"]
    cls_rows = [r for r in rows if r["class_est"] is not None]
    cls_ok = [r["class_est"] == r["class_true"] for r in cls_rows]
    drr_rows = [r for r in rows if r["drr_est"] is not None and r["c50_true"] is not None]
    drr_err = [r["drr_est"] - r["c50_true"] for r in drr_rows]
    drr_corr = (
        float(np.corrcoef([r["drr_est"] for r in drr_rows], [r["c50_true"] for r in drr_rows])[0, 1])
        if len(drr_rows) > 2
        else float("nan")
    )

    sb: dict[str, list[float]] = {"stationary": [], "dynamic": []}
    sb_by_bed: dict[str, list[float]] = {}
    for b in sb_rows:
        sb["stationary" if b["stationary"] else "dynamic"].append(b["err"])
        sb_by_bed.setdefault(b["bed"], []).append(b["err"])

    table = []

    def add(metric: str, err: list[float], target: str, ok: bool | None, unit: str, extra: str = "") -> None:
        n, med, p90 = stats(err)
        table.append(
            {
                "metric": metric,
                "n": n,
                "median_abs_err": med,
                "p90_abs_err": p90,
                "unit": unit,
                "target": target,
                "pass": ok,
                "note": extra,
            }
        )

    ml_err = [abs(r["rt60_ml"] / r["rt60_true"] - 1) for r in rt_rows if r["rt60_ml"] is not None]
    n, med, _ = stats(rt_err)
    add(
        "rt60 (rooms 0.2-2.0 s)",
        [100 * e for e in rt_err],
        "median <= 20 %",
        bool(n and med <= 0.20),
        "%",
        f"abstained {abstain}/{len(rt_rows)}",
    )
    n_ml = stats(ml_err)[0]
    add(
        "rt60 ML estimator (2nd, rooms)",
        [100 * e for e in ml_err],
        "report",
        None,
        "%",
        f"abstained {len(rt_rows) - n_ml}/{len(rt_rows)}",
    )
    out_err = [100 * abs(r["rt60_est"] / r["rt60_true"] - 1) for r in out_rows if r["rt60_est"] is not None]
    note = ", ".join(f"{r['name']} {r['rt60_true']:.1f} s: {_fmt(r['rt60_est'])}" for r in out_rows)
    add("rt60 (rooms outside 0.2-2.0 s)", out_err, "report", None, "%", note)
    no_room = [r for r in rows if r["class_true"] in ("dry", "outdoor") and r["rt60_true"] is None]
    short = [r["rt60_est"] for r in no_room if r["rt60_est"] is not None]
    outdoor_rir = "; ".join(
        f"{r['name']} {_fmt(r['rt60_est'])}" for r in rows if r["class_true"] == "outdoor" and r["rt60_true"]
    )
    table.append(
        {
            "metric": "rt60 on dry/outdoor speech (no RIR)",
            "n": len(short),
            "accuracy": float(np.mean(np.array(short) < 0.3)) if short else float("nan"),
            "target": "all < 0.3 s",
            "pass": bool(short) and max(short) < 0.3,
            "note": f"max {max(short):.2f} s; outdoor RIR: {outdoor_rir}" if short else "",
        }
    )
    acc = float(np.mean(cls_ok)) if cls_ok else float("nan")
    n_abst = sum(r["class_est"] is None for r in rows)
    table.append(
        {
            "metric": "space class (4 classes)",
            "n": len(cls_ok),
            "accuracy": acc,
            "target": ">= 85 %",
            "pass": bool(cls_ok and acc >= 0.85),
            "note": f"abstained {n_abst}/{len(rows)}",
        }
    )
    merged = [_merge(r["class_est"]) == _merge(r["class_true"]) for r in cls_rows]
    table.append(
        {
            "metric": "space class (dry+outdoor merged)",
            "n": len(merged),
            "accuracy": float(np.mean(merged)) if merged else float("nan"),
            "target": "report",
            "pass": None,
            "note": "",
        }
    )
    add("drr proxy vs C50 of RIR", drr_err, "report", None, "dB", f"pearson r={drr_corr:.2f}")
    n, med, p90 = stats(sb["stationary"])
    add("speech_to_background (stationary)", sb["stationary"], "p90 <= 2 dB", bool(n and p90 <= 2.0), "dB")
    add("speech_to_background (dynamic)", sb["dynamic"], "report", None, "dB")
    for bed, errs in sb_by_bed.items():
        add(f"  bed {bed}", errs, "", None, "dB")

    print(f"\n{'metric':38s} {'n':>4s} {'median':>8s} {'p90':>8s}  {'target':16s} {'pass':5s} note")
    for r in table:
        if "accuracy" in r:
            ok = "" if r["pass"] is None else str(r["pass"])
            print(
                f"{r['metric']:38s} {r['n']:4d} {100 * r['accuracy']:7.1f}% {'':8s}  {r['target']:16s} {ok:5s} {r['note']}"
            )
        else:
            u = r["unit"]
            print(
                f"{r['metric']:38s} {r['n']:4d} {r['median_abs_err']:7.2f}{u[:1]} {r['p90_abs_err']:7.2f}{u[:1]}  "
                f"{r['target']:16s} {'' if r['pass'] is None else str(r['pass']):5s} {r['note']}"
            )
    wrong = [
        f"{r['name']}/s{r['seed']}: {r['class_est']} (true {r['class_true']})"
        for r in cls_rows
        if r["class_est"] != r["class_true"]
    ]
    if wrong:
        print("space class misses: " + "; ".join(wrong))
    print(f"elapsed {time.time() - t0:.1f} s")
    if args.json:
        out = {"table": table, "cases": rows, "stems": sb_rows, "seeds": args.seeds, "elapsed_s": time.time() - t0}
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
