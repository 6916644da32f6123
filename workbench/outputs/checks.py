"""The creator's verdict: each creator's test as a named check, with pass, fail or can't tell per clip.

A check reads a clip's metric readings (and their evidence) against the prompt that asked for
the shot, and says in one line of words why it passes or fails ("voice 210 ms after the lips",
"sounds like a dead booth (RT60 0.16 s) where the prompt describes a stone church"). When the
metric behind it could not measure the clip, the check cannot tell, and says why. A check
applies only to prompts that ask for what it tests (lip sync: dialogue; foley timing: foley
events; mix balance: dialogue over music or ambience).

Every threshold is a named constant with its source; a comparison (``expect:`` in the config)
or a prompt (``expect:`` in the suite) can override it (:class:`workbench.prompt.Expect`).

A *usable take* passes every check that applies to its prompt. :func:`model_summary` gives each
model's share of usable takes with a 95 % Wilson interval, each check's pass rate, the can't-tell
and generation-failure counts, and the cost per usable take.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.metrics.kernels.delivery import WHISPER_MAX_SHARE
from workbench.prompt import RT60_RANGES, CheckName, Expect, Prompt
from workbench.rundir import RunDir, Sample

Outcome = Literal["pass", "fail", "cant_tell"]

# -- thresholds (named, with their sources) -----------------------------------------------------

#: Lip sync: the window inside which an offset is not detectable, audio early / audio late (ms).
#: ITU-R BT.1359-1 (1998), "Relative timing of sound and vision for broadcasting": detectability
#: thresholds +45 ms (sound before picture) / -125 ms (sound after picture).
LIP_EARLY_MS, LIP_LATE_MS = 45.0, 125.0
#: The looser level: ITU-R BT.1359-1 acceptability thresholds, +90 ms / -185 ms.
LIP_ACCEPTABLE_EARLY_MS, LIP_ACCEPTABLE_LATE_MS = 90.0, 185.0
#: A speaker turn (several faces taking turns) is judged on its own when its own confidence reaches
#: this z: the lip-sync metric's threshold for a clip (``workbench.metrics.lipsync.MIN_CONFIDENCE``;
#: below it the metric reports no offset). Weaker turns are shown in the evidence, not judged.
TURN_MIN_Z = 2.5
#: Speaking face: a face counts as speaking when the mouth-speech correlation stands this far above
#: chance (the same z, ``lipsync.MIN_CONFIDENCE``: below it the metric cannot tell a speaking mouth
#: from chance, FINDINGS of issue 14 and the README's poor-sound cases).
SPEAKING_MIN_Z = 2.5
#: With fewer faces seen speaking than the prompt has on-screen speakers, the check fails only when
#: at most this share of the speech went to no face (else the missing speaker may hide in the
#: undecided speech: can't tell). A quarter: a two-speaker exchange gives each speaker about half.
SPEAKING_MAX_UNDECIDED = 0.25
#: The spoken line: the words pass at a word error rate up to this (Whisper tiny.en's reading). Between
#: right and wrong lines: espeak-ng lines said as written read at most 0.45 in quiet and over music, wrong
#: lines at least 0.88 (``benchmarks/validate_speech.py --quick``, 72 cases, README "The spoken line";
#: tiny.en mishears synthetic speech: "remember->remembered", "door->lord", so right lines rarely read 0).
LINE_MAX_WER = 0.75
#: ... and with at most this share of the line's words not heard at all: a line cut in half missed at
#: least 29 % of its words, a right line at most 14 % (one word), because tiny.en substitutes words far
#: more often than it drops them (same benchmark).
LINE_MAX_MISSING = 0.25
#: Words that differ fail only when the line's own words fit the sound clearly worse than what was
#: heard (the forced-alignment score per 10 ms, PocketSphinx units) or cannot be aligned at all; a
#: smaller margin means the speech is too unclear for the recogniser (reverberant, noisy) and the check
#: cannot tell. Between the right lines, a hall's reverberation included (margin -0.4 at worst), and the
#: wrong lines said clearly (-14.2 at best), same benchmark.
LINE_MIN_MISFIT = 5.0
#: The line must start within this of the prompt's start time (s, early or late). No standard sets it:
#: a prompt times its lines to a tenth of a second, and half a second is two or three syllables of
#: conversational speech (4-6 syllables/s), a different beat of the shot; it is more than ten times the
#: line start's measurement error (p90 40 ms on espeak-ng lines and on the local models).
LINE_START_TOLERANCE_S = 0.5
#: A line the prompt wants whispered must be voiced on at most this share of its speech: the delivery
#: kernel's whisper bound (``workbench.metrics.kernels.delivery.WHISPER_MAX_SHARE``, with its sources).
WHISPER_MAX_VOICED = WHISPER_MAX_SHARE
#: Foley: the same asymmetric window for a visible event and its sound (sound late is tolerated more:
#: metric-methods.md "Foley timing", after BT.1359 and the audio-visual integration window).
FOLEY_EARLY_MS, FOLEY_LATE_MS = 45.0, 125.0
#: Acoustic match: an RT60 may lie this far (relative) outside the prompt's range before the clip
#: fails: the 90th-percentile error of the blind RT60 (README, "Accuracy": p90 30 % over 60 rooms).
RT60_TOLERANCE = 0.30
#: A close-up that sounds this much more distant than its shot allows (early/late ratio under the
#: shot's range, dB) fails; the ranges and their sources are in ``workbench.metrics.acoustic.SHOT_ELR_RANGE``.
SHOT_DISTANCE_MARGIN_DB = 3.0
#: Mute test: a clip's own sound must fit its picture better than at least this share of the other
#: shots' sounds in its batch (the swap test, ``mute_coherence``'s ``beat_swap``). Between the two
#: groups measured: a stock bed unrelated to the shot (local/generic, built-in suite: median 0.44,
#: 8 of 10 below 0.6, the other two 0.78) and real footage recorded in sync (the 11 real clips with
#: picture and sound in ../shared/data/real, swapped among themselves: 0.6 to 1.0, median 0.9);
#: ``benchmarks/validate_checks.py`` prints both. Fitted on these few clips: read it as a first cut.
MUTE_MIN_BEAT_SWAP = 0.6
#: Mix balance: the dialogue must sit at least this far over music and ambience while it speaks (dB).
#: No standard sets it; broadcast practice (and metric-methods.md, "Dialogue vs music balance") flags
#: speech frames with a dialogue-to-background ratio under 10 LU.
MIX_MIN_DB = 10.0


@dataclass(frozen=True)
class CheckSpec:
    """One creator's test."""

    name: CheckName
    title: str
    question: str
    """What the check asks, in a creator's words."""
    source: str
    """Where its thresholds come from."""
    metrics: tuple[str, ...]
    """The metrics it reads (all must have been run for it to tell)."""


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "lip_sync", "Lip sync", "Do the voice and the lips meet, from the first syllable to the end of the line?",
        "ITU-R BT.1359 detectability: audio at most 45 ms early, 125 ms late, start and end of the line",
        ("lip_offset_ms", "lip_drift_ms_per_s"),
    ),
    CheckSpec(
        "lip_sync_acceptable", "Lip sync (acceptable)", "Is the lip offset at least acceptable, if noticeable?",
        "ITU-R BT.1359 acceptability: audio at most 90 ms early, 185 ms late", ("lip_offset_ms", "lip_drift_ms_per_s"),
    ),
    CheckSpec(
        "speaking_face", "Speaking face", "Is the line spoken by a face we can see, each speaker by their own face?",
        "a face's mouth follows the speech (lip-sync confidence z >= 2.5); as many faces speak as the prompt has "
        "speakers, unless over a quarter of the speech went to no face",
        ("lip_confidence",),
    ),
    CheckSpec(
        "spoken_line", "Spoken line", "Does the character say the line as written, when the prompt says, and as asked?",
        "word error rate at most 0.75 and at most a quarter of the words missing (between right and wrong lines as "
        "heard by Whisper tiny.en); the start within 0.5 s of the prompt's; a whisper voiced on at most 15 % of its "
        "speech; a named pace (slow, hurried) within 4-6 syllables/s of conversational English. English only",
        ("line_wer", "line_start_offset_s"),
    ),
    CheckSpec(
        "foley_timing", "Foley timing", "Is each prompted sound heard when its visible cause happens?",
        "BT.1359 window applied to visible events: sound at most 45 ms early, 125 ms late", ("foley_offset_ms",),
    ),
    CheckSpec(
        "acoustic_match", "Acoustic match", "Does the sound come from the space the prompt describes, at the shot's distance?",
        "the prompt's reverb class (RT60 range, README table) with the RT60's validated p90 error (30 %); space class; "
        "early/late ratio for the shot size",
        ("rt60_s", "space_class_match", "acoustic_match"),
    ),
    CheckSpec(
        "mute_test", "Mute test", "Does this sound belong to this shot, and not to the others in the batch?",
        "its own sound beats at least 60 % of the batch's other sounds (stock bed: median 44 %; real in-sync footage: 60-100 %)",
        ("mute_coherence",),
    ),
    CheckSpec(
        "mix_balance", "Mix balance", "Does the dialogue sit over the music and ambience?",
        "dialogue at least 10 dB over the bed while it speaks (broadcast practice; no standard sets it)",
        ("speech_to_background_db",),
    ),
)  # fmt: skip
CHECK_NAMES: tuple[CheckName, ...] = tuple(c.name for c in CHECKS)
SPECS: dict[str, CheckSpec] = {c.name: c for c in CHECKS}
#: A check whose failure is softened (amber, not red) when this looser companion passes.
LOOSER: dict[str, str] = {"lip_sync": "lip_sync_acceptable"}


