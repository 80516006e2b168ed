"""Spoken digits from espeak-ng, a real and widely used text-to-speech engine: the second source
of the speech data, whose voices the project's own synthesiser (``nets.data.speech``) never
imitated.

    audio = speak("4071", Voice("en-US", "f3", speed=170, pitch=40, pitch_range=60, word_gap=2))

``audio`` is float32 [samples] at ``nets.data.speech.SAMPLE_RATE`` (8 kHz): espeak-ng speaks at
22,050 Hz and the samples are resampled by 160/441 with scipy's polyphase filter.

espeak-ng's wave generator keeps state from one utterance to the next inside a process (its
pitch flutter and voicing run on; neither ``espeak_ng_SetRandSeed``, ``srand`` nor
re-initialising resets them), so the same call twice gives slightly different samples (the
noise of breathy variants is seeded per utterance: without that it differs between processes
too).
``speak_fresh(jobs)`` speaks a list of utterances in order in a new process: the same list
gives the same samples on every run, which is how the data sets are made.

The engine is libespeak-ng 1.52 with its voice data, both inside the ``espeakng-loader`` wheel
(no system package), called through ctypes: ``espeak_Initialize`` in synchronous mode, a
callback that collects the samples, ``espeak_SetVoiceByName('<language>+<variant>')`` and
``espeak_SetParameter`` for the rate (words per minute), the pitch and its range (0-100, 50 is
the voice's own) and the gap between words (units of 10 ms). A few milliseconds an utterance.

**Voices.** ``LANGUAGES`` are the English accents the wheel has (America, New York City, Great
Britain, Received Pronunciation, Scotland, Lancaster, West Midlands, the Caribbean and the
Shavian-alphabet voice, which reads Latin text as British English) and ``variants()`` the
104 voice variants in its ``voices/!v`` (men, women, children, whisper, Klatt formant
synthesis, ...). A voice is a language plus a variant; ``held_out_split`` divides both so that a
test voice's accent *and* its variant were never heard in training.
"""

import ctypes
import dataclasses
import functools
import threading
from pathlib import Path

import numpy as np

from nets.data.speech import SAMPLE_RATE, check_transcript

ENGINE_RATE = 22_050  # Hz: espeak-ng's output
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LANGUAGES = (
    "en-US", "en-US-nyc", "en", "en-GB-x-rp", "en-GB-scotland", "en-GB-x-gbclan",
    "en-GB-x-gbcwmd", "en-029", "en-Shaw",
)  # fmt: skip
# each split's accents: two accents and a fifth of the variants are heard only in testing, one
# accent and another fifth only in validation (the tuning split)
SPLIT_LANGUAGES = {
    "train": ("en-US", "en", "en-GB-x-rp", "en-GB-x-gbclan", "en-GB-x-gbcwmd", "en-Shaw"),
    "validation": ("en-029",),
    "test": ("en-GB-scotland", "en-US-nyc"),
}
VARIANT_FOLDS = {"train": (2, 3, 4), "validation": (1,), "test": (0,)}  # index mod 5
SPEED = (130, 210)  # words per minute
PITCH = RANGE = (20, 80)
WORD_GAP = (0, 8)  # x 10 ms


