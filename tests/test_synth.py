"""The local reference models render real MP4s whose measured content matches their ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.media import decode, probe
from workbench.prompt import Prompt, resolve_suite
from workbench.providers.local.synth.render import RenderedClip, render_clip
from workbench.providers.local.synth.variants import (
    DUB_OFFSETS_MS,
    LATE_FOLEY_MS,
    LATE_LINE_S,
    RUSHED_WPM,
    VARIANTS,
    WRONG_LINES,
)

FPS = 25

TALK = Prompt(
    id="synth-test-talk",
    scene="A man at a desk looks up and speaks; a block drops on the table before and after",
    shot="medium_close_up",
    acoustics={"setting": "interior", "size": "medium", "reverb": "short"},
    ambience="quiet air conditioning",
    dialogue=[{"speaker": "man", "text": "We ship on Friday, and then we all rest.", "start_s": 1.0}],
    foley=[
        {"action": "a block lands on the table", "sound": "a knock", "at_s": 0.3},
        {"action": "a block lands on the table", "sound": "a knock", "at_s": 3.6},
    ],
    duration_s=4.5,
)
HALL = Prompt(
    id="synth-test-hall",
    scene="Someone claps once in a bare classroom",
    shot="medium",
    acoustics={"setting": "interior", "size": "medium", "reverb": "medium"},
    ambience="near silence",
    foley=[{"action": "hands clap once", "sound": "a sharp handclap", "at_s": 0.5, "kind": "impact"}],
    duration_s=3.0,
)


def _save(clip: RenderedClip, tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.mp4"
    path.write_bytes(clip.data)
    return path


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every variant of TALK: the clip and its decoded streams."""
    tmp = tmp_path_factory.mktemp("synth")
    out = {}
    for v in VARIANTS:
        clip = render_clip(TALK, v)
        out[v] = (clip, decode(_save(clip, tmp, v)))
    return out


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("hall")
    out = {}
    for v in ("synced", "dry-room"):
        clip = render_clip(HALL, v)
        out[v] = (clip, decode(_save(clip, tmp, v), sr=48000))
    return out


def _envelope(y: np.ndarray, sr: int, times: np.ndarray, win_s: float = 0.04) -> np.ndarray:
    """RMS of ``y`` in windows centred on ``times``."""
    h = int(win_s * sr / 2)
    idx = (times * sr).astype(int)
    return np.array([np.sqrt(np.mean(y[max(i - h, 0) : i + h] ** 2)) if i < len(y) else 0.0 for i in idx])


