"""Mute-test media: a clip's picture without sound, or with another shot's sound.

Both are remuxed with PyAV (packets copied, nothing re-encoded), so a file takes
milliseconds. They are cached in the run folder under ``mute_test/`` and written through a
temporary file and an atomic rename, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import av

from workbench.errors import MediaError

MUTE_DIR = "mute_test"


def _remux(picture: Path, sound: Path | None, out: Path) -> Path:
    """Copy the video stream of ``picture`` and (optionally) the audio stream of ``sound`` into ``out``.

    Audio packets starting after the picture ends are dropped, so the result is as long as
    the picture.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mux-", suffix=".mp4", dir=out.parent)
    os.close(fd)
    try:
        with (
            av.open(str(picture)) as vin,
            av.open(str(sound)) if sound is not None else contextlib.nullcontext() as ain,
        ):
            if not vin.streams.video:
                raise MediaError(f"{picture.name}: no video stream")
            if ain is not None and not ain.streams.audio:
                raise MediaError(f"{sound.name}: no audio stream")
            vs = vin.streams.video[0]
            as_ = ain.streams.audio[0] if ain is not None else None
            end_s = float(vin.duration / av.time_base) if vin.duration else None
            with av.open(tmp, "w", format="mp4") as outc:
                # every stream must exist before the first packet is written (that writes the header)
                vo = outc.add_stream_from_template(vs)
                ao = outc.add_stream_from_template(as_) if as_ is not None else None
                for pkt in vin.demux(vs):
                    if pkt.dts is None:
                        continue
                    pkt.stream = vo
                    outc.mux(pkt)
                if as_ is not None:
                    for pkt in ain.demux(as_):
                        if pkt.dts is None:
                            continue
                        if end_s is not None and pkt.pts is not None and float(pkt.pts * as_.time_base) >= end_s:
                            continue
                        pkt.stream = ao
                        outc.mux(pkt)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot remux {picture.name}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def muted_clip(run_dir: str | Path, clip: str | Path) -> Path:
    """The picture of ``clip`` (relative to ``run_dir``) with no audio stream, cached in ``mute_test/``."""
    run_dir = Path(run_dir)
    src = run_dir / clip
    out = run_dir / MUTE_DIR / f"{src.stem}__muted.mp4"
    if out.is_file() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    return _remux(src, None, out)


def swapped_clip(run_dir: str | Path, picture: str | Path, sound: str | Path) -> Path:
    """The picture of one clip with the sound of another: ``mute_test/<a>__with__<b>.mp4``."""
    run_dir = Path(run_dir)
    a, b = run_dir / picture, run_dir / sound
    out = run_dir / MUTE_DIR / f"{a.stem}__with__{b.stem}.mp4"
    if out.is_file() and out.stat().st_mtime >= max(a.stat().st_mtime, b.stat().st_mtime):
        return out
    return _remux(a, b, out)
