"""Acoustic match and mix balance analyzers.

``acoustic``: does the sound come from the space the prompt describes? Blind RT60 from free
decays, an early/late (C50-like) ratio around impulsive onsets as a direct-to-reverberant
proxy, the noise floor and the ambience level, a coarse space class, and a 0..1 match
against the prompt's expected RT60 range and shot size.

``mix``: is the dialogue intelligible over music and ambience? Speech-to-background ratio
while speech is active, and dialogue-gated loudness. Speech is gated by the statistical gate
(:func:`workbench.metrics.kernels.levels.speech_activity`). The learned voice activity (Silero VAD,
:mod:`workbench.metrics.voice`) finds speech better under loud beds, but gating this ratio with it
was measured worse on the dynamic beds (``benchmarks/validate_acoustic.py --gate silero``: p90
error 4.55 dB against 1.70 dB, a swelling pad 7.6 dB; README, "The spoken line": voice activity),
so ``mix_scores`` takes it only when given (``voice``).

Both read one shared :class:`AudioScene` (slot :data:`SCENE` of the clip's memo), computed once per clip.
Methods and references are in :mod:`workbench.metrics.kernels.reverb` and
:mod:`workbench.metrics.kernels.levels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from workbench.metrics.context import ClipContext, Slot
from workbench.metrics.evidence import Decay, Rt60Evidence
from workbench.metrics.kernels.levels import (
    BS1770_BLOCK_S,
    SILENCE_LUFS,
    FloorFeatures,
    SpeechActivity,
    ambience_level,
    floor_features,
    integrated_loudness,
    noise_floor,
    speech_activity_frames,
    speech_to_background,
    stft_power,
)
from workbench.metrics.kernels.reverb import Rt60Estimate, early_late_ratio, impulsive_onsets, rt60_blind, rt60_ml
from workbench.metrics.registry import analyzer
from workbench.metrics.spec import ACOUSTIC, MIX, Score
from workbench.metrics.speech import heard_words
from workbench.metrics.voice import MIN_VOICE_S, learned_activity
from workbench.prompt import RT60_RANGES, Prompt

#: Fewer free decays than this: no RT60 (abstain).
MIN_DECAYS = 3
#: Frame hop of the voice-activity gate and level envelopes.
HOP_S = 0.01
#: The statistical gate must mark at least this much speech (s) for a speech-to-background ratio.
MIN_GATE_SPEECH_S = 0.3
#: Where Silero hears no voice, Whisper must hear at least this many words (as the line check counts
#: them: punctuation is no word) for the clip to have speech. A bed at the margin gives a trace: on the real drums clip Whisper writes
#: nothing, or a lone "." segment (log-probability -1.01 or just above -1.0, no-speech probability
#: 0.58) as the input's last bits change; a whispered line gives a sentence (the built-in one: 8).
MIN_HEARD_WORDS = 2
#: Speech frames are widened by this much on each side before the background is read (s).
SPEECH_PAD_S = 0.1
#: An impulsive event masks this much after its onset (s).
EVENT_PAD_S = 0.5
#: Space-class boundaries on RT60 (s), from :data:`workbench.prompt.RT60_RANGES`:
#: below "short" is dry, "short"/"medium" a room, "long" and above a large hall.
DRY_MAX_RT60 = RT60_RANGES["short"][0]
ROOM_MAX_RT60 = RT60_RANGES["long"][0]
#: A short-decay clip is "outdoor" rather than "dry" when its background is a designed,
#: audible bed rather than room tone: its typical level within 35 dB of the foreground's
#: 95th-percentile level, i.e. about 30 dB under the dialogue loudness (film practice puts
#: ambience beds 10-25 dB under dialogue, room tone and microphone noise 30-50 dB under),
#: and broadband: spectral flatness over 100-6000 Hz at least 0.04 (mains or HVAC hum is
#: below 0.02, natural beds 0.04-0.6: a low wind bed, the local models' quiet street, reads 0.046;
#: 0.05 before, which read that street as a dead booth; the space-class validation is the same at
#: 0.04 and 0.05, 87.6 % with the same 12 misses over seeds 0-2).
OUTDOOR_BED_REL_DB = -35.0
OUTDOOR_MIN_FLATNESS = 0.04
#: ... and only when there is no diffuse tail at all: open air has no diffuse field (RT60 ~ 0,
#: only discrete echoes), the blind estimator reads 0.10-0.13 s on anechoic speech (the speech
#: offsets themselves), and enclosed dead spaces reach up to 0.2 s (vocal booth, car) or more
#: (a furnished small room, 0.2-0.3 s). A tail of 0.2 s or longer is therefore an enclosure,
#: however loud its noise floor: "dry", not "outdoor" (metric-methods.md section 5 table).
OUTDOOR_MAX_RT60 = 0.2
#: Expected early/late ratio (dB, C50-like) by shot size: a close source sits inside the
#: critical distance (direct sound dominates), a distant one outside it (Kuttruff; Sabine theory).
SHOT_ELR_RANGE: dict[str, tuple[float, float]] = {
    "extreme_close_up": (5.0, math.inf),
    "close_up": (5.0, math.inf),
    "medium_close_up": (0.0, math.inf),
    "medium": (-math.inf, math.inf),
    "wide": (-math.inf, 15.0),
    "extreme_wide": (-math.inf, 10.0),
}


@dataclass
class AudioScene:
    """Everything both analyzers need from one clip's audio, computed once."""

    y: np.ndarray
    sr: int
    silent: bool
    rt: Rt60Estimate | None = None
    rt_ml: Rt60Estimate | None = None
    """Second estimator (maximum likelihood, Löllmann et al. 2010), reported in details only."""
    onsets: np.ndarray | None = None
    elr_db: np.ndarray | None = None
    vad: SpeechActivity | None = None
    noise_floor_dbfs: float | None = None
    ambience_dbfs: float | None = None
    floor: FloorFeatures | None = None


