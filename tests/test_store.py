"""The content-addressed store: dedup, atomic writes, cache misses on half-written state."""

from __future__ import annotations

import json
import os

import pytest

from workbench._util import atomic_write_bytes
from workbench.errors import StoreError
from workbench.store import ClipStore


def test_put_dedups_and_writes_provenance(tmp_path):
    st = ClipStore(tmp_path)
    a = st.put(b"clip-bytes", provenance={"provider": "local/synced", "ground_truth": {"offset_ms": 0}})
    b = st.put(b"clip-bytes", provenance={"provider": "other"})
    assert a.path == b.path and a.sha256 == b.sha256
    assert len(list((tmp_path / "blobs").rglob("*.mp4"))) == 1
    assert a.provenance()["provider"] == "local/synced"  # first writer wins
    assert st.get(a.sha256).size == len(b"clip-bytes")
    with pytest.raises(StoreError):
        st.put(b"")


def test_binding_is_a_cache_and_half_written_state_is_a_miss(tmp_path):
    st = ClipStore(tmp_path)
    assert st.lookup("k1") is None
    clip = st.put(b"0123456789")
    st.bind("k1", clip, {"latency_s": 1.0})
    got, rec = st.lookup("k1")
    assert got.sha256 == clip.sha256 and rec["latency_s"] == 1.0
    # A blob truncated behind the store's back is not taken as good.
    clip.path.write_bytes(b"01234")
    assert st.lookup("k1") is None
    # A blob deleted (e.g. a kill before publish) is a miss too.
    clip.path.unlink()
    assert st.lookup("k1") is None
    # A corrupt binding file is a miss, not a crash.
    (tmp_path / "requests" / "k2.json").write_text("{not json")
    assert st.lookup("k2") is None


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"old")

    def boom(fd):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new-and-longer")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_score_cache_roundtrip(tmp_path):
    st = ClipStore(tmp_path)
    st.save_scores("ab" * 32, "basic", 1, "ctx", {"duration_s": {"value": 1.5}})
    assert st.load_scores("ab" * 32, "basic", 1, "ctx") == {"duration_s": {"value": 1.5}}
    assert st.load_scores("ab" * 32, "basic", 2, "ctx") is None
    assert json.loads((tmp_path / "scores" / ("ab" * 32) / "basic@v1-ctx.json").read_text())
