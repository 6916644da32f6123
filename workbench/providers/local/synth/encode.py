"""Write frames and audio to an MP4 in memory (PyAV: H.264 yuv420p + AAC).

x264 runs single-threaded with fixed options and the muxer writes no creation time, so the same
input gives byte-identical output.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import av
import cv2
import numpy as np


def encode_mp4(
    frames: Iterable[np.ndarray],
    audio: np.ndarray,
    *,
    width: int,
    height: int,
    fps: int,
    sr: int,
    crf: int = 23,
    preset: str = "ultrafast",
) -> bytes:
    """Encode RGB frames and mono audio to MP4 bytes.

    Parameters
    ----------
    frames : iterable of np.ndarray, each (height, width, 3) uint8 RGB
        Frame ``i`` is shown at ``i / fps`` s; width and height must be even.
    audio : np.ndarray, shape (n,), float32
        Mono audio in [-1, 1]; sample 0 is at time 0.
    width, height, fps, sr : int
    crf : int
        x264 constant rate factor.
    preset : str
        x264 preset.

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.thread_count = 1
        v.options = {"preset": preset, "crf": str(crf)}
        a = c.add_stream("aac", rate=sr)
        a.layout = "mono"
        a.bit_rate = 96000
        for i, img in enumerate(frames):
            # OpenCV's RGB -> I420 (BT.601, limited range, as swscale's default) is ~5x faster than av's reformat
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode())
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio, np.float32)[None, :], format="flt", layout="mono")
        af.sample_rate = sr
        af.pts = 0
        c.mux(a.encode(af))
        c.mux(a.encode())
    return buf.getvalue()
