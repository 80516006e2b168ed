"""The MNIST-1D benchmark's bidirectional GRU (published test accuracy 91%), generated offline.

    python -m experiments.train --config experiments/configs/mnist1d_gru.py --workdir runs/gru

The CNN's recipe (``mnist1d_cnn.py``: Adam at 1e-2, batch 100, 8,000 steps) with the GRU.
Profiles: 'quick' (default, the recipe), 'full' (the same), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import mnist1d_cnn, model_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = mnist1d_cnn.get_config(profile)
    config.model = model_config("mnist1d_gru")
    return config
