"""tfds dataset builders for the offline data sets, written as array_record files (no TensorFlow).

Each builder generates its examples on this machine (nothing is downloaded) and tfds writes them
once into a data directory, from which ``builder.as_data_source(split)`` reads them back by
random access:

    mnist1d                      'x' [40] float32, 'label' 0-9; 4,000 train / 1,000 test
    digits32                     'image' [32, 32, 1] float32 in [0, 1], 'label' 0-9; 1,438 / 359
    adding_problem/t{50,...,400} 'x' [T, 2] float32, 'target' float32; 20,000 / 2,000
    copy_task/t{10,...,200}      'x' [T + 20] int32, 'target' [T + 20] int32; 20,000 / 2,000

Records keep the order they are generated in (``disable_shuffling``): grain shuffles when
training reads them, and a prepared split lines up row for row with its in-memory loader
(``load_digits``, ``load_mnist1d``). The synthetic tasks are the generators of
``nets.data.synthetic`` run with fixed keys, so a prepared split is the same on every machine.
"""

import dataclasses

import jax
import numpy as np
import tensorflow_datasets as tfds

from nets.data.digits import load_digits
from nets.data.mnist1d import load_mnist1d
from nets.data.synthetic import adding_problem, copy_task

VERSION = tfds.core.Version("1.0.0")
SPLIT_SEEDS = {"train": 0, "test": 1}  # the synthetic tasks' generator key per split


def _info(builder, features: dict):
    """The DatasetInfo of ``builder``: ``features`` (input first, then target), the records kept
    in the order they were generated."""
    return tfds.core.DatasetInfo(
        builder=builder,
        description=type(builder).__doc__,
        features=tfds.features.FeaturesDict(features),
        supervised_keys=tuple(features),
        disable_shuffling=True,
    )


class _LoadedClassification(tfds.core.GeneratorBasedBuilder):
    """Shared by the data sets an in-memory loader already splits: ``load()`` gives {split:
    {'inputs', 'targets'}}, written as features ``INPUT`` (of ``SHAPE``) and 'label' (10
    classes)."""

    VERSION = VERSION

    def _info(self):
        return _info(
            self,
            {
                self.INPUT: tfds.features.Tensor(shape=self.SHAPE, dtype=np.float32),
                "label": tfds.features.ClassLabel(num_classes=10),
            },
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(arrays) for split, arrays in self.load().items()}

    def _generate_examples(self, arrays):
        pairs = zip(arrays["inputs"], arrays["targets"], strict=True)
        for index, (row, label) in enumerate(pairs):
            yield index, {self.INPUT: row, "label": int(label)}


class Mnist1d(_LoadedClassification):
    """MNIST-1D (Greydanus 2020) as ``mnist1d.data.make_dataset`` generates it with seed 42."""

    INPUT, SHAPE = "x", (40,)
    load = staticmethod(load_mnist1d)


class Digits32(_LoadedClassification):
    """scikit-learn's 8x8 digits resized to 32x32x1 with the fixed split of ``load_digits``."""

    INPUT, SHAPE = "image", (32, 32, 1)
    load = staticmethod(load_digits)


@dataclasses.dataclass(eq=False)
class SequenceTaskConfig(tfds.core.BuilderConfig):
    """A synthetic sequence task at one length T, with its split sizes."""

    length: int = 100
    train_size: int = 20_000
    test_size: int = 2_000


def _sequence_configs(lengths):
    return [SequenceTaskConfig(name=f"t{t}", length=t, version=VERSION) for t in lengths]


class _SequenceTask(tfds.core.GeneratorBasedBuilder):
    """Shared by the synthetic tasks: ``_batch(key, size, length) -> {'inputs', 'targets'}``."""

    def _split_generators(self, dl_manager):
        sizes = {"train": self.builder_config.train_size, "test": self.builder_config.test_size}
        return {split: self._generate_examples(split, size) for split, size in sizes.items()}

    def _generate_examples(self, split, size):
        key = jax.random.key(SPLIT_SEEDS[split])
        batch = self._batch(key, size, self.builder_config.length)
        x, target = np.asarray(batch["inputs"]), np.asarray(batch["targets"])
        for index in range(size):
            yield index, {"x": x[index], "target": target[index]}


class AddingProblem(_SequenceTask):
    """The adding problem (``nets.data.synthetic.adding_problem``) at T = 50, 100, 200, 400."""

    VERSION = VERSION
    BUILDER_CONFIGS = _sequence_configs((50, 100, 200, 400))

    def _info(self):
        length = self.builder_config.length
        return _info(
            self,
            {
                "x": tfds.features.Tensor(shape=(length, 2), dtype=np.float32),
                "target": tfds.features.Tensor(shape=(), dtype=np.float32),
            },
        )

    @staticmethod
    def _batch(key, size, length):
        return adding_problem(key, size, length)


class CopyTask(_SequenceTask):
    """The copy task (``nets.data.synthetic.copy_task``) with delay T = 10, 50, 100, 200."""

    VERSION = VERSION
    BUILDER_CONFIGS = _sequence_configs((10, 50, 100, 200))

    def _info(self):
        steps = self.builder_config.length + 20
        return _info(
            self,
            {
                "x": tfds.features.Tensor(shape=(steps,), dtype=np.int32),
                "target": tfds.features.Tensor(shape=(steps,), dtype=np.int32),
            },
        )

    @staticmethod
    def _batch(key, size, length):
        return copy_task(key, size, length)


OFFLINE_BUILDERS = {
    "mnist1d": Mnist1d,
    "digits32": Digits32,
    "adding_problem": AddingProblem,
    "copy_task": CopyTask,
}
