"""MNIST-1D (Greydanus 2020): ten 1-D digit templates, shifted, scaled, sheared and noised.

Generated on the machine with ``mnist1d.data.make_dataset`` (never downloaded): the default
arguments give 4,000 training and 1,000 test sequences of length 40, labels 0-9.
"""

import functools

import numpy as np


@functools.cache
def load_mnist1d(seed: int = 42) -> dict[str, np.ndarray]:
    """{'train': {'inputs': [4000, 40] float32, 'targets': [4000] int32}, 'test': the same
    for the 1,000 test sequences}.

    ``seed`` is the generator's seed (42 is the published data set). Cached per process.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    return {
        split: {
            "inputs": np.asarray(data["x" + suffix], np.float32),
            "targets": np.asarray(data["y" + suffix], np.int32),
        }
        for split, suffix in (("train", ""), ("test", "_test"))
    }
