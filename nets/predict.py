"""A trained run applied to a person's own input: text, dates, speech, prompts, series, images.

    run = load_run("runs/sentiment")                      # nets.training.load
    predict(run, ["not bad at all, I loved it"])          # [{'label': 'positive', ...}]

``predict(run, inputs, **options)`` reads each input as the run's data pipeline did at training
time (``run.pipeline``: the vocabulary, the audio's sample rate and log-mel settings, the image
scaling and evaluation view, the series' scaling), applies the model compiled, and returns one
JSON-able record per input, by the run's task:

- text_classification: a text -> its label and the label's probability (and how many of its
  words the vocabulary does not know);
- translation: a text -> the greedy output (``beam`` > 0: beam search) and its log-probability
  log p(y | x) = sum_t log p(y_t | y_<t, x); a date model's output is checked against the
  calendar ('valid');
- speech: a .wav path -> its transcript (greedy, or CTC prefix beam search with ``beam``);
  another sample rate is resampled (scipy's polyphase ``resample_poly``) and stereo is mixed
  down, each with a notice;
- language_model: a prompt -> the prompt continued by ``length`` characters sampled at
  ``temperature`` with ``seed`` (never the padding or the unknown token);
- forecast: a CSV or one-column text file of a series -> the next ``horizon`` values, from
  the last ``window`` values, scaled as in training;
- image: a PNG/JPEG/.npy path -> the ``top_k`` labels and probabilities, the image scaled,
  resized (or viewed: ImageNet's centre crop) and padded as evaluation reads it;
- arrays: a .npy path of one input (or a batch of them) -> the model's outputs.

Bad input is a ``InputError`` naming the input and what is wrong with it, in one line.
"""

import csv
import datetime
import functools
import math
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nets.data.text import OOV, PAD, Vocabulary, pad


class InputError(ValueError):
    """An input the run cannot read: empty, unreadable, of the wrong shape or alphabet."""


Notice = Callable[[str], None]  # where one-line notices go (resampled audio, unknown words)


@functools.partial(jax.jit, static_argnames="model")
def _apply(model, variables, inputs, lengths):
    kwargs = {} if lengths is None else {"seq_lengths": lengths}
    return model.apply(variables, inputs, train=False, **kwargs)


def apply(run, inputs, lengths=None):
    """The model's outputs on a batch of ``inputs`` (and their ``lengths``), compiled."""
    return _apply(run.model, run.variables, inputs, lengths)


def _check_nonempty(inputs: list) -> None:
    if not inputs:
        raise InputError("no input given")
    for index, item in enumerate(inputs):
        if not str(item).strip():
            raise InputError(f"input {index + 1} is empty")


def _probabilities(logits: np.ndarray) -> np.ndarray:
    """Class probabilities [N, K] of logits [N, K]; one logit is a sigmoid's: [N, 2]."""
    logits = np.asarray(logits, np.float64)
    if logits.shape[-1] == 1:
        positive = 1 / (1 + np.exp(-logits[:, 0]))
        return np.stack([1 - positive, positive], axis=-1)
    return np.asarray(jax.nn.softmax(logits, axis=-1))


def classify_text(run, texts: list[str], notice: Notice = print) -> list[dict]:
    """Each text's label and its probability; words outside the vocabulary read as the unknown
    token, as in training (a text of unknown words only is read, with a notice)."""
    _check_nonempty(texts)
    facts = run.pipeline
    vocabulary = Vocabulary.from_json(facts["vocabulary"])
    encoded = [vocabulary.encode(text) for text in texts]
    for index, ids in enumerate(encoded):
        if len(ids) == 0:
            raise InputError(f"input {index + 1} has no words")
        if np.all(ids == OOV):
            notice(f"input {index + 1}: none of its words is in the model's vocabulary")
    ids, lengths = pad(encoded, facts["max_length"])
    probabilities = _probabilities(apply(run, ids, lengths))
    labels = facts["labels"]
    records = []
    for text, ids_row, p in zip(texts, encoded, probabilities, strict=True):
        best = int(np.argmax(p))
        records.append(
            {
                "input": text,
                "label": labels[best],
                "probability": float(p[best]),
                "unknown_words": int(np.sum(ids_row == OOV)),
            }
        )
    return records


