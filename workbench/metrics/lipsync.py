"""Lip sync: audio-visual offset and drift of speech against the speaker's mouth.

The mouth opening (darkness of the mouth box that the MediaPipe face mesh finds,
:mod:`workbench.metrics.face`) and the speech-band envelope (300-4000 Hz RMS, kept within voice activity) are band-passed to the
syllable rate (2-8 Hz) on a 100 Hz grid. Then:

1. the whole clip votes for one offset line ``o(t) = a + b t`` (lags +-600 ms, drifts +-60 ms/s:
   a time-warped cross-correlation), which side peaks of quasi-periodic speech cannot fool;
2. sliding 2 s windows (hop 0.5 s) over spoken segments give windowed offsets, each window's
   cross-correlation peak taken next to that line and refined by parabolic interpolation;
3. the offset is the confidence-weighted median of the windows, the drift the slope of a
   confidence-weighted Theil-Sen line through them (reported only when it agrees with ``b``);
4. the confidence is how far the correlation peak stands above the same peak at circular
   shifts of the sound (a z-score); below :data:`MIN_CONFIDENCE` nothing but the
   confidence is reported.

With several faces whose mouths move (a two-shot, a conversation), each speech window is given
to the face whose mouth follows the speech (:mod:`workbench.metrics.kernels.speakers`): per face a
whole-clip lag, per window the correlation near it, a Viterbi path over the faces makes turns
(changing speaker costs more without a pause). The clip's offset and drift combine the turns; the
details name the face, its box and frames, and the offset of every turn; the confidence compares
the best face's correlation with the best face's correlation under shifted sound, so picking among
several mouths does not raise it. Faces under :data:`workbench.metrics.face.MIN_FACE_PX` are not
read ("face too small (N px)").

Sign: positive offset = audio late. The natural lead of the mouth over the voice,
measured on real in-sync footage, is subtracted (:data:`NATURAL_LAG_MS`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation

from workbench.errors import ParameterError
from workbench.metrics.context import ClipContext, Memo, Slot
from workbench.metrics.evidence import LineEvidence, LipEvidence, LipFace, LipTurn, LipWindow, MouthSignals
from workbench.metrics.face import FACES, FACES_WATCH, MIN_FACE_PX, MouthTrack, cached_track
from workbench.metrics.kernels import envelopes as env
from workbench.metrics.kernels import speakers, sync
from workbench.metrics.registry import analyzer
from workbench.metrics.spec import LIPSYNC, Score

RATE = env.GRID_RATE
#: Rate of the mouth / speech signals kept in the details for plots (Hz).
SIGNALS_RATE = 25
#: Syllable-rate band both signals are filtered to (Hz).
SYLLABLE_BAND = (2.0, 8.0)
WIN_S, HOP_S, MAX_LAG_S = 2.0, 0.5, 0.6
#: Less speech than this (seconds of voice activity) counts as no speech.
MIN_SPEECH_S = 1.0
#: A face must be found on at least this share of frames to be tracked as a speaker.
MIN_FACE_COVERAGE = 0.3
#: ``lip_confidence`` is the z-score of the mouth-speech correlation peak (within +-600 ms, fixed
#: lag or best drift) against the same peak at circular shifts of the sound by >= 1.2 s. Below
#: this the offset, drift and BT.1359 share are unscored (the peak does not stand out from chance).
MIN_CONFIDENCE = 2.5
#: The windowed (Theil-Sen) and whole-clip drift must agree within this (ms/s) to be reported.
DRIFT_AGREE = 10.0
#: Drift needs windows spanning at least this long.
MIN_DRIFT_SPAN_S = 2.5
#: Natural lag of the speech envelope behind mouth opening (ms), subtracted from every reading so
#: that real in-sync footage reads about 0. Anchored on the one pair aligned by construction, the
#: LRS3 mouth crop and its audio (usr_lrs3_* in ../shared/data/real/talking_faces): +59..+62 ms
#: raw with the mouth-darkness feature, within the 0-70 ms visual lead of connected speech
#: (Schwartz & Savariaux 2014). ``benchmarks/validate_sync.py --calibrate`` prints the raw readings
#: of the nominally in-sync web clips: latentsync demo1 +20, demo3 +68, sadtalker AOC +111,
#: videoretalking face4 -13 and face5 -32 (median +20; face1, a screen capture, reads -70 with the
#: inner-lip gap and is below the confidence threshold with darkness). Their spread is in the
#: files, not the measurement: decoding is exact (AAC priming and first pts honoured, see the
#: flash/click test), the lip gap, outer-lip height, lip area and darkness agree within 5 ms on
#: AOC and demo3, and each clip's windows agree with each other. The local models render the same
#: lead (``workbench.providers.local.synth.render.MOUTH_LEAD_MS``).
NATURAL_LAG_MS = 55.0
#: Only the sound within this much of voice activity takes part (s).
GATE_PAD_S = 0.25
#: Drift rates searched by the line fit (s/s).
MAX_DRIFT = 0.06
#: Drift step of the significance search (coarse: every drift searched also raises the null).
NULL_SLOPE_STEP = 0.02
#: Each window's peak is taken within this distance of the fitted line (s).
GUIDE_S = 0.08
#: Voicing strength above which a frame counts as voiced speech.
VOICED_THRESHOLD = 0.6
#: With no moving mouth, at least this much voiced speech makes "speech, but no mouth moves".
MIN_VOICED_S = 0.5
#: A mouth whose aspect ratio spans less than this (5-95 %) does not speak.
MIN_MOUTH_RANGE = 0.03
#: The mouth's darkness (its opening on every frame) must not run against its shape: on the meshed
#: frames, its Pearson correlation with the mouth aspect ratio must stay above this, else the face is
#: not read. Bright teeth in a wide-open mouth make the darkness fall as the mouth opens: on the
#: generated streamer (``vasflow_veo3_keyboard_streamer``) r is -0.69 and the reading a confident
#: -573 ms that its frames contradict, while on the 20 other real and generated faces read r runs
#: from -0.16 to +0.90 and on the local models' faces +0.75 to +0.89 (``python benchmarks/validate_faces.py``).
MIN_SHAPE_AGREEMENT = -0.4
#: ... judged on at least this many meshed frames (2 s at one mesh every 0.2 s).
MIN_SHAPE_FRAMES = 10
#: A face tracked on less than MIN_FACE_COVERAGE of a clip still takes part when tracked this long
#: (a face that enters after a cut, or a speaker who turns away for part of a long shot).
MIN_FACE_COVERAGE_S = 2.0
#: With several speaking faces (:mod:`workbench.metrics.kernels.speakers`):
#: a face keeps a lag of its own only when its whole-clip peak has at least this z against its own
#: shifts (e.g. one speaker dubbed late); the others take the strongest face's lag, since speakers
#: share the sound's timeline. The rendered two-speaker clips with one speaker dubbed need own lags;
#: a face whose darkness barely follows its mouth (a moustache in the box) must not get one.
OWN_LAG_Z = 3.0
#: Each window's peak is looked for this close to the face's expected lag (s): wider than the
#: single-face GUIDE_S, since a face's lag comes from its own windows only.
TURN_GUIDE_S = 0.12
#: Viterbi costs (correlation units, per 0.5 s hop): "nobody speaks" scores TURN_NOBODY, a change of
#: speaker costs TURN_SWITCH while the speech runs on, TURN_PAUSE_SWITCH across a pause; a run of
#: windows whose face does not beat the runner-up by TURN_MARGIN per window stays undecided. A light
#: sweep on side-by-side composites of real faces (FINDINGS of issue 14, section 4d); not tuned hard.
TURN_NOBODY, TURN_SWITCH, TURN_PAUSE_SWITCH, TURN_MARGIN = 0.25, 0.3, 0.05, 0.1
#: A face whose mouth moves less than QUIET_RATIO times the most active face's in a window (spread of
#: the landmark mouth aspect ratio, at least QUIET_FLOOR for the most active one) is not that
#: window's speaker, whatever its darkness signal does: in a two-shot of ink-painted men the right
#: man's black moustache fills his mouth box, his darkness barely moves while he speaks, and the
#: other man's still mouth was given his lines; the landmarks see his lips move (MAR spread 0.05-0.16
#: against 0.013-0.018 for the listener).
QUIET_RATIO, QUIET_FLOOR = 0.5, 0.02
#: Runs of speech shorter than this (s) given to one face are left undecided.
MIN_TURN_S = 0.4
#: Floor of the multi-face null's spread, in units of 1/sqrt(effective samples) (see
#: :func:`workbench.metrics.kernels.speakers.face_lags`).
NULL_SD_FLOOR = 0.35
#: The strongest face's lag is re-estimated from the speech in its own windows this many times.
LAG_REFINE = 1

OUTPUTS = LIPSYNC
_NAMES = [m.name for m in OUTPUTS]


def _all(reason: str, **details: Any) -> dict[str, Score]:
    return {n: Score.unscored(reason, **details) for n in _NAMES}


@dataclass(frozen=True)
class SpeechSignals:
    """Speech-band envelope, voice activity and voicing of a clip on the 100 Hz grid."""

    env: np.ndarray
    active: np.ndarray
    voiced_s: float
    """Seconds of active frames with a clear pitch (voicing > :data:`VOICED_THRESHOLD`)."""

    @property
    def active_s(self) -> float:
        """Seconds of voice activity."""
        return float(self.active.sum()) / RATE


#: The clip's speech envelope, activity and voicing, shared by lip sync and the mute test.
SPEECH: Slot[SpeechSignals] = Slot("speech signals")


def _speech_signals(clip: Any) -> SpeechSignals:
    e = env.speech_envelope(y=clip.audio, sr=clip.sr, rate=RATE)
    active = env.voice_activity(env=e, rate=RATE)
    v = env.voicing(y=clip.audio, sr=clip.sr, rate=RATE, where=active) if active.any() else np.zeros(len(e))
    return SpeechSignals(env=e, active=active, voiced_s=float(np.sum(v > VOICED_THRESHOLD)) / RATE)


def speech_signals(clip: Any, memo: Memo | None = None) -> SpeechSignals:
    """Speech envelope, activity and voicing of a decoded clip (kept in ``memo``, slot :data:`SPEECH`)."""
    if memo is None:
        return _speech_signals(clip)
    return memo.get(SPEECH, lambda: _speech_signals(clip))


def mouth_signal(track: MouthTrack, face: int, n: int, *, max_gap_s: float = 0.25) -> np.ndarray:
    """One face's mouth opening on the grid, band-passed to :data:`SYLLABLE_BAND`; NaN where the face was lost.

    Parameters
    ----------
    track : MouthTrack
    face : int
    n : int
        Grid length.
    max_gap_s : float
        Grid points farther than this from a frame with the face are NaN.
    """
    m = track.opening[face]
    ok = np.isfinite(m)
    t = track.times[ok]
    if ok.sum() < 2:
        return np.full(n, np.nan)
    grid = env.to_grid(values=m[ok], times=t, n=n, rate=RATE)
    v = env.bandpass(grid, rate=RATE, lo=SYLLABLE_BAND[0], hi=SYLLABLE_BAND[1])
    tg = np.arange(n) / RATE
    j = np.clip(np.searchsorted(t, tg), 1, len(t) - 1)
    gap = np.minimum(np.abs(tg - t[j - 1]), np.abs(t[j] - tg))
    v[gap > max_gap_s] = np.nan
    return v


def mouth_moves(track: MouthTrack, face: int) -> bool:
    """Whether a face's mouth opens and closes (MAR 5-95 % range over the meshed frames of at least
    :data:`MIN_MOUTH_RANGE`)."""
    m = track.mar[face]
    m = m[np.isfinite(m)]
    if len(m) < 3:
        return False
    p5, p95 = np.percentile(m, [5, 95])
    return bool(p95 - p5 >= MIN_MOUTH_RANGE)


def shape_agreement(track: MouthTrack, face: int) -> float | None:
    """Pearson correlation of a face's mouth darkness with its mouth aspect ratio on the meshed
    frames (None with fewer than :data:`MIN_SHAPE_FRAMES` of them, or no spread)."""
    m = np.isfinite(track.mar[face]) & np.isfinite(track.opening[face])
    if m.sum() < MIN_SHAPE_FRAMES:
        return None
    a, b = track.mar[face][m], track.opening[face][m]
    if np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def measure_lipsync(clip: Any, *, memo: Memo | None = None, mouth: MouthTrack | None = None) -> dict[str, Score]:
    """Lip offset, drift, confidence and BT.1359 share of a decoded clip.

    Parameters
    ----------
    clip : DecodedClip-like
        Needs ``audio`` (mono float), ``sr``, ``gray``, ``rgb(k)`` and ``frame_times``.
    memo : Memo, optional
        The clip's shared results (``ctx.memo``): reads/writes the speech signals and the mouth track.
    mouth : MouthTrack, optional
        A precomputed track (else from the memo or computed).

    Returns
    -------
    dict[str, Score]
        One Score per output of the ``lipsync`` analyzer.
    """
    if len(clip.audio) == 0:
        return _all("no audio stream")
    sp = speech_signals(clip, memo)
    if sp.active_s < MIN_SPEECH_S:
        return _all("no speech detected", speech_s=round(sp.active_s, 2))
    if mouth is None:
        mouth = cached_track(clip, memo)
    seen = faces_seen(clip, mouth)
    faces = [f for f, c in enumerate(mouth.coverage()) if c >= MIN_FACE_COVERAGE or c * _span(clip) >= MIN_FACE_COVERAGE_S]
    heights = mouth.height_px()
    small = [f for f in faces if heights[f] < MIN_FACE_PX]
    faces = [f for f in faces if f not in small]
    if not faces:
        if small:
            h = max(float(heights[f]) for f in small)
            return _all(f"face too small ({h:.0f} px < {MIN_FACE_PX:g})", tracks=seen)
        scan = memo.peek(FACES) if memo is not None else None
        if scan is not None and len(scan.first):
            # the detector saw a face the landmark network could not read on any meshed frame
            return _all("a face is seen but its landmarks cannot be read (a strict profile, or hidden)")
        return _all("no face detected")
    moving = [f for f in faces if mouth_moves(mouth, f)]
    if not moving:
        if sp.voiced_s < MIN_VOICED_S:
            return _all("no speech detected", speech_s=round(sp.active_s, 2), voiced_s=round(sp.voiced_s, 2))
        out = _all("speech, but no visible mouth moves", tracks=seen)
        out["lip_confidence"] = Score(
            0.0, details={"faces": len(faces), "voiced_s": round(sp.voiced_s, 2), "tracks": seen}
        )
        return out
    against = {f: r for f in moving if (r := shape_agreement(mouth, f)) is not None and r < MIN_SHAPE_AGREEMENT}
    if against and len(against) == len(moving):
        r = min(against.values())
        return _all(
            f"the mouth's darkness runs against its shape (r {r:+.2f} with the lip opening): bright teeth or "
            "facial hair, its motion cannot be read",
            tracks=seen,
        )
    moving = [f for f in moving if f not in against]
    if len(moving) > 1:
        return _measure_turns(clip, mouth, sp, moving, seen, memo)
    n = len(sp.env)
    a = env.bandpass(sp.env, rate=RATE, lo=SYLLABLE_BAND[0], hi=SYLLABLE_BAND[1])
    # only speech (+- GATE_PAD_S) of the sound takes part; the picture is not gated, since at a
    # large offset the mouth that goes with a stretch of speech lies outside that stretch
    gate = binary_dilation(sp.active, iterations=int(GATE_PAD_S * RATE))
    a_gated = np.where(gate, a, 0.0)
    best: tuple[int, np.ndarray, sync.WindowedOffsets, sync.LineFit, sync.ShiftNull] | None = None
    for f in moving:
        v = mouth_signal(mouth, f, n)
        w = sync.windowed_offsets(
            video=v, audio=a, rate=RATE, active=sp.active, win_s=WIN_S, hop_s=HOP_S, max_lag_s=MAX_LAG_S
        )
        if len(w.times) == 0:
            continue
        line = sync.warped_line(video=v, audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S, max_slope=MAX_DRIFT)
        # fixed-lag peak, or (for a drifting clip, whose fixed-lag peak is smeared) the best over
        # drifts: each against shifted sound searched the same way
        null = max(
            sync.shift_null_z(video=v, audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S),
            sync.shift_null_z(
                video=v, audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S, max_slope=MAX_DRIFT, slope_step=NULL_SLOPE_STEP
            ),
            key=lambda x: x.z if np.isfinite(x.z) else -np.inf,
        )
        z = null.z if np.isfinite(null.z) else -np.inf
        if best is None or z > (best[4].z if np.isfinite(best[4].z) else -np.inf):
            best = (f, v, w, line, null)
    if best is None:
        return _all("too little speech for a 2 s window", speech_s=round(sp.active_s, 2))
    face, v, w, line, null = best
    out = _scores(w, line, null, face=face, n_faces=len(faces), speech_s=sp.active_s)
    out = _single_turn(out, clip, mouth, face, sp, seen)
    conf = out["lip_confidence"]  # the signals go with one metric only, not copied into all four
    out["lip_confidence"] = Score(conf.value, conf.reason, {**conf.details, "signals": _signals(mouth=v, speech=sp.env)})
    return out


#: The speaking mouth on the grid when several faces take turns: each speech sample takes the
#: band-passed mouth signal of its turn's face (the strongest face elsewhere). The mute test reads it.
SPEAKING: Slot[np.ndarray] = Slot("speaking mouth")


def _span(clip: Any) -> float:
    """Seconds the clip's frames cover."""
    t = np.asarray(clip.frame_times)
    return float(t[-1] - t[0]) if len(t) > 1 else 0.0


