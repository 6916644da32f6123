"""The evidence analyzers keep with their scores (``details/<sample>.json``), declared once.

Each shape below is what an analyzer writes and exactly what the clip view reads, under the
metric named beside it (``details[metric][key]``). The clip view draws the windowed lip
offsets, the mouth opening against the speech envelope, the free decays behind RT60, and the
foley events; a test checks that every field it draws comes out of the analyzers.
"""

from __future__ import annotations

from typing import TypedDict


class LipWindow(TypedDict):
    """One 2 s speech window's lip offset."""

    t: float
    """Window centre (s)."""
    offset_ms: float
    """Offset in the window (+ = audio late), natural lag removed."""
    confidence: float
    """Height of the window's correlation peak over the curve's median (one face), or the peak itself
    (several faces: the window's speaker beat the others by it)."""
    face: int
    """The face speaking in the window (its id, as in :class:`LipTurn`)."""


class LipTurn(TypedDict):
    """A run of speech given to one face: who speaks when, where, and in sync or not."""

    face: int
    """The face's id (stable through the clip; the same face in every turn it speaks)."""
    position: str
    """Where the face is across the frame: ``left``, ``centre``, ``right`` (``?``: no box)."""
    start_s: float
    end_s: float
    frames: list[int]
    """First and last frame index of the turn on which the face is tracked (empty: none)."""
    box: list[int] | None
    """The face's median box over the turn, ``[x0, y0, x1, y1]`` in pixels of the full-resolution frame."""
    offset_ms: float | None
    """The turn's lip offset (+ = audio late), natural lag removed (None: no window to read it)."""
    n_windows: int
    peak: float | None
    """Mean correlation of the turn's windows with its face's mouth."""
    margin: float | None
    """How far that face beat the runner-up per window (None with one face)."""
    z: float | None
    """The turn's own confidence: its face's correlation with the turn's speech against circular
    shifts of it (as ``lip_confidence`` for the clip); a turn under the clip's threshold is shown,
    not judged."""


class LipFace(TypedDict):
    """A face the tracker followed."""

    face: int
    height_px: float | None
    """Median forehead-to-chin height in full-resolution pixels."""
    coverage: float
    """Share of the clip's frames it was tracked on."""
    box: list[int] | None
    position: str
    moves: bool
    """Whether its mouth opens and closes (landmark mouth aspect ratio range)."""
    shape_r: float | None
    """Pearson r of its mouth darkness with the landmark lip opening on the meshed frames (None: too
    few); under ``lipsync.MIN_SHAPE_AGREEMENT`` the face is not read."""


class MouthSignals(TypedDict):
    """The speaking mouth's opening and the speech envelope, band-passed, on one coarse grid."""

    rate: float
    """Samples per second of both lists."""
    mouth: list[float | None]
    speech: list[float | None]


class LineEvidence(TypedDict, total=False):
    """The whole-clip offset line ``o(t) = line_offset_ms + line_slope_ms_per_s * (t - line_t_ref_s)``."""

    line_offset_ms: float
    line_slope_ms_per_s: float
    line_t_ref_s: float
    line_score: float
    line_margin: float


class LipEvidence(LineEvidence, total=False):
    """Details of the lip-sync metrics (every output; ``signals`` only under ``lip_confidence``)."""

    face: int
    faces: int
    speech_s: float
    n_windows: int
    natural_lag_ms: float
    null_z: float | None
    null_p: float | None
    windows: list[LipWindow]
    signals: MouthSignals
    mode: str
    """``single`` (one speaking face) or ``multi`` (several faces, speaker turns)."""
    frame: list[int]
    """The full-resolution frame, ``[width, height]``, the boxes' pixels."""
    turns: list[LipTurn]
    tracks: list[LipFace]
    face_lags_ms: dict[str, float | None]
    """Per face id (several faces): its whole-clip lag, natural lag removed."""
    face_z: dict[str, float | None]
    """Per face id (several faces): its own z against shifted sound."""


class FoleyEvent(TypedDict):
    """One prompted foley event, as found in the picture and the sound."""

    action: str
    """What is seen (the prompt's words)."""
    at_s: float
    """When the prompt says it happens."""
    visual_s: float | None
    """The visible contact (None: not found)."""
    audio_s: float | None
    """The sound's onset (None: not found)."""
    offset_ms: float | None
    """``audio_s - visual_s`` (+ = sound late)."""


