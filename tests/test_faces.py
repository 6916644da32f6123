"""Every speaking face (issue 14): face geometry and speaker-turn kernels on exact synthetic answers,
the decode's full-resolution frame sink, the landmark network on a real face photo, the multi-face
lip-sync reading on a synthetic conversation, and the tracker and turns on a rendered two-shot."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from workbench.metrics import face, lipsync
from workbench.metrics.context import ClipContext, Memo
from workbench.metrics.face import MouthTrack
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.kernels import faces as fk
from workbench.metrics.kernels import speakers

RATE = 100
SR = 16000
FPS = 25.0


def syllables(n: int, seed: int) -> np.ndarray:
    """A speech-like 2-8 Hz random envelope on the 100 Hz grid."""
    return env.bandpass(np.random.default_rng(seed).standard_normal(n), rate=RATE, lo=2.0, hi=8.0)


# --------------------------------------------------------------------------- geometry kernels


def test_tiles_cover_the_frame_with_overlap() -> None:
    tiles = fk.tile_grid(height=720, width=1280, tile=512)
    cover = np.zeros((720, 1280), bool)
    for x0, y0, x1, y1 in tiles:
        assert (x1 - x0, y1 - y0) == (512, 512)
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    xs = sorted({t[0] for t in tiles})
    assert all(b - a <= 512 * 0.7 + 1 for a, b in itertools.pairwise(xs))
    assert fk.tile_grid(height=300, width=400, tile=512) == [(0, 0, 400, 300)]


def test_nms_keeps_one_of_overlapping_or_nested_boxes() -> None:
    d = np.zeros((4, fk.DET_COLS))
    d[0, :5] = [0, 0, 100, 100, 0.9]
    d[1, :5] = [5, 5, 105, 105, 0.8]  # the same face again
    d[2, :5] = [10, 10, 60, 60, 0.95]  # mostly inside the first: a face cut by a tile edge
    d[3, :5] = [300, 0, 400, 100, 0.5]  # another face
    kept = fk.nms(d)
    assert sorted(kept[:, 4].tolist()) == [0.5, 0.95]


def test_region_maps_to_the_crop_and_back() -> None:
    roi = fk.Roi(cx=300.0, cy=200.0, size=150.0, angle=np.radians(20))
    pts = np.array([[300.0, 200.0], [250.0, 180.0], [360.0, 260.0]])
    m = roi.matrix()
    crop = pts @ m[:, :2].T + m[:, 2]
    assert np.allclose(crop[0], [96, 96])
    assert np.allclose(fk.landmarks_in_frame(np.c_[crop, np.zeros(3)], roi), pts)


def test_seed_region_levels_the_eyes_and_refuses_collapsed_keypoints() -> None:
    det = np.zeros(fk.DET_COLS)
    det[:4] = [100, 100, 200, 200]
    det[fk.DET_EYE_R : fk.DET_EYE_R + 2], det[fk.DET_EYE_L : fk.DET_EYE_L + 2] = [120, 140], [180, 160]
    roi = fk.roi_from_detection(det)
    m = roi.matrix()
    er, el = np.array([[120.0, 140.0], [180.0, 160.0]]) @ m[:, :2].T + m[:, 2]
    assert abs(er[1] - el[1]) < 1e-6 and el[0] > er[0] and roi.size == pytest.approx(150.0)
    det[fk.DET_EYE_R : fk.DET_EYE_R + 2], det[fk.DET_EYE_L : fk.DET_EYE_L + 2] = [150, 150], [151, 149]
    assert fk.roi_from_detection(det).angle == 0.0  # eyes 1.4 px apart on a 100 px face: no roll


def test_warp_from_planes_matches_a_warp_of_the_rgb_frame() -> None:
    rng = np.random.default_rng(2)
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 4)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    y, u, v = i420[:240], i420[240:300].reshape(120, 160), i420[300:].reshape(120, 160)
    roi = fk.Roi(160.0, 120.0, 100.0, np.radians(10))
    a = fk.warp_i420(y, u, v, roi)
    b = cv2.warpAffine(cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420), roi.matrix(), (192, 192), flags=cv2.INTER_LINEAR)
    assert np.abs(a.astype(int) - b.astype(int))[20:-20, 20:-20].mean() < 3


def test_face_geometry_reads_height_and_mouth_opening() -> None:
    lm = np.zeros((468, 2))
    lm[:, 0], lm[:, 1] = 100.0, 100.0
    lm[fk.FOREHEAD], lm[fk.CHIN] = [100, 40], [100, 160]
    lm[fk.LEFT_CORNER], lm[fk.RIGHT_CORNER] = [80, 130], [120, 130]
    lm[fk.UPPER_LIP], lm[fk.LOWER_LIP] = [100, 126], [100, 134]
    g = fk.face_geometry(lm)
    assert g.height == pytest.approx(120.0) and g.mouth_width == pytest.approx(40.0) and g.mar == pytest.approx(0.2)
    assert np.allclose(g.mouth_center, [100, 130])


# --------------------------------------------------------------------------- speaker-turn kernels


def conversation(n: int = 1600, lag: int = 8, dub_b: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two mouths; the sound is A's syllables for the first half, then B's, late by ``lag`` (+ ``dub_b`` for B) samples."""
    ma, mb = syllables(n, 1), syllables(n, 2)
    audio = np.zeros(n)
    half = n // 2
    audio[lag:half] = ma[: half - lag]
    audio[half + lag + dub_b :] = mb[half : n - lag - dub_b]
    audio += 0.3 * syllables(n, 3)
    return np.stack([ma, mb]), audio, np.ones(n, bool)


