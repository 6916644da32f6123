"""Content-addressed clip store and generation cache.

Layout under the store root::

    blobs/<ab>/<sha256>.<ext>        clip bytes, named by their SHA-256
    blobs/<ab>/<sha256>.json         provenance sidecar (first request that produced it)
    requests/<request_key>.json      generation cache: canonical request -> clip sha256
    scores/<sha256>/<analyzer>@v<N>-<prompt>.json   cached analysis results

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed
into place, so a killed process never leaves a half-written file under a final name.
The blob is published before the request binding, and a binding whose blob is missing or
the wrong size is treated as a miss: a half-finished generation is never taken as good.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import StoreError

STORE_FORMAT = 1


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


def canonical_json(obj: Any) -> str:
    """Deterministic compact JSON used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes, hex."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredClip:
    """A clip in the store."""

    sha256: str
    path: Path
    size: int

    def provenance(self) -> dict[str, Any]:
        """The JSON sidecar written when the clip was first stored."""
        return json.loads(self.path.with_suffix(".json").read_text())


class ClipStore:
    """Content-addressed clips plus the generation cache keyed by canonical request."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- blobs -----------------------------------------------------------------------------
    def _blob_path(self, sha: str, ext: str) -> Path:
        return self.root / "blobs" / sha[:2] / f"{sha}.{ext.lstrip('.')}"

    def put(self, data: bytes, *, ext: str = "mp4", provenance: dict[str, Any] | None = None) -> StoredClip:
        """Store clip bytes under their hash; storing the same bytes twice is a no-op.

        Returns
        -------
        StoredClip
        """
        if not data:
            raise StoreError("refusing to store an empty clip")
        sha = sha256_hex(data)
        path = self._blob_path(sha, ext)
        if not (path.is_file() and path.stat().st_size == len(data)):
            atomic_write_bytes(path, data)
        side = path.with_suffix(".json")
        if not side.is_file():
            atomic_write_json(side, {"format": STORE_FORMAT, "sha256": sha, "size": len(data), **(provenance or {})})
        return StoredClip(sha256=sha, path=path, size=len(data))

    def get(self, sha: str) -> StoredClip | None:
        """The stored clip with this hash, or None."""
        folder = self.root / "blobs" / sha[:2]
        for p in folder.glob(f"{sha}.*") if folder.is_dir() else ():
            if p.suffix not in (".json", ".tmp"):
                return StoredClip(sha256=sha, path=p, size=p.stat().st_size)
        return None

    # -- generation cache --------------------------------------------------------------------
    def _request_path(self, key: str) -> Path:
        return self.root / "requests" / f"{key}.json"

    def lookup(self, key: str) -> tuple[StoredClip, dict[str, Any]] | None:
        """The clip bound to a request key and the binding record, or None on a miss."""
        rp = self._request_path(key)
        if not rp.is_file():
            return None
        try:
            rec = json.loads(rp.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        clip = self.get(rec.get("clip_sha256", ""))
        if clip is None or clip.size != rec.get("size"):
            return None
        return clip, rec

    def bind(self, key: str, clip: StoredClip, record: dict[str, Any]) -> None:
        """Record that request ``key`` produced ``clip`` (written after the blob)."""
        atomic_write_json(self._request_path(key), {**record, "clip_sha256": clip.sha256, "size": clip.size})

    # -- score cache ---------------------------------------------------------------------------
    def _score_path(self, sha: str, analyzer: str, version: int, context: str) -> Path:
        return self.root / "scores" / sha / f"{analyzer}@v{version}-{context}.json"

    def load_scores(self, sha: str, analyzer: str, version: int, context: str) -> dict[str, Any] | None:
        """Cached analyzer output for a clip, or None."""
        p = self._score_path(sha, analyzer, version, context)
        try:
            return json.loads(p.read_text()) if p.is_file() else None
        except (OSError, json.JSONDecodeError):
            return None

    def save_scores(self, sha: str, analyzer: str, version: int, context: str, scores: dict[str, Any]) -> None:
        """Cache an analyzer's output for a clip."""
        atomic_write_json(self._score_path(sha, analyzer, version, context), scores)