def _event_mask(onsets: np.ndarray, rt: Rt60Estimate, speech: np.ndarray) -> np.ndarray:
    """Frames that are not background: speech (+100 ms), events (0.5 s) and free decays."""
    pad = 2 * int(round(SPEECH_PAD_S / HOP_S)) + 1  # +-100 ms in frames of HOP_S
    m = ndimage.binary_dilation(speech, structure=np.ones(pad)) if speech.any() else speech.copy()
    for t in onsets:
        m[int(t / HOP_S) : int((t + EVENT_PAD_S) / HOP_S)] = True
    for d in rt.decays:
        m[int(d.start_s / HOP_S) : int(d.end_s / HOP_S) + 1] = True
    return m


def analyse_audio(*, y: np.ndarray, sr: int) -> AudioScene:
    """Compute the shared intermediate results for one mono clip.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio (16 kHz in the pipeline), at least 0.4 s.
    sr : int

    Returns
    -------
    AudioScene
        ``silent`` is True (and nothing else is set) for a track below -70 LUFS.
    """
    y = np.asarray(y, dtype=np.float64)
    lufs = integrated_loudness(y=y, sr=sr) if len(y) >= int(BS1770_BLOCK_S * sr) else -math.inf
    if not np.isfinite(lufs) or lufs <= SILENCE_LUFS:
        return AudioScene(y=y, sr=sr, silent=True)
    rt = rt60_blind(y=y, sr=sr, min_decays=MIN_DECAYS)
    power, freqs = stft_power(y=y, sr=sr, hop_s=HOP_S)
    vad = speech_activity_frames(y=y, sr=sr, power=power, freqs=freqs, hop_s=HOP_S)
    onsets = impulsive_onsets(y=y, sr=sr)
    nf = noise_floor(y=y, sr=sr)
    elr = early_late_ratio(y=y, sr=sr, onsets=onsets, noise_power=10 ** (nf / 10)) if len(onsets) else np.zeros(0)
    exclude = _event_mask(onsets, rt, vad.mask)
    return AudioScene(
        y=y,
        sr=sr,
        silent=False,
        rt=rt,
        rt_ml=rt60_ml(y=y, sr=sr),
        onsets=onsets,
        elr_db=elr,
        vad=vad,
        noise_floor_dbfs=nf,
        ambience_dbfs=ambience_level(y=y, sr=sr, exclude=exclude, hop_s=HOP_S),
        floor=floor_features(y=y, sr=sr, exclude=exclude, hop_s=HOP_S, power=power, freqs=freqs),
    )


#: The clip's acoustic scene (or why there is none), shared by the acoustic and mix analyzers.
SCENE: Slot[AudioScene | str] = Slot("acoustic scene")


