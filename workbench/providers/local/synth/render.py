"""Render a structured prompt into a real MP4 with known ground truth (the ``local/<variant>`` models)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from workbench.prompt import Prompt
from workbench.providers.local.synth import face, lips, scene
from workbench.providers.local.synth.encode import encode_mp4
from workbench.providers.local.synth.mix import (
    PRE_S,
    SR,
    _speech,
    line_truth,
    render_audio,
    to_audio_time,
    voiced_intervals,
)
from workbench.providers.local.synth.sounds import foley_kind
from workbench.providers.local.synth.variants import VARIANTS, VariantParams, variant_params

FPS = 25
#: The mouth runs ahead of the voice by this much, as real speakers' mouths do (mouth-leads-voice,
#: Chandrasekaran et al. 2009). 55 ms is the natural lag the lip-sync metric calibrated on real
#: in-sync footage (``workbench.metrics.lipsync.NATURAL_LAG_MS``), so ``local/synced`` reads about 0.
MOUTH_LEAD_MS = 55.0


@dataclass(frozen=True)
class RenderedClip:
    """A rendered clip.

    Attributes
    ----------
    data : bytes
        MP4 file: H.264 (yuv420p) + AAC mono 48 kHz, 25 fps, 854x480 (16:9), 480x854 (9:16), 480x480 (1:1).
    ground_truth : dict
        JSON-serialisable facts of the clip (see :func:`render_clip`).
    """

    data: bytes
    ground_truth: dict


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _renderers(prompt: Prompt, lay: scene.Layout) -> list[face.FaceRenderer]:
    """One face per on-screen speaker, left to right; every second one mirrored (a two-shot faces inwards)."""
    base = scene.background(lay.width, lay.height)
    out = []
    for i, panel in enumerate(lay.face_panels):
        fr = face.FaceRenderer(base, panel=panel, shot=prompt.shot, mirror=i % 2 == 1)
        base = fr.base
        out.append(fr)
    return out


def _frames(prompt: Prompt, lay: scene.Layout, openings: list[np.ndarray]) -> Iterator[np.ndarray]:
    """The picture, frame by frame: each face with its own mouth opening, and the foley stage at ``k / FPS``."""
    faces = _renderers(prompt, lay)
    events = [scene.StageEvent(foley_kind(ev), ev.at_s, i) for i, ev in enumerate(prompt.foley)]
    sx, sy, sw, sh = lay.stage
    stage = scene.Stage((sw, sh), events)
    base = faces[-1].base
    for k in range(len(openings[0])):
        img = base.copy()
        for fr, o in zip(faces, openings, strict=True):
            fr.draw(img, float(o[k]))
        img[sy : sy + sh, sx : sx + sw] = stage.draw(k / FPS)
        yield img


def _speech_of(prompt: Prompt, speaker: str) -> np.ndarray:
    """One speaker's dry speech on the picture timeline, exactly as it sits in the mix (``mix._speech`` of their lines)."""
    d = prompt.duration_s
    n = int(round((d + 2 * PRE_S) * SR))
    mine = tuple(line for line in prompt.dialogue if line.speaker == speaker)
    dry, _ = _speech(prompt.model_copy(update={"dialogue": mine}), n)
    i0 = int(round(PRE_S * SR))
    return dry[i0 : i0 + int(round(d * SR))]


def _timing_truth(
    prompt: Prompt, params: VariantParams, lines: list[dict], speech: np.ndarray, who: dict[str, int] | None = None
) -> dict:
    d = prompt.duration_s

    def at(t: float) -> float:
        return to_audio_time(t, params)

    foley = []
    for ev in prompt.foley:
        onset = None if params.generic else _r(at(ev.at_s + params.foley_offset_ms / 1000))
        foley.append(
            {
                "at_s": ev.at_s,
                "visual_contact_s": _r(scene.contact_frame_time(ev.at_s, FPS)),
                "audio_onset_s": onset if onset is None or onset < d else None,
                "kind": foley_kind(ev),
                "prompt_kind": ev.kind,
            }
        )
    segments = []
    if not params.generic:
        for ln in lines:
            s0, s1 = at(ln["start_s"]), min(at(ln["end_s"]), d)
            if s0 >= d:
                continue
            segments.append(
                {
                    "start_s": _r(s0),
                    "end_s": _r(s1),
                    "text": ln["text"],
                    "language": ln["language"],
                    "speaker": ln["speaker"],
                    **({"face": who.get(ln["speaker"])} if who else {}),
                    "voice": ln["voice"],
                    "words": [
                        {"text": w["text"], "start_s": _r(at(w["start_s"]))}
                        for w in ln["words"]
                        if at(w["start_s"]) < d
                    ],
                }
            )
    voiced = (
        []
        if params.generic
        else [[_r(at(a)), _r(min(at(b), d))] for a, b in voiced_intervals(speech, sr=SR) if at(a) < d]
    )
    rate = params.drift_ms_per_s
    return {
        "audio_offset_ms": params.offset_ms,
        "drift_ms_per_s": rate,
        "drift_offsets_ms": [[float(t), round(rate * t, 3)] for t in range(math.ceil(d) + 1)] if rate else None,
        "foley_offset_ms": params.foley_offset_ms,
        "foley": foley,
        "speech_segments": segments,
        "voiced_intervals_s": voiced,
        "picture_speech_segments": [
            {"start_s": _r(ln["start_s"]), "end_s": _r(ln["end_s"]), **({"face": who.get(ln["speaker"])} if who else {})}
            for ln in lines
        ],
    }


