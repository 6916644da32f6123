"""Speech synthesis with espeak-ng (the library shipped in the ``espeakng_loader`` wheel), via ctypes.

espeak-ng has no Python API in that wheel, so this binds the C API of ``speak_lib.h``:
``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS)``, a synth callback that receives the samples and the
word events (with their audio positions), ``espeak_SetVoiceByName`` and ``espeak_Synth``.

espeak-ng keeps state in static variables between utterances (pitch flutter, wave generator
phase), so the same text comes out slightly differently after other text, even after
``espeak_Terminate``. Each synthesis therefore loads the library afresh (``dlopen``), synthesizes
and unloads it (``dlclose``), and seeds espeak-ng's noise generator (whisper breath), which it
otherwise seeds from the clock: the output is then a pure function of (text, voice). That costs
15-50 ms per line, and results are cached per process.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import resample_poly

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_RATE = 1  # espeakRATE, words per minute
#: Seed of espeak-ng's noise generator (``espeak_ng_SetRandSeed``), set before every synthesis.
_RAND_SEED = 1

#: espeak-ng voice per prompt language code (anything else is passed through as the voice name).
VOICES = {
    "en": "en-us",
    "fr": "fr",
    "de": "de",
    "es": "es",
    "it": "it",
    "ja": "ja",
    "pt": "pt",
    "nl": "nl",
    "zh": "cmn",
}
#: Used when espeak-ng has no voice for a line's language.
FALLBACK_VOICE = "en-us"
_FEMALE_WORDS = ("woman", "girl", "mother", "she", "her", "lady", "female", "nun", "queen")
_LOCK = threading.Lock()


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Utterance:
    """One synthesized line.

    Attributes
    ----------
    y : np.ndarray, shape (n,), float32
        Dry speech in [-1, 1] at ``sr``; sample 0 is the start of the synthesized buffer.
    sr : int
    words : tuple of (str, float)
        Each word and the time (s, from sample 0) espeak-ng reports for it.
    voice : str
        The espeak-ng voice name used.
    phonemes : tuple of (str, float)
        Each phoneme (espeak-ng's mnemonic, e.g. ``p``, ``m``, ``'a``) and its start (s, from sample 0);
        a stop's event falls on its burst.
    rate_wpm : int or None
        The speaking rate asked for (None: the voice's default, 175 words per minute).
    """

    y: np.ndarray
    sr: int
    words: tuple[tuple[str, float], ...]
    voice: str
    phonemes: tuple[tuple[str, float], ...] = ()
    rate_wpm: int | None = None


def _bind(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    lib.espeak_ng_SetRandSeed.argtypes = (ctypes.c_long,)
    lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.espeak_Synth.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)  # fmt: skip


def _run(
    lib: ctypes.CDLL, data_path: bytes, text: str, voice: str, rate_wpm: int | None = None
) -> tuple[int, np.ndarray, list[tuple[int, int, int]], list[tuple[str, int]]]:
    """Initialize, synthesize ``text`` with ``voice``; returns (sample rate, int16 samples, word events, phoneme events)."""
    _bind(lib)
    sr = int(lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT))
    if sr <= 0:
        raise RuntimeError(f"espeak_Initialize failed ({sr})")
    # the breath noise of the whisper variants comes from espeak-ng's own generator, seeded from the
    # clock at start-up: a fixed seed makes whispered lines a pure function of (text, voice) too
    lib.espeak_ng_SetRandSeed(ctypes.c_long(_RAND_SEED))
    chunks: list[np.ndarray] = []
    words: list[tuple[int, int, int]] = []
    phonemes: list[tuple[str, int]] = []

    def on_synth(wav, n: int, events) -> int:  # type: ignore[no-untyped-def]
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_WORD:
                words.append((events[i].text_position, events[i].length, events[i].audio_position))
            elif events[i].type == _EVENT_PHONEME:
                name = bytes(events[i].id.string).split(b"\0")[0].decode("ascii", errors="replace")
                phonemes.append((name, events[i].sample))
            i += 1
        return 0

    callback = _CALLBACK(on_synth)  # must stay referenced while the library may call it
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ValueError(f"espeak-ng has no voice {voice!r}")
    if rate_wpm is not None:
        lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
    data = text.encode("utf-8")
    buf = ctypes.create_string_buffer(data)
    err = lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if err != 0:
        raise RuntimeError(f"espeak_Synth failed ({err})")
    return sr, (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)), words, phonemes


@lru_cache(maxsize=64)
def _synth(
    text: str, voice: str, rate_wpm: int | None = None
) -> tuple[int, np.ndarray, tuple[tuple[int, int, int], ...], tuple[tuple[str, int], ...]]:
    """One synthesis on a freshly loaded library (see the module notes)."""
    import _ctypes

    import espeakng_loader

    with _LOCK:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        try:
            sr, y, words, phonemes = _run(lib, espeakng_loader.get_data_path().encode(), text, voice, rate_wpm)
        finally:
            lib.espeak_Terminate()
            _ctypes.dlclose(lib._handle)
    y.setflags(write=False)
    return sr, y, tuple(words), tuple(phonemes)


def voice_for(*, language: str, speaker: str = "", delivery: str = "") -> str:
    """espeak-ng voice name for a line: language voice plus a variant (whisper, female or male)."""
    base = VOICES.get(language.split("-")[0].lower(), language)
    if "whisper" in delivery.lower():
        return f"{base}+whisper"
    words = speaker.lower().replace("-", " ").split()
    return f"{base}+f2" if any(w in _FEMALE_WORDS for w in words) else f"{base}+m3"


def synthesize(
    text: str, *, language: str = "en", speaker: str = "", delivery: str = "", sr: int = 48000, rate_wpm: int | None = None
) -> Utterance:
    """Synthesize one line of speech with espeak-ng.

    Parameters
    ----------
    text : str
    language : str
        Prompt language code (``en``, ``fr``, ...); see :data:`VOICES`. A language espeak-ng has no
        voice for is spoken with :data:`FALLBACK_VOICE`.
    speaker, delivery : str
        Pick the voice variant ("whispered" delivery uses espeak-ng's ``whisper`` variant).
    sr : int
        Output sample rate (espeak-ng renders at 22.05 kHz; resampled polyphase).
    rate_wpm : int, optional
        Speaking rate in words per minute (espeak-ng's default is 175); None keeps the voice's default.

    Returns
    -------
    Utterance
        The same arguments always give the same samples.
    """
    voice = voice_for(language=language, speaker=speaker, delivery=delivery)
    try:
        native_sr, raw, events, phone_events = _synth(text, voice, rate_wpm)
    except ValueError:  # no such voice: speak it with the fallback voice (recorded in ``Utterance.voice``)
        voice = voice_for(language=FALLBACK_VOICE, speaker=speaker, delivery=delivery)
        native_sr, raw, events, phone_events = _synth(text, voice, rate_wpm)
    y = raw.astype(np.float32) / 32768.0
    if sr != native_sr:
        g = np.gcd(sr, native_sr)
        y = resample_poly(y, sr // g, native_sr // g).astype(np.float32)
    data = text.encode("utf-8")
    words = []
    for pos, _length, ms in events:
        # text_position is 1-based, in bytes of the UTF-8 input; the word runs to the next space
        rest = data[max(pos - 1, 0) :].decode("utf-8", errors="ignore")
        word = rest.split(maxsplit=1)[0].strip('.,;:!?"()') if rest.strip() else ""
        words.append((word, ms / 1000.0))
    phonemes = tuple((name, sample / native_sr) for name, sample in phone_events)
    return Utterance(y=y, sr=sr, words=tuple(words), voice=voice, phonemes=phonemes, rate_wpm=rate_wpm)
