"""Offline smoke run of the CIFAR ResNet-20 (BatchNorm, option-A shortcuts) on digits at
32x32x1: the cifar10_resnet20 recipe end to end, on data that needs no download.

    python -m experiments.train --config experiments/configs/resnet20_digits.py \
        --workdir runs/resnet20_digits

Profiles: 'quick' (default; 600 steps, a few minutes on a 2-core CPU), 'full' (the same),
'tiny' (the tests).
"""

import ml_collections

from experiments.configs import cifar10_resnet20


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = cifar10_resnet20.get_config(profile)
    config.data.name = "digits32"
    if profile != "tiny":
        config.batch_size = 64
        config.num_steps = 600
        config.log_every = 50
        config.checkpoint_every = 200
    return config