def _translation_sources(run, texts: list[str], order: str | None):
    """The model's source ids and lengths of ``texts``: each behind its order's mark where the
    model reads one (a date model: ``order`` 'dmy' by default, or 'mdy')."""
    facts = run.pipeline
    vocabulary = Vocabulary.from_json(facts["vocabulary"])
    marks = facts.get("order_marks", {})
    if order is not None and order not in marks:
        raise InputError(
            f"--order {order}: this model reads the orders {sorted(marks)}"
            if marks
            else "--order: this model's inputs have no order of days and months"
        )
    mark = marks.get(order or "dmy", "")
    reserved = {vocabulary.tokens[facts["start"]], vocabulary.tokens[facts["end"]], *marks.values()}
    for index, text in enumerate(texts):
        unknown = sorted({c for c in text if c not in vocabulary.ids or c in reserved})
        if unknown:
            raise InputError(
                f"input {index + 1} ({text!r}) has characters the model does not know: {unknown}"
            )
        if len(mark + text) > facts["max_source"]:
            raise InputError(
                f"input {index + 1} ({text!r}) has {len(text)} characters; the model reads at "
                f"most {facts['max_source'] - len(mark)}"
            )
    return pad([vocabulary.encode(mark + text) for text in texts], facts["max_source"])


@functools.partial(jax.jit, static_argnames="model")
def _sequence_log_probability(model, variables, source, lengths, tokens, start, end):
    """log p(y | x) = sum_t log p(y_t | y_<t, x) of output ``tokens`` [N, T] (up to and with
    their first ``end``), read back with teacher forcing."""
    decoder_inputs = jnp.concatenate([jnp.full_like(tokens[:, :1], start), tokens[:, :-1]], 1)
    decoder_inputs = jnp.where(decoder_inputs == end, PAD, decoder_inputs)
    logits = model.apply(
        variables, {"source": source, "decoder_inputs": decoder_inputs}, seq_lengths=lengths
    )
    log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[..., None], -1)[..., 0]
    ended = jnp.cumsum(tokens == end, axis=1) - (tokens == end)  # 0 up to and with the end
    return jnp.sum(jnp.where((ended == 0) & (tokens != PAD), log_probs, 0.0), axis=1)


def translate(
    run, texts: list[str], beam: int = 0, alpha: float = 0.6, order: str | None = None
) -> list[dict]:
    """Each text's output (greedy, or the best of a ``beam``-wide beam search) and its
    log-probability; 'ended': the output closed with END within the model's longest output.
    A date model reads numeric days and months in ``order`` ('dmy', the default, or 'mdy')."""
    from nets.models.decoding import beam_search, greedy_decode

    _check_nonempty(texts)
    facts = run.pipeline
    source, lengths = _translation_sources(run, texts, order)
    kwargs = {name: facts[name] for name in ("max_length", "start", "end", "pad")}
    if beam:
        tokens, _ = beam_search(
            run.model, run.variables, source, lengths, beam_width=beam, alpha=alpha, **kwargs
        )
    else:
        tokens = greedy_decode(run.model, run.variables, source, lengths, **kwargs)
    tokens = np.asarray(tokens)
    scores = _sequence_log_probability(
        run.model, run.variables, source, lengths, tokens, facts["start"], facts["end"]
    )
    vocabulary = Vocabulary.from_json(facts["vocabulary"])
    records = []
    for text, row, score in zip(texts, tokens, np.asarray(scores), strict=True):
        ends = np.flatnonzero(row == facts["end"])
        output = vocabulary.decode(row[: ends[0]] if len(ends) else row)
        record = {"input": text, "output": output, "log_probability": float(score)}
        record["ended"] = bool(len(ends))
        if facts["output"] == "date":
            record["valid"] = record["ended"] and is_calendar_date(output)
        records.append(record)
    return records


