"""Speech augmentation: what a microphone, a room and a speaker's tempo do to an utterance, so that
a recogniser learns the words rather than one source's recording conditions. Pure functions of
their inputs and a numpy random generator (the same draw gives the same audio every time).

On the waveform [samples] at ``nets.data.speech.SAMPLE_RATE``:

    speed_perturbation   resample by 1/factor: tempo and pitch both times ``factor``
                         (Ko et al. 2015: factors 0.9, 1.0, 1.1)
    gain                 times 10^(dB/20)
    add_noise            white noise of power P_signal / 10^(SNR/10)
    reverberate          convolution with a room's impulse response: a unit direct path, then
                         Gaussian noise decaying as 10^(-3 t / T60) (60 dB down after T60 s)
    augment_waveform     the recipe: speed 0.9-1.1, gain +-10 dB, reverberation half of the
                         time (T60 0.1-0.6 s), noise three times in four (SNR 0-30 dB)

On the log-mel features [frames, mels] (Park et al. 2019, SpecAugment, without time warping):

    spec_augment         ``frequency_masks`` bands of up to ``frequency_width`` mels and
                         ``time_masks`` spans of up to ``time_width`` of the utterance's real
                         frames set to 0, the normalised features' mean

The waveform recipe is applied once per generated training utterance (utterance i of a split is
drawn from the seed (split, i), so generating more utterances draws more conditions);
SpecAugment per example per step, through ``nets.data.augment.augmentation('specaugment')``,
seeded by the example's position in the training order like the image recipes.
"""

import numpy as np

from nets.checks import check_choice
from nets.data.speech import SAMPLE_RATE

SPEED, GAIN_DB, SNR_DB, T60 = (0.9, 1.1), (-10.0, 10.0), (0.0, 30.0), (0.1, 0.6)
REVERB_PROBABILITY, NOISE_PROBABILITY = 0.5, 0.75


def speed_perturbation(audio: np.ndarray, factor: float) -> np.ndarray:
    """``audio`` played ``factor`` times as fast (a 1/factor as long, every frequency times
    factor), by polyphase resampling with ratio 100 / round(100 factor)."""
    from scipy import signal  # here only: generation needs it, the rest of nets does not

    return signal.resample_poly(audio, 100, round(100 * factor)).astype(np.float32)


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` times 10^(db / 20)."""
    return (audio * 10 ** (db / 20)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` plus white noise at ``snr_db`` below its mean power."""
    power = np.mean(audio.astype(np.float64) ** 2)
    noise = rng.standard_normal(len(audio)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


COLOURS = ("white", "pink", "brown")  # noise power falling as 1/f^0, 1/f, 1/f^2


def coloured_noise(colour: str, samples: int, rng: np.random.Generator) -> np.ndarray:
    """[samples] of stationary noise of unit variance whose power falls as 1/f^k with k the
    index of ``colour`` in ``COLOURS``: white noise shaped in the frequency domain."""
    check_choice("colour", colour, COLOURS)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequency = np.fft.rfftfreq(samples)
    frequency[0] = frequency[1]  # the mean keeps the lowest frequency's weight, not infinity
    noise = np.fft.irfft(spectrum * frequency ** (-COLOURS.index(colour) / 2), samples)
    return (noise / noise.std()).astype(np.float32)


def room_impulse_response(t60: float, rng: np.random.Generator) -> np.ndarray:
    """[1 + t60 seconds of samples]: 1 (the direct path), then Gaussian noise decaying by 60 dB
    over ``t60`` seconds, its energy a third of the direct path's per 0.1 s of T60."""
    time = np.arange(1, int(t60 * SAMPLE_RATE) + 1) / SAMPLE_RATE
    tail = rng.standard_normal(len(time)) * 10 ** (-3 * time / t60)
    tail *= np.sqrt(t60 / 0.3 / np.sum(tail**2))
    return np.concatenate([[1.0], tail])


def reverberate(audio: np.ndarray, t60: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` in a room of reverberation time ``t60`` s, cut to its own length and scaled
    back to its own mean power."""
    from scipy import signal

    wet = signal.fftconvolve(audio, room_impulse_response(t60, rng))[: len(audio)]
    scale = np.sqrt(np.mean(audio.astype(np.float64) ** 2) / max(np.mean(wet**2), 1e-20))
    return (wet * scale).astype(np.float32)


def augment_waveform(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The recipe of the module docstring, drawn from ``rng``."""
    audio = speed_perturbation(audio, rng.uniform(*SPEED))
    if rng.random() < REVERB_PROBABILITY:
        audio = reverberate(audio, rng.uniform(*T60), rng)
    if rng.random() < NOISE_PROBABILITY:
        audio = add_noise(audio, rng.uniform(*SNR_DB), rng)
    return gain(audio, rng.uniform(*GAIN_DB))


def spec_augment(
    features: np.ndarray,
    frames: int,
    rng: np.random.Generator,
    *,
    frequency_masks: int = 2,
    frequency_width: int = 8,
    time_masks: int = 2,
    time_width: int = 10,
) -> np.ndarray:
    """A copy of ``features`` [frames, mels] with random frequency bands and time spans of its
    first ``frames`` (the real ones) set to 0. Each mask's width is uniform in 0..width (a
    span never longer than a tenth of the real frames), its start uniform where it fits."""
    features = np.array(features)
    mels = features.shape[1]
    for _ in range(frequency_masks):
        width = rng.integers(0, frequency_width + 1)
        start = rng.integers(0, mels - width + 1)
        features[:frames, start : start + width] = 0
    for _ in range(time_masks):
        width = rng.integers(0, min(time_width, frames // 10) + 1)
        start = rng.integers(0, frames - width + 1)
        features[start : start + width] = 0
    return features