def _xcorr_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Lag k maximising corr(a[t], b[t + k]) and that correlation (b late by k samples -> k > 0)."""
    a = (a - a.mean()) / (a.std() + 1e-12)
    b = (b - b.mean()) / (b.std() + 1e-12)
    best = (0, -np.inf)
    for k in range(-max_lag, max_lag + 1):
        x, y = (a[: len(a) - k], b[k:]) if k >= 0 else (a[-k:], b[: len(b) + k])
        r = float(np.mean(x * y))
        if r > best[1]:
            best = (k, r)
    return best


def _onset(y: np.ndarray, sr: int, near_s: float, *, jump_db: float = 15.0, hop_s: float = 0.0025) -> float | None:
    """First time in [near - 0.25, near + 0.6] s where energy jumps ``jump_db`` over the preceding floor."""
    h = int(hop_s * sr)
    i0 = int(max(near_s - 0.25, 0.0) * sr)
    seg = y[i0 : int((near_s + 0.6) * sr)]
    n = len(seg) // h
    e = 10 * np.log10((seg[: n * h].reshape(n, h) ** 2).mean(axis=1) + 1e-12)
    floor = np.median(e[: int(0.15 / hop_s)])
    hit = np.flatnonzero(e > floor + jump_db)
    return i0 / sr + hit[0] * hop_s if len(hit) else None


def _heard_rt60(y: np.ndarray, sr: int, *, impact_s: float, noise_s: tuple[float, float]) -> float | None:
    """RT60 of the decay after an impact in a recording, noise-compensated Schroeder (Chu 1978), T20 fit."""
    noise = float(np.mean(y[int(noise_s[0] * sr) : int(noise_s[1] * sr)] ** 2))
    seg = y[int(impact_s * sr) : int((impact_s + 1.5) * sr)].astype(np.float64)
    edc = np.cumsum((seg**2 - noise)[::-1])[::-1]
    edc = 10 * np.log10(np.clip(edc, 1e-20, None) / edc[0])
    lo, hi = np.argmax(edc <= -5.0), np.argmax(edc <= -25.0)
    if hi <= lo:
        return None
    slope = np.polyfit(np.arange(lo, hi) / sr, edc[lo:hi], 1)[0]
    return -60.0 / slope


def _mouth_open(frames: np.ndarray) -> np.ndarray:
    """Inner-lip gap / mouth width (MediaPipe face mesh 13-14 over 78-308) per frame; NaN without a face."""
    mp = pytest.importorskip("mediapipe")
    out = np.full(len(frames), np.nan)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1) as mesh:
        for i, f in enumerate(frames):
            res = mesh.process(f)
            if not res.multi_face_landmarks:
                continue
            lm = res.multi_face_landmarks[0].landmark
            h, w = f.shape[:2]
            p = {k: np.array([lm[k].x * w, lm[k].y * h]) for k in (13, 14, 78, 308)}
            out[i] = np.linalg.norm(p[13] - p[14]) / np.linalg.norm(p[78] - p[308])
    return out


@pytest.fixture(scope="module")
def mouth(talk: dict) -> np.ndarray:
    return _mouth_open(talk["synced"][1].frames)


def test_variants_are_documented() -> None:
    assert set(VARIANTS) == {
        "synced", "dubbed", "drift", "late-foley", "dry-room", "generic",
        "wrong-line", "half-line", "late-line", "rushed-line", "articulated",
    }  # fmt: skip
    assert all(isinstance(v, str) and v for v in VARIANTS.values())
    with pytest.raises(KeyError, match="known"):
        render_clip(TALK, "nope")


def test_mp4_decodes_with_the_stated_format(talk: dict) -> None:
    clip, d = talk["synced"]
    assert d.info.has_video and d.info.has_audio
    assert (d.info.width, d.info.height) == (854, 480)
    assert d.info.video_codec == "h264" and d.info.audio_codec == "aac"
    assert d.info.sample_rate == 48000
    assert d.fps == pytest.approx(FPS, abs=0.01)
    assert len(d.frames) == round(TALK.duration_s * FPS) == clip.ground_truth["n_frames"]
    assert d.duration_s == pytest.approx(TALK.duration_s, abs=0.05)
    gt = json.loads(json.dumps(clip.ground_truth, allow_nan=False))
    for key in ("variant", "defect", "fps", "duration_s", "audio_offset_ms", "drift_ms_per_s", "rt60_s", "rt60_target_s",
                "drr_db", "space_class", "foley", "speech_segments", "speech_to_background_db", "face", "mouth_lead_ms"):  # fmt: skip
        assert key in gt
    assert gt["face"]["present"] is True


@pytest.mark.parametrize(("aspect", "size"), [("9:16", (480, 854)), ("1:1", (480, 480))])
def test_other_aspect_ratios(tmp_path: Path, aspect: str, size: tuple[int, int]) -> None:
    p = TALK.model_copy(update={"aspect_ratio": aspect, "duration_s": 1.5, "dialogue": (), "foley": ()})
    info = probe(_save(render_clip(p, "synced"), tmp_path, "a"))
    assert (info.width, info.height) == size
    assert info.duration_s == pytest.approx(1.5, abs=0.05)


def test_synced_mouth_follows_speech(talk: dict, mouth: np.ndarray) -> None:
    clip, d = talk["synced"]
    assert np.mean(~np.isnan(mouth)) >= 0.9
    m = np.where(np.isnan(mouth), np.nanmin(mouth), mouth)
    intended = np.asarray(clip.ground_truth["mouth_opening"])
    assert np.corrcoef(intended, m)[0, 1] > 0.9  # the mesh sees the opening that was drawn
    closed = intended == 0
    assert np.nanmax(mouth[closed]) < np.nanmin(mouth[intended > 0.6])  # closed without speech
    env = _envelope(d.audio, d.sr, d.frame_times)
    lag, r = _xcorr_lag(m, env, 8)
    lead = clip.ground_truth["mouth_lead_ms"]
    assert abs(lag * 1000 / FPS - lead) <= 1000 / FPS  # in sync: the voice follows the mouth by the natural lead
    assert r > 0.6


def test_dubbed_audio_is_late_by_the_documented_offset(talk: dict, mouth: np.ndarray) -> None:
    clip, d = talk["dubbed"]
    offset = clip.ground_truth["audio_offset_ms"]
    assert offset == DUB_OFFSETS_MS[0] > 0
    assert np.array_equal(d.frames, talk["synced"][1].frames)  # the picture is untouched
    ref = talk["synced"][1]
    t = np.arange(0, TALK.duration_s, 0.005)
    lag, r = _xcorr_lag(_envelope(ref.audio, ref.sr, t, 0.01), _envelope(d.audio, d.sr, t, 0.01), 80)
    assert lag * 5.0 == pytest.approx(offset, abs=5.0) and r > 0.9
    m = np.where(np.isnan(mouth), np.nanmin(mouth), mouth)
    lag_frames, _ = _xcorr_lag(m, _envelope(d.audio, d.sr, d.frame_times), 10)
    assert abs(lag_frames * 1000 / FPS - offset - clip.ground_truth["mouth_lead_ms"]) <= 1000 / FPS
    segs, ref_segs = clip.ground_truth["speech_segments"], talk["synced"][0].ground_truth["speech_segments"]
    assert segs[0]["start_s"] == pytest.approx(ref_segs[0]["start_s"] + offset / 1000, abs=1e-3)


def test_synced_foley_lands_on_the_stated_times(talk: dict) -> None:
    clip, d = talk["synced"]
    g = d.frames.astype(np.float32).mean(axis=-1)
    motion = np.r_[0.0, np.abs(np.diff(g, axis=0)).mean(axis=(1, 2))]  # motion[k]: change into frame k
    for ev in clip.ground_truth["foley"]:
        assert ev["audio_onset_s"] == ev["at_s"]
        onset = _onset(d.audio, d.sr, ev["at_s"])
        assert onset is not None and abs(onset - ev["at_s"]) <= 1 / FPS
        k = int(round(ev["visual_contact_s"] * FPS))
        assert abs(ev["visual_contact_s"] - ev["at_s"]) < 1 / FPS
        near = np.flatnonzero(np.abs(d.frame_times - ev["at_s"]) < 0.3)
        assert abs(int(near[np.argmax(motion[near])]) - k) <= 1  # fastest motion on the contact frame
        # and it stops there (the frame after may still carry x264's quality refinement of the moved area)
        assert motion[k + 1] < 0.3 * motion[k] and motion[k + 2 : k + 4].max() < 0.05 * motion[k]


def test_late_foley_is_late_and_speech_is_not(talk: dict) -> None:
    clip, d = talk["late-foley"]
    assert clip.ground_truth["foley_offset_ms"] == LATE_FOLEY_MS
    for ev in clip.ground_truth["foley"]:
        assert ev["audio_onset_s"] == pytest.approx(ev["at_s"] + LATE_FOLEY_MS / 1000)
        onset = _onset(d.audio, d.sr, ev["audio_onset_s"])
        assert onset is not None and abs(onset - ev["at_s"] - LATE_FOLEY_MS / 1000) <= 1 / FPS
    ref = talk["synced"][1]
    t = np.arange(1.0, 3.2, 0.005)  # the speech
    lag, r = _xcorr_lag(_envelope(ref.audio, ref.sr, t, 0.01), _envelope(d.audio, d.sr, t, 0.01), 40)
    assert lag == 0 and r > 0.9


def test_drift_offset_grows(talk: dict) -> None:
    clip, d = talk["drift"]
    rate = clip.ground_truth["drift_ms_per_s"]
    assert rate > 0 and clip.ground_truth["audio_offset_ms"] == 0
    measured = []
    for ev in clip.ground_truth["foley"]:
        onset = _onset(d.audio, d.sr, ev["at_s"])
        assert onset is not None
        measured.append((ev["at_s"], (onset - ev["at_s"]) * 1000))
    (t0, o0), (t1, o1) = measured
    assert o1 - o0 == pytest.approx(rate * (t1 - t0), abs=10.0)
    assert o1 == pytest.approx(rate * t1, abs=10.0)
    table = dict((t, o) for t, o in clip.ground_truth["drift_offsets_ms"])
    assert table[3.0] == pytest.approx(3 * rate)


def test_room_rt60_in_the_prompts_range_and_heard_in_the_audio(hall: dict) -> None:
    clip, d = hall["synced"]
    gt = clip.ground_truth
    lo, hi = HALL.acoustics.expected_rt60_s()
    assert lo <= gt["rt60_s"] <= hi
    assert gt["rt60_target_s"] == pytest.approx(np.sqrt(lo * hi), abs=1e-3)
    assert gt["drr_db"] == pytest.approx(gt["drr_target_db"], abs=0.5)
    heard = _heard_rt60(d.audio, d.sr, impact_s=0.5, noise_s=(0.05, 0.45))  # the clap's decay in the decoded mix
    assert heard == pytest.approx(gt["rt60_s"], rel=0.25)
    dry_clip, dry = hall["dry-room"]
    assert dry_clip.ground_truth["rt60_s"] < 0.2
    assert dry_clip.ground_truth["audio_space_class"] == "dry"
    heard_dry = _heard_rt60(dry.audio, dry.sr, impact_s=0.5, noise_s=(0.05, 0.45))
    assert heard_dry < 0.3


def test_dry_room_is_the_same_room_everywhere(talk: dict, hall: dict) -> None:
    a, b = talk["dry-room"][0].ground_truth, hall["dry-room"][0].ground_truth
    assert a["rt60_s"] == b["rt60_s"] and a["drr_db"] == b["drr_db"]
    assert a["ambience"] == b["ambience"] == ["room_tone"]
    assert talk["synced"][0].ground_truth["ambience"] != a["ambience"]


def test_generic_bed_does_not_match_the_picture(talk: dict, mouth: np.ndarray) -> None:
    clip, d = talk["generic"]
    gt = clip.ground_truth
    assert gt["speech_segments"] == [] and gt["speech_to_background_db"] is None
    assert all(ev["audio_onset_s"] is None for ev in gt["foley"])
    for ev in gt["foley"]:
        assert all(abs(t - ev["at_s"]) > 0.3 for t in gt["generic_impacts_s"])
        onset = _onset(d.audio, d.sr, ev["at_s"])
        assert onset is None or abs(onset - ev["at_s"]) > 0.1
    for t in gt["generic_impacts_s"]:
        onset = _onset(d.audio, d.sr, t)
        assert onset is not None and abs(onset - t) <= 1 / FPS
    m = np.where(np.isnan(mouth), np.nanmin(mouth), mouth)
    _, r = _xcorr_lag(m, _envelope(d.audio, d.sr, d.frame_times), 2)
    assert r < 0.3  # no speech for the moving mouth


def test_music_bed_has_the_recorded_speech_ratio(tmp_path: Path) -> None:
    p = Prompt.model_validate(
        {**TALK.model_dump(), "foley": [], "music": {"mode": "under_dialogue"}, "duration_s": 3.5}
    )
    gt = render_clip(p, "synced").ground_truth
    assert gt["music"] == "under_dialogue"
    assert 8.0 < gt["speech_to_background_db"] < 20.0
    assert gt["stem_rms_dbfs"]["music"] is not None


def test_deterministic(talk: dict) -> None:
    again = render_clip(TALK, "drift")
    first = talk["drift"][0]
    assert again.ground_truth == first.ground_truth
    assert again.data == first.data
    other = render_clip(TALK, "dubbed", seed=1)
    assert other.ground_truth["audio_offset_ms"] == DUB_OFFSETS_MS[1]


def test_whispered_speech_does_not_depend_on_the_clock() -> None:
    """espeak-ng seeds its breath noise from the clock; the synth fixes the seed (same samples 1 s apart)."""
    import time

    from workbench.providers.local.synth.speech import _synth, voice_for

    voice = voice_for(language="en", delivery="whispered")
    assert voice.endswith("+whisper")
    _, first, _, _ = _synth.__wrapped__("Keep your voice down, they can hear us.", voice)
    time.sleep(1.1)
    _, again, _, _ = _synth.__wrapped__("Keep your voice down, they can hear us.", voice)
    assert np.array_equal(first, again)


@pytest.mark.slow
def test_builtin_suite_renders_with_consistent_truth(tmp_path: Path) -> None:
    for p in resolve_suite("builtin").prompts:
        clip = render_clip(p, "synced")
        gt = json.loads(json.dumps(clip.ground_truth, allow_nan=False))
        lo, hi = p.acoustics.expected_rt60_s()
        if p.acoustics.space_class() == "outdoor":
            assert gt["rt60_s"] is None
        else:
            assert lo <= gt["rt60_s"] <= hi, p.id
        assert len(gt["speech_segments"]) == len(p.dialogue)
        for seg in gt["speech_segments"]:
            assert seg["end_s"] <= p.duration_s
        assert [f["at_s"] for f in gt["foley"]] == [f.at_s for f in p.foley]
        assert gt["peak_dbfs"] <= -0.99
        info = probe(_save(clip, tmp_path, p.id))
        assert info.duration_s == pytest.approx(p.duration_s, abs=0.05)


def test_the_rendered_mouth_lead_is_the_lag_the_lip_metric_removes() -> None:
    """The local models' mouth leads the voice by the natural lag the lip-sync metric subtracts, so
    local/synced reads about 0: the two constants live in two modules and must agree."""
    from workbench.metrics.lipsync import NATURAL_LAG_MS
    from workbench.providers.local.synth.render import MOUTH_LEAD_MS

    assert MOUTH_LEAD_MS == NATURAL_LAG_MS


# -- the spoken-line variants -----------------------------------------------------------------------


def test_line_variants_record_what_they_said_and_when(talk: dict) -> None:
    line = TALK.dialogue[0]
    assert "spoken_lines" not in talk["synced"][0].ground_truth  # the other variants' truth is unchanged
    wrong = talk["wrong-line"][0].ground_truth["spoken_lines"][0]
    assert wrong["prompt_text"] == line.text and wrong["text"] in WRONG_LINES and wrong["text"] != line.text
    half = talk["half-line"][0].ground_truth["spoken_lines"][0]
    words = line.text.split()
    assert half["text"] == " ".join(words[: len(words) // 2])
    late = talk["late-line"][0].ground_truth["spoken_lines"][0]
    synced_start = talk["synced"][0].ground_truth["speech_segments"][0]["start_s"]
    assert late["start_s"] - synced_start == pytest.approx(LATE_LINE_S[0], abs=0.002)
    assert late["start_s"] - late["prompt_start_s"] > 0.5  # beyond the spoken-line check's tolerance
    rushed = talk["rushed-line"][0].ground_truth
    assert rushed["spoken_lines"][0]["rate_wpm"] == RUSHED_WPM
    seg = rushed["speech_segments"][0]
    ref = talk["synced"][0].ground_truth["speech_segments"][0]
    assert (seg["end_s"] - seg["start_s"]) < 0.75 * (ref["end_s"] - ref["start_s"])  # 300 vs 175 wpm


def test_articulated_lips_shut_for_each_bilabial_and_part_on_its_release(talk: dict) -> None:
    truth = talk["articulated"][0].ground_truth
    ev = truth["bilabial_events"]
    # "We ship on Friday, and then we all rest.": the /p/ of "ship"
    assert [e["phone"] for e in ev] == ["p"]
    assert all(e["audio_release_s"] == e["release_s"] and e["close_s"] < e["release_s"] for e in ev)
    opening = np.array(truth["mouth_opening"])
    for e in ev:
        inside = [k for k in range(len(opening)) if e["close_s"] <= k / FPS <= e["release_s"]]
        assert inside and np.all(opening[inside] == 0.0)
    synced = np.array(talk["synced"][0].ground_truth["mouth_opening"])
    assert synced.min() > 0 or not np.array_equal(synced, opening)