def is_calendar_date(text: str) -> bool:
    """Whether ``text`` is an ISO date YYYY-MM-DD that the calendar has ('2021-14-12' is not)."""
    try:
        return len(text) == 10 and datetime.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def sample_text(model, variables, vocabulary: Vocabulary, prompt: str, length: int, **kwargs):
    """``prompt`` continued by ``length`` sampled tokens, as text, never padding or the unknown
    token (neither is text). The prompt must be written in the vocabulary (an unseen
    character is an error naming it, not a silent OOV), and the vocabulary must be the one the
    model was trained with (same size)."""
    if len(vocabulary) != model.num_tokens:
        raise ValueError(
            f"the vocabulary has {len(vocabulary)} tokens but the model reads "
            f"{model.num_tokens}: not the vocabulary it was trained with"
        )
    if not prompt:
        raise ValueError("the prompt is empty; give at least one character to start from")
    unseen = sorted({c for c in prompt if c not in vocabulary.ids})
    if unseen:
        raise ValueError(f"the prompt has characters outside the vocabulary: {unseen}")
    prompt_ids = vocabulary.encode(prompt)[None]
    from nets.models.sampling import generate

    ids = generate(model, variables, prompt_ids, length, never=(PAD, OOV), **kwargs)
    return prompt + vocabulary.decode(np.asarray(ids[0]))


def continue_prompts(
    run, prompts: list[str], length: int = 200, temperature: float = 0.8, seed: int = 0
) -> list[dict]:
    """Each prompt continued by ``length`` sampled characters (``nets.models.sampling``)."""
    _check_nonempty(prompts)
    vocabulary = Vocabulary.from_json(run.pipeline["vocabulary"])
    records = []
    for index, prompt in enumerate(prompts):
        key = jax.random.fold_in(jax.random.key(seed), index)
        try:
            text = sample_text(
                run.model, run.variables, vocabulary, prompt, length, temperature=temperature,
                key=key,
            )  # fmt: skip
        except ValueError as error:
            raise InputError(f"input {index + 1}: {error}") from None
        records.append({"input": prompt, "output": text})
    return records


