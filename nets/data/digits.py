"""scikit-learn's 8x8 handwritten digits (shipped with the package: nothing is downloaded),
resized to LeNet-5's 32x32x1 with a fixed train/test split."""

import functools

import numpy as np


@functools.cache
def load_digits(size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> dict:
    """{'train': {'inputs': [N, size, size, 1] float32 in [0, 1], 'targets': [N] int32},
    'test': the same for the held-out images}.

    The 1,797 images (pixel values 0-16) are scaled to [0, 1] and resized bilinearly from 8x8;
    the split shuffles with ``seed`` and holds out ``test_fraction`` (1,438 / 359 by default).
    """
    import jax
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = digits.images.astype(np.float32)[..., None] / 16.0
    images = np.asarray(jax.image.resize(images, (len(images), size, size, 1), "linear"))
    order = np.random.default_rng(seed).permutation(len(images))
    test = int(round(test_fraction * len(images)))
    labels = digits.target.astype(np.int32)
    rows = {"train": order[test:], "test": order[:test]}
    return {
        split: {"inputs": images[index], "targets": labels[index]} for split, index in rows.items()
    }
