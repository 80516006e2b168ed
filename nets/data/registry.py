"""The registry of data sets: every data set by name (``config.data.name``), what a trainer
needs to know of it (``DatasetSpec``: its objective, outputs, token count, how to read a split,
what prediction on new input needs) and one split of it as arrays in memory.

    arrays = load_split("digits32", "train")          # {'inputs': [N, ...], 'targets': [N, ...]}

A data set is generated here (synthetic tasks, MNIST-1D, scikit-learn's digits, pydoc text,
statsmodels' series, synthetic and espeak-ng speech), prepared by tfds from a download, or both;
``nets.data.tfds_reader`` reads the prepared ones and ``nets.data.batches`` feeds training.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nets.checks import check_choice
from nets.data import synthetic
from nets.data.corpus import pydoc_text
from nets.data.digits import load_digits
from nets.data.mnist1d import mnist1d_labels
from nets.data.pixels import fixed_permutation, pixel_sequences
from nets.data.reviews import REVIEW_VOCABULARY, max_review_length, review_split
from nets.data.reviews import vocabulary as review_vocabulary
from nets.data.series import SERIES, Normaliser, forecast_arrays, load_series
from nets.data.speech import (
    ALPHABET,
    HOP_MS,
    MAX_DIGITS,
    MELS,
    SAMPLE_RATE,
    TRAIN_SIZE,
    WINDOW_MS,
    concatenated,
    digit_speech_split,
    fsdd_test_recording,
    speech_arrays,
)
from nets.data.speech import SPLIT_SEEDS as SPEECH_SEEDS
from nets.data.spoken_digits import spoken_digits_split
from nets.data.synthetic import Generated
from nets.data.text import CHARACTERS, PAD, Vocabulary, pad, windows
from nets.data.tfds_reader import Records, TfdsSplit, builder, tfds_records
from nets.data.translation import (
    DATE_TARGET,
    END_ID,
    MAX_DATE_SOURCE,
    ORDER_MARKS,
    SEQUENCE_CHARACTERS,
    START_ID,
    task_split,
)

log = logging.getLogger(__name__)


def _scale_bytes(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


# ImageNet's channel means and standard deviations (RGB, of the 0..255 bytes; flax's example)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def _imagenet_images(images: np.ndarray) -> np.ndarray:
    """Each channel standardised by the data set's mean and deviation: (x - mean) / std, over
    rows of W x 3 values (numpy broadcasts over a trailing axis of 3 ten times slower: 5 ms
    of a 500x375 image's 10 ms in the pipeline, now 0.5)."""
    count, height, width, channels = images.shape
    rows = images.astype(np.float32).reshape(count, height, width * channels)
    rows -= np.tile(IMAGENET_MEAN, width)
    rows /= np.tile(IMAGENET_STD, width)
    return rows.reshape(images.shape)


def _mnist_images(images: np.ndarray) -> np.ndarray:
    # LeNet-5 reads 32x32: pad MNIST's 28x28 with two zero pixels on each side, as LeCun did
    return np.pad(_scale_bytes(images), ((0, 0), (2, 2), (2, 2), (0, 0)))


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a trainer needs to know of a data set, and how to read one split of it.

    loss: the objective its targets call for, a name in ``nets.training.objectives``
      ('cross_entropy' for integer labels, 'mse' for real targets) or a function of your own.
    num_outputs: the model's outputs (classes, or 1 for a scalar target).
    tokens: the inputs are integer tokens 0..tokens-1 (sequences of symbols), not real values.
    load: ``load(name, split, data_dir) -> {'inputs': [N, ...], 'targets': [N, ...]}`` (plus
      'lengths' for padded sequences); ``TfdsSplit(...)`` builds one for a tfds data set.
    validation: the data set has a 'validation' split, which periodic evaluation reads (the
      test split otherwise).
    generated: the task is drawn from keys (``nets.data.synthetic.Generated``): a sweep draws
      its training batches fresh and its test split from the task's own key.
    pipeline: ``pipeline(name, data_dir) -> dict``, what the data pipeline fixes and prediction
      on new input needs, JSON-able: the task (``TASKS``) and its vocabulary, labels, sample
      rate, image size and scaling or series scaling. A run writes it into its work directory
      (``nets.training.run``), so a trained model needs neither this code's data nor its
      generators. None: the task is 'arrays' (inputs given as arrays of the example's shape).
    """

    loss: str | Callable
    num_outputs: int
    load: Callable[[str, str, str | None], dict[str, np.ndarray]]
    tokens: int = 0
    validation: bool = False
    pipeline: Callable[[str, str | None], dict] | None = None
    generated: Generated | None = None


# what ``experiments.predict`` does with a run's inputs and outputs, by its data set
TASKS = ("image", "text_classification", "translation", "speech", "language_model", "forecast")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def variant(name: str, default: int) -> int:
    """The number after the '/' of a data set's name ('reviews/100' -> 100), or ``default``."""
    _, _, suffix = name.partition("/")
    if not suffix:
        return default
    if not suffix.isdigit() or int(suffix) < 1:
        raise ValueError(f"dataset {name!r}: the part after '/' must be a positive integer")
    return int(suffix)


REVIEW_DISTANCE = 60  # the generated reviews' longest filler after the deciding clause


def _reviews(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """The generated reviews (``nets.data.reviews``); 'reviews/D' has filler up to D words."""
    del data_dir  # generated in memory in a second
    arrays = review_split(split, variant(name, REVIEW_DISTANCE))
    return {key: arrays[key] for key in ("inputs", "targets", "lengths")}


IMDB_LENGTH, IMDB_VOCABULARY = 256, 20_000  # words read of each review; words known


def imdb_vocabulary(data_dir=None) -> Vocabulary:
    """The ``IMDB_VOCABULARY - 2`` most frequent words of IMDB's training reviews, built once and
    saved beside the prepared data (``<data_dir>/imdb_reviews/vocabulary.json``)."""
    root = Path(data_dir or builder("imdb_reviews").data_dir_root)
    path = root / "imdb_reviews" / "vocabulary.json"
    if path.exists():
        return Vocabulary.load(path)
    texts = [_text(r["text"]) for r in tfds_records("imdb_reviews", "train", data_dir)]
    vocabulary = Vocabulary.from_texts(texts, "word", IMDB_VOCABULARY)
    vocabulary.save(path)
    return vocabulary


def _imdb(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """IMDB reviews as word ids [N, IMDB_LENGTH] (the first IMDB_LENGTH words, with lengths)."""
    vocabulary = imdb_vocabulary(data_dir)
    records = tfds_records(name, split, data_dir)
    ids, lengths = pad([vocabulary.encode(_text(r["text"])) for r in records], IMDB_LENGTH)
    labels = np.array([r["label"] for r in records], np.int32)
    return {"inputs": ids, "targets": labels, "lengths": lengths}


CHARACTER_WINDOW = 128  # characters per training example of the character language models


def _pydoc_chars(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """The pydoc corpus (``nets.data.corpus``) as character windows; 'pydoc_chars/L' sets L."""
    del data_dir  # ships with Python
    return windows(CHARACTERS.encode(pydoc_text()[split]), variant(name, CHARACTER_WINDOW))


def _shakespeare_chars(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """tfds's tiny_shakespeare (one text per split, its records joined if there are more) as
    character windows; 'tiny_shakespeare/L' sets L."""
    text = "".join(_text(r["text"]) for r in tfds_records("tiny_shakespeare", split, data_dir))
    return windows(CHARACTERS.encode(text), variant(name, CHARACTER_WINDOW))


def _dates(name: str, split: str, data_dir=None) -> dict:
    """The generated date translations (``nets.data.translation``), written date -> ISO."""
    del name, data_dir  # generated in memory in a second
    return task_split("dates", split)


REVERSAL_LENGTH = 30  # the longest digit string of 'reversal' ('reversal/L' sets it)


def _reversal(name: str, split: str, data_dir=None) -> dict:
    """Digit strings of 1..L digits -> the same reversed (``nets.data.translation``)."""
    del data_dir
    return task_split("reversal", split, variant(name, REVERSAL_LENGTH))


def _series(name: str, split: str, data_dir=None) -> dict:
    """A shipped series (``nets.data.series``) as forecasting windows; 'sunspots/W' reads W
    values before each origin."""
    del data_dir  # ships inside statsmodels
    base = name.partition("/")[0]
    spec = SERIES[base]
    arrays = forecast_arrays(load_series(base), split, variant(name, spec.window), spec.horizon)
    return {key: arrays[key] for key in ("inputs", "targets")}


def _digit_speech(name: str, split: str, data_dir=None) -> dict:
    """The generated spoken digit strings (``nets.data.speech``) as log-mel features;
    'digit_speech/N' generates N training utterances (and N/10 for testing)."""
    del data_dir  # generated in memory (about a minute for the default 6,000)
    return digit_speech_split(split, variant(name, TRAIN_SIZE))


SPOKEN_DIGIT_SOURCES = {  # data set -> its sources (nets.data.spoken_digits)
    # espeak-ng twice as often: its 9 accents x 104 variants vary more than the synthesiser's
    # speakers (validation digit error at 4,000 steps: 5.6% one to one)
    "spoken_digits": ("synthetic", "espeak", "espeak"),
    "espeak_digits": ("espeak",),
    "synthetic_digits": ("synthetic",),
}


def _spoken_digits(name: str, split: str, data_dir=None) -> dict:
    """Spoken digit strings from the sources of ``SPOKEN_DIGIT_SOURCES[name]``, augmented for
    training, with voices held out for validation and testing (``nets.data.spoken_digits``);
    'spoken_digits/N' speaks N training utterances (and N/10 for validation and for testing)."""
    del data_dir  # generated in memory
    count = variant(name, TRAIN_SIZE)
    count = count if split == "train" else -(-count // 10)
    return spoken_digits_split(split, count, SPOKEN_DIGIT_SOURCES[name.split("/")[0]])


def _free_spoken_digit(name: str, split: str, data_dir=None) -> dict:
    """The Free Spoken Digit Dataset (``nets.data.fsdd``, 8 kHz; one tfds split, divided by
    ``fsdd_test_recording``) as utterances of 1..L recordings joined by silences:
    'free_spoken_digit/1' is the isolated digits, 'free_spoken_digit' (L = 7) is like the
    generated set."""
    recordings = [  # mono int16 samples: nets.data.fsdd refused anything else when preparing
        (np.asarray(record["audio"], np.float32) / 32768, int(record["label"]))
        for record in tfds_records("free_spoken_digit", "train", data_dir)
        if fsdd_test_recording(_text(record["audio/filename"])) == (split == "test")
    ]
    audio, transcripts = concatenated(recordings, variant(name, MAX_DIGITS), SPEECH_SEEDS[split])
    return speech_arrays(audio, transcripts, SAMPLE_RATE)


def _pixel_sequences(images: np.ndarray, order) -> np.ndarray:
    return pixel_sequences(_scale_bytes(images), order)


def _pixels(permuted: bool) -> Callable[[np.ndarray], np.ndarray]:
    """MNIST's bytes as [N, 784, 1] sequences in [0, 1], in a fixed random order if ``permuted``."""
    return functools.partial(
        _pixel_sequences, order=fixed_permutation(28 * 28) if permuted else None
    )


def digit_pixels_side(name: str) -> int:
    """The image side of a 'digits<side>_pixels[_permuted]' data set, read one pixel per step:
    T = side^2."""
    return int(name.removeprefix("digits").partition("_")[0])


def _digit_pixels(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """scikit-learn's digits read one pixel per step: 8x8 ('digits8_pixels', T = 64) or the
    32x32 that LeNet-5 reads ('digits32_pixels', T = 1,024), in one fixed permuted order with
    '_permuted' (``nets.data.pixels``); made in memory."""
    del data_dir
    side = digit_pixels_side(name)
    part = load_digits(size=side)[split]
    order = fixed_permutation(side * side) if name.endswith("_permuted") else None
    return {"inputs": pixel_sequences(part["inputs"], order), "targets": part["targets"]}


def _label_names(name: str, data_dir=None, count: int = 0) -> list[str]:
    """The class names tfds records for a data set's labels ('airplane', ...; '0'..'9' for the
    digits), or the numbers 0..count-1 where it records none."""
    try:
        return list(builder(name.partition("/")[0], data_dir).info.features["label"].names)
    except Exception:  # not a tfds data set, or no names: the labels are their numbers
        return [str(k) for k in range(count)]


def _image(channels: int, *, pad: int = 0, mean=0.0, std=255.0) -> Callable:
    """``DatasetSpec.pipeline`` of an image data set: pixels x in 0..255 are read as
    (x - mean) / std per channel, then ``pad`` zero pixels on each side (MNIST for LeNet-5)."""

    def pipeline(name: str, data_dir=None) -> dict:
        return {
            "task": "image",
            "channels": channels,
            "mean": np.broadcast_to(mean, channels).tolist(),
            "std": np.broadcast_to(std, channels).tolist(),
            "pad": pad,
            "labels": _label_names(name, data_dir, DATASETS[name.partition("/")[0]].num_outputs),
        }

    return pipeline


SENTIMENT_LABELS = ["negative", "positive"]


def _reviews_pipeline(name: str, data_dir=None) -> dict:
    return {
        "task": "text_classification",
        "vocabulary": review_vocabulary().to_json(),
        "max_length": max_review_length(variant(name, REVIEW_DISTANCE)),
        "labels": SENTIMENT_LABELS,
    }


def _imdb_pipeline(name: str, data_dir=None) -> dict:
    return {
        "task": "text_classification",
        "vocabulary": imdb_vocabulary(data_dir).to_json(),
        "max_length": IMDB_LENGTH,
        "labels": SENTIMENT_LABELS,
    }


def _characters_pipeline(name: str, data_dir=None) -> dict:
    return {"task": "language_model", "vocabulary": CHARACTERS.to_json()}


def _translation_pipeline(name: str, data_dir=None) -> dict:
    """Sources of at most ``max_source`` characters; outputs of at most ``max_length`` tokens
    with END; 'date': an output is an ISO date, checked against the calendar, and a source
    starts with the mark of its order of numeric days and months ('order_marks')."""
    facts = {}
    if name.partition("/")[0] == "dates":
        max_source, max_target, output = MAX_DATE_SOURCE, DATE_TARGET, "date"
        facts["order_marks"] = ORDER_MARKS
    else:
        max_source = max_target = variant(name, REVERSAL_LENGTH)
        output = "text"
    return {
        **facts,
        "task": "translation",
        "vocabulary": SEQUENCE_CHARACTERS.to_json(),
        "max_source": max_source,
        "max_length": max_target + 1,
        "start": START_ID,
        "end": END_ID,
        "pad": PAD,
        "output": output,
    }


def _series_pipeline(name: str, data_dir=None) -> dict:
    """The window read before each origin, the horizon forecast, and the scale of the changes
    (``nets.data.series.Normaliser``: the training part's standard deviation)."""
    base = name.partition("/")[0]
    series = SERIES[base]
    return {
        "task": "forecast",
        "window": variant(name, series.window),
        "horizon": series.horizon,
        "std": Normaliser.fit(load_series(base)).std,
        "unit": series.unit,
        "step": series.step,
    }


def _speech_pipeline(name: str, data_dir=None) -> dict:
    """The audio and feature settings of ``nets.data.speech.speech_arrays``."""
    return {
        "task": "speech",
        "alphabet": ALPHABET,
        "sample_rate": SAMPLE_RATE,
        "mels": MELS,
        "window_ms": WINDOW_MS,
        "hop_ms": HOP_MS,
    }


DATASETS: dict[str, DatasetSpec] = {
    "mnist1d": DatasetSpec("cross_entropy", 10, TfdsSplit("x", "label")),
    "digits32": DatasetSpec("cross_entropy", 10, TfdsSplit("image", "label"), pipeline=_image(1)),
    "adding_problem": DatasetSpec(
        "mse", 1, TfdsSplit("x", "target", labels=False), generated=synthetic.ADDING
    ),
    "copy_task": DatasetSpec(
        "cross_entropy", 10, TfdsSplit("x", "target"), tokens=10, generated=synthetic.COPY
    ),
    **{
        name: DatasetSpec("cross_entropy", 10, _digit_pixels)
        for name in (
            "digits8_pixels",
            "digits8_pixels_permuted",
            "digits32_pixels",
            "digits32_pixels_permuted",
        )
    },
    "mnist1d_even": DatasetSpec("binary_cross_entropy", 1, mnist1d_labels),
    "mnist1d_multilabel": DatasetSpec("binary_cross_entropy", 3, mnist1d_labels),
    "noisy_sine": DatasetSpec("mse", 1, synthetic.noisy_sine_split),
    "mnist": DatasetSpec(
        "cross_entropy",
        10,
        TfdsSplit("image", "label", _mnist_images),
        pipeline=_image(1, pad=2),
    ),
    "mnist_pixels": DatasetSpec(
        "cross_entropy", 10, TfdsSplit("image", "label", _pixels(False), tfds_name="mnist")
    ),
    "mnist_pixels_permuted": DatasetSpec(
        "cross_entropy", 10, TfdsSplit("image", "label", _pixels(True), tfds_name="mnist")
    ),
    "cifar10": DatasetSpec(
        "cross_entropy", 10, TfdsSplit("image", "label", _scale_bytes), pipeline=_image(3)
    ),
    "imagenet2012": DatasetSpec(
        "cross_entropy",
        1000,
        TfdsSplit("image", "label", _imagenet_images, test_split="validation", varying_sizes=True),
        pipeline=_image(3, mean=IMAGENET_MEAN, std=IMAGENET_STD),
    ),
    "reviews": DatasetSpec(
        "binary_cross_entropy", 1, _reviews, tokens=REVIEW_VOCABULARY, pipeline=_reviews_pipeline
    ),
    "imdb_reviews": DatasetSpec(
        "binary_cross_entropy", 1, _imdb, tokens=IMDB_VOCABULARY, pipeline=_imdb_pipeline
    ),
    "pydoc_chars": DatasetSpec(
        "cross_entropy",
        len(CHARACTERS),
        _pydoc_chars,
        len(CHARACTERS),
        validation=True,
        pipeline=_characters_pipeline,
    ),
    **{
        name: DatasetSpec(
            "cross_entropy",
            len(SEQUENCE_CHARACTERS),
            load,
            len(SEQUENCE_CHARACTERS),
            pipeline=_translation_pipeline,
        )
        for name, load in (("dates", _dates), ("reversal", _reversal))
    },
    **{
        name: DatasetSpec("mse", series.horizon, _series, pipeline=_series_pipeline)
        for name, series in SERIES.items()
    },
    "tiny_shakespeare": DatasetSpec(
        "cross_entropy",
        len(CHARACTERS),
        _shakespeare_chars,
        len(CHARACTERS),
        validation=True,
        pipeline=_characters_pipeline,
    ),
    **{
        name: DatasetSpec("ctc", len(ALPHABET) + 1, load, pipeline=_speech_pipeline)
        for name, load in (
            ("digit_speech", _digit_speech),
            ("free_spoken_digit", _free_spoken_digit),
        )
    },
    **{
        name: DatasetSpec(
            "ctc", len(ALPHABET) + 1, _spoken_digits, validation=True, pipeline=_speech_pipeline
        )
        for name in SPOKEN_DIGIT_SOURCES
    },
}


def register_dataset(name: str, spec: DatasetSpec) -> None:
    """Make ``name`` trainable by ``python -m experiments.train`` (``config.data.name``)."""
    if name in DATASETS:
        raise ValueError(f"dataset {name!r} is already registered")
    DATASETS[name] = spec


def pipeline(name: str, data_dir=None) -> dict:
    """What prediction on new input needs of data set ``name`` (``DatasetSpec.pipeline``):
    ``{'task': one of TASKS or 'arrays', ...}``."""
    spec = dataset_spec(name)
    return spec.pipeline(name, data_dir) if spec.pipeline else {"task": "arrays"}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name`` ('digits32', 'adding_problem/t100', ...); an unknown name lists the
    valid ones."""
    check_choice("dataset", name.split("/")[0], DATASETS)
    return DATASETS[name.split("/")[0]]


SPLITS = ("train", "test")


def load_split(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """{'inputs': [N, ...], 'targets': [N, ...]} (and 'lengths' where sequences are padded) of
    one split of a registered data set."""
    return _checked_spec(name, split).load(name, split, data_dir)


def _checked_spec(name: str, split: str) -> DatasetSpec:
    """The data set's spec, once ``split`` is known to be one of its splits."""
    spec = dataset_spec(name)
    check_choice("split", split, ("train", "validation", "test") if spec.validation else SPLITS)
    return spec


def load_records(name: str, split: str, data_dir=None) -> Records:
    """One split of a registered tfds data set, streamed from its files (``Records``) rather
    than read into memory; a data set made in memory raises ValueError."""
    spec = _checked_spec(name, split)
    if not isinstance(spec.load, TfdsSplit):
        raise ValueError(
            f"dataset {name!r} is made in memory; config.data.stream reads a tfds data set's "
            f"records from its files (mnist, cifar10, digits32, mnist1d, ...)"
        )
    return spec.load.records(name, split, data_dir)