def test_face_lags_find_each_faces_lag_and_a_selection_aware_confidence() -> None:
    mouths, audio, _ = conversation(dub_b=20)
    fl = speakers.face_lags(mouths=mouths, audio=audio, rate=RATE)
    assert fl.lag_s[0] == pytest.approx(0.08, abs=0.011) and fl.lag_s[1] == pytest.approx(0.28, abs=0.011)
    assert fl.z > 4 and (fl.z_face > 2.5).all()


def test_unrelated_sound_is_not_read_confidently_from_any_of_several_mouths() -> None:
    n = 1200
    mouths = np.stack([syllables(n, s) for s in (4, 5, 6)])
    zs = [speakers.face_lags(mouths=mouths, audio=syllables(n, 100 + k), rate=RATE).z for k in range(6)]
    assert max(zs) < 2.5


def test_viterbi_gives_each_half_to_its_speaker_and_the_turns_carry_their_windows() -> None:
    mouths, audio, active = conversation()
    starts, _times = speakers.speech_windows(active=active, rate=RATE)
    expected = np.full((len(starts), 2), 0.08)
    peak, lag = speakers.window_evidence(mouths=mouths, audio=audio, starts=starts, win=200, expected_s=expected, rate=RATE)
    face_, _ = speakers.viterbi_faces(peak, starts=starts, win=200, active=active)
    _label, turns = speakers.label_samples(face=face_, starts=starts, win=200, active=active, min_turn=40)
    assert [t.face for t in turns] == [0, 1]
    assert abs(turns[0].end - 800) <= 100
    assert np.allclose(lag[face_ >= 0, face_[face_ >= 0]], 0.08, atol=0.015)
    assert all(face_[j] == t.face for t in turns for j in t.windows)


def test_a_still_mouth_is_no_windows_speaker() -> None:
    t = np.arange(0, 10, 0.2)
    mar = np.stack([0.1 + 0.1 * (np.sin(7 * t) > 0), 0.1 + 0.005 * np.sin(3 * t)])  # A opens and closes, B barely
    starts = np.array([0, 200, 400])
    act = speakers.window_activity(mar=mar, times=t, starts=starts, win=200, rate=RATE)
    quiet = speakers.quiet_mouths(act, ratio=0.5, floor=0.02)
    assert not quiet[:, 0].any() and quiet[:, 1].all()
    assert not speakers.quiet_mouths(act * 0.01, ratio=0.5, floor=0.02).any()  # nobody moves: nobody ruled out


# --------------------------------------------------------------------------- decode with a frame sink