def _scene(ctx: ClipContext) -> AudioScene | str:
    d = ctx.decoded
    if not ctx.info.has_audio or len(d.audio) == 0:
        return "no audio stream"
    if len(d.audio) < int(BS1770_BLOCK_S * d.sr):
        return "audio shorter than 400 ms"
    return analyse_audio(y=d.audio, sr=d.sr)


def scene_for(ctx: ClipContext) -> AudioScene | str:
    """The clip's :class:`AudioScene` (computed on first use, shared through ``ctx.memo``), or why not."""
    return ctx.memo.get(SCENE, lambda: _scene(ctx))


def classify_space(*, rt60_s: float, floor: FloorFeatures) -> str:
    """Coarse space class from the blind RT60 and the background floor.

    Parameters
    ----------
    rt60_s : float
        Blind RT60.
    floor : FloorFeatures

    Returns
    -------
    str
        "large_hall" (RT60 >= 1.2 s), "room" (0.3-1.2 s), "dry" (0.2-0.3 s: a short diffuse
        tail, an enclosure even when noisy); below 0.2 s (no diffuse tail) "outdoor" when an
        audible broadband bed fills the background, "dry" when it is quiet. A very dead
        enclosure with a loud broadband noise floor (a car) still reads as outdoor, and open
        air with strong discrete reflections (a courtyard) as dry.
    """
    if rt60_s >= ROOM_MAX_RT60:
        return "large_hall"
    if rt60_s >= DRY_MAX_RT60:
        return "room"
    loud_bed = floor.bed_rel_db >= OUTDOOR_BED_REL_DB and floor.flatness >= OUTDOOR_MIN_FLATNESS
    if rt60_s < OUTDOOR_MAX_RT60 and loud_bed:
        return "outdoor"
    return "dry"


def log_range_score(value: float, lo: float, hi: float) -> float:
    """1 inside ``[lo, hi]``, else ``0.5 ** (log2(value / nearest bound) ** 2)``.

    A factor of 2 outside the range scores 0.5, a factor of 4 scores 0.06.
    """
    if value <= 0:
        return 0.0
    if value < lo:
        d = math.log2(lo / value)
    elif value > hi:
        d = math.log2(value / hi)
    else:
        return 1.0
    return 0.5 ** (d * d)


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} s"


def acoustic_scores(scene: AudioScene, prompt: Prompt | None) -> dict[str, Score]:
    """The ``acoustic`` analyzer's scores for one scene (see :func:`acoustic`)."""
    names = ("rt60_s", "drr_db", "noise_floor_dbfs", "ambience_db", "space_class_match", "acoustic_match")
    if scene.silent:
        return {k: Score.unscored("silent audio track") for k in names}
    rt = scene.rt
    assert rt is not None and scene.floor is not None and scene.elr_db is not None and scene.noise_floor_dbfs is not None
    out: dict[str, Score] = {}
    decays = [Decay(start_s=round(d.start_s, 3), end_s=round(d.end_s, 3), rt60_s=round(d.rt60_s, 3)) for d in rt.decays]
    ml = scene.rt_ml.rt60_s if scene.rt_ml is not None else None
    rt_details: Rt60Evidence = {
        "n_decays": rt.n_decays,
        "spread_s": round(rt.spread, 3),
        "decays": decays,
        "rt60_ml_s": None if ml is None else round(ml, 3),
    }
    if rt.rt60_s is None:
        out["rt60_s"] = Score.unscored(f"fewer than {MIN_DECAYS} free decays", **rt_details)
    else:
        out["rt60_s"] = Score(round(rt.rt60_s, 3), details=rt_details)
    elr = scene.elr_db[np.isfinite(scene.elr_db)]
    if len(elr):
        out["drr_db"] = Score(
            round(float(np.median(elr)), 2), details={"n_onsets": len(elr), "method": "C50-like early/late"}
        )
    else:
        out["drr_db"] = Score.unscored("no impulsive onsets")
    out["noise_floor_dbfs"] = Score(round(float(scene.noise_floor_dbfs), 2))
    if scene.ambience_dbfs is None:
        out["ambience_db"] = Score.unscored("no background frames (speech or events throughout)")
    else:
        out["ambience_db"] = Score(round(scene.ambience_dbfs, 2))
    fl = scene.floor
    feats = {
        "floor_rel_db": round(fl.floor_rel_db, 1),
        "bed_rel_db": round(fl.bed_rel_db, 1),
        "flatness": round(fl.flatness, 3),
        "fluctuation_db": round(fl.fluctuation_db, 2),
    }
    est = classify_space(rt60_s=rt.rt60_s, floor=fl) if rt.rt60_s is not None else None
    if prompt is None:
        out["space_class_match"] = Score.unscored("no prompt: no acoustic target", estimated=est, **feats)
    elif est is None:
        out["space_class_match"] = Score.unscored(f"fewer than {MIN_DECAYS} free decays", **feats)
    else:
        want = prompt.acoustics.space_class()
        out["space_class_match"] = Score(float(est == want), details={"estimated": est, "expected": want, **feats})
    out["acoustic_match"] = _match(rt, elr, prompt)
    return out