def _position(box: np.ndarray | list[float] | None, width: int) -> str:
    """Where a box lies across the frame: ``left``, ``centre`` or ``right`` third (``?`` unknown)."""
    if box is None or not width or not np.all(np.isfinite(box)):
        return "?"
    cx = (float(box[0]) + float(box[2])) / 2
    return "left" if cx < width / 3 else ("right" if cx > 2 * width / 3 else "centre")


def _median_box(mouth: MouthTrack, face: int, frames: np.ndarray) -> list[int] | None:
    if mouth.boxes is None or len(frames) == 0:
        return None
    b = mouth.boxes[face, frames]
    b = b[np.isfinite(b).all(axis=1)]
    return [int(round(x)) for x in np.median(b, axis=0)] if len(b) else None


def faces_seen(clip: Any, mouth: MouthTrack) -> list[LipFace]:
    """Every tracked face: id, size, share of the clip, median box, place in the frame, whether its mouth moves,
    and how its mouth darkness follows its shape."""
    out: list[LipFace] = []
    heights, cov = mouth.height_px(), mouth.coverage()
    width = mouth.frame_size[1]
    for f in range(mouth.n_faces):
        box = _median_box(mouth, f, np.arange(mouth.opening.shape[1]))
        out.append(
            LipFace(
                face=mouth.face_id(f),
                height_px=round(float(heights[f]), 1) if np.isfinite(heights[f]) else None,
                coverage=round(float(cov[f]), 3),
                box=box,
                position=_position(np.asarray(box, float) if box else None, width),
                moves=mouth_moves(mouth, f),
                shape_r=None if (r := shape_agreement(mouth, f)) is None else round(r, 2),
            )
        )
    return out