def test_a_watched_decode_is_byte_identical_and_the_sink_sees_full_resolution_frames(tmp_path: Path) -> None:
    from conftest import make_mp4

    from workbench.media import decode

    path = tmp_path / "c.mp4"
    path.write_bytes(make_mp4(duration_s=1.2, size=(640, 360), clicks_at=(0.5,)))
    seen: list[tuple[int, float, tuple[int, ...], tuple[int, ...]]] = []
    heard: list[int] = []

    def sink_for(audio: np.ndarray, sr: int):
        heard.append(len(audio))
        return lambda k, t, y, u, v: seen.append((k, t, y.shape, u.shape))

    plain = decode(path, max_side=160)
    watched = decode(path, max_side=160, sink_for=sink_for)
    assert np.array_equal(plain.yuv, watched.yuv) and np.array_equal(plain.audio, watched.audio)
    assert np.array_equal(plain.frame_times, watched.frame_times)
    assert heard and heard[0] > 0.9 * len(plain.audio)  # the sound came first
    assert [k for k, *_ in seen] == list(range(plain.n_frames))
    assert all(ys == (360, 640) and us == (180, 320) for _, _, ys, us in seen)


# --------------------------------------------------------------------------- the landmark network


def test_landmark_network_finds_the_photos_mouth_and_no_face_elsewhere() -> None:
    from workbench.providers.local.synth import face as synth_face

    img = np.ascontiguousarray(synth_face.astronaut())
    i420 = cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420)
    y, u, v = i420[:512], i420[512:640].reshape(256, 256), i420[640:].reshape(256, 256)
    x0, y0, x1, y1 = synth_face.FACE_BOX_SRC
    lm, pres = face.landmarks(y, u, v, fk.Roi((x0 + x1) / 2, (y0 + y1) / 2, 1.5 * max(x1 - x0, y1 - y0), 0.0))
    lm, pres = face.landmarks(y, u, v, fk.roi_from_landmarks(lm))
    assert pres > 0.9
    lip = synth_face._UPPER_INNER_LIP
    assert np.hypot(*(lm[fk.LEFT_CORNER] - lip[0])) < 6 and np.hypot(*(lm[fk.RIGHT_CORNER] - lip[-1])) < 6
    _, nothing = face.landmarks(y, u, v, fk.Roi(40, 470, 60, 0.0))  # a patch of space suit
    assert nothing < face.MIN_PRESENCE


# --------------------------------------------------------------------------- multi-face lip sync, synthetic


def speech_from(envelope: np.ndarray) -> np.ndarray:
    """Voiced speech at SR whose syllable envelope is ``envelope`` (100 Hz grid, >= 0)."""
    t = np.arange(int(len(envelope) / RATE * SR)) / SR
    carrier = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    am = np.interp(t, np.arange(len(envelope)) / RATE, envelope)
    return (0.1 * carrier * am).astype(np.float32)


def two_face_clip(*, dub_b_ms: float = 0.0, heights: tuple[float, float] = (120.0, 120.0)) -> tuple[SimpleNamespace, MouthTrack]:
    """16 s: A speaks 0.5-7.5 s, B 8.5-15.5 s; each mouth opens on its own syllables, 55 ms (the natural
    lag) ahead of its voice; B's voice late by ``dub_b_ms`` more. Faces on the left and right of a 1280x720 frame."""
    n = 1600
    rng = np.random.default_rng(7)
    sy = np.clip(env.bandpass(rng.standard_normal(n), rate=RATE, lo=2.0, hi=6.0), 0, None)
    sy /= sy.max()
    a_on = (np.arange(n) >= 50) & (np.arange(n) < 750)
    b_on = (np.arange(n) >= 850) & (np.arange(n) < 1550)
    lag = int(round(lipsync.NATURAL_LAG_MS / 10))
    dub = int(round(dub_b_ms / 10))
    voice = np.zeros(n)
    voice[lag:] += (sy * a_on)[: n - lag]
    voice[lag + dub :] += (sy * b_on)[: n - lag - dub]
    frames = np.arange(int(n / RATE * FPS))
    ft = frames / FPS
    grid_t = np.arange(n) / RATE
    open_a = np.interp(ft, grid_t, sy * a_on)
    open_b = np.interp(ft, grid_t, sy * b_on)
    mar = np.full((2, len(ft)), np.nan)
    mar[:, ::5] = 0.05 + 0.3 * np.stack([open_a, open_b])[:, ::5]
    boxes = np.empty((2, len(ft), 4))
    boxes[0], boxes[1] = [100, 300, 220, 420], [1060, 300, 1180, 420]
    track = MouthTrack(
        ft, 40.0 * np.stack([open_a, open_b]), mar, np.full((2, len(ft), 2), 100.0),
        np.stack([np.full(len(ft), h / 720) for h in heights]), boxes=boxes, frame_size=(720, 1280), ids=(3, 7),
        source="full",
    )  # fmt: skip
    clip = SimpleNamespace(audio=speech_from(voice), sr=SR, frame_times=ft, n_frames=len(ft))
    return clip, track


