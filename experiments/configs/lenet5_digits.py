"""LeNet-5 on scikit-learn's digits at 32x32 (offline): the lecture's network, trained for real.

    python -m experiments.train --config experiments/configs/lenet5_digits.py --workdir runs/lenet5

Target: at least 97% test accuracy within a few minutes on a 2-core CPU. Profiles: 'quick'
(default), 'full' (the same; the data set is small), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "digits32", "lenet5")
    config.num_steps = 1500
    config.log_every = 100
    config.checkpoint_every = 500
    if profile == "tiny":
        shrink_for_tests(config, num_steps=6, checkpoint_every=3)
    return config
