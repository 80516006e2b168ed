"""The MNIST-1D benchmark's CNN (published test accuracy 94%), generated offline.

    python -m experiments.train --config experiments/configs/mnist1d_cnn.py --workdir runs/cnn

The benchmark's recipe: Adam at 1e-2, batch 100, 8,000 steps. Profiles: 'quick' (default, the
recipe), 'full' (the same), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "mnist1d", "mnist1d_cnn")
    config.optimizer.learning_rate = 1e-2
    config.batch_size = 100
    config.num_steps = 8000
    config.log_every = 250
    config.checkpoint_every = 2000
    if profile == "tiny":
        shrink_for_tests(config)
    return config
