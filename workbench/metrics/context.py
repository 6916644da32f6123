"""What analyzers read: a clip, the prompt that produced it, and what other analyzers already computed.

:class:`ClipContext` holds the clip path, its prompt (the targets), the decoded streams
(decoded lazily, once, shared by every analyzer) and a :class:`Memo` of intermediate results
that several analyzers share (the speech envelope, the mouth track, the motion and onset
envelopes, the acoustic scene). Each shared result has a typed :class:`Slot`, declared beside
the function that computes it (e.g. ``workbench.metrics.face.MOUTH``), so a slot's type is
checked and its name cannot be mistyped. Analyzers must not read ground truth from ``meta``:
that is for validation only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

from workbench.media import DecodedClip, MediaInfo, decode, probe
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


@dataclass
class ClipContext:
    """A clip as analyzers see it."""

    path: Path
    prompt: Prompt | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    """Results shared between the analyzers of this clip (see :class:`Slot`)."""

    @cached_property
    def info(self) -> MediaInfo:
        """Stream facts (probe only)."""
        return probe(self.path)

    @cached_property
    def decoded(self) -> DecodedClip:
        """Audio at :data:`ANALYSIS_SR` mono and YUV 4:2:0 frames at most :data:`ANALYSIS_MAX_SIDE` px."""
        return decode(self.path, sr=ANALYSIS_SR, max_side=ANALYSIS_MAX_SIDE)