@dataclass(frozen=True)
class Verdict:
    """One check on one clip."""

    check: CheckName
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class Reading:
    """What a check sees of one metric on one clip: the value, or why there is none, and its evidence."""

    value: float | None
    reason: str
    details: Mapping[str, Any]


Readings = Mapping[str, Reading]


def _pass(check: CheckName, reason: str) -> Verdict:
    return Verdict(check, "pass", reason)


def _fail(check: CheckName, reason: str) -> Verdict:
    return Verdict(check, "fail", reason)


def _cant(check: CheckName, reason: str) -> Verdict:
    return Verdict(check, "cant_tell", reason)


def _missing(check: CheckName, r: Readings) -> Verdict | None:
    absent = [m for m in SPECS[check].metrics if m not in r]
    return _cant(check, f"not measured in this run ({', '.join(absent)})") if absent else None


# -- lip sync -----------------------------------------------------------------------------------


def _voice(offset_ms: float) -> str:
    """An offset in words (+ = audio late)."""
    if abs(offset_ms) < 0.5:
        return "voice on the lips"
    return f"voice {abs(offset_ms):.0f} ms {'after' if offset_ms > 0 else 'before'} the lips"


def line_ends(r: Readings) -> tuple[float, float, float]:
    """The lip offset at the start of the spoken line, overall, and at its end (ms).

    The clip's offset is the median of its speech windows; with a drift the offset at the first
    and last window follows the drift line through it.
    """
    off = r["lip_offset_ms"]
    assert off.value is not None
    drift = r.get("lip_drift_ms_per_s")
    windows = [w["t"] for w in off.details.get("windows", []) if w.get("t") is not None]
    if drift is None or drift.value is None or not windows:
        return off.value, off.value, off.value
    t_mid = float(np.median(windows))
    return (
        off.value + drift.value * (min(windows) - t_mid),
        off.value,
        off.value + drift.value * (max(windows) - t_mid),
    )