def _turn(
    mouth: MouthTrack, face: int, start_s: float, end_s: float, *, offset_ms: float | None, n_windows: int,
    peak: float | None, margin: float | None, z: float | None,
) -> LipTurn:  # fmt: skip
    """One turn's evidence: the face, its median box and first/last frame over the turn."""
    t = np.asarray(mouth.times)
    frames = np.flatnonzero((t >= start_s) & (t <= end_s) & np.isfinite(mouth.opening[face]))
    box = _median_box(mouth, face, frames)
    return LipTurn(
        face=mouth.face_id(face),
        position=_position(np.asarray(box, float) if box else None, mouth.frame_size[1]),
        start_s=round(float(start_s), 2),
        end_s=round(float(end_s), 2),
        frames=[int(frames[0]), int(frames[-1])] if len(frames) else [],
        box=box,
        offset_ms=None if offset_ms is None else round(float(offset_ms), 1),
        n_windows=int(n_windows),
        peak=None if peak is None else round(float(peak), 3),
        margin=None if margin is None else round(float(margin), 3),
        z=None if z is None or not np.isfinite(z) else round(float(z), 2),
    )


def _with(out: dict[str, Score], **extra: Any) -> dict[str, Score]:
    """The same scores with more evidence in every metric's details."""
    return {k: Score(v.value, v.reason, {**v.details, **extra}) for k, v in out.items()}


