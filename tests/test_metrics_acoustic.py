"""Acoustic match and mix balance: kernels on synthetic signals with known answers, analyzers end to end."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.signal import fftconvolve

from workbench.analysis.engine import analyze_clip, select_analyzers
from workbench.metrics import acoustic as acoustic_mod
from workbench.metrics.context import ClipContext
from workbench.metrics.kernels.levels import (
    FloorFeatures,
    floor_features,
    integrated_loudness,
    noise_floor,
    speech_activity,
    speech_to_background,
)
from workbench.metrics.kernels.reverb import (
    clarity_from_rir,
    drr_from_rir,
    early_late_ratio,
    impulsive_onsets,
    rt60_blind,
    rt60_from_rir,
    rt60_ml,
    schroeder_decay,
)
from workbench.prompt import Acoustics, DialogueLine, Prompt

SR = 16000


def noise_rir(rt60: float, *, sr: int = SR, seed: int = 0, direct: float = 0.0, tail: float = 1.0) -> np.ndarray:
    """Exponentially decaying Gaussian noise: energy falls 60 dB in ``rt60`` s (Polack's model)."""
    rng = np.random.default_rng(seed)
    n = int(1.5 * rt60 * sr)
    h = tail * rng.standard_normal(n) * 10 ** (-3 * np.arange(n) / sr / rt60)
    h[0] = direct
    return h


def bursts(at_s: list[float], *, dur_s: float, seed: int = 1) -> np.ndarray:
    """Hand-clap-like bursts: 3 ms decaying noise at the given times."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(dur_s * SR))
    m = int(0.02 * SR)
    for t in at_s:
        i = int(t * SR)
        y[i : i + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / (0.003 * SR))
    return y


def speechlike(dur_s: float = 8.0, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Voiced, formant-shaped phrases with syllabic modulation and pauses; and its activity mask (10 ms)."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * SR)
    t = np.arange(n) / SR
    f0 = 130 + 25 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = np.zeros(n)
    for k in range(1, 40):
        fk = k * f0
        gain = sum(np.exp(-(((fk - fc) / bw) ** 2)) for fc, bw in ((500, 150), (1500, 250), (2500, 300)))
        y += np.where(fk < SR / 2 - 200, (gain + 0.02) / k**0.5, 0.0) * np.sin(k * phase)
    env = np.zeros(n)
    pos = 0.3
    while pos < dur_s - 1.0:
        ph_len = rng.uniform(1.2, 2.2)
        s = pos
        while s < min(pos + ph_len, dur_s - 0.3):
            d = rng.uniform(0.12, 0.25)
            i0, i1 = int(s * SR), int(min(s + d, dur_s) * SR)
            env[i0:i1] = np.sin(np.linspace(0, np.pi, i1 - i0)) ** 0.5 * rng.uniform(0.5, 1.0)
            s += d + rng.uniform(0.02, 0.06)
        pos += ph_len + rng.uniform(0.5, 0.9)
    y = y * env
    y *= 0.3 / np.abs(y).max()
    hop = SR // 100
    m = len(y) // hop
    active = (env[: m * hop].reshape(m, hop).max(axis=1)) > 0
    return y, active


def pink(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return y / np.std(y)


# ---------------------------------------------------------------- reverberation kernels
@pytest.mark.parametrize("rt60", [0.3, 0.8, 1.6])
def test_rt60_from_rir_recovers_a_known_decay(rt60: float) -> None:
    h = noise_rir(rt60)
    assert rt60_from_rir(h=h, sr=SR) == pytest.approx(rt60, rel=0.05)
    assert rt60_from_rir(h=h, sr=SR, bands=None, fit_db=(-5, -35)) == pytest.approx(rt60, rel=0.05)


def test_rt60_from_rir_ignores_a_noise_floor() -> None:
    h = noise_rir(0.6)
    noisy = h + 10 ** (-55 / 20) * np.random.default_rng(9).standard_normal(len(h) * 2)[: len(h)]
    noisy = np.concatenate([noisy, 10 ** (-55 / 20) * np.random.default_rng(8).standard_normal(SR)])
    assert rt60_from_rir(h=noisy, sr=SR) == pytest.approx(0.6, rel=0.07)


def test_schroeder_decay_of_an_exponential_is_a_straight_line() -> None:
    edc = schroeder_decay(rir_or_segment=noise_rir(0.5, seed=4))
    t = np.arange(len(edc)) / SR
    sel = (edc < -5) & (edc > -35)
    slope = np.polyfit(t[sel], edc[sel], 1)[0]
    assert edc[0] == 0.0
    assert np.all(np.diff(edc) <= 1e-9)
    assert -60 / slope == pytest.approx(0.5, rel=0.05)


def test_drr_and_clarity_of_a_constructed_rir_are_exact() -> None:
    h = np.zeros(SR)
    h[100] = 1.0  # direct: energy 1
    h[100 + int(0.01 * SR)] = math.sqrt(0.5)  # early reflection at 10 ms: 0.5
    h[100 + int(0.2 * SR)] = math.sqrt(0.25)  # late reflection at 200 ms: 0.25
    assert drr_from_rir(h=h, sr=SR) == pytest.approx(10 * math.log10(1 / 0.75), abs=1e-9)
    assert clarity_from_rir(h=h, sr=SR) == pytest.approx(10 * math.log10(1.5 / 0.25), abs=1e-9)


@pytest.mark.parametrize("rt60", [0.5, 1.0])
def test_blind_rt60_of_impulses_in_a_room(rt60: float) -> None:
    dry = bursts([0.5 + 1.5 * k for k in range(6)], dur_s=9.5)
    y = fftconvolve(dry, noise_rir(rt60, direct=1.0))[: len(dry)]
    y += 1e-4 * np.std(y) * np.random.default_rng(5).standard_normal(len(y))
    est = rt60_blind(y=y, sr=SR)
    assert est.rt60_s == pytest.approx(rt60, rel=0.15)
    assert est.n_decays >= 5
    ml = rt60_ml(y=y, sr=SR)
    assert ml.rt60_s == pytest.approx(rt60, rel=0.35)


def test_blind_rt60_of_dry_sound_is_short() -> None:
    y, _ = speechlike(seed=2)
    y = y + bursts([1.0, 4.0, 7.0], dur_s=len(y) / SR) * 0.3
    est = rt60_blind(y=y + 1e-5 * pink(len(y)), sr=SR)
    assert est.rt60_s is not None and est.rt60_s < 0.3


def test_blind_rt60_abstains_without_decays() -> None:
    est = rt60_blind(y=pink(4 * SR), sr=SR)
    assert est.rt60_s is None and est.n_decays < 3


def test_early_late_ratio_of_an_isolated_click_tracks_c50() -> None:
    for rt60, tail in ((0.4, 0.02), (1.0, 0.03)):
        h = noise_rir(rt60, direct=1.0, tail=tail, seed=6)
        dry = bursts([0.5, 3.0, 5.5], dur_s=8.0)
        y = fftconvolve(dry, h)[: len(dry)] + 1e-5 * np.random.default_rng(1).standard_normal(len(dry))
        onsets = impulsive_onsets(y=y, sr=SR)
        assert len(onsets) == 3
        assert np.allclose(onsets, [0.5, 3.0, 5.5], atol=0.01)
        elr = early_late_ratio(y=y, sr=SR, onsets=onsets)
        # the 3 ms bursts smear the direct sound a little: within 2 dB of the RIR's C50
        assert np.nanmedian(elr) == pytest.approx(clarity_from_rir(h=h, sr=SR), abs=2.0)


# ---------------------------------------------------------------- levels and mix
def test_noise_floor_reads_the_bed_level() -> None:
    rng = np.random.default_rng(0)
    bed = 10 ** (-40 / 20) * rng.standard_normal(4 * SR)  # mean square -40 dBFS
    y, _ = speechlike(4.0)
    assert noise_floor(y=bed + y, sr=SR) == pytest.approx(-40.0, abs=1.0)
    assert noise_floor(y=np.zeros(SR), sr=SR) == -120.0


def test_speech_activity_finds_speech_and_not_noise() -> None:
    y, truth = speechlike()
    mask = speech_activity(y=y + 0.003 * pink(len(y)), sr=SR)
    n = min(len(mask), len(truth))
    assert np.mean(mask[:n][truth[:n]]) > 0.8
    assert np.mean(mask[:n][~truth[:n]]) < 0.35
    assert not speech_activity(y=0.05 * pink(4 * SR), sr=SR).any()
    assert not speech_activity(y=np.zeros(2 * SR), sr=SR).any()


@pytest.mark.parametrize("ratio_db", [0.0, 10.0, 20.0])
@pytest.mark.parametrize("bed_kind", ["pink", "chord"])
def test_speech_to_background_recovers_the_mixing_ratio(ratio_db: float, bed_kind: str) -> None:
    sp, _ = speechlike(seed=1)
    t = np.arange(len(sp)) / SR
    if bed_kind == "pink":
        bed = pink(len(sp))
    else:
        bed = sum(np.sin(2 * np.pi * f * t) / (1 + i) for i, f in enumerate((196.0, 247.0, 294.0, 392.0, 587.0)))
    gain = 10 ** ((integrated_loudness(y=sp, sr=SR) - integrated_loudness(y=bed, sr=SR) - ratio_db) / 20)
    res = speech_to_background(y=sp + gain * bed, sr=SR)
    assert res.sbr_db == pytest.approx(ratio_db, abs=2.0)
    assert res.background_from == "neighbours"
    assert res.dialogue_lufs is not None


def test_speech_to_background_without_speech() -> None:
    res = speech_to_background(y=0.05 * pink(3 * SR), sr=SR)
    assert res.sbr_db is None and res.speech_fraction == 0.0


def test_floor_features_tell_a_loud_broadband_bed_from_a_quiet_room() -> None:
    sp, _ = speechlike(seed=3)
    quiet = floor_features(y=sp + 1e-4 * pink(len(sp)), sr=SR)
    outdoor = floor_features(y=sp + 0.01 * pink(len(sp)), sr=SR)
    assert outdoor.floor_rel_db > quiet.floor_rel_db + 20
    assert outdoor.bed_rel_db == pytest.approx(outdoor.floor_rel_db, abs=3.0)  # a steady bed: typical = quietest
    assert outdoor.flatness > 0.1


def _floor(bed_rel_db: float, flatness: float) -> FloorFeatures:
    return FloorFeatures(-60.0, -20.0, bed_rel_db, bed_rel_db, flatness, 1.0)


@pytest.mark.parametrize(
    ("rt60", "bed_rel_db", "flatness", "want"),
    [
        (1.5, -20.0, 0.5, "large_hall"),
        (1.2, -60.0, 0.5, "large_hall"),
        (0.6, -20.0, 0.5, "room"),
        (0.3, -60.0, 0.5, "room"),
        (0.12, -25.0, 0.5, "outdoor"),  # no diffuse tail, loud broadband bed
        (0.12, -60.0, 0.5, "dry"),  # no diffuse tail, quiet: a booth
        (0.12, -25.0, 0.01, "dry"),  # a tonal hum is not an outdoor bed
        (0.25, -25.0, 0.5, "dry"),  # a short diffuse tail: a noisy dead room, not open air
        (0.2, -25.0, 0.5, "dry"),
    ],
)
def test_classify_space(rt60: float, bed_rel_db: float, flatness: float, want: str) -> None:
    assert acoustic_mod.classify_space(rt60_s=rt60, floor=_floor(bed_rel_db, flatness)) == want


# ---------------------------------------------------------------- analyzers
def prompt(**kw) -> Prompt:
    base = {"id": "p", "scene": "a person talks", "dialogue": (DialogueLine(text="hello there"),)}
    base.update(kw)
    return Prompt(**base)


def test_silence_is_unscored_with_a_reason() -> None:
    scene = acoustic_mod.analyse_audio(y=np.zeros(3 * SR), sr=SR)
    a = acoustic_mod.acoustic_scores(scene, prompt())
    m = acoustic_mod.mix_scores(scene, prompt())
    for s in (*a.values(), *m.values()):
        assert not s.scored and s.reason == "silent audio track"


def test_no_prompt_leaves_acoustic_match_unscored() -> None:
    dry = bursts([0.5 + 1.2 * k for k in range(6)], dur_s=8.0)
    y = fftconvolve(dry, noise_rir(0.5, direct=1.0))[: len(dry)]
    scores = acoustic_mod.acoustic_scores(acoustic_mod.analyse_audio(y=y, sr=SR), None)
    assert scores["rt60_s"].scored
    assert scores["acoustic_match"].reason == "no prompt: no acoustic target"
    assert not scores["space_class_match"].scored


def test_acoustic_match_explains_a_miss_and_rewards_a_hit() -> None:
    dry = bursts([0.5 + 1.5 * k for k in range(6)], dur_s=9.5)
    y = fftconvolve(dry, noise_rir(0.45, direct=1.0))[: len(dry)] + 1e-5 * pink(len(dry))
    scene = acoustic_mod.analyse_audio(y=y, sr=SR)
    hall = prompt(acoustics=Acoustics(setting="interior", reverb="very_long"))
    room = prompt(acoustics=Acoustics(setting="interior", reverb="short"))
    miss = acoustic_mod.acoustic_scores(scene, hall)["acoustic_match"]
    hit = acoustic_mod.acoustic_scores(scene, room)
    assert miss.value < 0.05
    assert "very_long" in miss.details["reason"] and "2.5-8 s" in miss.details["reason"]
    assert hit["acoustic_match"].value > 0.9
    assert hit["space_class_match"].value == 1.0 and hit["space_class_match"].details["estimated"] == "room"


def test_log_range_score() -> None:
    f = acoustic_mod.log_range_score
    assert f(0.5, 0.3, 0.6) == 1.0
    assert f(1.2, 0.3, 0.6) == pytest.approx(0.5)
    assert f(0.15, 0.3, 0.6) == pytest.approx(0.5)
    assert f(2.4, 0.3, 0.6) == pytest.approx(0.5**4)
    assert f(0.1, 0.0, 0.3) == 1.0


def test_mix_unscored_without_dialogue_or_speech() -> None:
    y, _ = speechlike()
    scene = acoustic_mod.analyse_audio(y=y, sr=SR)
    no_lines = acoustic_mod.mix_scores(scene, prompt(dialogue=()))
    assert no_lines["speech_to_background_db"].reason == "prompt has no dialogue"
    noise_only = acoustic_mod.mix_scores(acoustic_mod.analyse_audio(y=0.05 * pink(4 * SR), sr=SR), None)
    assert noise_only["speech_to_background_db"].reason == "no speech detected"


def write_mp4(path: Path, audio: np.ndarray, *, sr: int = 48000, fps: int = 25) -> None:
    """A tiny H.264 + AAC MP4 with the given mono audio (resampled to ``sr``)."""
    from scipy.signal import resample_poly

    a48 = resample_poly(audio, sr, SR).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        ast = c.add_stream("aac", rate=sr)
        ast.layout = "mono"
        for i in range(int(len(audio) / SR * fps)):
            fr = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 5) % 255, np.uint8), format="rgb24")
            fr.pts = i
            fr.time_base = Fraction(1, fps)
            c.mux(vs.encode(fr))
        c.mux(vs.encode())
        step = 1024
        for k in range(0, len(a48), step):
            af = av.AudioFrame.from_ndarray(a48[None, k : k + step], format="fltp", layout="mono")
            af.sample_rate = sr
            af.pts = k
            af.time_base = Fraction(1, sr)
            c.mux(ast.encode(af))
        c.mux(ast.encode(None))
    path.write_bytes(buf.getvalue())


def test_analyzers_through_clip_context(tmp_path: Path) -> None:
    sp = spoken(8.0)
    claps = bursts([1.9, 4.2, 6.6], dur_s=8.0) * 0.5
    y = fftconvolve(sp + claps, noise_rir(0.5, direct=1.0))[: len(sp)]
    y = 0.5 * y / np.abs(y).max() + 0.002 * pink(len(y))
    clip = tmp_path / "clip.mp4"
    write_mp4(clip, y)
    ctx = ClipContext(path=clip, prompt=prompt(acoustics=Acoustics(setting="interior", reverb="short")))
    analyzers = select_analyzers(["acoustic", "mix"])
    scores = analyze_clip(ctx, analyzers)
    assert set(scores) == {m.name for a in analyzers for m in a.outputs}
    assert scores["rt60_s"].value == pytest.approx(0.5, rel=0.3)
    assert scores["acoustic_match"].value > 0.5
    assert scores["speech_to_background_db"].scored and scores["speech_to_background_db"].value > 15
    assert -40 < scores["dialogue_loudness_lufs"].value < -10
    assert scores["noise_floor_dbfs"].value < scores["ambience_db"].value + 3
    assert isinstance(ctx.memo.get(acoustic_mod.SCENE, lambda: None), acoustic_mod.AudioScene)  # computed once, shared


def spoken(dur_s: float) -> np.ndarray:
    """espeak-ng speech (two lines with a pause) at SR, padded to ``dur_s``."""
    from workbench.providers.local.synth.speech import synthesize

    out = np.zeros(int(dur_s * SR))
    at = int(0.4 * SR)
    for text in ("The kettle is on and the light comes in.", "Sit down, I will bring the cups over."):
        y = synthesize(text, sr=SR).y[: len(out) - at]
        out[at : at + len(y)] = y
        at += len(y) + int(0.8 * SR)
        if at >= len(out):
            break
    return out


@pytest.mark.slow
def test_mix_hears_no_dialogue_in_a_clip_without_speech(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local model's stock bed (music, a room, impacts; no speech) has no dialogue to balance, though the
    statistical gate alone marks "speech" in it; the same prompt spoken has, and so has a whispered line,
    which Silero does not hear (no voicing) but Whisper does, with its prompt or without one."""
    from workbench.metrics import speech
    from workbench.metrics.speechmodels import ModelUnavailable
    from workbench.metrics.voice import MIN_VOICE_S, learned_activity
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    suite = resolve_suite("builtin")

    def mix_of(prompt_id: str, variant: str, *, with_prompt: bool = True) -> tuple[dict, ClipContext]:
        p = suite.get(prompt_id)
        path = tmp_path / f"{prompt_id}-{variant}.mp4"
        if not path.exists():
            path.write_bytes(render_clip(p, variant).data)
        ctx = ClipContext(path=path, prompt=p if with_prompt else None)
        return analyze_clip(ctx, select_analyzers(["mix"])), ctx

    bed, ctx = mix_of("office-short-line", "generic")
    sb = bed["speech_to_background_db"]
    assert not sb.scored and sb.reason is not None and sb.reason.startswith("no speech detected (voice activity 0.00 s")
    assert not bed["dialogue_loudness_lufs"].scored
    gate_alone = acoustic_mod.mix_scores(acoustic_mod.scene_for(ctx), ctx.prompt)["speech_to_background_db"]
    assert gate_alone.scored  # what the clip read before the voice check
    spoken, _ = mix_of("office-short-line", "synced")
    assert spoken["speech_to_background_db"].scored and spoken["dialogue_loudness_lufs"].scored
    for with_prompt in (True, False):
        whisper, ctx = mix_of("whisper-closeup", "synced", with_prompt=with_prompt)
        voice = learned_activity(ctx.decoded, ctx.memo)
        assert not isinstance(voice, str) and voice.speech_s < MIN_VOICE_S
        assert whisper["speech_to_background_db"].scored, whisper["speech_to_background_db"].reason

    def no_model(**_: object) -> None:
        raise ModelUnavailable("not installed")

    # no speech model to ask: the statistical gate decides alone, as before the voice check
    monkeypatch.setattr(speech, "transcribe", no_model)
    alone, _ = mix_of("office-short-line", "generic")
    assert alone["speech_to_background_db"].scored


REAL_RIRS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "rirs"


def read_rir(name: str) -> tuple[np.ndarray, int]:
    if not REAL_RIRS.is_dir():
        pytest.skip("../shared/data/real not present (fresh clone)")
    import soundfile

    h, sr = soundfile.read(str(REAL_RIRS / name), always_2d=True)
    return h[:, 0], sr


@pytest.mark.shared
def test_measured_rir_matches_its_published_rt60() -> None:
    # kitamura-laboratory/rt60 README: "RT60 is around 500 ms" (500 Hz band, T30)
    h, sr = read_rir("kitamura_impResponse_short.wav")
    assert rt60_from_rir(h=h, sr=sr, bands=(500.0,), fit_db=(-5, -35)) == pytest.approx(0.5, rel=0.05)
    assert rt60_from_rir(h=h, sr=sr) == pytest.approx(0.5, rel=0.1)


@pytest.mark.shared
def test_blind_rt60_through_a_measured_room() -> None:
    from scipy.signal import resample_poly

    h, sr = read_rir("openair_elveden_smoking_room.wav")
    truth = rt60_from_rir(h=h, sr=sr)
    sp, _ = speechlike(dur_s=10.0, seed=5)
    y = fftconvolve(sp, resample_poly(h, SR, sr))[: len(sp)]
    y += 10 ** (-35 / 20) * np.std(y) * pink(len(y))
    est = rt60_blind(y=y, sr=SR)
    assert est.rt60_s == pytest.approx(truth, rel=0.25)
