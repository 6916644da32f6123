"""Words: text normalisation and the word error rate, with the alignment behind it.

Normalisation (:func:`normalise_words`) applies the same rules to the prompt's line and to the
transcript, in this order: Unicode NFKC; lower case; typographic apostrophes to ``'``; ``&`` ->
"and", ``%`` -> "percent"; thousands separators dropped (``1,200`` -> ``1200``); dashes, slashes
and underscores split words; every character that is not a letter, a digit or an in-word
apostrophe is dropped; integers 0-999999 are spelt out in English ("21" -> "twenty one");
apostrophes at the ends of a word are dropped ("'til" -> "til"). Not done (documented limits):
spelling variants (colour/color), contractions ("do not" and "don't" count as different words),
decimals and ordinals, other languages' numbers. Whisper's own ``EnglishTextNormalizer`` does
more, but it ships with the openai-whisper package (torch), not with faster-whisper.

The word error rate (:func:`word_alignment`) is a plain Levenshtein alignment of word lists with
unit costs (Levenshtein 1966; the WER of speech recognition, e.g. NIST sclite), backtraced to the
steps behind it, so the evidence can say which words are missing, which were heard instead and
which are extra. WER = (S + D + I) / N with N the reference words: it can exceed 1 when the
transcript has many extra words. It gives exactly jiwer 4.0's error count (checked on 200 random
cases while porting, FINDINGS of issue 15). A line *counts as said* only when a run of
consecutive words matches as written (:func:`said_run`): one shared word ("the", "I") is chance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from workbench.errors import ParameterError

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_SPLIT = re.compile(r"[\u2010-\u2015\-/_]+")
_DROP = re.compile(r"[^\w\s']+", re.UNICODE)
_NUM = re.compile(r"^\d+$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")

#: A line counts as said (and its start is timed) when this many consecutive words are heard as
#: written; one word for lines of one or two words. Measured on espeak-ng lines (issue 15): with
#: one shared word as the rule, wrong lines were "recognised" on "the" or "I"; with a WER gate of
#: 0.6 instead, half-said lines lost their start.
MIN_RUN = 2
#: ... and that run must begin within this share of the line's words (at least at its second word):
#: a shuffled line keeps a chance pair of words deep inside the line, which would time the line by
#: a word in its middle (errors up to 790 ms in the prototype's measurements).
MAX_RUN_START_SHARE = 1 / 3

OpName = Literal["equal", "substitute", "delete", "insert"]


def number_words(n: int) -> list[str]:
    """English words of a non-negative integer below one million (``21`` -> ``["twenty", "one"]``).

    Raises
    ------
    ParameterError
        Outside 0..999999.
    """
    if n < 0 or n >= 1_000_000:
        raise ParameterError(f"{n} is outside 0..999999")
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        t, o = divmod(n, 10)
        return [_TENS[t]] + ([_ONES[o]] if o else [])
    if n < 1000:
        h, r = divmod(n, 100)
        return [_ONES[h], "hundred"] + (number_words(r) if r else [])
    k, r = divmod(n, 1000)
    return [*number_words(k), "thousand"] + (number_words(r) if r else [])


def normalise_words(text: str) -> list[str]:
    """The words of ``text`` after the rules in the module docstring.

    >>> normalise_words("Don't move. They can hear us from the hall!")
    ["don't", 'move', 'they', 'can', 'hear', 'us', 'from', 'the', 'hall']
    >>> normalise_words("It's 21 - no, 1,200%")
    ["it's", 'twenty', 'one', 'no', 'one', 'thousand', 'two', 'hundred', 'percent']
    """
    s = unicodedata.normalize("NFKC", text).lower().translate(_APOS)
    s = s.replace("&", " and ").replace("%", " percent ")
    s = _THOUSANDS.sub("", s)
    s = _SPLIT.sub(" ", s)
    s = _DROP.sub(" ", s)
    out: list[str] = []
    for w in s.split():
        w = w.strip("'")
        if not w:
            continue
        if _NUM.match(w) and len(w) <= 6:
            out.extend(number_words(int(w)))
        else:
            out.append(w)
    return out


@dataclass(frozen=True)
class WordOp:
    """One step of the alignment: ``equal``, ``substitute``, ``delete`` (a missing word) or ``insert`` (an extra one)."""

    op: OpName
    ref: str | None
    hyp: str | None
    ref_index: int | None
    hyp_index: int | None


@dataclass(frozen=True)
class WerResult:
    """Errors of a transcript against a reference, with the alignment steps."""

    wer: float
    n_ref: int
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    ops: tuple[WordOp, ...] = field(repr=False)

    @property
    def missing(self) -> list[str]:
        """Reference words not heard at all (deletions)."""
        return [o.ref for o in self.ops if o.op == "delete" and o.ref is not None]

    @property
    def substituted(self) -> list[str]:
        """``ref->hyp`` for each word heard as another word."""
        return [f"{o.ref}->{o.hyp}" for o in self.ops if o.op == "substitute"]

    @property
    def extra(self) -> list[str]:
        """Transcript words with no reference word (insertions)."""
        return [o.hyp for o in self.ops if o.op == "insert" and o.hyp is not None]


def word_alignment(*, ref: Sequence[str], hyp: Sequence[str]) -> WerResult:
    """Levenshtein alignment of two word lists (unit costs).

    Parameters
    ----------
    ref : sequence of str
        Reference words (normalised with :func:`normalise_words`).
    hyp : sequence of str
        Transcript words (normalised the same way).

    Returns
    -------
    WerResult
        ``wer`` is ``(S + D + I) / len(ref)``: ``inf`` for an empty reference with a non-empty
        transcript, 0 when both are empty. The backtrace prefers a match or substitution, then a
        deletion, then an insertion.
    """
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        ri = ref[i - 1]
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j - 1] + (ri != hyp[j - 1]), d[i - 1, j] + 1, d[i, j - 1] + 1)
    ops: list[WordOp] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(WordOp("equal" if ref[i - 1] == hyp[j - 1] else "substitute", ref[i - 1], hyp[j - 1], i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            ops.append(WordOp("delete", ref[i - 1], None, i - 1, None))
            i -= 1
        else:
            ops.append(WordOp("insert", None, hyp[j - 1], None, j - 1))
            j -= 1
    ops.reverse()
    s = sum(o.op == "substitute" for o in ops)
    dl = sum(o.op == "delete" for o in ops)
    ins = sum(o.op == "insert" for o in ops)
    hits = sum(o.op == "equal" for o in ops)
    wer = (s + dl + ins) / n if n else (0.0 if m == 0 else float("inf"))
    return WerResult(wer, n, hits, s, dl, ins, tuple(ops))


def said_run(ops: Sequence[WordOp], n_ref: int, *, first: int = 0, min_run: int = MIN_RUN) -> WordOp | None:
    """The first word of the line as heard, or None when the line does not count as said.

    Parameters
    ----------
    ops : sequence of WordOp
        One line's alignment steps.
    n_ref : int
        Words in the line.
    first : int
        Reference index of the line's first word (when ``ops`` come from several lines' alignment).
    min_run : int
        Consecutive words that must match as written (1 for lines of one or two words).

    Returns
    -------
    WordOp or None
        The first ``equal`` or ``substitute`` step of the line when a run of ``min_run``
        matching words begins within :data:`MAX_RUN_START_SHARE` of the line's words (see
        :data:`MIN_RUN`); None otherwise. Inserted words do not break a run.
    """
    need = 1 if n_ref < 3 else min_run
    latest = max(1, int(np.ceil(MAX_RUN_START_SHARE * n_ref)))
    run, start = 0, None
    for o in ops:
        if o.op == "equal":
            if run == 0 and o.ref_index is not None:
                start = o.ref_index - first
            run += 1
            if run >= need and start is not None and start <= latest:
                break
        elif o.op != "insert":
            run = 0
    else:
        return None
    return next(o for o in ops if o.op in ("equal", "substitute"))


def line_of_ops(ops: Sequence[WordOp], spans: Sequence[tuple[int, int]]) -> list[int]:
    """Which line each alignment step belongs to.

    A reference step belongs to the line of its word (``spans``: [first, last) reference index of
    each line); an inserted word to the line of the reference word before it (leading insertions
    to the first line).
    """
    out, cur = [], 0
    for o in ops:
        if o.ref_index is not None:
            cur = next(i for i, (a, b) in enumerate(spans) if a <= o.ref_index < b)
        out.append(cur)
    return out