def face_words(turn: Mapping[str, Any]) -> str:
    """A face of a speaker turn in words: "the face on the left (face 1)"."""
    where = {"left": "on the left", "right": "on the right", "centre": "in the centre"}.get(str(turn.get("position")))
    return f"the face {where} (face {turn.get('face')})" if where else f"face {turn.get('face')}"


def judged_turns(r: Readings) -> list[Mapping[str, Any]]:
    """The speaker turns of a clip where several faces take turns, read confidently enough to judge
    (:data:`TURN_MIN_Z`); empty for a one-face clip."""
    off = r.get("lip_offset_ms")
    if off is None or (off.details or {}).get("mode") != "multi":
        return []
    turns = [t for t in off.details.get("turns") or [] if t.get("offset_ms") is not None]
    return [t for t in turns if t.get("z") is not None and float(t["z"]) >= TURN_MIN_Z]


def _lip(check: CheckName, early: float, late: float, r: Readings) -> Verdict:
    missing = _missing(check, r)
    if missing is not None:
        return missing
    off = r["lip_offset_ms"]
    if off.value is None:
        return _cant(check, off.reason)
    start, mid, end = line_ends(r)
    window = f"within -{early:g}/+{late:g} ms"

    def out_by(o: float) -> float:
        return max(-early - o, o - late)

    # several faces taking turns: each turn is judged, so one speaker out of sync fails the clip
    turns = judged_turns(r)
    bad = [t for t in turns if out_by(float(t["offset_ms"])) > 0]
    if bad:
        t = max(bad, key=lambda t: out_by(float(t["offset_ms"])))
        when = f"{float(t['start_s']):.1f}-{float(t['end_s']):.1f} s"
        return _fail(check, f"{face_words(t)}: {_voice(float(t['offset_ms']))} at {when} (needs {window})")
    outside = [o for o in (start, mid, end) if not -early <= o <= late]
    drift = r["lip_drift_ms_per_s"]
    drifting = drift.value is not None and abs(end - start) >= 1.0
    if not outside:
        if drifting:
            return _pass(check, f"{_voice(start)} at the start, {_voice(end)} by the end of the line ({window})")
        if len({t["face"] for t in turns}) > 1:
            t = max(turns, key=lambda t: abs(float(t["offset_ms"])))
            return _pass(check, f"every speaker's turn {window}; the farthest: {face_words(t)}, {_voice(float(t['offset_ms']))}")
        return _pass(check, f"{_voice(mid)} ({window})")
    if drifting and -early <= start <= late:
        return _fail(check, f"drifts: {_voice(start)} at the start, {_voice(end)} by the end of the line ({window})")
    worst = max((start, mid, end), key=out_by)
    return _fail(check, f"{_voice(worst)} (needs {window})")