def _single_turn(out: dict[str, Score], clip: Any, mouth: MouthTrack, face: int, sp: SpeechSignals, seen: list[LipFace]) -> dict[str, Score]:
    """One speaking face: its one turn runs from the first to the last speech."""
    idx = np.flatnonzero(sp.active)
    off = out["lip_offset_ms"].value
    d = out["lip_confidence"].details
    wins = d.get("windows") or []
    turn = _turn(
        mouth, face, idx[0] / RATE, (idx[-1] + 1) / RATE, offset_ms=off, n_windows=len(wins),
        peak=float(np.mean([w["confidence"] for w in wins])) if wins else None, margin=None,
        z=out["lip_confidence"].value,
    )  # fmt: skip
    for w in wins:
        w["face"] = mouth.face_id(face)
    return _with(out, mode="single", face=mouth.face_id(face), turns=[turn], tracks=seen, frame=_frame(mouth))


def _frame(mouth: MouthTrack) -> list[int]:
    return [int(mouth.frame_size[1]), int(mouth.frame_size[0])]


def _line_details(line: sync.LineFit) -> LineEvidence:
    """The evidence of a fitted offset line (offset with the natural lag taken off, slope, fit)."""
    return {
        "line_offset_ms": round(line.offset_s * 1000 - NATURAL_LAG_MS, 1),
        "line_slope_ms_per_s": round(line.slope * 1000, 2),
        "line_t_ref_s": round(line.t_ref, 3),
        "line_score": round(line.score, 4),
        "line_margin": round(line.score - line.runner_up, 4),
    }


