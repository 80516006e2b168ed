"""Log-mel spectrograms in JAX: the features a speech recogniser reads, computed on the device.

    features, frames = log_mel_spectrogram(audio, lengths, sample_rate=8000)

audio [batch, samples] (mono, right-padded), lengths [batch] its real samples ->
features [batch, frames, mels], frames [batch] each utterance's real frames.

1. Frames: ``window_ms`` (25 ms) windows every ``hop_ms`` (10 ms), no padding at the edges, so
   an utterance of L samples has 1 + (L - W) // H whole frames (0 if L < W), the
   output-size formula with Filter W and Stride H.
2. Power spectrum |rfft(w * frame)|^2 with w a periodic Hann window of W samples.
3. Mel energies: the spectrum times the mel filterbank [W // 2 + 1, mels] (``mel_filterbank``).
4. log(energy + 1e-6), then per-utterance normalisation: each mel band minus its mean over the
   utterance's real frames, divided by its standard deviation there (cepstral mean and
   variance normalisation: a gain or a microphone's colouring changes nothing). Frames after
   the utterance's end are 0.

Step 2 is the same computation as ``librosa.feature.melspectrogram(..., center=False)`` with
``n_fft`` = W, which the tests check it against.

Because step 4 erases level and colour, whether a recording holds speech at all is judged
before it, on the host: ``energy_rise_db`` (how far its loud frames rise above its quiet ones).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nets.checks import check_positive, check_rank, concrete
from nets.padding import valid_steps


@functools.cache
def mel_filterbank(sample_rate: int, window: int, mels: int) -> np.ndarray:
    """[window // 2 + 1, mels]: triangular filters equally spaced on the mel scale from 0 Hz to
    the Nyquist frequency, each of unit area (Slaney's normalisation).

    From librosa (``librosa.filters.mel``): the filterbank is a convention with several
    variants (HTK's or Slaney's mel scale, peak or area normalisation), and librosa's is the
    one the field's recipes and their published features use, so we take it rather than
    write a variant of our own. Imported here only: the rest of ``nets`` does not need it.
    """
    from librosa.filters import mel

    return mel(sr=sample_rate, n_fft=window, n_mels=mels).T.astype(np.float32)


def frame_count(lengths, window: int, hop: int):
    """Whole frames of ``window`` samples every ``hop`` in utterances of ``lengths`` samples:
    1 + (L - W) // H, and 0 where L < W."""
    return jnp.where(lengths >= window, (lengths - window) // hop + 1, 0)


def _samples(sample_rate: int, milliseconds: float) -> int:
    return int(round(sample_rate * milliseconds / 1000))


def log_mel_spectrogram(
    audio: jax.Array,
    lengths: jax.Array | None = None,
    *,
    sample_rate: int,
    mels: int = 40,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
) -> tuple[jax.Array, jax.Array]:
    """Normalised log-mel features [batch, frames, mels] of mono ``audio`` [batch, samples]
    and each utterance's real frames [batch] (see the module docstring). Known (not traced)
    audio with a NaN or infinite sample, or lengths outside 0..samples, are refused; traced
    lengths are clipped to that range."""
    check_rank("audio", jnp.shape(audio), 2, "[batch, samples] (mono)")
    check_positive("sample_rate", sample_rate)
    check_positive("mels", mels)
    window, hop = _samples(sample_rate, window_ms), _samples(sample_rate, hop_ms)
    check_positive("hop (samples)", hop)
    batch, samples = jnp.shape(audio)
    if samples < window:
        raise ValueError(f"audio of {samples} samples is shorter than one {window}-sample window")
    lengths = jnp.full((batch,), samples) if lengths is None else jnp.asarray(lengths)
    known_audio, known_lengths = concrete(audio), concrete(lengths)
    if known_audio is not None and not np.all(np.isfinite(known_audio)):
        rows = np.flatnonzero(~np.all(np.isfinite(known_audio), axis=1)).tolist()
        raise ValueError(f"audio rows {rows} have NaN or infinite samples")
    if known_lengths is not None and np.any((known_lengths < 0) | (known_lengths > samples)):
        raise ValueError(f"lengths must be in 0..{samples} (the audio's samples), got "
                         f"{known_lengths.tolist()}")  # fmt: skip
    lengths = jnp.clip(lengths, 0, samples)  # traced: never more frames than the array has
    filterbank = mel_filterbank(sample_rate, window, mels)
    return _features(jnp.asarray(audio, jnp.float32), lengths, filterbank, window, hop)


@functools.partial(jax.jit, static_argnames=("window", "hop"))
def _features(audio, lengths, filterbank, window: int, hop: int):
    frames_total = (audio.shape[1] - window) // hop + 1
    starts = hop * jnp.arange(frames_total)
    frames = audio[:, starts[:, None] + jnp.arange(window)[None, :]]  # [batch, frames, W]
    hann = 0.5 - 0.5 * jnp.cos(2 * jnp.pi * jnp.arange(window) / window)  # periodic
    power = jnp.abs(jnp.fft.rfft(frames * hann, axis=-1)) ** 2
    log_mel = jnp.log(power @ filterbank + 1e-6)
    frames_real = frame_count(lengths, window, hop)
    valid = valid_steps(frames_real, frames_total)[..., None]
    count = jnp.maximum(frames_real, 1)[:, None, None]
    mean = jnp.sum(jnp.where(valid, log_mel, 0), axis=1, keepdims=True) / count
    variance = jnp.sum(jnp.where(valid, (log_mel - mean) ** 2, 0), axis=1, keepdims=True) / count
    normalised = (log_mel - mean) / jnp.sqrt(variance + 1e-5)
    return jnp.where(valid, normalised, 0.0), frames_real


def energy_rise_db(
    audio: np.ndarray,
    sample_rate: int,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
    band: tuple[float, float] = (300.0, 3400.0),
) -> float:
    """How far a recording's loud frames rise above its quiet ones, in dB, whatever the colour
    of a steady noise: over the frames t of step 1, the 95th minus the 10th percentile of

        e_t = 10 log10 sum_f P(f, t) / P10(f),    f in ``band`` (the telephone band)

    with P(f, t) step 2's power spectrum and P10(f) frequency f's 10th percentile over the
    frames. Dividing by P10 whitens a stationary noise, so brown noise's few strong low
    frequencies vary no more than white noise's many; speech comes and goes between words
    and phones, noise does not. numpy, on one mono recording [samples] of at least a window.
    """
    window, hop = _samples(sample_rate, window_ms), _samples(sample_rate, hop_ms)
    audio = np.asarray(audio, np.float64)
    if audio.ndim != 1 or len(audio) < window:
        raise ValueError(f"audio of shape {audio.shape}: expected [samples] of at least {window}")
    starts = hop * np.arange((len(audio) - window) // hop + 1)
    frames = audio[starts[:, None] + np.arange(window)[None, :]]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    power = np.abs(np.fft.rfft(frames * hann, axis=-1)) ** 2
    frequency = np.fft.rfftfreq(window, 1 / sample_rate)
    power = power[:, (frequency >= band[0]) & (frequency <= band[1])] + 1e-20
    energy = 10 * np.log10(np.sum(power / np.percentile(power, 10, axis=0), axis=1))
    return float(np.percentile(energy, 95) - np.percentile(energy, 10))
