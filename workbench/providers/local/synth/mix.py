"""The sound of a clip: speech, foley, room, ambience and music stems, mixed at known levels.

Everything is first laid out on the *picture* timeline (with a pre-roll, so that a delayed track
still starts with ambience), then the variant's timing defect maps it to the audio timeline:
``audio(t) = mix(t - offset)`` (``dubbed``) or ``audio(t) = mix(t / (1 + rate))`` (``drift``).
Stem levels are fixed in dBFS before one final gain (peak at most -1 dBFS), so the ratios between
stems recorded in the ground truth are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import oaconvolve

from workbench.prompt import Prompt
from workbench.providers.local.synth import lips, room, sounds
from workbench.providers.local.synth.speech import synthesize
from workbench.providers.local.synth.variants import (
    DRY_ROOM_DRR_DB,
    DRY_ROOM_RT60_S,
    GENERIC_DRR_DB,
    GENERIC_RT60_S,
    VariantParams,
    spoken_text,
)

SR = 48000
PRE_S = 0.5
#: Active speech level (RMS over voiced 10 ms frames, dBFS) before the final gain.
SPEECH_DBFS = -20.0
WHISPER_DBFS = -28.0
#: Foley peak level (dBFS, dry) by sound kind.
FOLEY_PEAK_DBFS = {"footstep": -10.0, "knock": -9.0, "glass": -11.0, "clap": -5.0, "slam": -3.0}
#: Ambience RMS (dBFS): a bed with an audible source, or room tone only.
AMBIENCE_DBFS = -46.0
ROOM_TONE_DBFS = -54.0
#: Music RMS (dBFS): under dialogue (14 dB under the speech level) or featured.
MUSIC_UNDER_DBFS = SPEECH_DBFS - 14.0
MUSIC_FEATURED_DBFS = -24.0
#: The generic stock bed: music level, impact times (s, dropped near a visible contact) and level.
GENERIC_MUSIC_DBFS = -30.0
GENERIC_IMPACT_PEAK_DBFS = -4.0
_GENERIC_GAPS_S = (1.4, 1.3, 1.6, 1.3, 1.4, 1.5)
GENERIC_IMPACTS_S = tuple(round(0.9 + sum(_GENERIC_GAPS_S[i % 6] for i in range(k)), 2) for k in range(45))
GENERIC_IMPACT_GAP_S = 0.35
PEAK_DBFS = -1.0
_FRAME = 0.01  # energy frame (s)


@dataclass
class Stems:
    """Wet stems on the picture timeline (sample ``PRE_S * SR`` is picture time 0)."""

    speech: np.ndarray
    foley: np.ndarray
    ambience: np.ndarray
    music: np.ndarray
    speech_dry: np.ndarray

    def mix(self) -> np.ndarray:
        """Sum of the stems."""
        return self.speech + self.foley + self.ambience + self.music


@dataclass
class AudioResult:
    """The mixed audio track and what is known about it.

    Attributes
    ----------
    y : np.ndarray, shape (round(duration * SR),), float32
        The audio track on the audio timeline.
    speech_picture : np.ndarray, shape (round(duration * SR),)
        Dry speech on the picture timeline (what the mouth follows).
    truth : dict
        Ground-truth entries for this track (room, levels, ratios).
    lines : list of dict
        The dialogue lines on the picture timeline (voiced start/end, words).
    """

    y: np.ndarray
    speech_picture: np.ndarray
    truth: dict = field(default_factory=dict)
    lines: list[dict] = field(default_factory=list)


def _rng(prompt: Prompt, seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(prompt.content_hash()[:12], 16), seed, part])


def _frame_energy(y: np.ndarray, sr: int) -> np.ndarray:
    hop = int(_FRAME * sr)
    n = len(y) // hop
    return (y[: n * hop].reshape(n, hop) ** 2).mean(axis=1)


def voiced_intervals(y: np.ndarray, *, sr: int, floor_db: float = -35.0, bridge_s: float = 0.06) -> list[list[float]]:
    """Intervals (s) where 10 ms frame energy is within ``floor_db`` of the loudest frame; gaps < bridge merged."""
    e = _frame_energy(y, sr)
    if len(e) == 0 or e.max() <= 0:
        return []
    on = e > e.max() * 10 ** (floor_db / 10)
    out: list[list[float]] = []
    for i in np.flatnonzero(on):
        t0, t1 = i * _FRAME, (i + 1) * _FRAME
        if out and t0 - out[-1][1] <= bridge_s:
            out[-1][1] = t1
        else:
            out.append([t0, t1])
    return out


def _active_rms(y: np.ndarray, sr: int) -> float:
    e = _frame_energy(y, sr)
    if len(e) == 0 or e.max() <= 0:
        return 0.0
    return float(np.sqrt(e[e > e.max() * 1e-3].mean()))


def _place(track: np.ndarray, x: np.ndarray, t_s: float) -> None:
    i = int(round((t_s + PRE_S) * SR))
    if i >= len(track):
        return
    m = min(len(x), len(track) - i)
    track[i : i + m] += x[:m]


def _speech(prompt: Prompt, n: int, params: VariantParams | None = None) -> tuple[np.ndarray, list[dict]]:
    params = params or VariantParams("synced")
    dry = np.zeros(n)
    lines = []
    for line in prompt.dialogue:
        text = spoken_text(line.text, params)
        u = synthesize(
            text, language=line.language, speaker=line.speaker, delivery=line.delivery, sr=SR, rate_wpm=params.rate_wpm
        )
        target = WHISPER_DBFS if "whisper" in line.delivery.lower() else SPEECH_DBFS
        y = u.y.astype(np.float64) * 10 ** (target / 20) / max(_active_rms(u.y, SR), 1e-9)
        at = line.start_s + params.line_delay_s
        _place(dry, y, at)
        iv = voiced_intervals(y, sr=SR)
        v0, v1 = (iv[0][0], iv[-1][1]) if iv else (0.0, len(y) / SR)
        entry = {
            "text": text,
            "language": line.language,
            "speaker": line.speaker,
            "voice": u.voice,
            "placed_s": at,
            "start_s": at + v0,
            "end_s": at + v1,
            "words": [{"text": w, "start_s": at + t} for w, t in u.words],
        }
        if text != line.text or params.line_delay_s or params.rate_wpm is not None:
            entry["prompt_text"] = line.text
            entry["prompt_start_s"] = line.start_s
            entry["rate_wpm"] = params.rate_wpm
        if params.bilabial_lips:
            entry["bilabials"] = [
                {**b, "close_s": round(at + float(b["close_s"]), 4), "release_s": round(at + float(b["release_s"]), 4)}
                for b in lips.bilabials(y=y, sr=SR, phonemes=u.phonemes)
            ]
        lines.append(entry)
    return dry, lines


def _rir(prompt: Prompt, params: VariantParams, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The RIR to apply and its facts (target and measured)."""
    if params.generic:
        rt, drr = GENERIC_RT60_S, GENERIC_DRR_DB
    elif params.dry_room:
        rt, drr = DRY_ROOM_RT60_S, DRY_ROOM_DRR_DB
    else:
        rt, drr = room.rt60_target(prompt), room.SHOT_DRR_DB.get(prompt.shot, 3.0)
    if rt is None:
        echo = "echo" in prompt.acoustics.description.lower()
        h = room.outdoor_rir(echo=echo, sr=SR)
        facts = {
            "rt60_target_s": None,
            "rt60_s": None,
            "drr_target_db": None,
            "echo_s": room.OUTDOOR_ECHO_S if echo else None,
        }
    else:
        h = room.synth_rir(rt60=rt, drr_db=drr, sr=SR, rng=rng)
        facts = {"rt60_target_s": rt, "rt60_s": room.measure_rt60(h=h, sr=SR), "drr_target_db": drr, "echo_s": None}
    facts["drr_db"] = room.measure_drr(h=h, sr=SR)
    return h, facts