def _match(rt: Rt60Estimate, elr: np.ndarray, prompt: Prompt | None) -> Score:
    if prompt is None:
        return Score.unscored("no prompt: no acoustic target")
    if rt.rt60_s is None:
        return Score.unscored(f"fewer than {MIN_DECAYS} free decays")
    ac = prompt.acoustics
    rc = ac.reverb_class()
    lo, hi = ac.expected_rt60_s()
    rt_score = log_range_score(rt.rt60_s, lo, hi)
    details: dict[str, Any] = {
        "rt60_s": round(rt.rt60_s, 3),
        "expected_rt60_s": [lo, hi],
        "rt60_score": round(rt_score, 3),
    }
    reasons = []
    if rt_score < 1.0:
        reasons.append(f"RT60 {rt.rt60_s:.2g} s, prompt describes a {rc} space ({_fmt_range(lo, hi)})")
    shot_score = 1.0
    if len(elr) and ac.setting == "interior":
        e_lo, e_hi = SHOT_ELR_RANGE[prompt.shot]
        v = float(np.median(elr))
        excess = max(e_lo - v, v - e_hi, 0.0)
        shot_score = 0.5 ** ((excess / 10.0) ** 2)
        details.update(drr_db=round(v, 2), expected_drr_db=[e_lo, e_hi], shot_score=round(shot_score, 3))
        if excess > 0:
            side = "too dry/close" if v > e_hi else "too reverberant/distant"
            reasons.append(f"early/late ratio {v:.1f} dB is {side} for a {prompt.shot} shot")
    else:
        details["shot_check"] = "skipped (no impulsive onsets or exterior)"
    if reasons:
        details["reason"] = "; ".join(reasons)
    return Score(round(rt_score * shot_score, 4), details=details)


def learned_mask(voice: np.ndarray, n: int) -> np.ndarray:
    """A 100 Hz activity mask cut or padded to ``n`` frames of :data:`HOP_S`."""
    out = np.zeros(n, dtype=bool)
    k = min(n, len(voice))
    out[:k] = np.asarray(voice[:k], dtype=bool)
    return out


def mix_scores(scene: AudioScene, prompt: Prompt | None, *, voice: np.ndarray | str | None = None) -> dict[str, Score]:
    """The ``mix`` analyzer's scores for one scene (see :func:`mix`).

    ``voice`` is a learned voice activity on the 100 Hz grid (the benchmark's ``--gate silero``); None
    (the analyzer) or a reason: the scene's statistical gate. The details name the gate.
    """
    names = ("speech_to_background_db", "dialogue_loudness_lufs")
    if prompt is not None and not prompt.dialogue:
        return {k: Score.unscored("prompt has no dialogue") for k in names}
    if scene.silent:
        return {k: Score.unscored("silent audio track") for k in names}
    assert scene.vad is not None
    if isinstance(voice, np.ndarray) and scene.sr == 16000:
        mask, gate = learned_mask(voice, len(scene.vad.mask)), "silero"
    else:
        mask, gate = scene.vad.mask, "statistical" + (f" ({voice})" if isinstance(voice, str) else "")
    if mask.sum() * HOP_S < MIN_GATE_SPEECH_S:
        return {k: Score.unscored("no speech detected", gate=gate) for k in names}
    sb = speech_to_background(y=scene.y, sr=scene.sr, mask=mask, hop_s=HOP_S)
    details = {
        "gate": gate,
        "speech_fraction": round(sb.speech_fraction, 3),
        "speech_lufs": None if sb.speech_lufs is None else round(sb.speech_lufs, 2),
        "background_lufs": None if sb.background_lufs is None else round(sb.background_lufs, 2),
        "background_from": sb.background_from,
    }
    out = {
        "speech_to_background_db": (
            Score(round(sb.sbr_db, 2), details=details)
            if sb.sbr_db is not None
            else Score.unscored("no speech detected")
        ),
        "dialogue_loudness_lufs": (
            Score(round(sb.dialogue_lufs, 2), details={"speech_fraction": details["speech_fraction"]})
            if sb.dialogue_lufs is not None
            else Score.unscored("speech too short or silent for BS.1770 gating")
        ),
    }
    return out