def test_two_faces_in_turn_are_read_per_speaker() -> None:
    clip, track = two_face_clip()
    out = lipsync.measure_lipsync(clip, memo=Memo(), mouth=track)
    d = out["lip_offset_ms"].details
    assert d["mode"] == "multi" and out["lip_confidence"].value >= lipsync.MIN_CONFIDENCE
    turns = d["turns"]
    assert [(t["face"], t["position"]) for t in turns] == [(3, "left"), (7, "right")]
    assert turns[0]["start_s"] < 1.0 and 7.0 < turns[0]["end_s"] < 9.0 and turns[1]["end_s"] > 15.0
    assert all(abs(t["offset_ms"]) <= 20 and t["z"] >= 2.5 for t in turns)
    assert turns[0]["box"] == [100, 300, 220, 420] and turns[0]["frames"][0] <= 25
    assert abs(out["lip_offset_ms"].value) <= 20


def test_one_speaker_dubbed_late_shows_in_that_speakers_turn_and_fails_lip_sync_naming_the_face() -> None:
    from workbench.outputs.checks import Reading, lip_sync
    from workbench.prompt import Expect, Prompt

    clip, track = two_face_clip(dub_b_ms=200.0)
    out = lipsync.measure_lipsync(clip, memo=Memo(), mouth=track)
    turns = out["lip_offset_ms"].details["turns"]
    assert [t["face"] for t in turns] == [3, 7]
    assert abs(turns[0]["offset_ms"]) <= 20 and abs(turns[1]["offset_ms"] - 200) <= 20
    readings = {k: Reading(v.value, v.reason or "", v.details) for k, v in out.items()}
    prompt = Prompt(id="p", scene="two people", dialogue=({"text": "a", "speaker": "A"}, {"text": "b", "speaker": "B"}))
    v = lip_sync(readings, prompt, Expect())
    assert v.outcome == "fail" and "the face on the right (face 7)" in v.reason and "after the lips" in v.reason


def test_a_mouth_whose_darkness_runs_against_its_shape_is_not_read() -> None:
    # bright teeth: the darkness falls as the mouth opens, so it reads the speech at a wrong lag
    clip, track = two_face_clip()
    assert lipsync.shape_agreement(track, 0) > 0.9 and lipsync.shape_agreement(track, 1) > 0.9
    teeth = dataclasses.replace(track, opening=-track.opening)
    assert lipsync.shape_agreement(teeth, 0) < lipsync.MIN_SHAPE_AGREEMENT
    out = lipsync.measure_lipsync(clip, memo=Memo(), mouth=teeth)
    assert {s.value for s in out.values()} == {None}
    assert out["lip_offset_ms"].reason.startswith("the mouth's darkness runs against its shape (r -1.00")
    # one such face of two: the other is still read, on its own turn
    one = dataclasses.replace(track, opening=track.opening * np.array([[-1.0], [1.0]]))
    out = lipsync.measure_lipsync(clip, memo=Memo(), mouth=one)
    assert out["lip_confidence"].value >= lipsync.MIN_CONFIDENCE
    assert abs(out["lip_offset_ms"].value) <= 20 and out["lip_offset_ms"].details["face"] == 7
    tracks = {t["face"]: t for t in out["lip_offset_ms"].details["tracks"]}  # the face left out says why
    assert tracks[3]["shape_r"] < lipsync.MIN_SHAPE_AGREEMENT < tracks[7]["shape_r"]