def lip_sync(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """BT.1359 detectability, at the start, over and at the end of the line."""
    e = expect.lip_sync
    return _lip("lip_sync", e.early_ms or LIP_EARLY_MS, e.late_ms or LIP_LATE_MS, r)


def lip_sync_acceptable(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """BT.1359 acceptability (the looser level)."""
    e = expect.lip_sync_acceptable
    return _lip("lip_sync_acceptable", e.early_ms or LIP_ACCEPTABLE_EARLY_MS, e.late_ms or LIP_ACCEPTABLE_LATE_MS, r)


def speaking_face(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """A face's mouth follows the speech; with several speakers in the prompt, as many faces speak."""
    missing = _missing("speaking_face", r)
    if missing is not None:
        return missing
    e = expect.speaking_face
    need_z = e.min_confidence if e.min_confidence is not None else SPEAKING_MIN_Z
    max_undecided = e.max_undecided if e.max_undecided is not None else SPEAKING_MAX_UNDECIDED
    conf = r["lip_confidence"]
    off = r.get("lip_offset_ms")
    why = (off.reason if off is not None and off.reason else conf.reason) or ""
    if why.startswith("speech, but no visible mouth moves"):
        n = (conf.details or {}).get("faces")
        seen = f" ({n} face{'s' if n != 1 else ''} on screen)" if n else ""
        return _fail("speaking_face", f"a voice speaks but no visible mouth moves{seen}")
    if conf.value is None:
        return _cant("speaking_face", conf.reason)
    d = conf.details or {}
    if conf.value < need_z:
        return _cant("speaking_face", f"no face's mouth clearly follows the speech (z {conf.value:.2f} < {need_z:g})")
    turns = [t for t in d.get("turns") or [] if t.get("face") is not None]
    faces = list(dict.fromkeys(t["face"] for t in turns))
    want = len(prompt.on_screen())
    if not turns:
        return _cant("speaking_face", "no speech could be given to a face")
    said = ", ".join(f"{face_words(next(t for t in turns if t['face'] == f))}" for f in faces)
    if want > 1 and len(faces) < want:
        spoken = sum(float(t["end_s"]) - float(t["start_s"]) for t in turns)
        speech = float(d.get("speech_s") or 0.0)
        undecided = max(0.0, 1.0 - spoken / speech) if speech > 0 else 1.0
        only = f"only {said} is seen speaking; the prompt has {want} speakers"
        if undecided <= max_undecided:
            return _fail("speaking_face", only)
        return _cant("speaking_face", f"{only}, but {undecided:.0%} of the speech could not be given to a face")
    if len(faces) == 1:
        return _pass("speaking_face", f"{said} speaks (z {conf.value:.1f})")
    return _pass("speaking_face", f"{len(faces)} faces take turns: {said} (z {conf.value:.1f})")


# -- the spoken line -------------------------------------------------------------------------------


def _quote(words: Sequence[str] | str, n: int = 60) -> str:
    text = words if isinstance(words, str) else " ".join(words)
    return f"“{_short(text, n)}”"


def _line_words(r: Readings, e: Any) -> tuple[list[str], list[str], bool | None]:
    """(confident problems, reasons it cannot tell, words pass) of the words part."""
    w = r["line_wer"]
    d = w.details or {}
    assert w.value is not None
    max_wer = LINE_MAX_WER if e.max_wer is None else e.max_wer
    max_missing = LINE_MAX_MISSING if e.max_missing_share is None else e.max_missing_share
    lines = [ln for ln in d.get("lines", []) if ln.get("wer") is not None]
    n = sum(int(ln.get("n_words") or 0) for ln in lines)
    gone = [m for ln in lines for m in ln.get("missing", [])]
    share = len(gone) / n if n else 0.0
    if w.value <= max_wer and share <= max_missing:
        return [], [], True
    heard = d.get("transcript") or ""
    said = " ".join(str(ln.get("text", "")) for ln in lines)
    margin, fits = d.get("fit_margin"), d.get("line_fits")
    if share > max_missing and len(gone) == n:
        what = f"none of the line's {n} words heard" + (f" (heard {_quote(heard)})" if heard else "")
    elif share > max_missing:
        what = f"{len(gone)} of the line's {n} words not said ({_quote(gone, 40)})"
    else:
        what = f"says {_quote(heard)} instead of {_quote(said)} (word error rate {w.value:.2f}, needs <= {max_wer:g})"
    if not heard:
        return [], [f"speech heard, but no words recognised in it (the line is {_quote(said)})"], False
    if fits is False or (margin is not None and margin <= -LINE_MIN_MISFIT):
        return [what], [], False
    how = f"fit the sound as well as or better than that (margin {margin:+.1f})" if margin is not None else "could not be compared"
    return [], [f"heard {_quote(heard)}, but the line's own words {how}: too unclear for the offline recogniser"], False


def spoken_line(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """The words as written (word error rate, missing words), the start on time, and the delivery asked for."""
    missing = _missing("spoken_line", r)
    if missing is not None:
        return missing
    e = expect.spoken_line
    w = r["line_wer"]
    if w.value is None:
        if w.reason == "no speech detected":
            return _fail("spoken_line", "the line is not said: no speech heard")
        return _cant("spoken_line", w.reason)
    problems, unsure, words_ok = _line_words(r, e)
    st = r["line_start_offset_s"]
    tol = LINE_START_TOLERANCE_S if e.start_tolerance_s is None else e.start_tolerance_s
    when = ""
    if st.value is not None:
        late = st.value > 0
        when = "on time" if abs(st.value) < 0.005 else f"{abs(st.value):.2f} s {'late' if late else 'early'}"
        if abs(st.value) > tol:
            first = next((ln for ln in (st.details or {}).get("lines", []) if ln.get("start_s") is not None), None)
            at = f" (at {first['start_s']:.2f} s, the prompt says {first['prompt_start_s']:g} s)" if first else ""
            problems.append(f"starts {when}{at}, needs within {tol:g} s")
    elif words_ok:
        unsure.append(f"start: {st.reason}")
    # the delivery, where the prompt asks for one that can be measured
    vs = r.get("voiced_share")
    if vs is not None and (vs.details or {}).get("asked_whisper") and vs.value is not None and vs.value > WHISPER_MAX_VOICED:
        problems.append(f"voiced ({vs.value:.0%} of the speech) where the prompt asks for a whisper")
    rate = r.get("speech_rate_syll_s")
    rd = (rate.details or {}) if rate is not None else {}
    if rate is not None and rate.value is not None and rd.get("asked_range"):
        lo, hi = rd["asked_range"]
        if not lo <= rate.value <= hi:
            problems.append(f"{rate.value:.1f} syllables/s where the prompt asks for a {rd.get('asked_pace')} delivery")
    if problems:
        return _fail("spoken_line", "; ".join(problems))
    if unsure:
        return _cant("spoken_line", "; ".join(unsure))
    d = w.details or {}
    subs = [s for ln in d.get("lines", []) for s in ln.get("substituted", [])]
    heard_as = f": {', '.join(subs[:3])}" if subs else ""
    return _pass("spoken_line", f"says the line (word error rate {w.value:.2f}{heard_as}), {when}")


# -- foley ----------------------------------------------------------------------------------------


def foley_timing(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """Every prompted event found in picture and sound lies inside the window; the worst one is named."""
    missing = _missing("foley_timing", r)
    if missing is not None:
        return missing
    early = expect.foley_timing.early_ms or FOLEY_EARLY_MS
    late = expect.foley_timing.late_ms or FOLEY_LATE_MS
    ev = r["foley_offset_ms"]
    events = [e for e in ev.details.get("events", []) if e.get("offset_ms") is not None]
    if not events:
        return _cant("foley_timing", ev.reason or "no prompted foley event found in both picture and sound")
    unfound = len(ev.details.get("events", [])) - len(events)
    also = f"; {unfound} more event(s) not found in both picture and sound" if unfound else ""

    def words(e: Mapping[str, Any]) -> str:
        o = float(e["offset_ms"])
        when = "on" if abs(o) < 0.5 else f"{abs(o):.0f} ms {'after' if o > 0 else 'before'}"
        return f"{_short(e.get('action', 'the event'))}: heard {when} the contact at {float(e['visual_s']):.2f} s"

    bad = [e for e in events if not -early <= float(e["offset_ms"]) <= late]
    if bad:
        worst = max(bad, key=lambda e: max(-early - float(e["offset_ms"]), float(e["offset_ms"]) - late))
        return _fail("foley_timing", f"{words(worst)} (needs -{early:g}/+{late:g} ms){also}")
    worst = max(events, key=lambda e: abs(float(e["offset_ms"])))
    return _pass("foley_timing", f"{words(worst)}{' (worst of ' + str(len(events)) + ')' if len(events) > 1 else ''}{also}")


def _short(text: str, n: int = 48) -> str:
    text = str(text).strip().rstrip(".")
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# -- acoustic match ---------------------------------------------------------------------------------

#: What each estimated space class sounds like, in words.
SOUNDS_LIKE = {"dry": "a dead booth", "room": "a room", "large_hall": "a large hall", "outdoor": "open air"}
#: What each reverb class of a prompt describes, in words (README, the reverb-class table).
DESCRIBES = {
    "dead": "a dead space (vocal booth, car)",
    "short": "a small furnished room",
    "medium": "a room with hard surfaces",
    "long": "a hall",
    "very_long": "a very reverberant space (stone church)",
    "outdoor": "open air",
}


def acoustic_match(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """RT60 inside the prompt's range (with the metric's validated error), the space class, the shot's distance."""
    missing = _missing("acoustic_match", r)
    if missing is not None:
        return missing
    rt = r["rt60_s"]
    if rt.value is None:
        return _cant("acoustic_match", rt.reason)
    e = expect.acoustic_match
    reverb = prompt.acoustics.reverb_class()
    lo, hi = e.rt60_s or RT60_RANGES[reverb]
    tol = RT60_TOLERANCE if e.rt60_tolerance is None else e.rt60_tolerance
    want = e.space or prompt.acoustics.space_class()
    est = (r["space_class_match"].details or {}).get("estimated")
    sounds = SOUNDS_LIKE.get(str(est), "a space") if est else None
    where = f"where the prompt describes {DESCRIBES[reverb]} ({lo:g}-{hi:g} s)"
    if not lo / (1 + tol) <= rt.value <= hi * (1 + tol):
        like = sounds or ("a drier space" if rt.value < lo else "a more reverberant space")
        return _fail("acoustic_match", f"sounds like {like} (RT60 {rt.value:.2f} s) {where}")
    if est and est != want:
        return _fail("acoustic_match", f"sounds like {sounds} (RT60 {rt.value:.2f} s), not {SOUNDS_LIKE.get(want, want)}, {where}")
    shot = r["acoustic_match"].details or {}
    if "drr_db" in shot and "expected_drr_db" in shot:
        v, (e_lo, _e_hi) = float(shot["drr_db"]), shot["expected_drr_db"]
        if v < e_lo - SHOT_DISTANCE_MARGIN_DB:
            return _fail(
                "acoustic_match",
                f"sounds distant for a {prompt.shot.replace('_', ' ')} (early/late ratio {v:.1f} dB, expected >= {e_lo:g})",
            )
    return _pass("acoustic_match", f"sounds like {sounds or 'the space'} (RT60 {rt.value:.2f} s) {where}")


# -- mute test -----------------------------------------------------------------------------------


def mute_test(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """The clip's own sound fits its picture better than the other shots' sounds in its batch (the swap test)."""
    missing = _missing("mute_test", r)
    if missing is not None:
        return missing
    m = r["mute_coherence"]
    if m.value is None:
        return _cant("mute_test", m.reason)
    need = expect.mute_test.min_share if expect.mute_test.min_share is not None else MUTE_MIN_BEAT_SWAP
    d = m.details or {}
    beat, of = d.get("beat_swap"), d.get("of")
    if beat is None or not of:
        return _cant("mute_test", "the swap test kept no per-clip detail (rerun the analysis)")
    others = int(of) - 1
    beaten = int(round(float(beat) * others))
    if float(beat) < need:
        return _fail(
            "mute_test",
            f"could be any shot's sound: {others - beaten} of the {others} other shots' sounds fit its picture as well "
            f"(it beats {float(beat):.0%}, needs {need:.0%})",
        )
    return _pass("mute_test", f"its own sound fits its picture better than {beaten} of the {others} other shots' sounds")


# -- mix balance ---------------------------------------------------------------------------------


def _bed(prompt: Prompt) -> str:
    return "music" if prompt.music.mode != "none" else "ambience"


def mix_balance(r: Readings, prompt: Prompt, expect: Expect) -> Verdict:
    """The dialogue sits at least :data:`MIX_MIN_DB` over the bed while it speaks."""
    missing = _missing("mix_balance", r)
    if missing is not None:
        return missing
    sb = r["speech_to_background_db"]
    if sb.value is None:
        return _cant("mix_balance", sb.reason)
    need = expect.mix_balance.min_db if expect.mix_balance.min_db is not None else MIX_MIN_DB
    bed = _bed(prompt)
    if sb.value < need:
        return _fail("mix_balance", f"{bed} only {sb.value:.0f} dB under the voice (needs {need:g})")
    return _pass("mix_balance", f"voice {sb.value:.0f} dB over the {bed}")


# -- which checks apply ---------------------------------------------------------------------------

CheckFn = Callable[[Readings, Prompt, Expect], Verdict]
RUNNERS: dict[str, CheckFn] = {
    "lip_sync": lip_sync,
    "lip_sync_acceptable": lip_sync_acceptable,
    "speaking_face": speaking_face,
    "spoken_line": spoken_line,
    "foley_timing": foley_timing,
    "acoustic_match": acoustic_match,
    "mute_test": mute_test,
    "mix_balance": mix_balance,
}


def applies(check: str, prompt: Prompt) -> bool:
    """Whether a prompt asks for what the check tests."""
    if check in ("lip_sync", "lip_sync_acceptable", "speaking_face", "spoken_line"):
        return bool(prompt.dialogue)
    if check == "foley_timing":
        return bool(prompt.foley)
    if check == "mix_balance":
        return bool(prompt.dialogue) and (prompt.music.mode != "none" or bool(prompt.ambience.strip()))
    return True


def check_clip(readings: Readings, prompt: Prompt, expect: Expect) -> list[Verdict]:
    """Every check that applies to the prompt (and is not skipped), on one clip's readings."""
    return [RUNNERS[c](readings, prompt, expect) for c in CHECK_NAMES if applies(c, prompt) and c not in expect.skip]


# -- a run's verdicts ------------------------------------------------------------------------------

VERDICT_COLUMNS = ["sample_id", "prompt_id", "model", "repeat", "check", "outcome", "reason"]


def readings_of(scores: pd.DataFrame, details: Mapping[str, Any]) -> dict[str, Reading]:
    """One clip's rows of ``scores.csv`` (and its details) as readings by metric."""
    out = {}
    for row in scores.itertuples():
        v = None if pd.isna(row.value) else float(row.value)
        reason = "" if pd.isna(row.reason) else str(row.reason)
        out[str(row.metric)] = Reading(v, reason, details.get(str(row.metric), {}))
    return out


def run_verdicts(run: RunDir, *, expect: Expect | None = None) -> pd.DataFrame:
    """Every check on every cell of a run (``VERDICT_COLUMNS``); a failed generation is one ``generation`` row.

    ``expect`` defaults to the run's config; each prompt's own ``expect`` is laid over it.
    """
    info = run.info()
    base = expect if expect is not None else Expect.model_validate(info.config.get("expect") or {})
    prompts = {p.id: p for p in info.prompts()}
    scores = run.scores() if run.is_scored else pd.DataFrame(columns=["sample_id", "metric", "value", "reason"])
    by_sample = dict(tuple(scores.groupby("sample_id"))) if len(scores) else {}
    rows: list[dict[str, Any]] = []
    for s in run.samples():
        prompt = prompts.get(s.prompt_id)
        head = {"sample_id": s.sample_id, "prompt_id": s.prompt_id, "model": s.model, "repeat": s.repeat}
        if s.status != "ok":
            rows.append({**head, "check": "generation", "outcome": "fail", "reason": f"generation failed: {s.reason}"})
            continue
        if prompt is None:
            continue
        sc = by_sample.get(s.sample_id)
        readings = readings_of(sc, run.details(s.sample_id)) if sc is not None else {}
        for v in check_clip(readings, prompt, prompt.expect.over(base)):
            rows.append({**head, "check": v.check, "outcome": v.outcome, "reason": v.reason})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def take_status(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per take (sample): ``usable`` (every applicable check passes), ``colour`` and a one-line summary.

    Colours: green usable; amber no check failed but one could not tell, or lip sync only at the
    acceptable level; red a check (or the generation) failed; grey nothing could be told.
    """
    rows = []
    for sid, g in verdicts.groupby("sample_id", sort=False):
        outcome = dict(zip(g["check"], g["outcome"], strict=True))
        reasons = dict(zip(g["check"], g["reason"], strict=True))
        hard = [c for c, o in outcome.items() if o == "fail" and not (c in LOOSER and outcome.get(LOOSER[c]) == "pass")]
        soft = [c for c, o in outcome.items() if o == "fail" and c not in hard]
        cant = [c for c, o in outcome.items() if o == "cant_tell"]
        usable = bool(outcome) and all(o == "pass" for o in outcome.values())
        if usable:
            colour, why = "green", "passes every check"
        elif hard:
            colour, why = "red", "; ".join(f"{_title(c)}: {reasons[c]}" for c in hard)
        elif all(o == "cant_tell" for o in outcome.values()):
            colour, why = "grey", "; ".join(f"{_title(c)}: {reasons[c]}" for c in cant)
        else:
            colour = "amber"
            why = "; ".join([f"{_title(c)}: {reasons[c]}" for c in soft] + [f"{_title(c)}: can't tell ({reasons[c]})" for c in cant])
        first = g.iloc[0]
        rows.append({
            "sample_id": sid, "prompt_id": first["prompt_id"], "model": first["model"], "repeat": int(first["repeat"]),
            "usable": usable, "colour": colour, "why": why,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["sample_id", "prompt_id", "model", "repeat", "usable", "colour", "why"])


def _title(check: str) -> str:
    return SPECS[check].title if check in SPECS else check.replace("_", " ")


# -- aggregates ------------------------------------------------------------------------------------

#: Two-sided 95 % normal quantile for the Wilson interval.
Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (Wilson 1927); (nan, nan) for n = 0."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def model_summary(verdicts: pd.DataFrame, samples: Sequence[Sample]) -> pd.DataFrame:
    """Per model: usable takes (share, 95 % Wilson interval, n), each check's pass rate, can't-tell and
    generation-failure counts, cost per usable take; sorted by usable share.

    ``separable`` says whether a model's interval overlaps the next model's ("not separable with n = 10").
    """
    takes = take_status(verdicts)
    models = dict.fromkeys([*(s.model for s in samples), *verdicts["model"]])
    cost = pd.Series(dict.fromkeys(models, 0.0), dtype=float)
    for s in samples:
        cost[s.model] += s.cost_usd
    rows = []
    for model in cost.index:
        t = takes[takes["model"] == model]
        v = verdicts[verdicts["model"] == model]
        n, k = len(t), int(t["usable"].sum())
        lo, hi = wilson(k, n)
        row: dict[str, Any] = {
            "model": model, "usable": k, "takes": n, "usable_share": k / n if n else math.nan,
            "usable_lo": lo, "usable_hi": hi,
            "generation_failed": int(((v["check"] == "generation") & (v["outcome"] == "fail")).sum()),
            "cant_tell": int((v["outcome"] == "cant_tell").sum()),
            "cost_usd": round(float(cost[model]), 4),
            "cost_per_usable_usd": round(float(cost[model]) / k, 4) if k else (math.inf if cost[model] > 0 else math.nan),
        }  # fmt: skip
        for c in CHECK_NAMES:
            cv = v[v["check"] == c]
            told = cv[cv["outcome"] != "cant_tell"]
            row[f"check_{c}_pass"] = int((told["outcome"] == "pass").sum())
            row[f"check_{c}_n"] = len(told)
            row[f"check_{c}_rate"] = row[f"check_{c}_pass"] / len(told) if len(told) else math.nan
            row[f"check_{c}_cant_tell"] = int((cv["outcome"] == "cant_tell").sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.sort_values(["usable_share", "usable", "model"], ascending=[False, False, True], na_position="last")
    out = out.reset_index(drop=True)
    sep = []
    for i in range(len(out)):
        nxt = out.iloc[i + 1] if i + 1 < len(out) else None
        overlap = nxt is not None and not (out.at[i, "usable_lo"] > nxt["usable_hi"])
        sep.append("" if nxt is None or not overlap else f"not separable from {nxt['model']} with n = {out.at[i, 'takes']}")
    out["separable"] = sep
    return out


def prompt_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per prompt and model: usable takes of that shot out of its takes (with repeats)."""
    takes = take_status(verdicts)
    g = takes.groupby(["prompt_id", "model"], sort=False)["usable"]
    return pd.DataFrame({"usable": g.sum().astype(int), "takes": g.count()}).reset_index()


def verdict_table(summary: pd.DataFrame, *, width: int | None = None) -> pd.DataFrame:
    """The headline: one row per model, usable takes with their interval, then each check's pass rate.

    A check no prompt of the run applies to is left out; ``k/n`` counts the clips it could tell.
    """
    out = pd.DataFrame({"model": summary["model"]})
    out["usable"] = [
        f"{r.usable}/{r.takes} {r.usable_share:.0%} [{r.usable_lo:.0%}-{r.usable_hi:.0%}]" if r.takes else "–"
        for r in summary.itertuples()
    ]
    for c in CHECK_NAMES:
        if summary[f"check_{c}_n"].sum() == 0 and summary[f"check_{c}_cant_tell"].sum() == 0:
            continue
        out[SHORT[c]] = [
            f"{int(p)}/{int(n)}" + (f" ?{int(ct)}" if ct else "")
            for p, n, ct in zip(summary[f"check_{c}_pass"], summary[f"check_{c}_n"], summary[f"check_{c}_cant_tell"], strict=True)
        ]
    out["gen.fail"] = summary["generation_failed"]
    return out


#: Column headers short enough for a terminal.
SHORT = {
    "lip_sync": "lips",
    "lip_sync_acceptable": "lips ok",
    "speaking_face": "face",
    "spoken_line": "line",
    "foley_timing": "foley",
    "acoustic_match": "room",
    "mute_test": "mute",
    "mix_balance": "mix",
}


def confusion(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Model x check: how many takes passed, failed and could not tell (``pass/fail/?``), for validation tables."""
    v = verdicts[verdicts["check"] != "generation"]
    out = pd.DataFrame(index=pd.Index(list(dict.fromkeys(v["model"])), name="model"))
    for c in CHECK_NAMES:
        cv = v[v["check"] == c]
        if cv.empty:
            continue
        g = cv.groupby("model")["outcome"]
        out[SHORT[c]] = [
            f"{(o == 'pass').sum()}/{(o == 'fail').sum()}/{(o == 'cant_tell').sum()}" if len(o) else "–"
            for o in (g.get_group(m) if m in g.groups else pd.Series(dtype=str) for m in out.index)
        ]
    return out.reset_index()
