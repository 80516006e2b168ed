"""Reading a prepared tfds data set and feeding it to training with grain.

    arrays = load_split("digits32", "train")           # {'inputs': [N, ...], 'targets': [N, ...]}
    batches = train_batches(arrays, batch_size=64, seed=0)
    batch = next(batches); state = batches.get_state()  # checkpoint it; set_state resumes

A split is read once with ``builder.as_data_source(split)`` (random access into the array_record
files, no TensorFlow) and held in memory: tfds decodes a record in about 100 us in Python, a third
of a LeNet-5 step per batch of 64 on a 2-core CPU, while slicing arrays in memory is free. Every
data set here fits (CIFAR-10's 50,000 images are 150 MB). grain then does the rest: a shuffle
that is a pure function of (seed, epoch), so the order is the same on every run and every machine;
sharding of that order by ``jax.process_index()``; batching; prefetching in a thread; and an
iterator state (the index of the next batch) that a checkpoint stores.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterator

import grain
import jax
import numpy as np

from nets.checks import check_choice, check_positive

log = logging.getLogger(__name__)


class DatasetNotPreparedError(ValueError):
    """The data set's files are not in the data directory and cannot be generated here."""


def _scale_bytes(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def _mnist_images(images: np.ndarray) -> np.ndarray:
    # LeNet-5 reads 32x32: pad MNIST's 28x28 with two zero pixels on each side, as LeCun did
    return np.pad(_scale_bytes(images), ((0, 0), (2, 2), (2, 2), (0, 0)))


IMDB_LENGTH = 256  # bytes read of each review


def _text_bytes(texts: np.ndarray) -> np.ndarray:
    """Each review's first IMDB_LENGTH UTF-8 bytes as ids 1-256, zero-padded: [N, IMDB_LENGTH]."""
    ids = np.zeros((len(texts), IMDB_LENGTH), np.int32)
    for row, text in enumerate(texts):
        raw = np.frombuffer(text if isinstance(text, bytes) else text.encode(), np.uint8)
        ids[row, : min(len(raw), IMDB_LENGTH)] = raw[:IMDB_LENGTH].astype(np.int32) + 1
    return ids


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Which features a data set's model reads and predicts, and what kind of task it is.

    task: 'classification' (integer labels, ``num_classes``) or 'regression' (real targets).
    tokens: the inputs are integer tokens 0..tokens-1 (sequences of symbols), not real values.
    """

    inputs: str
    targets: str
    task: str
    num_classes: int | None = None
    tokens: int = 0
    transform: Callable[[np.ndarray], np.ndarray] = np.asarray


DATASETS = {
    "mnist1d": DatasetSpec("x", "label", "classification", 10),
    "digits32": DatasetSpec("image", "label", "classification", 10),
    "adding_problem": DatasetSpec("x", "target", "regression"),
    "copy_task": DatasetSpec("x", "target", "classification", 10, tokens=10),
    "mnist": DatasetSpec("image", "label", "classification", 10, transform=_mnist_images),
    "cifar10": DatasetSpec("image", "label", "classification", 10, transform=_scale_bytes),
    "imdb_reviews": DatasetSpec(
        "text", "label", "classification", 2, tokens=257, transform=_text_bytes
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name`` ('digits32', 'adding_problem/t100', ...); an unknown name lists the
    valid ones."""
    check_choice("dataset", name.split("/")[0], DATASETS)
    return DATASETS[name.split("/")[0]]


def prepare_command(name: str, data_dir) -> str:
    return f"python -m nets.data.prepare {name} --data_dir {data_dir}"


def builder(name: str, data_dir=None):
    """The tfds builder of ``name`` writing array_record files into ``data_dir`` (tfds's default
    when None). A config the builder does not have is listed with the valid ones."""
    import tensorflow_datasets as tfds

    from nets.data.builders import OFFLINE_BUILDERS

    base, _, config = name.partition("/")
    dataset_spec(name)
    if base not in OFFLINE_BUILDERS:
        return tfds.builder(name, data_dir=data_dir, file_format="array_record")
    builder_class = OFFLINE_BUILDERS[base]
    configs = {c.name: c for c in builder_class.BUILDER_CONFIGS}
    if configs or config:
        check_choice(f"{base} config", config, configs)
    return builder_class(config=configs.get(config), data_dir=data_dir, file_format="array_record")


def load_split(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """{'inputs': [N, ...], 'targets': [N, ...]} of one split of a prepared data set.

    A data set of ``nets.data.builders`` (generated here) that is not prepared yet is
    generated into ``data_dir`` first; a download-only one raises DatasetNotPreparedError
    naming the command that prepares it.
    """
    from nets.data.builders import OFFLINE_BUILDERS

    spec = dataset_spec(name)
    check_choice("split", split, ("train", "test"))
    data = builder(name, data_dir)
    if name.partition("/")[0] in OFFLINE_BUILDERS and not data.is_prepared():
        log.warning("preparing %s into %s (once)", name, data.data_dir)
        data.download_and_prepare()
    try:
        source = data.as_data_source(split)
    except KeyError:  # tfds: "`splits` is empty ... has not been generated yet"
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared in {data.data_dir}; "
            f"prepare it (needs a download) with: {prepare_command(name, data.data_dir_root)}"
        ) from None
    records = [source[index] for index in range(len(source))]
    targets = np.stack([r[spec.targets] for r in records])
    if spec.task == "classification":
        targets = targets.astype(np.int32)  # tfds decodes labels as int64
    inputs = spec.transform(np.stack([r[spec.inputs] for r in records]))
    return {"inputs": inputs, "targets": targets}


def _take(arrays: dict[str, np.ndarray]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    return lambda rows: {key: value[rows] for key, value in arrays.items()}


def train_batches(
    arrays: dict[str, np.ndarray],
    batch_size: int,
    seed: int,
    *,
    shard_index: int | None = None,
    shard_count: int | None = None,
    prefetch: int = 2,
) -> Iterator[dict[str, np.ndarray]]:
    """An endless grain iterator of shuffled batches of ``arrays`` (leaves [N, ...]).

    Every epoch is a fresh permutation, a function of ``seed`` and the epoch only. Process
    ``shard_index`` of ``shard_count`` (default: this JAX process of all of them) takes every
    ``shard_count``-th example of that order, so the processes' batches never overlap and
    together form the global batch of ``batch_size * shard_count``. The iterator's
    ``get_state()`` is a small JSON-able dict; ``set_state`` on a new iterator continues exactly.
    """
    check_positive("batch_size", batch_size)
    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
    size = len(jax.tree.leaves(arrays)[0])
    if size < batch_size * shard_count:
        raise ValueError(f"a batch of {batch_size * shard_count} needs at least that many "
                         f"examples; the data set has {size}")  # fmt: skip
    order = grain.MapDataset.range(size).seed(seed).shuffle().repeat(None)
    batches = order[shard_index::shard_count].batch(batch_size, drop_remainder=True)
    options = grain.ReadOptions(num_threads=1, prefetch_buffer_size=prefetch)
    return iter(batches.map(_take(arrays)).to_iter_dataset(options))


def eval_batches(arrays: dict[str, np.ndarray], batch_size: int):
    """The whole split in order, in batches of exactly ``batch_size`` (one compiled shape): each
    batch has a 'mask' that is 0 on the rows padding the last batch."""
    check_positive("batch_size", batch_size)
    size = len(jax.tree.leaves(arrays)[0])
    for start in range(0, size, batch_size):
        rows = np.arange(start, start + batch_size)
        batch = _take(arrays)(np.minimum(rows, size - 1))
        yield {**batch, "mask": (rows < size).astype(np.float32)}
