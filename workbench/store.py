"""Content-addressed clip store and generation cache.

Layout under the store root::

    blobs/<ab>/<sha256>.<ext>        clip bytes, named by their SHA-256
    blobs/<ab>/<sha256>.json         provenance sidecar (first request that produced it)
    requests/<request_key>.json      generation cache: canonical request -> clip sha256
    scores/<sha256>/<analyzer>@v<N>-<prompt>.json          cached analysis results
    scores/<sha256>/<analyzer>@v<N>-<prompt>.features.npz  cached features of batch analyzers

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed
into place, so a killed process never leaves a half-written file under a final name.
The blob is published before the request binding, and a binding whose blob is missing or
the wrong size is treated as a miss: a half-finished generation is never taken as good.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench._util import atomic_write_bytes, atomic_write_json, sha256_hex
from workbench.errors import StoreError

#: Version of the store layout, written into every sidecar (2: request keys of format 2, features as .npz).
STORE_FORMAT = 2


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

    # -- feature cache (batch analyzers) --------------------------------------------------------
    def _features_path(self, sha: str, analyzer: str, version: int, context: str) -> Path:
        return self.root / "scores" / sha / f"{analyzer}@v{version}-{context}.features.npz"

    def load_features(self, sha: str, analyzer: str, version: int, context: str) -> tuple[bool, Any]:
        """``(found, features)`` cached for a clip by a batch analyzer (features may be None)."""
        p = self._features_path(sha, analyzer, version, context)
        if not p.is_file():
            return False, None
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["__json__"]))
                arrays = {k: z[k] for k in z.files if k != "__json__"}
        except (OSError, ValueError, KeyError):
            return False, None
        if meta is None:
            return True, None
        return True, {**meta, **arrays}

    def save_features(self, sha: str, analyzer: str, version: int, context: str, features: Any) -> None:
        """Cache a batch analyzer's per-clip features: a dict of arrays and JSON values, or None.

        Arrays are stored as they are (``.npz``, no pickle), everything else as JSON; the file's bytes
        depend only on the features (byte-identical whichever executor computed them).
        """
        if features is not None and not isinstance(features, dict):
            raise StoreError(f"features of {analyzer} must be a dict or None, not {type(features).__name__}")
        feats = features or {}
        arrays = {k: v for k, v in feats.items() if isinstance(v, np.ndarray)}
        meta = None if features is None else {k: v for k, v in feats.items() if k not in arrays}
        members = {"__json__": np.array(json.dumps(meta, sort_keys=True, default=_json_default)), **arrays}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in sorted(members):  # fixed order and time: the same features give the same bytes
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w") as f:
                    np.lib.format.write_array(f, np.asanyarray(members[name]), allow_pickle=False)
        atomic_write_bytes(self._features_path(sha, analyzer, version, context), buf.getvalue())


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON-able: {type(x).__name__}")
