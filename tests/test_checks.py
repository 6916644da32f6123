"""The creator's checks: pass, fail or can't tell per clip, in words; thresholds that a config or a prompt overrides."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.config import load_config, parse_config
from workbench.errors import ConfigError
from workbench.outputs import checks
from workbench.outputs.checks import Reading, check_clip, model_summary, take_status, wilson
from workbench.prompt import Expect, Prompt, load_suite, resolve_suite
from workbench.rundir import Sample


def R(value=None, reason="", **details) -> Reading:
    return Reading(value, reason, details)


def prompt(pid: str) -> Prompt:
    return resolve_suite("builtin").get(pid)


def lips(offset, drift=None, *, first=1.0, last=9.0) -> dict:
    windows = [{"t": first, "offset_ms": 0.0, "confidence": 1.0}, {"t": last, "offset_ms": 0.0, "confidence": 1.0}]
    return {
        "lip_offset_ms": R(offset, "" if offset is not None else "no face detected", windows=windows),
        "lip_drift_ms_per_s": R(drift, "" if drift is not None else "speech windows span 1.0 s, too short for a drift fit"),
    }


def verdict(readings: dict, pid: str, check: str, expect: Expect | None = None) -> checks.Verdict:
    got = {v.check: v for v in check_clip(readings, prompt(pid), expect or Expect())}
    return got[check]


# -- lip sync -------------------------------------------------------------------------------------


def test_lip_sync_inside_bt1359_passes_and_says_by_how_much() -> None:
    v = verdict(lips(20.0), "office-short-line", "lip_sync")
    assert v.outcome == "pass" and "voice 20 ms after the lips" in v.reason


def test_lip_sync_outside_the_window_fails_in_words() -> None:
    late = verdict(lips(210.0), "office-short-line", "lip_sync")
    assert late.outcome == "fail" and late.reason.startswith("voice 210 ms after the lips")
    early = verdict(lips(-60.0), "office-short-line", "lip_sync")
    assert early.outcome == "fail" and "voice 60 ms before the lips" in early.reason
    # BT.1359 is asymmetric: 100 ms late is within detectability, 100 ms early is not
    assert verdict(lips(100.0), "office-short-line", "lip_sync").outcome == "pass"
    assert verdict(lips(-100.0), "office-short-line", "lip_sync").outcome == "fail"


def test_a_drift_that_leaves_the_window_by_the_end_of_the_line_fails() -> None:
    # 60 ms at the middle (t = 5 s), 20 ms/s: -20 ms at t = 1 s, +140 ms at t = 9 s
    v = verdict(lips(60.0, 20.0), "office-long-monologue", "lip_sync")
    assert v.outcome == "fail" and v.reason.startswith("drifts: voice 20 ms before the lips at the start")
    assert "voice 140 ms after the lips by the end of the line" in v.reason
    assert verdict(lips(60.0, 5.0), "office-long-monologue", "lip_sync").outcome == "pass"


def test_the_acceptable_level_is_looser() -> None:
    r = lips(150.0)
    assert verdict(r, "office-short-line", "lip_sync").outcome == "fail"
    assert verdict(r, "office-short-line", "lip_sync_acceptable").outcome == "pass"
    assert verdict(lips(200.0), "office-short-line", "lip_sync_acceptable").outcome == "fail"


def test_a_metric_that_could_not_measure_gives_cant_tell_with_its_reason() -> None:
    v = verdict(lips(None), "office-short-line", "lip_sync")
    assert v.outcome == "cant_tell" and v.reason == "no face detected"
    v = verdict({}, "office-short-line", "lip_sync")
    assert v.outcome == "cant_tell" and "not measured in this run" in v.reason


def two_faces(man_ms: float, *, z: float = 6.0, man_z: float = 4.0, only_woman: bool = False) -> dict:
    """Lip readings of a two-shot: the woman (left, face 0) in sync, the man (right, face 1) at ``man_ms``."""
    turns = [
        {"face": 0, "position": "left", "start_s": 0.4, "end_s": 2.6, "offset_ms": 10.0, "z": 5.0},
        {"face": 1, "position": "right", "start_s": 2.9, "end_s": 5.0, "offset_ms": man_ms, "z": man_z},
        {"face": 0, "position": "left", "start_s": 5.3, "end_s": 7.8, "offset_ms": 12.0, "z": 5.0},
    ]
    if only_woman:
        turns = [t for t in turns if t["face"] == 0]
    d = {"mode": "multi", "turns": turns, "speech_s": 7.0}
    r = lips(10.0)
    r["lip_offset_ms"] = R(10.0, "", **d, windows=r["lip_offset_ms"].details["windows"])
    r["lip_confidence"] = R(z, "", **d)
    return r


def test_each_speakers_turn_is_judged_and_a_dubbed_speaker_fails_naming_the_face() -> None:
    v = verdict(two_faces(210.0), "two-shot-dialogue", "lip_sync")
    assert v.outcome == "fail" and v.reason.startswith("the face on the right (face 1): voice 210 ms after the lips")
    ok = verdict(two_faces(30.0), "two-shot-dialogue", "lip_sync")
    assert ok.outcome == "pass" and ok.reason.startswith("every speaker's turn")
    # a turn too weak to read on its own (z under the threshold) is shown, not judged
    assert verdict(two_faces(210.0, man_z=1.5), "two-shot-dialogue", "lip_sync").outcome == "pass"


def test_speaking_face_wants_a_face_per_speaker_of_the_prompt() -> None:
    both = verdict(two_faces(10.0), "two-shot-dialogue", "speaking_face")
    assert both.outcome == "pass" and both.reason.startswith("2 faces take turns")
    one = verdict(two_faces(10.0, only_woman=True), "two-shot-dialogue", "speaking_face")
    assert one.outcome == "cant_tell" and "could not be given to a face" in one.reason  # the man's lines went to nobody
    weak = verdict(two_faces(10.0, z=1.2), "two-shot-dialogue", "speaking_face")
    assert weak.outcome == "cant_tell" and "z 1.20 < 2.5" in weak.reason
    mute = lips(None)
    mute["lip_offset_ms"] = R(None, "speech, but no visible mouth moves")
    mute["lip_confidence"] = R(0.0, "", faces=1)
    v = verdict(mute, "office-short-line", "speaking_face")
    assert v.outcome == "fail" and v.reason == "a voice speaks but no visible mouth moves (1 face on screen)"


def test_checks_apply_only_to_prompts_that_ask_for_what_they_test() -> None:
    names = {v.check for v in check_clip({}, prompt("glass-on-table"), Expect())}
    assert "lip_sync" not in names and "mix_balance" not in names and {"foley_timing", "acoustic_match"} <= names
    assert "mix_balance" in {v.check for v in check_clip({}, prompt("dialogue-over-music"), Expect())}


# -- foley, room, mute, mix --------------------------------------------------------------------


def foley(*offsets) -> dict:
    events = [
        {"action": "a door is slammed shut", "at_s": 2.0, "visual_s": 2.01, "audio_s": None if o is None else 2.01 + o / 1000,
         "offset_ms": o}
        for o in offsets
    ]  # fmt: skip
    found = [o for o in offsets if o is not None]
    return {"foley_offset_ms": R(found[0] if found else None, "" if found else "no prompted foley event found", events=events)}


def test_foley_names_the_event_and_how_late_it_is_heard() -> None:
    v = verdict(foley(300.0), "door-slam", "foley_timing")
    assert v.outcome == "fail" and "a door is slammed shut: heard 300 ms after the contact at 2.01 s" in v.reason
    assert verdict(foley(22.0), "door-slam", "foley_timing").outcome == "pass"
    assert verdict(foley(-60.0), "door-slam", "foley_timing").outcome == "fail"  # heard before it is touched
    assert verdict(foley(None), "door-slam", "foley_timing").outcome == "cant_tell"


def room(rt60, estimated, *, drr=None, expected_drr=(8.0, 30.0)) -> dict:
    shot = {"drr_db": drr, "expected_drr_db": list(expected_drr)} if drr is not None else {}
    return {
        "rt60_s": R(rt60, "" if rt60 is not None else "fewer than 3 free decays"),
        "space_class_match": R(1.0, estimated=estimated),
        "acoustic_match": R(1.0, **shot),
    }


def test_a_dead_booth_in_a_stone_church_fails() -> None:
    v = verdict(room(0.16, "dry"), "stone-church", "acoustic_match")
    assert v.outcome == "fail" and v.reason.startswith("sounds like a dead booth (RT60 0.16 s)")
    assert "stone church" in v.reason
    assert verdict(room(3.1, "large_hall"), "stone-church", "acoustic_match").outcome == "pass"


def test_the_rt60_may_miss_the_range_by_the_metrics_validated_error() -> None:
    # kitchen: medium, 0.6-1.2 s; 30 % p90 error: 0.47 s passes, 0.45 s fails
    assert verdict(room(0.47, "room"), "kitchen-footsteps", "acoustic_match").outcome == "pass"
    assert verdict(room(0.45, "room"), "kitchen-footsteps", "acoustic_match").outcome == "fail"


def test_the_right_rt60_in_the_wrong_kind_of_space_fails() -> None:
    v = verdict(room(0.14, "dry"), "quiet-street", "acoustic_match")  # an exterior read as a dead booth
    assert v.outcome == "fail" and "not open air" in v.reason


def test_a_close_up_that_sounds_distant_fails() -> None:
    v = verdict(room(0.4, "room", drr=2.0), "whisper-closeup", "acoustic_match")
    assert v.outcome == "fail" and v.reason.startswith("sounds distant for a close up")


def test_mute_and_mix_say_why() -> None:
    mute = {"mute_coherence": R(0.44, beat_swap=0.4444, of=10)}
    v = verdict(mute, "door-slam", "mute_test")
    assert v.outcome == "fail" and v.reason.startswith("could be any shot's sound: 5 of the 9 other shots' sounds")
    ok = verdict({"mute_coherence": R(0.9, beat_swap=1.0, of=10)}, "door-slam", "mute_test")
    assert ok.outcome == "pass" and ok.reason == "its own sound fits its picture better than 9 of the 9 other shots' sounds"
    assert verdict({"mute_coherence": R(None, "batch too small for a swap test")}, "door-slam", "mute_test").outcome == "cant_tell"
    v = verdict({"speech_to_background_db": R(4.0)}, "dialogue-over-music", "mix_balance")
    assert v.outcome == "fail" and v.reason == "music only 4 dB under the voice (needs 10)"


# -- thresholds from a config or a prompt ---------------------------------------------------------


def test_expectations_override_the_defaults_field_by_field() -> None:
    loose = Expect.model_validate({"lip_sync": {"late_ms": 250}})
    assert verdict(lips(210.0), "office-short-line", "lip_sync", loose).outcome == "pass"
    strict_prompt = Expect.model_validate({"lip_sync": {"early_ms": 20}})
    both = strict_prompt.over(loose)
    assert (both.lip_sync.early_ms, both.lip_sync.late_ms) == (20, 250)
    assert verdict(lips(-30.0), "office-short-line", "lip_sync", both).outcome == "fail"
    skip = Expect.model_validate({"skip": ["mute_test"]})
    assert "mute_test" not in {v.check for v in check_clip({}, prompt("door-slam"), skip)}


def test_bad_expectations_fail_before_anything_runs_naming_the_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"providers": ["local/synced"], "expect": {"lip_sync": {"late": 100}}}))
    with pytest.raises(ConfigError, match=r"c.yaml: expect.lip_sync.late: Extra inputs are not permitted"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"expect.mute_test.min_share: Input should be less than or equal to 1"):
        parse_config({"providers": ["local/synced"], "expect": {"mute_test": {"min_share": 2}}}, source="c.yaml")
    with pytest.raises(ConfigError, match=r"expect.skip\[0\]"):
        parse_config({"providers": ["local/synced"], "expect": {"skip": ["lipsinc"]}}, source="c.yaml")
    suite = tmp_path / "s.yaml"
    p = prompt("glass-on-table").model_dump(mode="json")
    suite.write_text(yaml.safe_dump({"name": "s", "prompts": [{**p, "expect": {"acoustic_match": {"rt60_s": [2, 1]}}}]}))
    with pytest.raises(ConfigError, match=r"s.yaml: prompts\[0\] \(id=glass-on-table\).expect.acoustic_match: .*low < high"):
        load_suite(suite)


def test_thresholds_do_not_change_clips_or_readings() -> None:
    p = prompt("glass-on-table")
    tighter = Prompt.model_validate({**p.model_dump(mode="json"), "expect": {"foley_timing": {"late_ms": 10}}})
    assert tighter.content_hash() == p.content_hash() and tighter.canonical_text() == p.canonical_text()


# -- usable takes and the summary -------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    assert wilson(10, 10)[1] == pytest.approx(1.0)


def _verdicts(rows) -> pd.DataFrame:
    return pd.DataFrame(
        [{"sample_id": f"{p}__{m}__r0", "prompt_id": p, "model": m, "repeat": 0, "check": c, "outcome": o, "reason": r}
         for p, m, c, o, r in rows],
        columns=checks.VERDICT_COLUMNS,
    )  # fmt: skip


def test_a_take_is_usable_only_when_every_applicable_check_passes() -> None:
    v = _verdicts([
        ("a", "m1", "lip_sync", "pass", "ok"), ("a", "m1", "mute_test", "pass", "ok"),
        ("b", "m1", "lip_sync", "fail", "voice 150 ms after the lips"),
        ("b", "m1", "lip_sync_acceptable", "pass", "ok"), ("b", "m1", "mute_test", "pass", "ok"),
        ("c", "m1", "lip_sync", "cant_tell", "no face detected"), ("c", "m1", "mute_test", "pass", "ok"),
        ("d", "m1", "mute_test", "fail", "could be any shot's sound"),
        ("e", "m1", "generation", "fail", "generation failed: content rejected"),
    ])  # fmt: skip
    t = take_status(v).set_index("prompt_id")
    assert t.loc["a", "usable"] and t.loc["a", "colour"] == "green"
    assert not t.loc["b", "usable"] and t.loc["b", "colour"] == "amber"  # only the acceptable level
    assert t.loc["c", "colour"] == "amber" and "can't tell (no face detected)" in t.loc["c", "why"]
    assert t.loc["d", "colour"] == "red" and "Mute test: could be any shot's sound" in t.loc["d", "why"]
    assert t.loc["e", "colour"] == "red" and "content rejected" in t.loc["e", "why"]
    samples = [Sample(f"{p}__m1__r0", p, "m1", "x/m1", 0, "k", status="ok", cost_usd=0.5) for p in "abcde"]
    s = model_summary(v, samples).iloc[0]
    assert (s.usable, s.takes, s.generation_failed, s.cant_tell) == (1, 5, 1, 1)
    assert s.cost_per_usable_usd == 2.5 and s.check_lip_sync_pass == 1 and s.check_lip_sync_n == 2


def test_models_whose_intervals_overlap_are_not_separable() -> None:
    rows = [(f"p{i}", m, "mute_test", "pass" if i < k else "fail", "r") for m, k in (("good", 9), ("fair", 6)) for i in range(10)]
    s = model_summary(_verdicts(rows), [])
    assert list(s["model"]) == ["good", "fair"]
    assert s.loc[0, "separable"] == "not separable from fair with n = 10"


def test_votes_are_compared_with_usable_takes() -> None:
    from workbench.outputs.preference import usable_agreement

    prefs = pd.DataFrame({"model": ["a", "b", "c", "d"], "bt_score": [2.0, 1.0, 0.0, -1.0]})
    usable = pd.DataFrame({"model": ["a", "b", "c", "d"], "usable_share": [0.9, 0.7, 0.2, 0.1]})
    assert usable_agreement(prefs, usable) == (pytest.approx(1.0), 4)
    rho, n = usable_agreement(prefs.iloc[:2], usable)
    assert n == 2 and rho != rho  # NaN: fewer than 3 models


def _run_with(tmp_path: Path, expect: dict, *, offset_ms: float = 150.0, repeats: int = 1) -> Path:
    """A scored run folder: clips of one dialogue prompt at a lip offset, its config carrying ``expect``."""
    from workbench.rundir import RunDir, RunInfo

    run = RunDir(tmp_path / f"run-{len(list(tmp_path.iterdir()))}")
    run.path.mkdir()
    p = prompt("office-short-line")
    samples, rows = [], []
    for r in range(repeats):
        sid = f"office-short-line__m__r{r}"
        samples.append(Sample(sid, p.id, "m", "x/m", r, "k", status="ok", clip=f"clips/{r}.mp4", clip_sha256=str(r)))
        rows += [
            {"sample_id": sid, "prompt_id": p.id, "model": "m", "repeat": r, "clip_sha256": str(r),
             "metric": "lip_offset_ms", "value": offset_ms, "reason": "", "analyzer_version": 4},
            {"sample_id": sid, "prompt_id": p.id, "model": "m", "repeat": r, "clip_sha256": str(r),
             "metric": "lip_drift_ms_per_s", "value": None, "reason": "too short", "analyzer_version": 4},
        ]  # fmt: skip
    run.write_samples(samples)
    pd.DataFrame(rows).to_csv(run.scores_path, index=False)
    run.write_info(RunInfo(
        config={"name": "t", "expect": expect}, suite={"name": "s", "prompts": [p.model_dump(mode="json")]},
        template_version="t", workbench_version="0", started="2026-01-01T00:00:00",
    ))  # fmt: skip
    return run.path


def test_a_comparisons_expect_block_changes_its_verdicts(tmp_path: Path) -> None:
    from workbench.outputs.checks import run_verdicts
    from workbench.rundir import RunDir

    def lip(expect: dict) -> str:
        v = run_verdicts(RunDir(_run_with(tmp_path, expect)))
        return v.set_index("check").loc["lip_sync", "outcome"]

    assert lip({}) == "fail"  # 150 ms late: outside BT.1359's 125 ms
    assert lip({"lip_sync": {"late_ms": 185}}) == "pass"


def test_compare_reports_check_pass_rates_run_over_run(tmp_path: Path) -> None:
    from workbench.outputs.compare import compare_runs, to_text

    only_lips = {"skip": ["speaking_face", "spoken_line", "acoustic_match", "mute_test", "mix_balance"]}
    before = _run_with(tmp_path, only_lips, offset_ms=200.0, repeats=10)  # every take late
    after = _run_with(tmp_path, only_lips, offset_ms=20.0, repeats=10)  # every take in sync
    cmp = compare_runs([before, after])
    row = cmp.checks.set_index("check").loc["lip_sync"]
    assert (row["old"], row["new"], row["new_n"], row["verdict"]) == (0.0, 1.0, 10, "better")
    assert cmp.checks.set_index("check").loc["usable", "verdict"] == "better"
    assert "Checks (pass rates with 95 % Wilson intervals" in to_text(cmp)
    same = compare_runs([before, _run_with(tmp_path, only_lips, offset_ms=190.0, repeats=10)])
    assert same.checks.set_index("check").loc["lip_sync", "verdict"] == "within noise"
