"""Synchrony metrics: kernels on synthetic signals with exact answers, analyzer abstentions, one real clip."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.metrics import coherence, face, foley, lipsync
from workbench.metrics.context import Memo
from workbench.metrics.kernels import coherence as coh
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.kernels import sync
from workbench.prompt import Prompt

RATE = 100
SR = 16000
REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


def syllables(n: int, seed: int = 0) -> np.ndarray:
    """A speech-like 2-8 Hz random envelope on the 100 Hz grid."""
    rng = np.random.default_rng(seed)
    return env.bandpass(rng.standard_normal(n), rate=RATE, lo=2.0, hi=8.0)


def delayed(x: np.ndarray, *, offset_s: float, drift: float = 0.0) -> np.ndarray:
    """Audio that follows picture ``x`` late by ``offset_s + drift * t`` (+ = audio late)."""
    t = np.arange(len(x)) / RATE
    # audio(t) = video(tau) where t = tau + offset + drift * tau
    tau = (t - offset_s) / (1.0 + drift)
    return np.interp(tau, t, x, left=0.0, right=0.0)


# --------------------------------------------------------------------------- mouth opening from pixels


def test_dark_opening_is_minus_the_mean_of_the_darkest_quarter() -> None:
    from workbench.metrics.face import dark_opening

    g = np.full((40, 40), 200, np.uint8)
    g[10:20, 10:20] = np.arange(100, dtype=np.uint8).reshape(10, 10)  # 100 values 0..99
    # box 10..30 x 10..30 holds 400 pixels: the darkest quarter is exactly 0..99
    assert dark_opening(gray=g, box=(10, 10, 30, 30)) == pytest.approx(-49.5)
    # a box reaching outside the frame is clipped; one too small to read is NaN
    assert dark_opening(gray=g, box=(-5, -5, 45, 45)) == pytest.approx(-np.sort(g.ravel())[:400].mean())
    assert np.isnan(dark_opening(gray=g, box=(0, 0, 2, 40)))


def test_dark_opening_grows_as_a_dark_mouth_opens() -> None:
    from workbench.metrics.face import dark_opening, mouth_box

    box = mouth_box(np.array([40.0, 50.0]), np.array([80.0, 50.0]))  # a 40 px wide mouth
    assert box == (48, 42, 73, 63)  # +-0.3 widths across, 0.2 up, 0.3 down
    readings = []
    for gap in (0, 2, 4, 10):
        g = np.full((100, 120), 170, np.uint8)  # skin
        g[48 - gap // 2 : 52 + gap, 45:75] = 60  # lips, and between them the cavity
        g[50 : 50 + gap, 48:72] = 15
        readings.append(dark_opening(gray=g, box=box))
    assert readings == sorted(readings) and readings[-1] > readings[0] + 50


def test_mesh_stride_follows_the_frame_rate() -> None:
    from workbench.metrics.face import mesh_stride

    assert mesh_stride(np.arange(50) / 25.0, 0.2) == 5
    assert mesh_stride(np.arange(60) / 30.0, 0.2) == 6
    assert mesh_stride(np.arange(60) / 30.0, 0.0) == 1
    assert mesh_stride(np.array([0.0]), 0.2) == 5  # one frame: 25 fps assumed


# --------------------------------------------------------------------------- sync kernels


@pytest.mark.parametrize("offset_ms", [-317.0, -40.0, 0.0, 137.0, 400.0])
def test_windowed_offsets_recover_a_known_shift(offset_ms: float) -> None:
    v = syllables(1000)
    a = delayed(v, offset_s=offset_ms / 1000)
    w = sync.windowed_offsets(video=v, audio=a, rate=RATE)
    assert len(w.times) >= 10
    inner = (w.times > 1.5) & (w.times < 8.5)
    assert np.all(np.abs(w.offsets_s[inner] * 1000 - offset_ms) < 40.0)  # one video frame
    assert abs(np.median(w.offsets_s) * 1000 - offset_ms) < 5.0  # sub-frame by parabolic interpolation
    line = sync.warped_line(video=v, audio=a, rate=RATE)
    assert abs(line.offset_s * 1000 - offset_ms) < 5.0
    assert abs(line.slope * 1000) < 2.0


def test_drift_slope_is_recovered() -> None:
    v = syllables(1500, seed=3)
    a = delayed(v, offset_s=0.05, drift=0.025)  # 25 ms/s
    line = sync.warped_line(video=v, audio=a, rate=RATE)
    assert abs(line.slope * 1000 - 25.0) < 2.0
    w = sync.windowed_offsets(video=v, audio=a, rate=RATE)
    expected = line.offset_s + line.slope * (w.times - line.t_ref)
    off, _ = sync.guided_peaks(curves=w.curves, expected_s=expected, rate=RATE, max_lag=w.max_lag)
    slope, intercept = sync.theil_sen(x=w.times, y=off * 1000)
    assert abs(slope - 25.0) < 3.0
    assert abs(intercept - 50.0) < 15.0


def test_theil_sen_ignores_a_minority_of_outliers() -> None:
    x = np.arange(20, dtype=float)
    y = 3.0 * x + 7.0
    y[[2, 9, 15]] = [300.0, -250.0, 180.0]
    slope, intercept = sync.theil_sen(x=x, y=y)
    assert slope == pytest.approx(3.0)
    assert intercept == pytest.approx(7.0)
    w = np.ones(20)
    w[[2, 9, 15]] = 0.0
    assert sync.theil_sen(x=x, y=y, weights=w)[0] == pytest.approx(3.0)


def test_bt1359_share_is_exact() -> None:
    offsets = np.array([-50.0, -45.0, 0.0, 125.0, 125.1, 200.0, 30.0, -46.0])
    assert sync.bt1359_share(offsets_ms=offsets) == pytest.approx(4 / 8)
    assert np.isnan(sync.bt1359_share(offsets_ms=np.zeros(0)))


def test_parabolic_peak_finds_the_vertex() -> None:
    x = np.arange(11, dtype=float)
    r = -((x - 4.3) ** 2)
    pos, height = sync.parabolic_peak(r, int(np.argmax(r)))
    assert pos == pytest.approx(4.3)
    assert height == pytest.approx(0.0)


def test_shift_null_separates_true_from_unrelated_sound() -> None:
    v = syllables(1000, seed=5)
    true = sync.shift_null_z(video=v, audio=delayed(v, offset_s=0.1), rate=RATE)
    other = sync.shift_null_z(video=v, audio=syllables(1000, seed=6), rate=RATE)
    assert true.z > 5.0 and true.p < 0.05
    assert other.z < true.z - 3.0


# --------------------------------------------------------------------------- envelopes


def clicks(at_s: list[float], *, dur_s: float = 3.0, noise: float = 1e-3) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = noise * rng.standard_normal(int(dur_s * SR))
    for t in at_s:
        i = int(round(t * SR))
        n = 400
        y[i : i + n] += 0.8 * np.exp(-np.arange(n) / 60.0) * rng.standard_normal(n)
    return y.astype(np.float32)


def test_onset_envelope_and_refinement_find_a_click() -> None:
    y = clicks([1.2345])
    o = env.onset_envelope(y=y, sr=SR)
    assert len(o) == 300
    coarse = int(np.argmax(o)) / RATE
    assert abs(coarse - 1.2345) <= 0.02
    assert abs(env.refine_onset(y=y, sr=SR, t_coarse=coarse) - 1.2345) <= 0.006


def voiced(dur_s: float = 3.0, f0: float = 140.0) -> np.ndarray:
    """A harmonic 'vowel' train with 4 Hz syllables and a pause: speech-like for the VAD and voicing."""
    t = np.arange(int(dur_s * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    am = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) ** 2
    am[(t > 1.4) & (t < 1.7)] = 0.0
    return (0.1 * y * am).astype(np.float32)


def test_voicing_and_activity_tell_speech_from_noise_and_silence() -> None:
    y = voiced()
    e = env.speech_envelope(y=y, sr=SR)
    act = env.voice_activity(env=e)
    assert 0.3 < act.mean() < 0.95
    v = env.voicing(y=y, sr=SR, where=act)
    assert np.median(v[act]) > 0.8
    rng = np.random.default_rng(1)
    noise = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    assert env.voice_activity(env=env.speech_envelope(y=noise, sr=SR)).sum() == 0
    assert np.median(env.voicing(y=noise, sr=SR)) < 0.4
    assert env.voice_activity(env=env.speech_envelope(y=np.zeros(3 * SR, np.float32), sr=SR)).sum() == 0


def test_motion_cells_cancel_global_change_and_keep_local_motion() -> None:
    frames = np.full((10, 64, 64, 3), 100, np.uint8)
    for k in range(10):
        frames[k] += np.uint8(5 * k)  # global brightness ramp (like a pan or exposure change)
    frames[6, 4:12, 4:12] = 250  # a local event in the top-left cell
    t, cells = env.motion_cells(gray=env.gray_small(frames=frames), frame_times=np.arange(10) / 25)
    assert cells.shape == (9, 16)
    assert np.allclose(t, (np.arange(9) + 0.5) / 25)
    assert cells[[5, 6], 0].min() > 20.0
    others = np.delete(cells, [5, 6], axis=0)
    assert others.max() < 1e-3


# --------------------------------------------------------------------------- swap test


def event_features(train: np.ndarray, sound: np.ndarray) -> dict:
    """Mute-test features of a clip whose picture shows ``train`` and whose sound is ``sound``."""
    k = np.exp(-np.arange(15) / 4.0)
    v = np.convolve(train, k)[: len(train)]
    a = np.convolve(sound, k)[: len(sound)]
    vf = env.bandpass(v, rate=RATE, lo=0.5, hi=8.0)
    af = env.bandpass(a, rate=RATE, lo=0.5, hi=8.0)
    return {
        "rate": RATE,
        "kind": "motion",
        "visual": coh.zscore(vf).astype(np.float32),
        "onset": coh.zscore(af).astype(np.float32),
        "speech": np.zeros(len(a), np.float32),
        "onset_raw": a.astype(np.float32),
        "events_s": [],
        "sound_events": True,
        "visual_events": True,
    }


def trains(n_clips: int, n: int = 800, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_clips):
        x = np.zeros(n)
        x[rng.choice(np.arange(20, n - 20), size=12, replace=False)] = rng.uniform(0.5, 1.0, 12)
        out.append(x)
    return out


def shifted(x: np.ndarray, ms: float) -> np.ndarray:
    return np.roll(x, int(round(ms * RATE / 1000)))


def test_swap_test_ranks_true_pairs_first() -> None:
    tr = trains(6)
    center = int(round(coherence.AV_NATURAL_LAG_MS * RATE / 1000))
    feats = [event_features(t, shifted(t, coherence.AV_NATURAL_LAG_MS)) for t in tr]
    true, swapped, stats = coherence.swap_test(feats)
    assert coh.matched_pair_auc(true=true, swapped=swapped) == 1.0
    assert all(s.rank == 1 and s.margin > 0 and s.p_shift < 0.2 for s in stats)
    scores = coherence.mute_batch(feats)
    assert all(s["mute_coherence"].value > 0.9 for s in scores)
    assert coherence.mute_batch(feats) == scores  # deterministic
    assert center > 0


def test_swap_test_scores_unrelated_sound_low_and_ignores_a_constant_offset() -> None:
    tr = trains(6, seed=1)
    lag = coherence.AV_NATURAL_LAG_MS
    feats = [event_features(t, shifted(t, lag)) for t in tr]
    feats[0] = event_features(tr[0], shifted(trains(1, seed=99)[0], lag))  # sound from another shot
    feats[1] = event_features(tr[1], shifted(tr[1], lag + 200.0))  # the right sound, 200 ms late
    scores = [s["mute_coherence"].value for s in coherence.mute_batch(feats)]
    assert scores[0] < 0.6
    assert scores[1] > 0.9


def test_mute_test_needs_three_usable_clips() -> None:
    tr = trains(3, seed=2)
    feats = [event_features(t, t) for t in tr[:2]] + [{"error": "no audio stream"}]
    out = coherence.mute_batch(feats, [None] * 3)
    assert out[0]["mute_coherence"].reason.startswith("batch too small for a swap test")
    assert out[2]["mute_coherence"].reason == "no audio stream"


# --------------------------------------------------------------------------- analyzers: abstentions and timing


def clip_of(audio: np.ndarray, frames: np.ndarray, fps: float = 25.0) -> SimpleNamespace:
    """A decoded-clip stand-in from RGB frames: luma stack plus RGB on demand, as DecodedClip gives."""
    gray = np.round(frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return SimpleNamespace(
        audio=audio,
        sr=SR,
        gray=gray,
        rgb=lambda k: frames[k],
        n_frames=len(frames),
        frame_times=np.arange(len(frames)) / fps,
    )


def bar_frames(n: int, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    f = np.zeros((n, *size, 3), np.uint8)
    for k in range(n):
        f[k, :, (3 * k) % size[1] : (3 * k) % size[1] + 6] = 255
    return f


def test_lipsync_without_a_face_is_unscored() -> None:
    y = np.tile(voiced(), 2)
    out = lipsync.measure_lipsync(clip_of(y, bar_frames(150)), memo=Memo())
    assert set(out) == {m.name for m in lipsync.OUTPUTS}
    assert all(s.value is None and s.reason == "no face detected" for s in out.values())


@pytest.mark.parametrize("kind", ["silence", "tone"])
def test_lipsync_without_speech_is_unscored(kind: str) -> None:
    t = np.arange(6 * SR) / SR
    y = np.zeros_like(t) if kind == "silence" else 0.1 * np.sin(2 * np.pi * 440 * t)
    out = lipsync.measure_lipsync(clip_of(y.astype(np.float32), bar_frames(150)), memo=Memo())
    assert all(s.reason == "no speech detected" for s in out.values())


def falling_box(n: int, contact_s: float, fps: float = 25.0) -> np.ndarray:
    """A box falls and stops on a floor at ``contact_s`` (between frames)."""
    frames = np.full((n, 90, 160, 3), 30, np.uint8)
    for k in range(n):
        t = k / fps
        y = 70 if t >= contact_s else int(70 - 400 * (contact_s - t))
        if y > -10:
            frames[k, max(0, y) : max(0, y + 12), 70:90] = 230
    return frames


def test_foley_offset_of_a_late_sound() -> None:
    contact = 1.5  # exactly between frames 37 (1.48 s) and 38 (1.52 s)
    y = clicks([contact + 0.120], dur_s=4.0)
    clip = clip_of(y, falling_box(100, contact))
    out = foley.measure_foley(clip, [(1.5, "the box lands")], memo=Memo())
    assert out["foley_hit_rate"].value == 1.0
    assert abs(out["foley_offset_ms"].value - 120.0) <= 10.0
    assert out["foley_abs_offset_ms"].value == pytest.approx(abs(out["foley_offset_ms"].value))
    (text,) = out["foley_offset_ms"].details["explanations"]
    assert "ms after the contact" in text and "the box lands" in text


def test_foley_unscored_without_prompt_or_events() -> None:
    ctx = SimpleNamespace(prompt=None, decoded=None, memo=Memo())
    assert all(s.reason == "no prompt" for s in foley.foley(ctx).values())
    p = Prompt(id="x", scene="a quiet room")
    ctx = SimpleNamespace(prompt=p, decoded=clip_of(clicks([1.0]), bar_frames(75)), memo=Memo())
    assert all(s.reason == "prompt names no foley events" for s in foley.foley(ctx).values())


def test_av_sync_unscored_without_sound_events() -> None:
    clip = clip_of(np.zeros(4 * SR, np.float32), falling_box(100, 1.5))
    out = coherence.measure_av_sync(clip, memo=Memo())
    assert out["av_offset_ms"].value is None
    assert "no sound events" in out["av_offset_ms"].reason


def test_analyzers_share_the_envelope_memo() -> None:
    clip = clip_of(clicks([1.52], dur_s=4.0), falling_box(100, 1.5))
    memo = Memo()
    coherence.measure_av_sync(clip, memo=memo)
    assert coherence.MOTION in memo and coherence.ONSET in memo
    motion = memo.get(coherence.MOTION, lambda: pytest.fail("computed twice"))
    foley.measure_foley(clip, [(1.5, "lands")], memo=memo)
    assert memo.get(coherence.MOTION, lambda: pytest.fail("computed twice")) is motion
    f = coherence.mute_features(clip, memo=memo)
    assert f["kind"] == "motion" and f["visual"].dtype == np.float32


# --------------------------------------------------------------------------- decode timing


@pytest.mark.parametrize("sr", [16000, 44100])
def test_decode_keeps_picture_and_sound_aligned_through_aac_priming(tmp_path: Path, sr: int) -> None:
    """A flash and a click written at the same instant decode at the same time (AAC priming: 1024 samples)."""
    from fractions import Fraction

    import av

    from workbench.media import decode

    fps, n_s = 25, 3
    path = tmp_path / "flash_click.mp4"
    y = np.zeros(n_s * sr, np.float32)
    for k in range(n_s):
        i = int(round((k + 12 / fps) * sr))  # click at frame 12 of every second (0.48 s)
        y[i : i + sr // 100] = 0.8 * np.sin(2 * np.pi * 1000 * np.arange(sr // 100) / sr)
    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width = vs.height = 64
        vs.pix_fmt = "yuv420p"
        as_ = c.add_stream("aac", rate=sr)
        as_.layout = "mono"
        for i in range(n_s * fps):
            img = np.full((64, 64, 3), 255 if i % fps == 12 else 0, np.uint8)
            c.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(vs.encode())
        for k in range(0, len(y), 1024):
            fr = av.AudioFrame.from_ndarray(y[None, k : k + 1024], format="flt", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = sr, k, Fraction(1, sr)
            c.mux(as_.encode(fr))
        c.mux(as_.encode())
    d = decode(path, sr=SR, max_side=64)
    flashes = d.frame_times[d.gray.mean(axis=(1, 2)) > 128]
    e = np.abs(d.audio)
    clicks = [(k * SR + int(np.argmax(e[k * SR : (k + 1) * SR] > 0.3 * e.max()))) / SR for k in range(n_s)]
    np.testing.assert_allclose(flashes, [k + 0.48 for k in range(n_s)], atol=1e-6)
    np.testing.assert_allclose(clicks, flashes, atol=0.002)


@pytest.mark.parametrize("container", ["mp4", "matroska"])
def test_decode_keeps_frames_as_yuv_with_luma_and_rgb_views(tmp_path: Path, container: str) -> None:
    """Frames come back downscaled in I420; the luma view and RGB on demand match the colours written.

    Matroska stores no frame count, so its frames go through the decoder's grow-on-demand path.
    """
    import av

    from workbench.media import decode

    path = tmp_path / f"colours.{container}"
    colours = [(220, 30, 30), (30, 200, 40), (40, 40, 210)]
    with av.open(str(path), "w", format=container) as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuv420p"
        vs.options = {"crf": "10"}
        for i in range(30):
            img = np.full((240, 320, 3), colours[i // 10], np.uint8)
            c.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(vs.encode())
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == (30 if container == "mp4" else 0)
    d = decode(path, max_side=160, audio=False)
    assert d.yuv.shape == (30, 180, 160) and d.yuv.dtype == np.uint8  # 120 luma rows + 2 x 30 chroma rows
    assert d.gray.shape == (30, 120, 160) and np.shares_memory(d.gray, d.yuv)
    for i, rgb in enumerate(colours):
        k = 10 * i + 5
        np.testing.assert_allclose(d.rgb(k).reshape(-1, 3).mean(axis=0), rgb, atol=6)
        luma = 16 + (65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) / 255  # BT.601, limited range
        assert abs(float(d.gray[k].mean()) - luma) < 4
    assert d.frames.shape == (30, 120, 160, 3)


# --------------------------------------------------------------------------- real clip


@pytest.mark.slow
def test_real_talking_clip_recovers_an_injected_200_ms_shift() -> None:
    path = REAL / "talking_faces" / "latentsync_demo1_video.mp4"
    if not path.is_file():
        pytest.skip("../shared/data/real not present (fresh clone)")
    from workbench.media import decode

    d = decode(path, sr=SR, max_side=480)
    memo = Memo()
    base = lipsync.measure_lipsync(d, memo=memo)
    k = int(0.2 * SR)
    late = np.concatenate([np.zeros(k, np.float32), d.audio[:-k]])
    picture_only = memo.only([face.MOUTH])
    out = lipsync.measure_lipsync(dataclasses.replace(d, audio=late), memo=picture_only)
    assert out["lip_confidence"].value >= lipsync.MIN_CONFIDENCE
    assert abs(out["lip_offset_ms"].value - 200.0) <= 40.0
    assert abs(out["lip_offset_ms"].value - base["lip_offset_ms"].value - 200.0) <= 10.0


# --------------------------------------------------------------------------- local models: known answers


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["synced", "dubbed", "drift"])
def test_lipsync_reads_the_local_models_known_offset_and_drift(tmp_path: Path, variant: str) -> None:
    """The rendered face's mouth leads its voice by the natural lag, plus the variant's offset / drift."""
    from workbench.metrics.context import ClipContext
    from workbench.metrics.face import mouth_track
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    prompt = resolve_suite("builtin").get("office-long-monologue")
    rc = render_clip(prompt, variant, seed=0)
    path = tmp_path / "clip.mp4"
    path.write_bytes(rc.data)
    ctx = ClipContext(path=path, prompt=prompt)
    out = lipsync.measure_lipsync(ctx.decoded, memo=ctx.memo)
    gt = rc.ground_truth
    speech = gt["speech_segments"]
    t_mid = float(np.mean([(s["start_s"] + s["end_s"]) / 2 for s in speech]))
    truth = gt["audio_offset_ms"] + gt["drift_ms_per_s"] * t_mid
    assert out["lip_confidence"].value >= lipsync.MIN_CONFIDENCE
    assert abs(out["lip_offset_ms"].value - truth) <= 40.0
    assert abs(out["lip_drift_ms_per_s"].value - gt["drift_ms_per_s"]) <= 10.0
    # the mesh looked at about one frame in five; the opening is read on (nearly) every frame
    track = mouth_track(ctx)
    assert track.n_faces == 1
    assert np.isfinite(track.mar[0]).sum() <= ctx.decoded.n_frames / 4
    assert np.isfinite(track.opening[0]).mean() >= 0.95