def _wet(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    if len(h) == 1:
        return x * h[0]
    return oaconvolve(x, h)[: len(x)]


def _generic_times(prompt: Prompt, duration: float) -> list[float]:
    visible = [ev.at_s for ev in prompt.foley]
    return [
        t for t in GENERIC_IMPACTS_S if t < duration - 0.3 and all(abs(t - v) > GENERIC_IMPACT_GAP_S for v in visible)
    ]


def build_stems(prompt: Prompt, params: VariantParams, *, seed: int) -> tuple[Stems, dict, list[dict]]:
    """All stems on the picture timeline, the room facts and the speech lines (picture time)."""
    d = prompt.duration_s
    n = int(round((d + 2 * PRE_S) * SR))
    speech_dry, lines = _speech(prompt, n, params)
    zeros = np.zeros(n)
    if params.generic:
        g = np.random.default_rng(20240917)  # the same bed for every prompt
        h, facts = _rir(prompt, params, g)
        hits = np.zeros(n)
        for t in _generic_times(prompt, d):
            _place(hits, sounds.impact("knock", sr=SR, rng=g) * 10 ** (GENERIC_IMPACT_PEAK_DBFS / 20), t)
        amb = sounds.ambience(["room_tone"], n=n, sr=SR, rng=g) * 10 ** (ROOM_TONE_DBFS / 20)
        mus = sounds.music(n=n, sr=SR, bpm=96.0, offset_beats=6) * 10 ** (GENERIC_MUSIC_DBFS / 20)
        facts.update(
            audio_space_class="room",
            ambience=["room_tone"],
            music="generic",
            generic_impacts_s=_generic_times(prompt, d),
        )
        # no speech is heard, but the picture still shows the prompt's talking face (speech_dry)
        return Stems(zeros, _wet(hits, h), amb, mus, speech_dry), facts, lines
    # dry-room: the same studio (RIR and room tone) for every prompt, whatever its space
    fixed = np.random.default_rng([20240918, seed])
    h, facts = _rir(prompt, params, fixed if params.dry_room else _rng(prompt, seed, 1))
    foley = np.zeros(n)
    frng = _rng(prompt, seed, 2)
    for ev in prompt.foley:
        kind = sounds.foley_kind(ev)
        x = sounds.impact(kind, sr=SR, rng=frng) * 10 ** (FOLEY_PEAK_DBFS[kind] / 20)
        _place(foley, x, ev.at_s + params.foley_offset_ms / 1000)
    if params.dry_room:
        comps, amb_db = ["room_tone"], ROOM_TONE_DBFS
    else:
        comps = sounds.ambience_components(prompt.ambience)
        amb_db = AMBIENCE_DBFS if len(comps) > 1 else ROOM_TONE_DBFS
    amb_rng = fixed if params.dry_room else _rng(prompt, seed, 3)
    amb = sounds.ambience(comps, n=n, sr=SR, rng=amb_rng) * 10 ** (amb_db / 20)
    mus = np.zeros(n)
    if prompt.music.mode != "none":
        level = MUSIC_UNDER_DBFS if prompt.music.mode == "under_dialogue" else MUSIC_FEATURED_DBFS
        mus = sounds.music(n=n, sr=SR) * 10 ** (level / 20)
    space = "dry" if params.dry_room else prompt.acoustics.space_class()
    facts.update(audio_space_class=space, ambience=comps, music=prompt.music.mode)
    return Stems(_wet(speech_dry, h), _wet(foley, h), amb, mus, speech_dry), facts, lines


def _stem_db(x: np.ndarray) -> float | None:
    """RMS level in dBFS (before the final gain); None for a silent stem."""
    p = float(np.mean(x**2)) if len(x) else 0.0
    return round(10 * math.log10(p), 2) if p > 0 else None


def speech_to_background_db(stems: Stems) -> float | None:
    """Speech over everything else (dB), on the samples of voiced speech frames (picture timeline)."""
    e = _frame_energy(stems.speech_dry, SR)
    if len(e) == 0 or e.max() <= 0:
        return None
    hop = int(_FRAME * SR)
    mask = np.repeat(e > e.max() * 10 ** (-35 / 10), hop)
    mask = np.concatenate([mask, np.zeros(len(stems.speech_dry) - len(mask), bool)])
    s = float(np.mean(stems.speech[mask] ** 2))
    b = float(np.mean((stems.foley + stems.ambience + stems.music)[mask] ** 2))
    return round(10 * math.log10(s / b), 2) if b > 0 else None


def to_audio_time(t: float, params: VariantParams) -> float:
    """Audio time (s) at which picture time ``t`` is heard."""
    return t * (1 + params.drift_ms_per_s / 1000) + params.offset_ms / 1000


def line_truth(lines: list[dict], params: VariantParams, duration_s: float) -> dict:
    """Ground truth of the line variants (nothing for the others, whose ground truth stays as it was).

    ``spoken_lines``: per line, what was said against what the prompt asked (``text``, ``prompt_text``,
    ``start_s`` heard in audio time against ``prompt_start_s``, ``rate_wpm``); ``bilabial_events``: every
    /p b m/ closure and release in picture time and audio time (the lips part at ``release_s``).
    """
    out: dict = {}
    changed = [ln for ln in lines if "prompt_text" in ln]
    if changed:
        out["spoken_lines"] = [
            {
                "text": ln["text"],
                "prompt_text": ln["prompt_text"],
                "start_s": round(to_audio_time(ln["start_s"], params), 4),
                "prompt_start_s": ln["prompt_start_s"],
                "rate_wpm": ln["rate_wpm"],
            }
            for ln in changed
        ]
    if params.bilabial_lips:
        out["bilabial_events"] = [
            {
                "phone": b["phone"],
                "close_s": b["close_s"],
                "release_s": b["release_s"],
                "audio_close_s": round(to_audio_time(b["close_s"], params), 4),
                "audio_release_s": round(to_audio_time(b["release_s"], params), 4),
            }
            for ln in lines
            for b in ln.get("bilabials", [])
            if b["release_s"] < duration_s
        ]
    return out


def render_audio(prompt: Prompt, params: VariantParams, *, seed: int) -> AudioResult:
    """Build the stems, apply the variant's timing, mix and normalise."""
    stems, facts, lines = build_stems(prompt, params, seed=seed)
    n_out = int(round(prompt.duration_s * SR))
    mix = stems.mix()
    i0 = int(round(PRE_S * SR))
    if params.drift_ms_per_s:
        pos = i0 + np.arange(n_out) / (1 + params.drift_ms_per_s / 1000)
        y = np.interp(pos, np.arange(len(mix)), mix)
    else:
        k = i0 - int(round(params.offset_ms / 1000 * SR))
        y = mix[k : k + n_out]
    # one gain from the whole timeline (pre- and post-roll included): the same for synced, dubbed and drift
    peak = float(np.max(np.abs(mix)))
    gain = min(1.0, 10 ** (PEAK_DBFS / 20) / peak) if peak > 0 else 1.0
    y = (y * gain).astype(np.float32)
    out_peak = float(np.max(np.abs(y))) if len(y) else 0.0
    win = slice(i0, i0 + n_out)
    truth = dict(facts)
    truth.update(
        mix_gain_db=round(20 * math.log10(gain), 3),
        peak_dbfs=round(20 * math.log10(out_peak), 2) if out_peak > 0 else None,
        stem_rms_dbfs={
            "speech": _stem_db(stems.speech[win]),
            "foley": _stem_db(stems.foley[win]),
            "ambience": _stem_db(stems.ambience[win]),
            "music": _stem_db(stems.music[win]),
        },
        speech_to_background_db=None if params.generic else speech_to_background_db(stems),
    )
    return AudioResult(y=y, speech_picture=stems.speech_dry[win].copy(), truth=truth, lines=lines)
