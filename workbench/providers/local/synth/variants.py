"""The local reference models' variants: one documented defect each, with its parameters.

The picture is the same for every variant of a prompt; only the sound changes, and only in the
way stated here. A positive offset means the sound comes after the picture (audio late).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Constant audio delay of ``dubbed`` by seed (``seed % 5``): 120 to 280 ms, 200 ms for seed 0.
DUB_OFFSETS_MS = (200.0, 160.0, 240.0, 280.0, 120.0)
#: Drift rate of ``drift`` by seed (``seed % 3``), ms of extra audio delay per second of picture.
DRIFT_RATES_MS_PER_S = (30.0, 20.0, 40.0)
#: How late ``late-foley`` puts every foley sound.
LATE_FOLEY_MS = 300.0
#: RT60 and DRR of the one studio room ``dry-room`` uses for every prompt.
DRY_ROOM_RT60_S = 0.1
DRY_ROOM_DRR_DB = 10.0
#: RT60 and DRR of the small room applied to the ``generic`` stock bed.
GENERIC_RT60_S = 0.5
GENERIC_DRR_DB = 3.0
#: The lines ``wrong-line`` says instead of the prompt's (``seed % 5``; the next one when it is the prompt's own).
WRONG_LINES = (
    "Nobody knew where the old key was hidden.",
    "Turn left at the corner and walk two blocks.",
    "Please hand me the red cup on the table.",
    "My brother plays the violin every evening.",
    "We will meet again tomorrow at noon.",
)
#: How late ``late-line`` starts each line after the prompt's start time, by seed (``seed % 5``), s:
#: every one beyond the spoken-line check's 0.5 s tolerance.
LATE_LINE_S = (1.0, 0.8, 1.2, 1.5, 0.9)
#: The speaking rate of ``rushed-line`` (words per minute): espeak-ng's default 175 x 1.7.
RUSHED_WPM = 300

VARIANTS: dict[str, str] = {
    "synced": "No defect: speech, mouth and foley in sync; the room, ambience and music the prompt asks for.",
    "dubbed": "The whole audio track is late by a constant offset (200 ms for seed 0; 120-280 ms by seed).",
    "drift": "The audio is time-stretched so it falls progressively late: 0 at t=0, +30 ms per second (seed 0).",
    "late-foley": "Every foley sound lands 300 ms after its visible contact; speech stays in sync.",
    "dry-room": "The same dead studio (RT60 about 0.1 s) and studio room tone for every prompt, whatever the space.",
    "generic": "A stock bed unrelated to the shot: the same music, room and impacts for every prompt; no speech.",
    "wrong-line": "Says another line than the prompt's (one of five fixed English lines by seed); lips in sync with what it says.",
    "half-line": "Says only the first half of each line's words, then stops; lips in sync.",
    "late-line": "Starts every line late: 1.0 s after the prompt's start time (0.8-1.5 s by seed); lips in sync.",
    "rushed-line": "Says every line too fast: 300 words per minute (1.7x the voice's 175); lips in sync.",
    "articulated": "No defect, as synced, but the lips also close for every /p b m/ and part exactly when the sound "
    "releases them (espeak-ng's phoneme times): the case the phonetic lip offset is checked on.",
}


@dataclass(frozen=True)
class VariantParams:
    """What a variant changes, in numbers.

    Attributes
    ----------
    offset_ms : float
        Constant delay of the whole audio track (+ = audio late).
    drift_ms_per_s : float
        Extra delay per second of picture time (audio time = picture time x (1 + rate/1000)).
    foley_offset_ms : float
        Delay of the foley sounds only.
    dry_room : bool
        Replace the room and the ambience by the fixed studio ones.
    generic : bool
        Replace the whole sound by the stock bed.
    line_edit : str or None
        ``wrong`` (say a line of :data:`WRONG_LINES`) or ``half`` (the first half of the words).
    line_delay_s : float
        Every line starts this much after the prompt's start time.
    rate_wpm : int or None
        Speaking rate (words per minute; None: the voice's default).
    bilabial_lips : bool
        The mouth also closes for each /p b m/ (:mod:`workbench.providers.local.synth.lips`).
    """

    name: str
    offset_ms: float = 0.0
    drift_ms_per_s: float = 0.0
    foley_offset_ms: float = 0.0
    dry_room: bool = False
    generic: bool = False
    line_edit: str | None = None
    line_delay_s: float = 0.0
    rate_wpm: int | None = None
    bilabial_lips: bool = False
    wrong_line_index: int = 0


def variant_params(variant: str, *, seed: int = 0) -> VariantParams:
    """Parameters of ``variant`` for ``seed``.

    Raises
    ------
    KeyError
        For an unknown variant (the message lists the known ones).
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown local variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "dubbed":
        return VariantParams(variant, offset_ms=DUB_OFFSETS_MS[seed % len(DUB_OFFSETS_MS)])
    if variant == "drift":
        return VariantParams(variant, drift_ms_per_s=DRIFT_RATES_MS_PER_S[seed % len(DRIFT_RATES_MS_PER_S)])
    if variant == "late-foley":
        return VariantParams(variant, foley_offset_ms=LATE_FOLEY_MS)
    if variant == "dry-room":
        return VariantParams(variant, dry_room=True)
    if variant == "generic":
        return VariantParams(variant, generic=True)
    if variant == "wrong-line":
        return VariantParams(variant, line_edit="wrong", wrong_line_index=seed % len(WRONG_LINES))
    if variant == "half-line":
        return VariantParams(variant, line_edit="half")
    if variant == "late-line":
        return VariantParams(variant, line_delay_s=LATE_LINE_S[seed % len(LATE_LINE_S)])
    if variant == "rushed-line":
        return VariantParams(variant, rate_wpm=RUSHED_WPM)
    if variant == "articulated":
        return VariantParams(variant, bilabial_lips=True)
    return VariantParams(variant)


def spoken_text(text: str, params: VariantParams) -> str:
    """What a variant says for a prompt line ``text``."""
    if params.line_edit == "wrong":
        k = params.wrong_line_index
        if WRONG_LINES[k].strip().lower() == text.strip().lower():
            k = (k + 1) % len(WRONG_LINES)
        return WRONG_LINES[k]
    if params.line_edit == "half":
        words = text.split()
        return " ".join(words[: max(1, len(words) // 2)])
    return text