@dataclasses.dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: ``language`` (one of ``LANGUAGES``), ``variant`` (one of
    ``variants()``, '' for the language's own), ``speed`` in words per minute, ``pitch`` and
    ``pitch_range`` 0-100 and ``word_gap`` in units of 10 ms."""

    language: str
    variant: str = ""
    speed: int = 175
    pitch: int = 50
    pitch_range: int = 50
    word_gap: int = 0

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language


def _loader():
    """The espeakng-loader module (imported here only: generation needs it, the rest of nets
    does not); where it has no wheel (Linux on ARM) a one-line error says so."""
    try:
        import espeakng_loader
    except ImportError:
        raise ImportError(
            "espeak-ng's voices come from the espeakng-loader wheel, which this platform does "
            "not have (it covers Linux x86-64, macOS and Windows): the espeak-ng data sets "
            "need one of those"
        ) from None
    return espeakng_loader


def data_path() -> Path:
    return Path(_loader().get_data_path())


@functools.cache
def variants() -> tuple[str, ...]:
    """The voice variants the wheel ships, sorted (file names in its ``voices/!v``)."""
    return tuple(sorted(p.name for p in (data_path() / "voices" / "!v").iterdir()))


def check_voice(voice: Voice) -> None:
    """Refuse a language or variant espeak-ng does not have, listing the ones it has."""
    if voice.language not in LANGUAGES:
        raise ValueError(
            f"espeak-ng has no English voice {voice.language!r}; the voices are "
            f"{', '.join(LANGUAGES)}"
        )
    if voice.variant and voice.variant not in variants():
        raise ValueError(
            f"espeak-ng has no voice variant {voice.variant!r}; the variants are "
            f"{', '.join(variants())}"
        )


_SETTINGS = {"speed": 1, "pitch": 3, "pitch_range": 4, "word_gap": 7}  # espeak_PARAMETER
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """libespeak-ng, initialised once per process; one utterance at a time (the library keeps
    one global state)."""

    def __init__(self):
        self.lib = ctypes.CDLL(_loader().get_library_path())
        synchronous = 0x02  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when it is done
        rate = self.lib.espeak_Initialize(synchronous, 0, str(data_path()).encode(), 0)
        if rate != ENGINE_RATE:
            raise RuntimeError(f"espeak-ng did not start (espeak_Initialize returned {rate})")
        self.chunks: list[np.ndarray] = []
        self.callback = _CALLBACK(self._collect)  # kept: the library holds only a pointer
        self.lib.espeak_SetSynthCallback(self.callback)
        self.lock = threading.Lock()

    def _collect(self, samples, count, events) -> int:
        if count > 0 and samples:
            self.chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # continue

    def speak(self, text: str, voice: Voice) -> np.ndarray:
        with self.lock:
            self.chunks.clear()
            if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise ValueError(f"espeak-ng could not load the voice {voice.name!r}")
            self.lib.espeak_ng_SetRandSeed(0)  # breathy variants draw noise: seeded per utterance
            for field, parameter in _SETTINGS.items():
                self.lib.espeak_SetParameter(parameter, int(getattr(voice, field)), 0)
            encoded = text.encode()
            self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, 0, None, None)
            self.lib.espeak_Synchronize()
            return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def engine_samples(transcript: str, voice: Voice) -> np.ndarray:
    """The digit string ``transcript`` read digit by digit ("4071": "four zero seven one") in
    ``voice``, as the engine gives it: int16 [samples] at ENGINE_RATE."""
    check_transcript(transcript)
    check_voice(voice)
    return _engine().speak(" ".join(DIGIT_WORDS[int(d)] for d in transcript), voice)


def speak(transcript: str, voice: Voice) -> np.ndarray:
    """``engine_samples`` resampled to float32 [samples] at SAMPLE_RATE (values / 32768)."""
    from scipy import signal  # here only, as in nets.data.speech

    samples = engine_samples(transcript, voice).astype(np.float32) / 32768
    return signal.resample_poly(samples, SAMPLE_RATE, ENGINE_RATE).astype(np.float32)


def _speak_all(jobs: list[tuple[str, Voice]]) -> list[np.ndarray]:
    return [speak(transcript, voice) for transcript, voice in jobs]


def speak_fresh(jobs: list[tuple[str, Voice]], chunk: int = 500, desc: str = "espeak-ng"):
    """``speak`` of each (transcript, voice) of ``jobs``, in order, in a new process (whose
    engine has spoken nothing before): reproducible, unlike calls in a process that has
    spoken other things first. Chunks of ``chunk`` utterances travel back, with a progress
    bar."""
    import concurrent.futures
    import multiprocessing
    import sys

    from tqdm import tqdm

    if not jobs:
        return []
    context = multiprocessing.get_context("spawn")  # a process that has spoken nothing
    audio = []
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as worker:
        parts = [jobs[k : k + chunk] for k in range(0, len(jobs), chunk)]
        with tqdm(total=len(jobs), desc=desc, unit="utt", file=sys.stderr) as bar:
            for part, spoken in zip(parts, worker.map(_speak_all, parts), strict=True):
                audio += spoken
                bar.update(len(part))
    return audio


def split_voices(split: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(languages, variants) of ``split`` ('train', 'validation' or 'test'): disjoint across
    splits in both."""
    folds = VARIANT_FOLDS[split]
    return SPLIT_LANGUAGES[split], tuple(v for i, v in enumerate(variants()) if i % 5 in folds)


def random_voice(split: str, rng: np.random.Generator) -> Voice:
    """A voice of ``split`` with its speed, pitch, pitch range and word gap drawn from ``rng``."""
    languages, kinds = split_voices(split)
    return Voice(
        language=str(rng.choice(languages)),
        variant=str(rng.choice(kinds)),
        speed=int(rng.integers(SPEED[0], SPEED[1] + 1)),
        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
        pitch_range=int(rng.integers(RANGE[0], RANGE[1] + 1)),
        word_gap=int(rng.integers(WORD_GAP[0], WORD_GAP[1] + 1)),
    )
