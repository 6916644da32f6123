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

VARIANTS: dict[str, str] = {
    "synced": "No defect: speech, mouth and foley in sync; the room, ambience and music the prompt asks for.",
    "dubbed": "The whole audio track is late by a constant offset (200 ms for seed 0; 120-280 ms by seed).",
    "drift": "The audio is time-stretched so it falls progressively late: 0 at t=0, +30 ms per second (seed 0).",
    "late-foley": "Every foley sound lands 300 ms after its visible contact; speech stays in sync.",
    "dry-room": "The same dead studio (RT60 about 0.1 s) and studio room tone for every prompt, whatever the space.",
    "generic": "A stock bed unrelated to the shot: the same music, room and impacts for every prompt; no speech.",
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
    """

    name: str
    offset_ms: float = 0.0
    drift_ms_per_s: float = 0.0
    foley_offset_ms: float = 0.0
    dry_room: bool = False
    generic: bool = False


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
    return VariantParams(variant)
