"""What analyzers read: a clip, the prompt that produced it, and what other analyzers already computed.

:class:`ClipContext` holds the clip path, its prompt (the targets), the decoded streams
(decoded lazily, once, shared by every analyzer) and a :class:`Memo` of intermediate results
that several analyzers share (the speech envelope, the mouth track, the motion and onset
envelopes, the acoustic scene). Each shared result has a typed :class:`Slot`, declared beside
the function that computes it (e.g. ``workbench.metrics.face.MOUTH``), so a slot's type is
checked and its name cannot be mistyped. Analyzers must not read ground truth from ``meta``:
that is for validation only.

A result that needs the full-resolution frames (the analysis keeps only frames of at most
:data:`ANALYSIS_MAX_SIDE` px) is a :class:`Watch`: a frame sink that rides on the one decode and
leaves its result in the memo (e.g. ``workbench.metrics.face.FACES``). Analyzers declare the
watches they read; the engine attaches those of the analyzers it runs (:attr:`ClipContext.watches`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from workbench.media import DecodedClip, FrameSink, MediaInfo, decode, probe
from workbench.prompt import Prompt

T = TypeVar("T")

#: Audio is analysed at this rate (mono).
ANALYSIS_SR = 16000
#: Frames are analysed at most this many pixels on the long side.
ANALYSIS_MAX_SIDE = 480


@dataclass(frozen=True, eq=False)
class Slot(Generic[T]):
    """A named, typed place for one intermediate result of a clip (compared by identity)."""

    name: str

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class Memo:
    """Intermediate results of one clip, by :class:`Slot`, each computed once."""

    def __init__(self) -> None:
        self._values: dict[Slot[Any], Any] = {}

    def get(self, slot: Slot[T], compute: Callable[[], T]) -> T:
        """The slot's value, computed by ``compute()`` on first use."""
        if slot not in self._values:
            self._values[slot] = compute()
        value: T = self._values[slot]
        return value

    def peek(self, slot: Slot[T]) -> T | None:
        """The slot's value, or None when nothing was computed for it."""
        value: T | None = self._values.get(slot)
        return value

    def put(self, slot: Slot[T], value: T) -> None:
        """Set a slot's value (e.g. a track computed elsewhere)."""
        self._values[slot] = value

    def __contains__(self, slot: object) -> bool:
        return slot in self._values

    def only(self, slots: Iterable[Slot[Any]]) -> Memo:
        """A new memo holding only these slots (e.g. the picture-side ones, to pair a picture with other sound)."""
        out = Memo()
        for s in slots:
            if s in self._values:
                out._values[s] = self._values[s]
        return out


T_co = TypeVar("T_co", covariant=True)


class Watcher(Protocol[T_co]):
    """A frame sink (:data:`workbench.media.FrameSink`) that gives one result when the decode ends."""

    def __call__(self, k: int, t: float, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None: ...

    def finish(self) -> T_co:
        """The result, once every frame was seen."""
        ...


@dataclass(frozen=True, eq=False)
class Watch(Generic[T]):
    """A result computed from the full-resolution frames during the clip's one decode, kept in ``slot``.

    ``start(info, audio, sr)`` sees the stream facts and the decoded sound (mono, not yet aligned
    to the picture) before the first frame and returns a :class:`Watcher`, or None when there is
    nothing to watch (the slot is then left empty, and whoever reads it computes it without the
    full-resolution frames).
    """

    slot: Slot[T]
    start: Callable[[MediaInfo, np.ndarray, int], Watcher[T] | None]


def _fan_out(sinks: list[Watcher[Any]]) -> FrameSink:
    def sink(k: int, t: float, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        for s in sinks:
            s(k, t, y, u, v)

    return sink


@dataclass
class ClipContext:
    """A clip as analyzers see it."""

    path: Path
    prompt: Prompt | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    """Results shared between the analyzers of this clip (see :class:`Slot`)."""
    watches: tuple[Watch[Any], ...] = ()
    """Results to compute from the full-resolution frames while the clip is decoded (see :class:`Watch`)."""

    @cached_property
    def info(self) -> MediaInfo:
        """Stream facts (probe only)."""
        return probe(self.path)

    @cached_property
    def decoded(self) -> DecodedClip:
        """Audio at :data:`ANALYSIS_SR` mono and YUV 4:2:0 frames at most :data:`ANALYSIS_MAX_SIDE` px.

        The :attr:`watches` see every frame at full resolution on the way and leave their results in the memo.
        """
        if not self.watches:
            return decode(self.path, sr=ANALYSIS_SR, max_side=ANALYSIS_MAX_SIDE)
        started: list[tuple[Watch[Any], Watcher[Any]]] = []

        def sink_for(audio: np.ndarray, sr: int) -> FrameSink | None:
            for w in self.watches:
                got = w.start(self.info, audio, sr)
                if got is not None:
                    started.append((w, got))
            if not started:
                return None
            return started[0][1] if len(started) == 1 else _fan_out([s for _, s in started])

        clip = decode(self.path, sr=ANALYSIS_SR, max_side=ANALYSIS_MAX_SIDE, sink_for=sink_for)
        for w, s in started:
            self.memo.put(w.slot, s.finish())
        return clip
