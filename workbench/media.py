"""Decoding: every read of a media file goes through here (PyAV, one demux pass).

Audio is returned mono float32 at the requested rate (16 kHz for analysis); video frames
are scaled down (``max_side``) and kept as planar YUV 4:2:0 (1.5 bytes a pixel), so no
full-resolution frame stack is ever held and nothing is converted that no metric reads: the
motion metrics read the luma plane as it is, and only the frames the face mesh looks at are
turned into RGB. Times come from packet timestamps, so variable-frame-rate files keep their
true timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from workbench.errors import MediaError

#: Clips shorter than this are rejected for analysis.
MIN_DURATION_S = 1.0
#: swscale filter for the downscaled frames: area averaging (no aliasing when shrinking, and
#: 20 % cheaper than the default bicubic on 720p -> 480 px).
SCALER = "AREA"
#: Pixel format the frames are kept in: planar YUV 4:2:0, half the bytes of RGB and no colour
#: conversion at decode (on a 10 s 720p clip: 0.28 s CPU against 0.43 s for RGB).
FRAME_FORMAT = "yuv420p"


@dataclass(frozen=True)
class MediaInfo:
    """Stream facts of a media file."""

    path: str
    size_bytes: int
    container: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass
class DecodedClip:
    """Decoded audio and (downscaled) video of one clip.

    Attributes
    ----------
    audio : np.ndarray, shape (n_samples,), float32
        Mono audio at ``sr``; sample 0 is at time 0 of the clip's timeline.
    sr : int
    yuv : np.ndarray, shape (n_frames, h * 3 // 2, w), uint8
        Frames in planar YUV 4:2:0 (I420: the luma rows, then the U and V planes), scaled so
        that the longer side is at most ``max_side``; ``h`` and ``w`` are even.
    frame_times : np.ndarray, shape (n_frames,), float64
        Presentation time of each frame in seconds on the same timeline as ``audio``.
    """

    info: MediaInfo
    audio: np.ndarray
    sr: int
    yuv: np.ndarray
    frame_times: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        """Number of decoded video frames."""
        return int(self.yuv.shape[0])

    @property
    def gray(self) -> np.ndarray:
        """Luma of every frame, shape (n_frames, h, w), uint8 (a view, no copy)."""
        if self.n_frames == 0:
            return np.zeros((0, 0, 0), np.uint8)
        return self.yuv[:, : self.yuv.shape[1] * 2 // 3]

    def rgb(self, k: int) -> np.ndarray:
        """Frame ``k`` in RGB, shape (h, w, 3), uint8 (BT.601, converted on demand)."""
        return cv2.cvtColor(self.yuv[k], cv2.COLOR_YUV2RGB_I420)

    @property
    def frames(self) -> np.ndarray:
        """Every frame in RGB, shape (n_frames, h, w, 3), uint8: a new array on each call.

        For plots and tests; the metrics read :attr:`gray` and :meth:`rgb` instead.
        """
        if self.n_frames == 0:
            return np.zeros((0, 0, 0, 3), np.uint8)
        return np.stack([self.rgb(k) for k in range(self.n_frames)])

    @property
    def fps(self) -> float:
        """Median frame rate from the timestamps (robust to variable frame rate)."""
        if len(self.frame_times) < 2:
            return float(self.info.fps or 25.0)
        d = np.diff(self.frame_times)
        d = d[d > 0]
        return float(1.0 / np.median(d)) if len(d) else float(self.info.fps or 25.0)

    @property
    def duration_s(self) -> float:
        """Duration covered by the decoded audio or video, whichever is longer."""
        a = len(self.audio) / self.sr if self.sr else 0.0
        v = float(self.frame_times[-1] + 1.0 / self.fps) if len(self.frame_times) else 0.0
        return max(a, v)


def _open(path: str | Path) -> av.container.InputContainer:
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"file not found: {p.name}")
    if p.stat().st_size == 0:
        raise MediaError("zero-length file")
    try:
        return av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"not a readable media file ({type(exc).__name__}: {exc})") from None


def probe(path: str | Path) -> MediaInfo:
    """Read the stream facts of a media file without decoding it.

    Raises
    ------
    MediaError
        If the file is missing, empty or not a media file.
    """
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        dur = float(c.duration / av.time_base) if c.duration else 0.0
        if not dur:
            for s in (v, a):
                if s is not None and s.duration and s.time_base:
                    dur = max(dur, float(s.duration * s.time_base))
        fps = None
        if v is not None:
            rate = v.average_rate or v.guessed_rate
            fps = float(rate) if rate else None
        return MediaInfo(
            path=str(path),
            size_bytes=Path(path).stat().st_size,
            container=c.format.name,
            duration_s=dur,
            has_video=v is not None,
            has_audio=a is not None,
            width=v.codec_context.width if v is not None else None,
            height=v.codec_context.height if v is not None else None,
            fps=fps,
            video_codec=v.codec_context.name if v is not None else None,
            audio_codec=a.codec_context.name if a is not None else None,
            sample_rate=a.codec_context.sample_rate if a is not None else None,
            channels=a.codec_context.channels if a is not None else None,
        )


def _scaled_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    s = min(1.0, max_side / max(w, h))
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def _grow(stack: np.ndarray) -> np.ndarray:
    """``stack`` with its capacity doubled (at least 16 frames): amortised O(1) a frame."""
    out = np.empty((max(2 * len(stack), 16), *stack.shape[1:]), stack.dtype)
    out[: len(stack)] = stack
    return out


def _put_i420(frame: av.VideoFrame, out: np.ndarray) -> None:
    """Copy a yuv420p frame's three planes into ``out`` (I420 layout, shape (h * 3 // 2, w))."""
    h, w = out.shape[0] * 2 // 3, out.shape[1]
    flat = out.reshape(-1)
    at = 0
    for plane, (ph, pw) in zip(frame.planes, ((h, w), (h // 2, w // 2), (h // 2, w // 2)), strict=True):
        src = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
        flat[at : at + ph * pw].reshape(ph, pw)[:] = src
        at += ph * pw


#: A frame sink sees every decoded video frame at full resolution, before it is scaled down:
#: ``sink(k, t, y, u, v)`` with the frame's decode index ``k``, its presentation time ``t`` in seconds on
#: the container's clock (before the clip's time origin is taken off) and zero-copy views of its
#: planes: luma (h, w) and chroma (h / 2, w / 2), uint8, 4:2:0 (other pixel formats are converted
#: first). The views are valid during the call only: a sink copies what it keeps.
FrameSink = Callable[[int, float, np.ndarray, np.ndarray, np.ndarray], None]
#: Called with the clip's decoded audio (mono float32 at ``sr``, not yet aligned to the picture's
#: first timestamp) and ``sr`` before any video frame is decoded; returns the sink that sees the
#: frames, or None.
SinkFactory = Callable[[np.ndarray, int], "FrameSink | None"]


def planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-copy (y, u, v) views of a 4:2:0 frame at its full resolution (any other format is converted first)."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    h, w = frame.height, frame.width
    ch, cw = (h + 1) // 2, (w + 1) // 2
    out = [
        np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
        for plane, (ph, pw) in zip(frame.planes, ((h, w), (ch, cw), (ch, cw)), strict=True)
    ]
    return out[0], out[1], out[2]


@dataclass
class _Demuxed:
    """What one demux pass decoded: frame times, the frame stack, audio chunks, and a truncation note."""

    times: list[float] = field(default_factory=list)
    stack: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))
    chunks: list[tuple[float, np.ndarray]] = field(default_factory=list)
    error: str | None = None


def _demux(
    c: av.container.InputContainer,
    *,
    vs: av.video.stream.VideoStream | None,
    as_: av.audio.stream.AudioStream | None,
    sr: int,
    size: tuple[int, int],
    sink: FrameSink | None = None,
) -> _Demuxed:
    """Decode the given streams of ``c`` in one demux pass (frames scaled to ``size``, audio resampled)."""
    streams = [s for s in (vs, as_) if s is not None]
    if vs is not None:
        vs.thread_type = "AUTO"
    out = _Demuxed()
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sr) if as_ is not None else None
    w, h = size
    # frames go straight into one preallocated (n, h * 3 // 2, w) array: no per-frame array, no final stack
    # (sized from the container's frame count, which may be missing or wrong: capped, grown on demand)
    stack = np.empty((min(vs.frames or 0, 4096) + 2 if vs is not None else 0, h * 3 // 2, w), np.uint8)
    times, chunks = out.times, out.chunks
    try:
        for packet in c.demux(*streams) if streams else ():
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    t = frame.time
                    if t is None:
                        continue
                    if sink is not None:
                        sink(len(times), float(t), *planes(frame))
                    if len(times) == len(stack):
                        stack = _grow(stack)
                    _put_i420(
                        frame.reformat(width=w, height=h, format=FRAME_FORMAT, interpolation=SCALER),
                        stack[len(times)],
                    )
                    times.append(float(t))
                elif isinstance(frame, av.AudioFrame) and resampler is not None:
                    t0 = frame.time
                    for rf in resampler.resample(frame):
                        chunks.append((float(t0) if t0 is not None else np.nan, rf.to_ndarray().reshape(-1)))
                        t0 = None
        if resampler is not None:
            for rf in resampler.resample(None):
                chunks.append((np.nan, rf.to_ndarray().reshape(-1)))
    except av.error.FFmpegError as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    out.stack = stack
    return out


def decode(
    path: str | Path,
    *,
    sr: int = 16000,
    max_side: int = 480,
    video: bool = True,
    audio: bool = True,
    require_audio: bool = False,
    require_video: bool = False,
    sink_for: SinkFactory | None = None,
) -> DecodedClip:
    """Decode audio (mono, ``sr``) and downscaled YUV 4:2:0 frames, each stream decoded once.

    Parameters
    ----------
    path : str or Path
    sr : int
        Target audio sample rate.
    max_side : int
        Longer side of the returned frames, in pixels.
    video, audio : bool
        Whether to decode each stream.
    require_audio, require_video : bool
        Raise :class:`MediaError` if the stream is missing.
    sink_for : callable, optional
        A :data:`SinkFactory`. When given, the audio is decoded first (its own demux pass, the
        same packets through the same decoder), the factory sees it, and the sink it returns
        sees every video frame at full resolution during the video pass: work that needs full
        resolution (small faces) rides on the one decode, and can depend on the sound (no
        speech, no face tracking). The returned clip is the same, byte for byte, as without it.

    Raises
    ------
    MediaError
        Missing file, non-media or truncated data, a required stream absent.
    """
    info = probe(path)
    if require_audio and not info.has_audio:
        raise MediaError("no audio stream")
    if require_video and not info.has_video:
        raise MediaError("no video stream")
    with _open(path) as c:
        vs = c.streams.video[0] if (video and c.streams.video) else None
        as_ = c.streams.audio[0] if (audio and c.streams.audio) else None
        size = _scaled_size(vs.codec_context.width, vs.codec_context.height, max_side) if vs is not None else (2, 2)
        if sink_for is None or vs is None:
            got = _demux(c, vs=vs, as_=as_, sr=sr, size=size)
            chunks = got.chunks
        else:
            heard = _demux(c, vs=None, as_=as_, sr=sr, size=size)
            chunks = heard.chunks
            sound = np.concatenate([ch for _, ch in chunks]).astype(np.float32) if chunks else np.zeros(0, np.float32)
            sink = sink_for(sound, sr)
            with _open(path) as c2:
                got = _demux(c2, vs=c2.streams.video[0], as_=None, sr=sr, size=size, sink=sink)
            got.error = got.error or heard.error
    times, stack = got.times, got.stack
    if got.error is not None and not times and not chunks:
        raise MediaError(f"cannot decode ({got.error})")
    # A truncated file: keep what decoded, note it.
    info_extra = {"truncated": got.error.split(": ", 1)[1]} if got.error is not None else {}
    # Build the audio timeline, aligning the first chunk to its timestamp.
    y = np.zeros(0, np.float32)
    if chunks:
        first_t = next((t for t, _ in chunks if not np.isnan(t)), 0.0)
        y = np.concatenate([ch for _, ch in chunks]).astype(np.float32)
        start = first_t
    else:
        start = 0.0
    vt = np.asarray(times, dtype=np.float64)
    t_origin = min(
        [x for x in (start if chunks else None, vt.min() if len(vt) else None) if x is not None], default=0.0
    )
    if chunks and start > t_origin:
        y = np.concatenate([np.zeros(int(round((start - t_origin) * sr)), np.float32), y])
    if len(vt):
        order = np.argsort(vt, kind="stable")
        vt = vt[order] - t_origin
        fr = stack[: len(order)]
        if np.any(order != np.arange(len(order))):
            fr = fr[order]
    else:
        fr = np.zeros((0, 0, 0), np.uint8)
    if require_audio and len(y) == 0:
        raise MediaError("audio stream has no decodable samples")
    if require_video and len(vt) == 0:
        raise MediaError("video stream has no decodable frames")
    return DecodedClip(info=info, audio=y, sr=sr, yuv=fr, frame_times=vt, extra=info_extra)


def frame_at(path: str | Path, t_s: float, *, max_side: int | None = None) -> np.ndarray:
    """The video frame shown ``t_s`` seconds after the first frame, RGB (h, w, 3) uint8 (the last one past the end).

    For pictures (the clip view draws boxes on it): frames are decoded from the start, and
    ``max_side`` scales the frame down (None: full resolution).

    Raises
    ------
    MediaError
        Missing or unreadable file, or no video stream.
    """
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError("no video stream")
        t0 = None
        got = None
        for frame in c.decode(c.streams.video[0]):
            if frame.time is None:
                continue
            t0 = float(frame.time) if t0 is None else t0
            got = frame
            if float(frame.time) - t0 >= t_s - 1e-6:
                break
        if got is None:
            raise MediaError("video stream has no decodable frames")
        w, h = got.width, got.height
        if max_side is not None:
            w, h = _scaled_size(w, h, max_side)
        return got.to_ndarray(width=w, height=h, format="rgb24")


def load_audio(path: str | Path, *, sr: int = 16000) -> np.ndarray:
    """Decode only the audio, mono float32 at ``sr``."""
    return decode(path, sr=sr, video=False, require_audio=True).audio