def _measure_turns(
    clip: Any, mouth: MouthTrack, sp: SpeechSignals, moving: list[int], seen: list[LipFace], memo: Memo | None
) -> dict[str, Score]:
    """Several faces whose mouths move: speaker turns, an offset per turn, the clip's reading over the turns.

    The speaking mouth (each sample its turn's face) goes to ``memo`` (slot :data:`SPEAKING`).
    """
    n = len(sp.env)
    a = env.bandpass(sp.env, rate=RATE, lo=SYLLABLE_BAND[0], hi=SYLLABLE_BAND[1])
    gate = binary_dilation(sp.active, iterations=int(GATE_PAD_S * RATE))
    a_gated = np.where(gate, a, 0.0)
    mouths = np.stack([mouth_signal(mouth, f, n) for f in moving])
    ids = [mouth.face_id(f) for f in moving]
    common = {"mode": "multi", "faces": len(moving), "speech_s": round(sp.active_s, 2), "tracks": seen, "frame": _frame(mouth)}
    win = int(round(WIN_S * RATE))
    starts, times = speakers.speech_windows(active=sp.active, rate=RATE, win_s=WIN_S, hop_s=HOP_S)
    if len(starts) == 0:
        return _all("too little speech for a 2 s window", **common)
    fixed = speakers.face_lags(mouths=mouths, audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S, sd_floor=NULL_SD_FLOOR)
    drifting = speakers.face_lags(
        mouths=mouths, audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S, sd_floor=NULL_SD_FLOOR, max_slope=MAX_DRIFT,
        slope_step=NULL_SLOPE_STEP,
    )  # fmt: skip
    z = max((x for x in (fixed.z, drifting.z) if np.isfinite(x)), default=0.0)
    z_face = np.fmax(np.nan_to_num(fixed.z_face, nan=-np.inf), np.nan_to_num(drifting.z_face, nan=-np.inf))
    lines: list[sync.LineFit | None] = []
    for f in range(len(moving)):
        try:
            lines.append(sync.warped_line(video=mouths[f], audio=a_gated, rate=RATE, max_lag_s=MAX_LAG_S, max_slope=MAX_DRIFT))
        except ParameterError:
            lines.append(None)
    usable = [f for f in range(len(moving)) if lines[f] is not None and np.isfinite(z_face[f])]
    if not usable:
        return _all("too little of any face's mouth to read", **common)
    top = max(usable, key=lambda f: z_face[f])
    own = [f for f in usable if z_face[f] >= OWN_LAG_Z or f == top]
    activity = speakers.window_activity(mar=mouth.mar[moving], times=mouth.times, starts=starts, win=win, rate=RATE)
    quiet = speakers.quiet_mouths(activity, ratio=QUIET_RATIO, floor=QUIET_FLOOR)
    for it in range(LAG_REFINE + 1):
        expected = np.full((len(starts), len(moving)), np.nan)
        for f in range(len(moving)):
            line = lines[f] if f in own else lines[top]
            if line is not None and np.isfinite(z_face[f]):
                expected[:, f] = line.offset_s + line.slope * (times - line.t_ref)
        peak, lag = speakers.window_evidence(
            mouths=mouths, audio=a_gated, starts=starts, win=win, expected_s=expected, rate=RATE,
            max_lag_s=MAX_LAG_S, guide_s=TURN_GUIDE_S,
        )  # fmt: skip
        peak[quiet] = np.nan
        face, margin = speakers.viterbi_faces(
            peak, starts=starts, win=win, active=sp.active, nobody=TURN_NOBODY, switch=TURN_SWITCH,
            pause_switch=TURN_PAUSE_SWITCH, margin=TURN_MARGIN,
        )  # fmt: skip
        if it == LAG_REFINE:
            break
        # each face with a lag of its own: the line again, from the speech in its own windows only
        for f in own:
            mine = np.zeros(n, bool)
            for j in np.flatnonzero(face == f):
                mine[starts[j] : starts[j] + win] = True
            if mine.sum() >= win:
                with contextlib.suppress(ParameterError):
                    lines[f] = sync.warped_line(
                        video=mouths[f], audio=a_gated, rate=RATE, mask=mine, max_lag_s=MAX_LAG_S, max_slope=MAX_DRIFT
                    )
    label, turn_list = speakers.label_samples(
        face=face, starts=starts, win=win, active=sp.active, min_turn=int(round(MIN_TURN_S * RATE))
    )
    off_ms = lag * 1000.0 - NATURAL_LAG_MS
    turns: list[LipTurn] = []
    pad = int(GATE_PAD_S * RATE)
    for tr in turn_list:
        ws = [j for j in tr.windows if np.isfinite(lag[j, tr.face])]
        o = sync.weighted_median(off_ms[ws, tr.face], np.maximum(peak[ws, tr.face], 1e-3)) if ws else None
        # the turn's own confidence: its face against the turn's speech alone, at circular shifts
        during = np.zeros(n, bool)
        during[max(0, tr.start - pad) : tr.end + pad] = True
        tz = speakers.face_lags(
            mouths=mouths[tr.face : tr.face + 1], audio=np.where(during, a_gated, 0.0), rate=RATE, max_lag_s=MAX_LAG_S,
            sd_floor=NULL_SD_FLOOR, max_slope=MAX_DRIFT, slope_step=NULL_SLOPE_STEP,
        ).z  # fmt: skip
        turns.append(
            _turn(
                mouth, moving[tr.face], tr.start / RATE, tr.end / RATE, offset_ms=o, n_windows=len(ws),
                peak=float(np.mean(peak[ws, tr.face])) if ws else None,
                margin=float(np.nanmean(np.minimum(margin[ws], 1.0))) if ws else None,
                z=tz,
            )
        )  # fmt: skip
    decided = np.flatnonzero(face >= 0)
    chosen = face[decided]
    o = off_ms[decided, chosen]
    wt = np.maximum(peak[decided, chosen], 1e-3)
    good = np.isfinite(o)
    decided, chosen, o, wt = decided[good], chosen[good], o[good], wt[good]
    composite = np.where(label >= 0, mouths[np.maximum(label, 0), np.arange(n)], mouths[top])
    if memo is not None:
        memo.put(SPEAKING, composite)
    line = lines[top]
    assert line is not None
    details: LipEvidence = {
        "mode": "multi",
        "faces": len(moving),
        "speech_s": round(sp.active_s, 2),
        "tracks": seen,
        "frame": _frame(mouth),
        "face": ids[top],
        "n_windows": len(decided),
        "natural_lag_ms": NATURAL_LAG_MS,
        "null_z": round(z, 3),
        "null_p": round(min(x for x in (fixed.p, drifting.p) if np.isfinite(x)), 4) if np.isfinite([fixed.p, drifting.p]).any() else None,
        **_line_details(line),
        "windows": [
            LipWindow(t=round(float(times[j]), 3), offset_ms=round(float(x), 1), confidence=round(float(c), 4), face=ids[f])
            for j, f, x, c in zip(decided, chosen, o, wt, strict=True)
        ],
        "turns": turns,
        "face_lags_ms": {
            str(ids[f]): None if (lf := lines[f]) is None else round(lf.offset_s * 1000 - NATURAL_LAG_MS, 1)
            for f in range(len(moving))
        },
        "face_z": {str(ids[f]): None if not np.isfinite(z_face[f]) else round(float(z_face[f]), 2) for f in range(len(moving))},
    }
    confidence = round(max(0.0, z), 3)
    out = {"lip_confidence": Score(confidence, details={**details, "signals": _signals(mouth=composite, speech=sp.env)})}
    if confidence < MIN_CONFIDENCE or not len(decided):
        reason = (
            f"low lip-sync confidence (z {confidence:.2f} < {MIN_CONFIDENCE})"
            if confidence < MIN_CONFIDENCE
            else "no face's mouth follows the speech clearly in any window"
        )
        for name in ("lip_offset_ms", "lip_drift_ms_per_s", "lip_bt1359_share"):
            out[name] = Score.unscored(reason, **details)
        return out
    out["lip_offset_ms"] = Score(round(sync.weighted_median(o, wt), 1), details=details)
    out["lip_bt1359_share"] = Score(round(sync.bt1359_share(offsets_ms=o), 4), details=details)
    t = times[decided]
    span = float(t.max() - t.min())
    if len(decided) < 4 or span < MIN_DRIFT_SPAN_S:
        out["lip_drift_ms_per_s"] = Score.unscored(f"speech windows span {span:.1f} s, too short for a drift fit", **details)
        return out
    # the drift is the sound's, common to every face: slopes between windows of the same face only, so
    # that each face's own constant offset (one speaker dubbed) does not tilt it
    slope = _within_face_slope(t, o, wt, chosen)
    if slope is None or abs(slope - line.slope * 1000) > DRIFT_AGREE:
        got = "none" if slope is None else f"{slope:.1f}"
        reason = f"drift estimates disagree (windows {got}, whole clip {line.slope * 1000:.1f} ms/s)"
        out["lip_drift_ms_per_s"] = Score.unscored(reason, **details)
    else:
        out["lip_drift_ms_per_s"] = Score(round(slope, 2), details=details)
    return out


