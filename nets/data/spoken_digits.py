"""Spoken digit strings from two sources, each with voices held out for testing: the project's
source-filter synthesiser (``nets.data.speech``) and espeak-ng (``nets.data.espeak``).

    arrays = spoken_digits_split("train", 12_000)                  # both sources, augmented
    arrays = spoken_digits_split("test", 600, sources=("espeak",))  # held-out espeak voices

Utterance i of a split comes from source ``sources[i % len(sources)]`` (a source named twice
is spoken twice as often), and its words, voice and variation from the seed (split, source, i)
alone (espeak-ng's samples also from what its engine spoke before: a split's espeak-ng
utterances are spoken in order by a fresh process, so a split is the same on every run):
1..MAX_DIGITS random digits, spoken by a voice of that split

- synthetic: one of the split's speakers (``SYNTHETIC_SPEAKERS``: 30 for training, 10 for
  validation, the same 10 test speakers as 'digit_speech'), with its own per-utterance
  variation and background noise;
- espeak: an accent and a variant of the split (``nets.data.espeak.split_voices``: disjoint in
  both), with speed, pitch, pitch range and word gap drawn per utterance;

and, for training, the waveform augmentation of ``nets.data.speech_augment`` (speed, gain,
reverberation, noise). Validation is the tuning split: its voices are neither trained on nor
tested. ``snr_db`` adds white noise at that SNR to every utterance (a harder test condition).
The arrays are ``nets.data.speech.speech_arrays``'s plus 'source' [N] (the index in
``SOURCES``).
"""

import functools
import sys

import numpy as np
from tqdm import tqdm

from nets.checks import check_positive
from nets.data.speech import (
    ALPHABET,
    MAX_DIGITS,
    SAMPLE_RATE,
    speakers,
    speech_arrays,
    synthesise,
)

SOURCES = ("synthetic", "espeak")
SPLITS = ("train", "validation", "test")
SPLIT_SEEDS = {"train": 10, "validation": 11, "test": 12}  # not 'digit_speech''s 0 and 1
SYNTHETIC_SPEAKERS = {"train": range(0, 30), "validation": range(30, 40), "test": range(40, 50)}


def check_sources(sources) -> tuple[str, ...]:
    """``sources`` as a tuple of names of ``SOURCES`` (a name given twice is spoken twice as
    often); anything else is refused."""
    sources = tuple(sources)
    unknown = [s for s in sources if s not in SOURCES]
    if not sources or unknown:
        raise ValueError(f"sources {list(sources)}: choose one or more of {list(SOURCES)}")
    return sources


def _draw(split: str, source: str, index: int):
    """(generator, digits, voice) of utterance ``index`` of ``source`` in ``split``: the
    generator goes on to the synthesis and the augmentation."""
    from nets.data.espeak import random_voice

    rng = np.random.default_rng([SPLIT_SEEDS[split], SOURCES.index(source), index])
    digits = "".join(rng.choice(list(ALPHABET), rng.integers(1, MAX_DIGITS + 1)))
    if source == "synthetic":
        speaker = SYNTHETIC_SPEAKERS[split][rng.integers(len(SYNTHETIC_SPEAKERS[split]))]
        return rng, digits, speakers()[speaker]
    return rng, digits, random_voice(split, rng)


def utterances(split: str, count: int, sources: tuple[str, ...], augment: bool):
    """(audio list at SAMPLE_RATE, digit strings, source indices) of utterances 0..count-1:
    the synthetic ones here, the espeak-ng ones in a fresh process (``speak_fresh``)."""
    from nets.data.espeak import speak_fresh
    from nets.data.speech_augment import augment_waveform

    drawn = [(sources[i % len(sources)], *_draw(split, sources[i % len(sources)], i))
             for i in range(count)]  # fmt: skip
    spoken = iter(speak_fresh([(d, v) for s, _, d, v in drawn if s == "espeak"], desc=split))
    audio = []
    rows = tqdm(drawn, desc=f"synthesising and augmenting {split}", unit="utt", file=sys.stderr)
    for source, rng, digits, voice in rows:
        clip = synthesise(digits, voice, rng).audio if source == "synthetic" else next(spoken)
        audio.append(augment_waveform(clip, rng) if augment else clip)
    return audio, [d for _, _, d, _ in drawn], [SOURCES.index(s) for s, *_ in drawn]


@functools.lru_cache(maxsize=8)
def spoken_digits_split(
    split: str,
    count: int,
    sources: tuple[str, ...] = SOURCES,
    augment: bool | None = None,
    snr_db: float | None = None,
) -> dict:
    """The arrays of ``count`` utterances of ``split`` from ``sources`` (augmented if
    ``augment``, by default for training only; with noise at ``snr_db`` if given). Cached:
    read them, never write to them."""
    from nets.data.speech_augment import add_noise

    if split not in SPLITS:
        raise ValueError(f"split {split!r}: choose one of {list(SPLITS)}")
    check_positive("count", count)
    sources = check_sources(sources)
    augment = split == "train" if augment is None else augment
    audio, transcripts, origin = utterances(split, count, sources, augment)
    if snr_db is not None:
        noise = [np.random.default_rng([SPLIT_SEEDS[split], 99, i]) for i in range(count)]
        audio = [add_noise(clip, snr_db, rng) for clip, rng in zip(audio, noise, strict=True)]
    arrays = speech_arrays(audio, transcripts, SAMPLE_RATE)
    arrays["source"] = np.array(origin, np.int32)
    for array in arrays.values():
        array.flags.writeable = False
    return arrays
