"""The spoken line: text normalisation and word error rate, bilabial events, the phonetic offset, the
learned voice activity, delivery, the ``spoken_line`` check, and the words metric on the local models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.metrics.kernels import delivery
from workbench.metrics.kernels.phonetic import (
    AlignedWord,
    Phone,
    bilabial_events,
    event_offset,
    lip_events,
)
from workbench.metrics.kernels.vad import activity_from_probs
from workbench.metrics.kernels.words import line_of_ops, normalise_words, said_run, word_alignment
from workbench.metrics.speechmodels import language_covered, no_model_reason
from workbench.outputs import checks
from workbench.outputs.checks import Reading, check_clip
from workbench.prompt import Expect, Prompt, resolve_suite
from workbench.providers.local.synth import lips

# -- text normalisation and word error rate ---------------------------------------------------------


def test_normalisation_lowercases_drops_punctuation_and_spells_numbers() -> None:
    assert normalise_words("Don't move. They can hear us from the hall!") == [
        "don't", "move", "they", "can", "hear", "us", "from", "the", "hall",
    ]  # fmt: skip
    assert normalise_words("It\u2019s 21 - no, 1,200%") == [
        "it's", "twenty", "one", "no", "one", "thousand", "two", "hundred", "percent",
    ]  # fmt: skip
    assert normalise_words("Rock & roll, well-known") == ["rock", "and", "roll", "well", "known"]
    assert normalise_words("...") == []


def test_wer_counts_substitutions_deletions_and_insertions() -> None:
    r = word_alignment(ref=["we", "ship", "on", "friday"], hyp=["we", "shipped", "on", "friday", "night"])
    assert (r.substitutions, r.deletions, r.insertions, r.hits) == (1, 0, 1, 3)
    assert r.wer == pytest.approx(2 / 4)
    assert r.substituted == ["ship->shipped"] and r.extra == ["night"] and r.missing == []
    half = word_alignment(ref=["it", "was", "right", "here", "i", "remember"], hyp=["it", "was", "right"])
    assert half.wer == pytest.approx(3 / 6) and half.missing == ["here", "i", "remember"]
    assert word_alignment(ref=[], hyp=[]).wer == 0.0
    assert word_alignment(ref=[], hyp=["x"]).wer == float("inf")
    assert word_alignment(ref=["a", "b"], hyp=[]).wer == 1.0


def test_a_line_counts_as_said_with_two_consecutive_words_near_its_start() -> None:
    ref = ["i", "told", "you", "she", "would", "come", "back", "for", "the", "guitar"]
    right = word_alignment(ref=ref, hyp=["i", "told", "you", "she", "could", "come", "back", "for", "a", "guitar"])
    first = said_run(right.ops, len(ref))
    assert first is not None and first.hyp_index == 0
    wrong = word_alignment(ref=ref, hyp=["turn", "left", "at", "the", "corner", "and", "walk", "two", "blocks"])
    assert said_run(wrong.ops, len(ref)) is None  # "the" alone is no line
    # a chance pair deep inside a shuffled line does not time the line
    shuffled = word_alignment(ref=ref, hyp=["guitar", "the", "for", "back", "come", "would", "she", "you", "told", "i"])
    assert said_run(shuffled.ops, len(ref)) is None
    # a two-word line needs one word
    short = word_alignment(ref=["hello", "there"], hyp=["hello", "bear"])
    assert said_run(short.ops, 2) is not None


def test_each_alignment_step_belongs_to_its_line() -> None:
    ref = ["a", "b", "c", "d"]
    r = word_alignment(ref=ref, hyp=["x", "a", "b", "c", "d", "y"])
    owner = line_of_ops(r.ops, [(0, 2), (2, 4)])
    assert [(o.op, ln) for o, ln in zip(r.ops, owner, strict=True)] == [
        ("insert", 0), ("equal", 0), ("equal", 0), ("equal", 1), ("equal", 1), ("insert", 1),
    ]  # fmt: skip


# -- bilabial events and the phonetic offset -----------------------------------------------------------


def _burst_audio(sr: int, bursts: list[float], dur: float = 3.0) -> np.ndarray:
    """Silence with a broadband vowel-like burst starting at each time (the release of a stop)."""
    rng = np.random.default_rng(0)
    y = 1e-4 * rng.standard_normal(int(dur * sr))
    for t in bursts:
        a = int(t * sr)
        y[a : a + int(0.15 * sr)] += 0.3 * rng.standard_normal(int(0.15 * sr))
    return y


def test_bilabial_release_is_found_at_the_burst() -> None:
    sr = 16000
    bursts = [0.8, 1.9]
    y = _burst_audio(sr, bursts)
    words = []
    for t in bursts:  # "bee": B then IY, the aligner 20 ms late on the release
        words.append(
            AlignedWord("bee", t - 0.08, t + 0.2, (Phone("B", t - 0.08, t + 0.02), Phone("IY", t + 0.02, t + 0.2)))
        )
    ev = bilabial_events(words=words, y=y, sr=sr)
    rel = [e for e in ev if e.kind == "release"]
    assert [e.phone for e in rel] == ["B", "B"]
    assert all(e.confirmed for e in rel)
    for e, t in zip(rel, bursts, strict=True):
        assert abs(e.t - t) <= 0.006, (e.t, t)  # refined onto the 1-5 kHz energy rise, not the aligner's time
    # a word not said as the prompt has it gives unconfirmed events
    ev2 = bilabial_events(words=words, y=y, sr=sr, confirmed={0})
    assert [e.confirmed for e in ev2 if e.kind == "release"] == [True, False]
    # no bilabial, no event
    assert (
        bilabial_events(words=[AlignedWord("see", 0.5, 0.8, (Phone("S", 0.5, 0.6), Phone("IY", 0.6, 0.8)))], y=y, sr=sr)
        == []
    )


def _events(times: list[float], shift: float) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    lip = [("release", t) for t in times] + [("closure", t - 0.09) for t in times]
    audio = [(k, t + shift) for k, t in lip]
    return audio, lip


@pytest.mark.parametrize("shift_ms", [-160.0, -40.0, 0.0, 35.0, 120.0])
def test_event_offset_recovers_a_known_shift(shift_ms: float) -> None:
    rng = np.random.default_rng(1)
    times = sorted(rng.uniform(0.5, 9.5, 9))
    audio, lip = _events(times, shift_ms / 1000)
    jitter = rng.normal(0, 0.004, len(audio))
    audio = [(k, t + j) for (k, t), j in zip(audio, jitter, strict=True)]
    res = event_offset(audio=audio, lip=lip, span=(0.0, 10.0))
    assert res.offset_ms is not None, res.reason
    assert res.offset_ms == pytest.approx(shift_ms, abs=6.0)
    assert res.n_events == len(audio) and res.z >= 2.5


def test_event_offset_abstains_on_few_or_unrelated_events() -> None:
    audio, lip = _events([1.0, 2.0], 0.05)
    few = event_offset(audio=audio[:3], lip=lip, span=(0.0, 4.0))
    assert few.offset_ms is None and "too few bilabial events" in (few.reason or "")
    rng = np.random.default_rng(3)
    a = [("release", float(t)) for t in sorted(rng.uniform(0.5, 19.5, 8))]
    v = [("release", float(t)) for t in sorted(rng.uniform(0.5, 19.5, 8))]
    res = event_offset(audio=a, lip=v, span=(0.0, 20.0))
    assert res.offset_ms is None and res.reason


def test_the_phonetic_offset_stands_only_beside_a_confident_correlation_reading_it_agrees_with() -> None:
    from workbench.metrics.spec import Score
    from workbench.metrics.speech import PHONETIC_MAX_GAP_MS, cross_checked

    phon = Score(288.0, details={"z": 3.1, "n_events": 4})
    # the golden two-shot: the correlation reads the in-sync clip, the phonetic offset paired events by chance
    far = cross_checked(phon, Score(20.0))
    assert far.value is None and far.reason.startswith("reads +288 ms, 268 ms from the correlation reading (+20 ms")
    assert far.details["phonetic_ms"] == 288.0 and far.details["n_events"] == 4  # the events stay in the evidence
    alone = cross_checked(phon, Score.unscored("low lip-sync confidence (z 1.80 < 2.5)"))
    assert alone.value is None and "no confident correlation reading to check it against" in alone.reason
    assert "z 1.80" in alone.reason
    near = cross_checked(Score(72.0), Score(72.0 - PHONETIC_MAX_GAP_MS + 1))
    assert near.value == 72.0
    assert cross_checked(Score.unscored("too few bilabial events"), Score(0.0)).reason == "too few bilabial events"


def test_lip_events_find_each_closure_and_its_release_within_a_frame() -> None:
    fps = 25.0
    t = np.arange(100) / fps
    closures = [(1.0, 1.12), (3.2, 3.36)]
    opening = lips.close_lips(np.full(len(t), 0.8), fps=fps, closures=closures)
    ev = lip_events(opening=opening, times=t)
    assert len(ev) == 2
    for e, (c, r) in zip(ev, closures, strict=True):
        assert e.t_release is not None and e.t_closure is not None
        # 20 % of the way up a 60 ms ramp: 12 ms after the release, 12 ms before the closure; 25 fps
        assert e.t_release == pytest.approx(r + 0.012, abs=1 / fps)
        assert e.t_closure == pytest.approx(c - 0.012, abs=1 / fps)
    # a still mouth has no closure
    assert lip_events(opening=np.full(len(t), 0.8), times=t) == []


def test_lips_close_from_closure_to_release_with_no_lead() -> None:
    fps = 100.0
    out = lips.close_lips(np.full(100, 0.5), fps=fps, closures=[(0.3, 0.4)])
    assert np.all(out[30:41] == 0.0)
    assert out[41] > 0 and out[47] == pytest.approx(0.5)  # back to the envelope's opening within RAMP_S
    assert out[10] == 0.5


def test_bilabials_take_a_stops_release_from_its_phoneme_event() -> None:
    sr = 16000
    y = np.zeros(sr)
    y[: int(0.3 * sr)] = 0.2  # a vowel, then the closure's silence, then the burst at 0.4 s
    y[int(0.4 * sr) :] = 0.2
    got = lips.bilabials(y=y, sr=sr, phonemes=(("a", 0.0), ("p", 0.4), ("m", 0.6), ("a", 0.7)))
    assert got[0]["phone"] == "p" and got[0]["release_s"] == 0.4
    assert got[0]["close_s"] == pytest.approx(0.3, abs=0.006)
    assert got[1] == {"phone": "m", "close_s": 0.6, "release_s": 0.7}


# -- voice activity and delivery ----------------------------------------------------------------------


def test_learned_activity_uses_hysteresis_and_the_energy_gates_cleanup() -> None:
    chunk = 0.032
    p = np.zeros(100)
    p[10:20] = 0.9
    p[20:23] = 0.4  # under 0.5 but over 0.35: still speech
    p[23:25] = 0.1  # 64 ms pause: bridged
    p[25:40] = 0.8
    p[60:62] = 0.9  # a 64 ms blip: dropped
    on = activity_from_probs(probs=p, n=320, chunk_s=chunk)
    assert on[int(0.33 * 100) : int(1.27 * 100)].all()
    assert not on[int(1.3 * 100) :].any()
    assert not on[:31].any()
    assert activity_from_probs(probs=np.zeros(0), n=5, chunk_s=chunk).tolist() == [False] * 5


def test_delivery_words_and_voiced_share() -> None:
    assert delivery.expected_pace("Tired voice, slow delivery") is not None
    assert delivery.expected_pace("hurried, breathless")[0] == "hurried"  # type: ignore[index]
    assert delivery.expected_pace("calm") is None
    assert delivery.asks_whisper("low, held-back voice, almost a whisper")
    assert not delivery.asks_whisper("loud")
    v = np.array([0.9, 0.9, 0.1, 0.1, 0.9])
    assert delivery.voiced_share(voicing=v, active=np.array([1, 1, 1, 1, 0], bool)) == 0.5
    assert delivery.voiced_share(voicing=v, active=np.zeros(5, bool)) is None


def test_speaking_rate_counts_vowels_over_speaking_time_without_pauses() -> None:
    def w(text: str, a: float, b: float, vowels: int) -> AlignedWord:
        return AlignedWord(text, a, b, tuple(Phone("AH", a, b) for _ in range(vowels)))

    r = delivery.speaking_rate(words=[w("one", 0.0, 0.5, 1), w("two", 0.5, 1.0, 2), w("three", 2.0, 2.5, 1)])
    assert r is not None
    assert r["speaking_time_s"] == pytest.approx(1.5)  # the 1 s pause is removed
    assert r["syllables_per_s"] == pytest.approx(4 / 1.5)
    assert delivery.speaking_rate(words=[w("one", 0.0, 0.5, 1)]) is None


def test_only_english_is_covered_and_the_reason_says_so() -> None:
    assert language_covered("en") and language_covered("en-GB") and not language_covered("fr")
    assert "English-only" in no_model_reason("fr") and "'fr'" in no_model_reason("fr")


# -- the spoken_line check ------------------------------------------------------------------------------


def R(value=None, reason="", **details) -> Reading:
    return Reading(value, reason, details)


def _line(
    wer: float, *, n: int = 6, missing: tuple[str, ...] = (), margin: float | None = None, start: float | None = 0.04
):
    lines = [{"text": "we ship on friday and rest", "n_words": n, "wer": wer, "missing": list(missing),
              "substituted": [], "start_s": 1.04, "prompt_start_s": 1.0}]  # fmt: skip
    return {
        "line_wer": R(wer, transcript="we ship on friday and rest", lines=lines, fit_margin=margin, line_fits=True),
        "line_start_offset_s": R(
            start, "" if start is not None else "line not recognised in the transcript", lines=lines
        ),
    }


def _verdict(readings: dict, pid: str = "office-short-line") -> checks.Verdict:
    p = resolve_suite("builtin").get(pid)
    return {v.check: v for v in check_clip(readings, p, Expect())}["spoken_line"]


def test_spoken_line_passes_a_right_line_on_time() -> None:
    v = _verdict(_line(0.0))
    assert v.outcome == "pass" and "word error rate 0.00" in v.reason


def test_spoken_line_fails_a_wrong_line_that_fits_the_sound_worse() -> None:
    v = _verdict(_line(1.0, margin=-20.0))
    assert v.outcome == "fail" and "instead of" in v.reason


def test_spoken_line_cannot_tell_when_the_line_fits_the_sound_as_well_as_what_was_heard() -> None:
    v = _verdict(_line(1.0, margin=-1.0))
    assert v.outcome == "cant_tell" and "too unclear" in v.reason


def test_spoken_line_fails_half_a_line_and_a_late_start() -> None:
    half = _verdict(_line(0.5, missing=("on", "friday", "and"), margin=-10.0))
    assert half.outcome == "fail" and "3 of the line's 6 words not said" in half.reason
    late = _verdict(_line(0.0, start=0.9))
    assert late.outcome == "fail" and "0.90 s late" in late.reason
    assert checks.LINE_START_TOLERANCE_S == 0.5


def test_spoken_line_cannot_tell_for_a_french_line_and_fails_silence() -> None:
    fr = {"line_wer": R(None, no_model_reason("fr")), "line_start_offset_s": R(None, no_model_reason("fr"))}
    v = _verdict(fr, "french-line")
    assert v.outcome == "cant_tell" and "English-only" in v.reason
    silent = {"line_wer": R(None, "no speech detected"), "line_start_offset_s": R(None, "no speech detected")}
    assert _verdict(silent).outcome == "fail"


def test_spoken_line_applies_to_dialogue_only() -> None:
    suite = resolve_suite("builtin")
    assert all(checks.applies("spoken_line", p) == bool(p.dialogue) for p in suite.prompts)


# -- the words metric with the shipped models ------------------------------------------------------------

models = pytest.importorskip("workbench.metrics.speechmodels")


def _have_models() -> str | None:
    try:
        models.whisper_model()
        models.silero_session()
        models._decoder(False)
    except models.ModelUnavailable as exc:
        return str(exc)
    return None


need_models = pytest.mark.skipif(_have_models() is not None, reason=f"speech models not installed: {_have_models()}")


def test_a_tampered_model_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"not the model")
    with pytest.raises(models.ModelUnavailable, match="not the pinned one"):
        models.verify(f, models.WHISPER_FILES["model.bin"])
    with pytest.raises(models.ModelUnavailable, match="missing"):
        models.verify(tmp_path / "nope.bin", models.WHISPER_FILES["model.bin"])


SUITE = resolve_suite("builtin")


def _render_and_score(tmp: Path, pid: str, variant: str, seed: int = 0) -> tuple[dict, dict, Prompt]:
    from workbench.analysis.engine import analyze_clips, select_analyzers
    from workbench.providers.local.synth.render import render_clip

    p = SUITE.get(pid)
    clip = render_clip(p, variant, seed=seed)
    path = tmp / f"{pid}-{variant}-{seed}.mp4"
    path.write_bytes(clip.data)
    (scores,) = analyze_clips([path], p, select_analyzers(["speech"]))
    return scores, clip.ground_truth, p


def _spoken_verdict(scores: dict, p: Prompt) -> checks.Verdict:
    readings = {k: Reading(s.value, s.reason or "", s.details or {}) for k, s in scores.items()}
    return {v.check: v for v in check_clip(readings, p, Expect())}["spoken_line"]


@need_models
@pytest.mark.slow
def test_local_synced_says_the_line_on_time_and_passes(tmp_path: Path) -> None:
    scores, truth, p = _render_and_score(tmp_path, "office-short-line", "synced")
    assert scores["line_wer"].value is not None and scores["line_wer"].value <= checks.LINE_MAX_WER
    d = scores["line_wer"].details
    assert d["transcript"] and d["lines"][0]["missing"] == []
    st = scores["line_start_offset_s"].value
    heard = truth["speech_segments"][0]["start_s"] if "speech_segments" in truth else None
    assert st is not None and abs(st) <= checks.LINE_START_TOLERANCE_S
    if heard is not None:  # the voiced onset the renderer placed, against the prompt's start
        assert st == pytest.approx(heard - p.dialogue[0].start_s, abs=0.06)
    v = _spoken_verdict(scores, p)
    assert v.outcome == "pass", v.reason


@need_models
@pytest.mark.slow
def test_local_wrong_line_fails_with_the_words_it_said(tmp_path: Path) -> None:
    scores, truth, p = _render_and_score(tmp_path, "office-short-line", "wrong-line")
    said = truth["spoken_lines"][0]["text"]
    assert said != p.dialogue[0].text
    assert scores["line_wer"].value is not None and scores["line_wer"].value > checks.LINE_MAX_WER
    v = _spoken_verdict(scores, p)
    assert v.outcome == "fail", v.reason
    assert "instead of" in v.reason or "not said" in v.reason


@need_models
@pytest.mark.slow
def test_local_late_line_reads_its_delay(tmp_path: Path) -> None:
    scores, truth, p = _render_and_score(tmp_path, "office-short-line", "late-line")
    t = truth["spoken_lines"][0]
    st = scores["line_start_offset_s"].value
    assert st is not None and st == pytest.approx(t["start_s"] - t["prompt_start_s"], abs=0.06)
    v = _spoken_verdict(scores, p)
    assert v.outcome == "fail" and "late" in v.reason


@need_models
@pytest.mark.slow
def test_a_french_line_is_not_checked_and_says_why(tmp_path: Path) -> None:
    scores, _truth, _p = _render_and_score(tmp_path, "french-line", "synced")
    w = scores["line_wer"]
    assert w.value is None and "English-only" in (w.reason or "")
    assert scores["line_start_offset_s"].value is None


@need_models
@pytest.mark.slow
def test_analyze_json_gives_the_words_the_start_and_both_lip_offsets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli.main import main
    from workbench.providers.local.synth.render import render_clip

    clip = render_clip(SUITE.get("office-short-line"), "synced")
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip.data)
    assert main(["analyze", str(path), "--suite", "builtin", "--prompt", "office-short-line", "--json",
                 "--metrics", "speech", "lip_phonetic", "lipsync"]) == 0  # fmt: skip
    (entry,) = json.loads(capsys.readouterr().out)
    assert "line_wer" in entry["metrics"] and "line_start_offset_s" in entry["metrics"]
    assert entry["evidence"]["line_wer"]["transcript"]
    for k in ("lip_offset_ms", "lip_offset_phonetic_ms"):  # each a reading or a reason, side by side
        assert k in entry["metrics"] or k in entry["unscored"]
    # without a prompt: the transcript alone
    assert main(["analyze", str(path), "--json", "--metrics", "speech"]) == 0
    (bare,) = json.loads(capsys.readouterr().out)
    assert "line_wer" in bare["unscored"] and bare["evidence"]["line_wer"]["transcript"]
