"""What CNNs learn: LeNet-5's first-layer filters and its feature maps on one digit.

    python -m experiments.visualize_filters --workdir runs/visualize_filters

Profiles: 'quick' (default; 1,500 steps on scikit-learn's digits, about a minute on a 2-core
CPU), 'full' (the same; there is nothing to scale), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import new_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile)
    config.steps = 1500
    config.eval_every = 250
    config.batch_size = 64
    config.learning_rate = 1e-3
    config.seed = 0
    config.example_index = 0  # which test digit's feature maps to draw
    if profile == "tiny":
        config.steps = 4
        config.eval_every = 2
        config.batch_size = 8
    return config
