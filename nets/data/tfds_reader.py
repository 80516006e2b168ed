"""Reading a prepared tfds data set: its array_record files through ``as_data_source`` (random
access, no TensorFlow), either a whole split at once (``TfdsSplit``: tfds decodes a record in
about 100 us in Python, and slicing arrays in memory is then free; CIFAR-10's 50,000 images are
150 MB) or record by record as training asks for them (``Records``: memory stays flat in the
split's size, and worker processes decode and augment; ImageNet is read only this way). A data
set this code generates is prepared on first use; a download-only one names the command that
prepares it.
"""

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from nets.checks import check_choice

log = logging.getLogger(__name__)


class DatasetNotPreparedError(ValueError):
    """The data set's files are not in the data directory and cannot be generated here."""


class Records(Sequence):
    """One split read on demand: ``records[i]`` reads record i from the array_record files (tfds
    decodes it) and ``decode`` makes it an example {'inputs', 'targets'}; nothing is held but
    the files' index, so memory stays flat in the split's size. A random-access sequence, as
    grain's ``MapDataset.source`` wants; picklable, so grain's worker processes can read it."""

    def __init__(self, source: Sequence, decode: Callable[[dict], dict]):
        self.source, self.decode = source, decode

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index) -> dict:
        return self.decode(self.source[int(index)])


@dataclasses.dataclass(frozen=True)
class TfdsSplit:
    """``DatasetSpec.load`` for a tfds data set with features ``inputs`` and ``targets``:
    ``transform`` maps stacked inputs [N, ...] (a record is decoded as a stack of one);
    integer ``labels`` are cast to int32 (tfds decodes them as int64). ``tfds_name`` names the
    tfds data set when the registered name is a view of it ('mnist_pixels' reads 'mnist');
    ``test_split`` is the tfds split that serves as the test split (ImageNet's 'validation':
    its test labels are not published). Called, it reads the whole split into memory;
    ``records`` streams it instead, the only way for images of ``varying_sizes``."""

    inputs: str
    targets: str
    transform: Callable = np.asarray
    labels: bool = True
    tfds_name: str | None = None
    test_split: str = "test"
    varying_sizes: bool = False

    def _targets(self, values) -> np.ndarray:
        values = np.asarray(values)
        return values.astype(np.int32) if self.labels else values

    def decode(self, record: dict) -> dict[str, np.ndarray]:
        return {
            "inputs": self.transform(np.asarray(record[self.inputs])[None])[0],
            "targets": self._targets(record[self.targets]),
        }

    def _source(self, name: str, split: str) -> tuple[str, str]:
        return self.tfds_name or name, self.test_split if split == "test" else split

    def records(self, name: str, split: str, data_dir=None) -> Records:
        return Records(tfds_source(*self._source(name, split), data_dir), self.decode)

    def __call__(self, name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
        if self.varying_sizes:
            raise ValueError(f"dataset {name!r}: {STREAM_ONLY}")
        records = tfds_records(*self._source(name, split), data_dir)
        return {  # the whole split's inputs transformed at once
            "inputs": self.transform(np.stack([r[self.inputs] for r in records])),
            "targets": self._targets(np.stack([r[self.targets] for r in records])),
        }


STREAM_ONLY = (
    "its images come in many sizes; stream them (config.data.stream=True) through an "
    "augmentation that crops them to one size for training and evaluation (config.data.augment "
    "'imagenet')"
)


def tfds_records(name: str, split: str, data_dir=None) -> list[dict]:
    """Every record of one split of a tfds data set, decoded (``tfds_source`` says which)."""
    source = tfds_source(name, split, data_dir)
    return [source[index] for index in range(len(source))]


def tfds_source(name: str, split: str, data_dir=None) -> Sequence:
    """One split of a tfds data set as a random-access source over its array_record files. A
    data set of ``nets.data.builders`` (generated here) that is not prepared yet is generated
    into ``data_dir`` first; a download-only one raises DatasetNotPreparedError naming the
    command that prepares it."""
    from nets.data.builders import OFFLINE_BUILDERS

    data = builder(name, data_dir)
    if name.partition("/")[0] in OFFLINE_BUILDERS and not data.is_prepared():
        log.warning("preparing %s into %s (once)", name, data.data_dir)
        data.download_and_prepare()
    try:
        return data.as_data_source(split)
    except KeyError:  # tfds: "`splits` is empty ... has not been generated yet"
        needs = f"{MANUAL[name]} in a directory DIR" if name in MANUAL else "a download"
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared in {data.data_dir}; prepare it (needs {needs}) "
            f"with: {prepare_command(name, data.data_dir_root)}"
        ) from None


# tfds's own builders: prepared by download
DOWNLOADED = ("mnist", "cifar10", "imdb_reviews", "tiny_shakespeare", "free_spoken_digit")


@dataclasses.dataclass(frozen=True)
class ManualDownload:
    """The files a tfds builder reads from ``--manual_dir`` instead of downloading them."""

    files: tuple[str, ...]
    source: str

    def __str__(self) -> str:
        return f"{' and '.join(self.files)} from {self.source}"


# tfds's builders that read files you download yourself
MANUAL = {
    "imagenet2012": ManualDownload(
        ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"), "image-net.org, after registering"
    )
}


def prepare_command(name: str, data_dir) -> str:
    manual = " --manual_dir DIR" if name in MANUAL else ""
    return f"python -m nets.data.prepare {name} --data_dir {data_dir}{manual}"


def builder(name: str, data_dir=None):
    """The tfds builder of ``name`` writing array_record files into ``data_dir`` (tfds's default
    when None). A config the builder does not have is listed with the valid ones."""
    import tensorflow_datasets as tfds

    import nets.data.fsdd  # noqa: F401  (registers free_spoken_digit with tfds)
    from nets.data.builders import OFFLINE_BUILDERS

    base, _, config = name.partition("/")  # the builder, then its config
    check_choice("tfds dataset", base, (*OFFLINE_BUILDERS, *DOWNLOADED, *MANUAL))
    if base not in OFFLINE_BUILDERS:
        return tfds.builder(name, data_dir=data_dir, file_format="array_record")
    builder_class = OFFLINE_BUILDERS[base]
    configs = {c.name: c for c in builder_class.BUILDER_CONFIGS}
    if configs or config:
        check_choice(f"{base} config", config, configs)
    return builder_class(config=configs.get(config), data_dir=data_dir, file_format="array_record")