def test_a_face_too_small_to_read_says_so_with_its_size() -> None:
    clip, track = two_face_clip(heights=(20.0, 24.0))
    out = lipsync.measure_lipsync(clip, memo=Memo(), mouth=track)
    assert {s.reason for s in out.values()} == {f"face too small (24 px < {face.MIN_FACE_PX:g})"}


# --------------------------------------------------------------------------- the rendered two-shot, end to end


@pytest.fixture(scope="module")
def two_shot(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    prompt = resolve_suite("builtin").get("two-shot-dialogue")
    out = {}
    for variant in ("synced", "dubbed"):
        rc = render_clip(prompt, variant, seed=0)
        path = tmp_path_factory.mktemp("two") / f"{variant}.mp4"
        path.write_bytes(rc.data)
        out[variant] = (path, rc.ground_truth)
    out["prompt"] = prompt
    return out


def iou(a: list[float], b: list[float]) -> float:
    return float(fk.box_iou(np.array([a], float), np.array([b], float))[0, 0])


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["synced", "dubbed"])
def test_the_rendered_two_shot_names_the_right_face_for_every_line(two_shot: dict, variant: str) -> None:
    from workbench.analysis.engine import analyze_clip, clip_context, select_analyzers

    path, gt = two_shot[variant]
    analyzers = select_analyzers(["lipsync"])
    ctx = clip_context(path, two_shot["prompt"], analyzers)
    out = analyze_clip(ctx, analyzers)
    assert ctx.memo.peek(face.FACES).mode == "tracked"  # two faces: the full-resolution tracker
    d = out["lip_offset_ms"].details
    assert d["mode"] == "multi"
    turns = d["turns"]
    assert len(turns) == len(gt["speech_segments"])
    for seg in gt["speech_segments"]:
        truth_box = gt["faces"][seg["face"]]["bbox"]

        def covered(right: bool, seg: dict = seg, truth_box: list = truth_box) -> float:
            return sum(
                max(0.0, min(t["end_s"], seg["end_s"]) - max(t["start_s"], seg["start_s"]))
                for t in turns
                if (iou(t["box"], truth_box) > 0.5) == right
            ) / (seg["end_s"] - seg["start_s"])

        assert covered(True) >= 0.7 and covered(False) <= 0.3, (seg, turns)
    for turn in turns:
        assert abs(turn["offset_ms"] - gt["audio_offset_ms"]) <= 40  # within one frame
    json.dumps(d)  # the evidence is JSON


@pytest.mark.slow
def test_workbench_analyze_names_the_speaking_face_of_every_turn_in_its_json(
    two_shot: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli.main import main

    path, gt = two_shot["synced"]
    assert main(["analyze", str(path), "--json", "--metrics", "lipsync"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    turns = entry["speaker_turns"]
    woman, man = turns[0]["face"], turns[1]["face"]
    assert woman != man and [t["face"] for t in turns] == [woman, man, woman, man]
    assert turns[0]["box"][2] < turns[1]["box"][0]  # the woman's face is left of the man's
    for t, seg in zip(turns, gt["speech_segments"], strict=True):
        assert iou(t["box"], gt["faces"][seg["face"]]["bbox"]) > 0.5 and len(t["frames"]) == 2


def test_the_watch_takes_the_fast_path_for_one_large_face_and_rests_without_speech(tmp_path: Path) -> None:
    from conftest import make_mp4

    from workbench.prompt import resolve_suite
    from workbench.providers.local.synth.render import render_clip

    rc = render_clip(resolve_suite("builtin").get("office-short-line"), "synced", seed=0)
    path = tmp_path / "one.mp4"
    path.write_bytes(rc.data)
    ctx = ClipContext(path=path, watches=(face.FACES_WATCH,))
    ctx.decoded  # noqa: B018
    assert ctx.memo.peek(face.FACES).mode == "one"
    silent = tmp_path / "tone.mp4"
    silent.write_bytes(make_mp4(duration_s=2.0))
    ctx = ClipContext(path=silent, watches=(face.FACES_WATCH,))
    ctx.decoded  # noqa: B018
    assert ctx.memo.peek(face.FACES) is None  # no speech: nobody reads faces, nothing was tracked