class FoleyEvidence(TypedDict):
    """Details of the foley metrics."""

    events: list[FoleyEvent]
    explanations: list[str]


class Decay(TypedDict):
    """One free decay used for the blind RT60."""

    start_s: float
    end_s: float
    rt60_s: float


class Rt60Evidence(TypedDict):
    """Details of ``rt60_s``."""

    n_decays: int
    spread_s: float
    decays: list[Decay]
    rt60_ml_s: float | None


#: Where each piece of evidence lives: (metric, key).
LIP_WINDOWS = ("lip_offset_ms", "windows")
LIP_TURNS = ("lip_offset_ms", "turns")
LIP_FRAME = ("lip_offset_ms", "frame")
LIP_LINE = "lip_offset_ms"
MOUTH_SIGNALS = ("lip_confidence", "signals")
FOLEY_EVENTS = ("foley_offset_ms", "events")
DECAYS = ("rt60_s", "decays")


class HeardWord(TypedDict):
    """One word as heard (normalised), with its times."""

    text: str
    start_s: float
    end_s: float
    timed_by: str
    """``alignment`` (PocketSphinx, 10 ms) or ``whisper`` (Whisper's own word times, when the alignment failed)."""


class LineCheck(TypedDict):
    """One prompt line against the transcript."""

    text: str
    language: str
    prompt_start_s: float | None
    n_words: int
    wer: float | None
    missing: list[str]
    """Words of the line not heard at all."""
    substituted: list[str]
    """``said->heard`` for words heard as another word."""
    extra: list[str]
    matched: int
    start_s: float | None
    """When the line starts, heard (s)."""
    start_source: str | None
    """``alignment``, ``speech onset`` (the first words were not heard) or ``whisper word time``."""
    start_offset_s: float | None
    note: str | None
    reason: str | None
    """Why the line has no reading (another language, not recognised, no speech)."""


class SpokenEvidence(TypedDict):
    """Details of ``line_wer``: the transcript and every line."""

    transcript: str | None
    """The kept words as Whisper wrote them (hallucinated segments dropped)."""
    model: str | None
    avg_logprob: float | None
    dropped: list[dict[str, object]]
    """Segments dropped as hallucinations: ``text``, ``start_s``, ``end_s``, ``why``."""
    words: list[HeardWord]
    lines: list[LineCheck]
    not_checked: list[str]
    """Lines in a language no offline model covers, with the reason."""
    vad: str
    speech_s: float
    fit_margin: float | None
    """How much better (+) or worse (-) the prompt's words fit the sound than the words heard: the mean
    acoustic score per 10 ms of the forced alignment (PocketSphinx) of each, over the same stretch.
    None when the words agree or it was not computed."""
    line_fits: bool | None
    """False when the prompt's words cannot be aligned to the sound at all (None: not tried)."""


class DeliveryEvidence(TypedDict):
    """Details of ``speech_rate_syll_s``."""

    syllables: int
    words: int
    speaking_time_s: float
    pause_s: float
    words_per_s: float
    asked_pace: str | None
    """The pace word of the prompt's delivery (``slow``, ``hurried``...), if any."""
    asked_range: list[float] | None


class LipEventPair(TypedDict):
    """One bilabial event of the audio paired with a lip event."""

    kind: str
    """``release`` or ``closure``."""
    t: float
    """Audio time of the event (s)."""
    offset_ms: float
    """Audio minus lip time (+ = audio late)."""


class PhoneticEvidence(TypedDict):
    """Details of ``lip_offset_phonetic_ms``."""

    face: int
    n_events: int
    n_audio_events: int
    n_lip_events: int
    z: float | None
    mode_ms: float | None
    median_ms: float | None
    mad_ms: float | None
    events: list[LipEventPair]
    audio_events: list[dict[str, object]]
    """Every bilabial event found in the audio: ``kind``, ``phone``, ``t``, ``word``."""


SPOKEN_WORDS = ("line_wer", "words")
SPOKEN_LINES = ("line_wer", "lines")
PHONETIC_EVENTS = ("lip_offset_phonetic_ms", "events")