def _all_unscored(names: tuple[str, ...], reason: str) -> dict[str, Score]:
    return {k: Score.unscored(reason) for k in names}


@analyzer("acoustic", version=3, outputs=ACOUSTIC)  # 3: outdoor beds from flatness 0.04 (a low wind bed)
def acoustic(ctx: ClipContext) -> dict[str, Score]:
    """Blind room acoustics of the clip against the prompt's acoustic space."""
    scene = scene_for(ctx)
    names = ("rt60_s", "drr_db", "noise_floor_dbfs", "ambience_db", "space_class_match", "acoustic_match")
    if isinstance(scene, str):
        return _all_unscored(names, scene)
    return acoustic_scores(scene, ctx.prompt)


def _voice_check(ctx: ClipContext, scene: AudioScene) -> tuple[bool, str]:
    """Whether the clip has dialogue to balance, and how that was decided (for the score's details).

    Silero decides (:data:`workbench.metrics.voice.MIN_VOICE_S`), except where the statistical gate hears
    speech and Silero none: a busy bed, or a whisper, which has no voicing for Silero to hear. There the
    words Whisper hears decide (:func:`workbench.metrics.speech.heard_words`, whatever the prompt says;
    the transcript is computed once per clip and shared with the speech analysis). Without either
    model the statistical gate decides alone, as before.
    """
    assert scene.vad is not None
    gate_s = float(scene.vad.mask.sum()) * HOP_S
    if gate_s < MIN_GATE_SPEECH_S:
        return True, "the statistical gate hears no speech"  # mix_scores says so
    voice = learned_activity(ctx.decoded, ctx.memo)
    if isinstance(voice, str):
        return True, f"the statistical gate alone ({voice})"
    if voice.speech_s >= MIN_VOICE_S:
        return True, f"Silero hears {voice.speech_s:.2f} s of voice"
    said = heard_words(ctx)
    if isinstance(said, str):
        return True, f"the statistical gate alone (Silero hears {voice.speech_s:.2f} s; {said})"
    if len(said) >= MIN_HEARD_WORDS:
        return True, f"Silero hears {voice.speech_s:.2f} s of voice, Whisper {len(said)} words"
    heard = f"Whisper hears {len(said)} word{'' if len(said) == 1 else 's'}" if said else "no words heard"
    return False, f"no speech detected (voice activity {voice.speech_s:.2f} s, {heard})"


# 2: no speech when Silero hears none and Whisper no words (the statistical gate finds "speech" in beds alone).
# The check reads voice.MIN_VOICE_S, voice.learned_activity and speech.heard_words: a change there that
# changes what counts as speech changes this analyzer's scores, so bump its version with it.
@analyzer("mix", version=2, outputs=MIX)
def mix(ctx: ClipContext) -> dict[str, Score]:
    """Dialogue-to-background balance of the clip.

    Whether the clip has speech at all is Silero's call, or Whisper's where Silero hears none
    (:func:`_voice_check`); where there is speech, the statistical gate marks it frame by frame
    (:func:`mix_scores`).
    """
    names = ("speech_to_background_db", "dialogue_loudness_lufs")
    if ctx.prompt is not None and not ctx.prompt.dialogue:
        return _all_unscored(names, "prompt has no dialogue")
    scene = scene_for(ctx)
    if isinstance(scene, str):
        return _all_unscored(names, scene)
    if scene.silent:
        return mix_scores(scene, ctx.prompt)
    speech, how = _voice_check(ctx, scene)
    if not speech:
        return {k: Score.unscored(how, voice_check=how) for k in names}
    scores = mix_scores(scene, ctx.prompt)
    return {k: Score(v.value, v.reason, {**v.details, "voice_check": how}) for k, v in scores.items()}
