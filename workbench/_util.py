"""Small utilities every layer may use: hashing, atomic writes, append-only JSON lines, names.

Every write that must survive a kill goes to a temporary file in the same folder, is flushed
to disk, then renamed into place, so a killed process never leaves a half-written file under
its final name. Append-only logs (a run's journal, the creator's votes) are written one
fsynced line at a time under an exclusive lock; a line torn by a kill is skipped on reading
and never swallows the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import multiprocessing.context
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """Deterministic compact JSON used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's contents, hex, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (sorted keys, UTF-8)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


def append_jsonl(path: Path, record: Mapping[str, Any]) -> None:
    """Append one JSON line to ``path`` (created if missing), locked and fsynced.

    A previous line torn by a kill (no final newline) is closed first, so it cannot swallow
    this record.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(dict(record), sort_keys=True, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON object line of ``path`` (none when it does not exist; torn lines skipped)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if isinstance(rec, dict):
            out.append(rec)
    return out


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (a copy across file systems); a same-size ``dst`` is kept."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if dst.stat().st_size == src.stat().st_size:
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def slug(text: str, *, keep: str = "-.", max_len: int | None = None) -> str:
    """``text`` with every character but letters, digits and ``keep`` turned into ``-``.

    Runs of ``-`` are kept as they are (sample ids depend on it); leading and trailing ``-``
    are dropped, and the result is cut to ``max_len``.
    """
    s = "".join(c if c.isalnum() or c in keep else "-" for c in text).strip("-")
    return s[:max_len].strip("-") if max_len else s


def progress(total: int, desc: str, quiet: bool) -> Any:
    """A progress bar on stderr (tqdm; silent with ``quiet``), counting clips."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="clip", disable=quiet, file=sys.stderr, dynamic_ncols=True)


def clean_process_context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose workers start from a clean process, not a fork of this one.

    A process that has already run the face detector (MediaPipe's threads and graph state) cannot be
    forked safely: the forked worker aborts in MediaPipe's initialisation (seen when a notebook scored a
    clip in process, then ran a comparison). Workers come from a fork server instead, which imports the
    ``preload`` modules once and then forks each worker from that clean state.
    """
    ctx = multiprocessing.get_context("forkserver")
    _PRELOAD.update(preload)  # one fork server per process: it preloads what every caller asked for so far
    ctx.set_forkserver_preload(sorted(_PRELOAD))
    return ctx


_PRELOAD: set[str] = set()


def did_you_mean(name: str, known: Iterable[str], *, n: int = 3, list_known: bool = True) -> str:
    """``"; did you mean a, b?"`` with the closest known names, else ``"; known: ..."`` (every name;
    nothing when ``list_known`` is off)."""
    import difflib

    known = list(known)
    hint = difflib.get_close_matches(name, known, n=n)
    if hint:
        return f"; did you mean {', '.join(hint)}?"
    return f"; known: {', '.join(known)}" if known and list_known else ""
