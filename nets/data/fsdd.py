"""The Free Spoken Digit Dataset (Jackson et al., v1.0.9) as a tfds builder that needs no
TensorFlow: 2,500 recordings ("0" ... "9", 6 speakers, 50 each), 8 kHz mono.

    python -m nets.data.prepare free_spoken_digit [--data_dir DIR]      # downloads 16 MB
    python -m nets.data.prepare free_spoken_digit --manual_dir FSDD     # a clone of the repo

tfds's own ``spoken_digit`` builder stores the audio with its ``Audio`` feature, which needs
TensorFlow even to be constructed; this one stores the samples as an int16 tensor, read back
through ``as_data_source`` like every other data set here. The recordings are read with
``scipy.io.wavfile``; one at another rate or with more than one channel is refused, naming
its file. Records: 'audio' [samples] int16, 'label' 0-9, 'audio/filename' ('7_jackson_32.wav').
One 'train' split holds them all; ``nets.data.speech.fsdd_test_recording`` divides it as FSDD
does (recordings 0-4 of each digit and speaker are the test set).
"""

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from scipy.io import wavfile

from nets.data.speech import check_sample_rate

URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"


def read_recording(path: Path) -> np.ndarray:
    """One FSDD recording's samples [N] int16; another rate or a second channel is refused."""
    rate, samples = wavfile.read(path)
    try:
        check_sample_rate(rate)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None
    if samples.ndim != 1:
        raise ValueError(f"{path.name}: {samples.shape[1]} channels; expected mono")
    return samples.astype(np.int16)


class FreeSpokenDigit(tfds.core.GeneratorBasedBuilder):
    """The Free Spoken Digit Dataset, int16 samples at 8 kHz."""

    VERSION = tfds.core.Version("1.0.9")
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Optional: a clone of github.com/Jakobovski/free-spoken-digit-dataset (its recordings/ "
        "folder of .wav files) given as --manual_dir; without one, v1.0.9 is downloaded."
    )

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "audio": tfds.features.Tensor(shape=(None,), dtype=np.int16),
                    "label": tfds.features.ClassLabel(num_classes=10),
                    "audio/filename": tfds.features.Text(),
                }
            ),
            homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
            disable_shuffling=True,  # file-name order: the same utterances on every machine
        )

    def _split_generators(self, dl_manager):
        try:  # tfds raises when no manual directory exists
            root = Path(dl_manager.manual_dir)
        except AssertionError:
            root = None
        if root is None or not any(root.rglob("*.wav")):
            root = Path(dl_manager.download_and_extract(URL))
        return {"train": self._generate_examples(root)}

    def _generate_examples(self, root: Path):
        for path in sorted(root.rglob("*.wav")):
            yield (
                path.stem,
                {
                    "audio": read_recording(path),
                    "label": int(path.name.split("_")[0]),
                    "audio/filename": path.name,
                },
            )
