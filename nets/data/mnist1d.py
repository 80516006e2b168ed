"""MNIST-1D (Greydanus 2020): ten 1-D digit templates, shifted, scaled, sheared and noised.

Generated on the machine with ``mnist1d.data.make_dataset`` (never downloaded): the default
arguments give 4,000 training and 1,000 test sequences of length 40, labels 0-9.
"""

import functools

import numpy as np


def derived_targets(labels: np.ndarray, task: str) -> np.ndarray:
    """0/1 targets from digit labels: 'even' [N, 1] (an even digit); 'multilabel' [N, 3]
    (even, at least 5, prime), so several units can be on at once."""
    even = labels % 2 == 0
    if task == "even":
        return even[:, None].astype(np.float32)
    return np.stack([even, labels >= 5, np.isin(labels, (2, 3, 5, 7))], 1).astype(np.float32)


def mnist1d_labels(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """MNIST-1D with 0/1 targets derived from its digits (``derived_targets``):
    'mnist1d_even' [N, 1], 'mnist1d_multilabel' [N, 3]; made in memory."""
    del data_dir
    part = load_mnist1d()[split]
    task = name.removeprefix("mnist1d_")
    return {"inputs": part["inputs"], "targets": derived_targets(part["targets"], task)}


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