def render_clip(prompt: Prompt, variant: str, *, seed: int = 0) -> RenderedClip:
    """Render ``prompt`` as the local reference model ``local/<variant>``.

    Parameters
    ----------
    prompt : Prompt
    variant : str
        A key of :data:`VARIANTS`.
    seed : int
        Varies the noise and, for ``dubbed``/``drift``, the offset/rate (see :mod:`workbench.providers.local.synth.variants`).

    Returns
    -------
    RenderedClip
        Deterministic: the same arguments give the same bytes and ground truth.

    Notes
    -----
    Ground-truth keys: ``variant``, ``defect``, ``fps``, ``duration_s``, ``width``, ``height``,
    ``audio_offset_ms`` (constant part, + = audio late), ``drift_ms_per_s``, ``drift_offsets_ms``
    ([picture s, ms] per second), ``foley_offset_ms``, ``rt60_s`` (measured on the applied RIR; None
    outdoors), ``rt60_target_s``, ``rt60_expected_range_s``, ``drr_db``, ``space_class`` (the prompt's),
    ``audio_space_class`` (the one rendered), ``foley`` (``at_s``, ``visual_contact_s``,
    ``audio_onset_s``, ``kind``), ``speech_segments`` (audio time: ``start_s``, ``end_s``, ``text``,
    ``language``, ``words``), ``voiced_intervals_s``, ``speech_to_background_db``, ``stem_rms_dbfs``,
    ``face`` (``present``, ``bbox``), ``mouth_lead_ms``, ``mouth_opening`` (intended, per frame, 0-1); the
    line variants add ``spoken_lines`` and ``articulated`` adds ``bilabial_events``
    (:func:`workbench.providers.local.synth.mix.line_truth`).

    With several on-screen speakers (:meth:`workbench.prompt.Prompt.on_screen`) each has a face of
    its own, side by side, whose mouth moves only on that speaker's lines: ``faces`` lists them left
    to right (``speaker``, ``position``, ``bbox``, ``mouth``, ``mirrored``, ``mouth_opening``),
    every speech segment names its ``face`` (index into ``faces``), and ``face`` / ``mouth_opening``
    describe the first. Who speaks when is ``speech_segments`` (audio time) by ``face``.
    """
    params = variant_params(variant, seed=seed)
    cast = prompt.on_screen()
    lay = scene.layout_for(prompt.aspect_ratio, faces=len(cast))
    n_frames = int(round(prompt.duration_s * FPS))
    audio = render_audio(prompt, params, seed=seed)

    def mouth(y: np.ndarray) -> np.ndarray:
        return face.mouth_track(y=y, sr=SR, n_frames=n_frames, fps=FPS, lead_s=MOUTH_LEAD_MS / 1000)

    # with several speakers each mouth moves only on its own speaker's lines
    openings = [mouth(audio.speech_picture)] if len(cast) <= 1 else [mouth(_speech_of(prompt, sp.name)) for sp in cast]
    if params.bilabial_lips:  # the articulated variant: the lips shut for /p b m/ and part on the release
        shut = [(float(b["close_s"]), float(b["release_s"])) for ln in audio.lines for b in ln.get("bilabials", [])]
        openings = [lips.close_lips(o, fps=FPS, closures=shut) for o in openings]
    data = encode_mp4(_frames(prompt, lay, openings), audio.y, width=lay.width, height=lay.height, fps=FPS, sr=SR)
    placements = [face.place_face(panel=p, shot=prompt.shot, mirror=i % 2 == 1) for i, p in enumerate(lay.face_panels)]
    placement = placements[0]
    facts = audio.truth
    lo, hi = prompt.acoustics.expected_rt60_s()
    truth = {
        "variant": variant,
        "defect": VARIANTS[variant],
        "seed": seed,
        "prompt_id": prompt.id,
        "fps": FPS,
        "duration_s": prompt.duration_s,
        "n_frames": n_frames,
        "width": lay.width,
        "height": lay.height,
        "sample_rate": SR,
        **_timing_truth(
            prompt, params, audio.lines, audio.speech_picture, {sp.name: i for i, sp in enumerate(cast)} if len(cast) > 1 else None
        ),
        "rt60_s": _r(facts["rt60_s"]),
        "rt60_target_s": _r(facts["rt60_target_s"]),
        "rt60_expected_range_s": [lo, hi],
        "drr_db": _r(facts["drr_db"], 2),
        "drr_target_db": facts["drr_target_db"],
        "echo_s": facts["echo_s"],
        "space_class": prompt.acoustics.space_class(),
        "audio_space_class": facts["audio_space_class"],
        "ambience": facts["ambience"],
        "music": facts["music"],
        "generic_impacts_s": facts.get("generic_impacts_s"),
        "speech_to_background_db": facts["speech_to_background_db"],
        "stem_rms_dbfs": facts["stem_rms_dbfs"],
        "mix_gain_db": facts["mix_gain_db"],
        "peak_dbfs": facts["peak_dbfs"],
        "face": {
            "present": True,
            "bbox": list(placement.face_box),
            "mouth": placement.mouth,
            "image": "skimage.data.astronaut",
        },
        "mouth_lead_ms": MOUTH_LEAD_MS,
        "mouth_opening": [round(float(o), 3) for o in openings[0]],
        **line_truth(audio.lines, params, prompt.duration_s),
    }
    if len(cast) > 1:
        truth["faces"] = [
            {
                "speaker": sp.name,
                "position": sp.position,
                "bbox": list(pl.face_box),
                "mouth": pl.mouth,
                "mirrored": pl.mirror,
                "mouth_opening": [round(float(o), 3) for o in op],
            }
            for sp, pl, op in zip(cast, placements, openings, strict=True)
        ]
    return RenderedClip(data=data, ground_truth=truth)
