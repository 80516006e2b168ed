"""What CNNs learn: LeNet-5's first-layer filters and its feature maps on one digit.

    python -m experiments.visualize_filters --workdir runs/visualize_filters

The training is ``lenet5_digits.py``'s (same fields, same profiles: 'quick' trains 1,500 steps
in under a minute on a 2-core CPU); ``example_index`` picks the test digit whose maps are drawn.
"""

import ml_collections

from experiments.configs import lenet5_digits


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = lenet5_digits.get_config(profile)
    config.example_index = 0  # which test digit's feature maps to draw
    return config