def _within_face_slope(t: np.ndarray, o: np.ndarray, w: np.ndarray, face: np.ndarray) -> float | None:
    """Weighted median of the slopes between pairs of windows of the same face (Theil-Sen with one intercept per face)."""
    i, j = np.triu_indices(len(t), k=1)
    same = (face[i] == face[j]) & (np.abs(t[j] - t[i]) > 1e-9)
    if not same.any():
        return None
    i, j = i[same], j[same]
    return sync.weighted_median((o[j] - o[i]) / (t[j] - t[i]), w[i] * w[j])


def _signals(*, mouth: np.ndarray, speech: np.ndarray, rate: int = SIGNALS_RATE) -> MouthSignals:
    """The speaking mouth's opening and the speech envelope on a coarse grid, for plots (NaN -> None)."""
    step = max(1, RATE // rate)

    def thin(x: np.ndarray) -> list[float | None]:
        return [None if not np.isfinite(y) else round(float(y), 4) for y in x[::step]]

    return {"rate": RATE / step, "mouth": thin(mouth), "speech": thin(speech)}


def _scores(
    w: sync.WindowedOffsets, line: sync.LineFit, null: sync.ShiftNull, *, face: int, n_faces: int, speech_s: float
) -> dict[str, Score]:
    expected = line.offset_s + line.slope * (w.times - line.t_ref)
    off, hgt = sync.guided_peaks(curves=w.curves, expected_s=expected, rate=RATE, max_lag=w.max_lag, radius_s=GUIDE_S)
    ok = np.isfinite(off)
    conf_w = np.where(ok, hgt - np.nanmedian(w.curves, axis=1), 0.0)
    weights = np.maximum(conf_w, 0.0) + 1e-3
    confidence = float(max(0.0, null.z)) if np.isfinite(null.z) else 0.0
    off_ms = off * 1000.0 - NATURAL_LAG_MS
    details: LipEvidence = {
        "face": face,
        "faces": n_faces,
        "speech_s": round(speech_s, 2),
        "n_windows": int(ok.sum()),
        "natural_lag_ms": NATURAL_LAG_MS,
        "null_z": round(null.z, 3) if np.isfinite(null.z) else None,
        "null_p": round(null.p, 4) if np.isfinite(null.p) else None,
        **_line_details(line),
        "windows": [
            LipWindow(t=round(float(t), 3), offset_ms=round(float(o), 1), confidence=round(float(c), 4), face=face)
            for t, o, c in zip(w.times[ok], off_ms[ok], conf_w[ok], strict=True)
        ],
    }
    out = {"lip_confidence": Score(round(confidence, 3), details=details)}
    if confidence < MIN_CONFIDENCE or not ok.any():
        reason = f"low lip-sync confidence (z {confidence:.2f} < {MIN_CONFIDENCE})"
        for name in ("lip_offset_ms", "lip_drift_ms_per_s", "lip_bt1359_share"):
            out[name] = Score.unscored(reason, **details)
        return out
    offset = sync.weighted_median(off_ms[ok], weights[ok])
    out["lip_offset_ms"] = Score(round(offset, 1), details=details)
    out["lip_bt1359_share"] = Score(round(sync.bt1359_share(offsets_ms=off_ms[ok]), 4), details=details)
    t = w.times[ok]
    span = float(t.max() - t.min())
    if ok.sum() < 4 or span < MIN_DRIFT_SPAN_S:
        reason = f"speech windows span {span:.1f} s, too short for a drift fit"
        out["lip_drift_ms_per_s"] = Score.unscored(reason, **details)
        return out
    slope, _ = sync.theil_sen(x=t, y=off_ms[ok], weights=weights[ok])
    if abs(slope - line.slope * 1000) > DRIFT_AGREE:
        reason = f"drift estimates disagree (windows {slope:.1f}, whole clip {line.slope * 1000:.1f} ms/s)"
        out["lip_drift_ms_per_s"] = Score.unscored(reason, **details)
    else:
        out["lip_drift_ms_per_s"] = Score(round(slope, 2), details=details)
    return out


#: The lip-sync readings of the clip, computed once (the phonetic offset is checked against them).
READINGS: Slot[dict[str, Score]] = Slot("lip-sync readings")


def lip_readings(ctx: ClipContext) -> dict[str, Score]:
    """The clip's lip-sync readings (:func:`measure_lipsync`), computed once per clip."""
    d = ctx.decoded
    if d.n_frames == 0:
        return _all("no video stream")
    return ctx.memo.get(READINGS, lambda: measure_lipsync(d, memo=ctx.memo))


# 6: one face from 9 % of the frame on the one-face path; a mouth whose darkness runs against its shape is not read
@analyzer("lipsync", version=6, outputs=OUTPUTS, watches=(FACES_WATCH,))
def lipsync(ctx: ClipContext) -> dict[str, Score]:
    """Lip offset, drift, confidence and BT.1359 share (speech and mouth track shared through ``ctx.memo``)."""
    return dict(lip_readings(ctx))
