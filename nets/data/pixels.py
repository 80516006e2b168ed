"""Images read one pixel per step: the sequential and permuted pixel tasks (Le, Jaitly and
Hinton 2015), where a recurrent network must carry what it saw at the top of a digit to the
last pixel, T = H * W steps later (784 for MNIST, 64 for scikit-learn's 8x8 digits).

The permuted task shuffles the pixel order with one fixed permutation (the same for every
image, train and test): neighbouring pixels land far apart in time, so dependencies are long
everywhere, not just between the top and the bottom rows.
"""

import numpy as np


def fixed_permutation(length: int, seed: int = 0) -> np.ndarray:
    """A permutation of 0..length-1, the same for the same ``seed`` on every machine."""
    return np.random.default_rng(seed).permutation(length)


def pixel_sequences(images: np.ndarray, permutation: np.ndarray | None = None) -> np.ndarray:
    """[N, H, W, C] images -> [N, H * W, C] sequences, row by row (in ``permutation``'s order
    when given)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, height, width, channels], got shape {images.shape}")
    sequences = images.reshape(len(images), -1, images.shape[-1])
    if permutation is None:
        return sequences
    if sorted(permutation) != list(range(sequences.shape[1])):
        raise ValueError(f"not a permutation of the {sequences.shape[1]} pixels")
    return sequences[:, permutation]