def read_audio(path, sample_rate: int, notice: Notice = print) -> np.ndarray:
    """Mono float samples [n] of a .wav file at ``sample_rate``: integer samples scaled to
    [-1, 1), channels averaged and another rate resampled (each with a notice)."""
    from scipy import signal
    from scipy.io import wavfile

    try:
        rate, samples = wavfile.read(path)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path}: not a readable .wav file ({error})") from None
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2  # 8-bit .wav is unsigned
        samples = (samples.astype(np.float64) - middle) / (info.max - middle + 1)
    samples = np.asarray(samples, np.float64)
    if samples.ndim == 2:
        notice(f"{path}: {samples.shape[1]} channels mixed down to one")
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise InputError(f"{path}: the file has no samples")
    if not np.all(np.isfinite(samples)):
        raise InputError(f"{path}: the audio has NaN or infinite samples")
    if rate != sample_rate:
        notice(f"{path}: resampled from {rate} Hz to {sample_rate} Hz")
        divisor = math.gcd(rate, sample_rate)
        samples = signal.resample_poly(samples, sample_rate // divisor, rate // divisor)
    return samples.astype(np.float32)


SILENCE_DB = -60.0  # a recording's peak below this, in dB full scale, is silence
# a recording whose loud frames rise less than this above its quiet ones is steady noise
# (nets.audio.energy_rise_db): white, pink and brown noise of 0.3-3 s stay below 3.4 dB, the
# held-out test utterances rise at least 7.5 dB clean and 3.6 dB at 5 dB SNR
SPEECH_RISE_DB = 4.0


def _no_speech(audio: np.ndarray, rate: int, facts: dict) -> str | None:
    """Why a recording holds no speech (silence, steady noise), or None where it may."""
    from nets.audio import energy_rise_db

    if np.max(np.abs(audio)) < 10 ** (SILENCE_DB / 20):
        return f"silent (peak below {SILENCE_DB:g} dBFS)"
    rise = energy_rise_db(audio, rate, facts["window_ms"], facts["hop_ms"])
    if rise < SPEECH_RISE_DB:
        return (f"steady noise (its loud frames rise {rise:.1f} dB above its quiet ones, "
                f"speech {SPEECH_RISE_DB:g} dB or more)")  # fmt: skip
    return None


def transcribe(run, paths: list[str], beam: int = 0, notice: Notice = print) -> list[dict]:
    """Each .wav file's transcript: the best path collapsed (greedy), or CTC prefix beam search
    of width ``beam``. A file with no speech gets an empty transcript and a notice, without the
    model (the features are normalised per utterance, so after them silence is no longer
    quieter than speech, nor noise different from a voice): silence, its peak below
    ``SILENCE_DB`` (dB full scale), and steady noise, its loud frames less than
    ``SPEECH_RISE_DB`` above its quiet ones (``nets.audio.energy_rise_db``). A sound that comes
    and goes (a door, music, a cough) is not refused: the model hears what it can in it."""
    from nets.audio import log_mel_spectrogram
    from nets.models.ctc import beam_search, greedy_decode

    _check_nonempty(paths)
    facts = run.pipeline
    rate = facts["sample_rate"]
    window = round(rate * facts["window_ms"] / 1000)
    records = []
    for path in paths:
        audio = read_audio(path, rate, notice)
        if len(audio) < window:
            raise InputError(
                f"{path}: {len(audio)} samples ({1000 * len(audio) / rate:.1f} ms) is shorter "
                f"than one {facts['window_ms']:g} ms analysis window"
            )
        reason = _no_speech(audio, rate, facts)
        if reason:
            notice(f"{path}: {reason}: no speech")
            records.append({"input": str(path), "transcript": ""})
            continue
        # padded to whole seconds, its real length given: recordings of one duration in
        # seconds share one compiled program (they compiled one each, a second per file)
        padded = np.zeros((1, -(-len(audio) // rate) * rate), np.float32)
        padded[0, : len(audio)] = audio
        features, frames = log_mel_spectrogram(
            padded, np.array([len(audio)]), sample_rate=rate, mels=facts["mels"],
            window_ms=facts["window_ms"], hop_ms=facts["hop_ms"],
        )  # fmt: skip
        logits, lengths = apply(run, features, frames)
        if beam:
            log_probs = np.asarray(jax.nn.log_softmax(logits[0, : int(lengths[0])], axis=-1))
            labels = beam_search(log_probs, beam)
        else:
            labels = greedy_decode(logits, lengths)[0]
        transcript = "".join(facts["alphabet"][label - 1] for label in labels)
        records.append({"input": str(path), "transcript": transcript})
    return records


def read_series(path) -> np.ndarray:
    """The values of a one-column text file or a CSV file (its last column; a first row that
    is not a number is a header). A missing or non-numeric value is an error naming its line."""
    try:
        with open(path, newline="") as file:
            rows = [row for row in csv.reader(file) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable text file ({error})") from None
    values = []
    for number, row in enumerate(rows, start=1):
        cell = row[-1].strip()
        if not cell:
            raise InputError(f"{path} line {number}: the value is missing")
        try:
            value = float(cell)
        except ValueError:
            if number == 1:
                continue  # a header
            raise InputError(f"{path} line {number}: {cell!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{path} line {number}: {cell!r} is not a finite number")
        values.append(value)
    if not values:
        raise InputError(f"{path}: no values")
    return np.array(values)


def forecast(run, paths: list[str]) -> list[dict]:
    """Each series' next ``horizon`` values, from its last ``window`` values read as changes
    from the last one in units of the training series' deviation, and scaled back."""
    _check_nonempty(paths)
    facts = run.pipeline
    window, std = facts["window"], facts["std"]
    records = []
    for path in paths:
        values = read_series(path)
        if len(values) < window:
            raise InputError(
                f"{path}: {len(values)} values; the model reads the last {window} of a series"
            )
        last = values[-1]
        inputs = ((values[-window:] - last) / std).astype(np.float32)[None, :, None]
        outputs = np.asarray(apply(run, inputs))[0]
        records.append(
            {
                "input": str(path),
                "forecast": (last + outputs * std).tolist(),
                "unit": facts["unit"],
                "step": facts["step"],
            }
        )
    return records


def read_image(path, channels: int) -> np.ndarray:
    """Pixels [H, W, channels] in 0..255 (float) of a PNG/JPEG file or a .npy array [H, W] or
    [H, W, C] of pixel values 0..255."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            image = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a readable .npy array ({error})") from None
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3:
            raise InputError(
                f"{path}: an image is [height, width] or [height, width, channels], got shape "
                f"{image.shape} ({image.ndim} axes)"
            )
        if image.shape[-1] != channels:
            if image.shape[-1] not in (1, 3):
                raise InputError(f"{path}: {image.shape[-1]} channels; the model reads {channels}")
            image = image.mean(-1, keepdims=True) if channels == 1 else np.repeat(image, 3, -1)
        return image.astype(np.float32)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = np.asarray(opened.convert("L" if channels == 1 else "RGB"), np.float32)
    except (OSError, UnidentifiedImageError) as error:
        raise InputError(f"{path}: not a readable image ({error})") from None
    return image.reshape(*image.shape[:2], channels)


def classify_images(run, paths: list[str], top_k: int = 5) -> list[dict]:
    """Each image's ``top_k`` labels with their probabilities."""
    from nets.data.augment import evaluation_view, resize

    _check_nonempty(paths)
    facts = run.pipeline
    height, width, channels = facts["example"]["inputs"]["shape"]
    view = evaluation_view(run.config.data.get("augment", ""), run.config.data.get("image_size", 0))
    images = []
    for path in paths:
        image = (read_image(path, channels) - np.float32(facts["mean"])) / np.float32(facts["std"])
        if view is not None:
            image = view({"inputs": image})["inputs"]
        else:
            margin = facts["pad"]
            inner = (height - 2 * margin, width - 2 * margin)
            if image.shape[:2] != inner:
                image = resize(image, *inner)
            image = np.pad(image, ((margin, margin), (margin, margin), (0, 0)))
        images.append(image.astype(np.float32))
    probabilities = _probabilities(apply(run, np.stack(images)))
    labels = facts["labels"]
    records = []
    for path, p in zip(paths, probabilities, strict=True):
        best = np.argsort(-p)[: min(top_k, len(p))]
        top = [{"label": labels[k], "probability": float(p[k])} for k in best]
        records.append({"input": str(path), "top": top})
    return records


def predict_arrays(run, paths: list[str]) -> list[dict]:
    """The model's outputs on each .npy file: one input of the example's shape, or a batch."""
    _check_nonempty(paths)
    layout = run.pipeline["example"]
    if not isinstance(layout["inputs"], dict) or "shape" not in layout["inputs"]:
        raise InputError("this run's inputs are nested; use the library (nets.predict.apply)")
    shape, dtype = tuple(layout["inputs"]["shape"]), layout["inputs"]["dtype"]
    records = []
    for path in paths:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a readable .npy array ({error})") from None
        batch = array[None] if array.shape == shape else array
        if batch.shape[1:] != shape:
            raise InputError(f"{path}: shape {array.shape}; the model reads {shape} or [N, *that]")
        lengths = np.full(len(batch), shape[0], np.int32) if layout["lengths"] else None
        outputs = jax.tree.map(np.asarray, apply(run, batch.astype(dtype), lengths))
        records.append({"input": str(path), "outputs": jax.tree.map(np.ndarray.tolist, outputs)})
    return records


PREDICTORS = {
    "text_classification": classify_text,
    "translation": translate,
    "speech": transcribe,
    "language_model": continue_prompts,
    "forecast": forecast,
    "image": classify_images,
    "arrays": predict_arrays,
}


def predict(run, inputs: list[str], **options) -> list[dict]:
    """One record per input, by the run's task (the module docstring)."""
    return PREDICTORS[run.task](run, inputs, **options)
