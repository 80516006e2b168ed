"""Offline smoke run of the CIFAR ResNet-20 (BatchNorm, option-A shortcuts) on digits at
32x32x1: the cifar10_resnet20 recipe end to end (its schedule at the same fractions of the
run, without the flips), on data that needs no download.

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
    config.data.augment = ""  # a mirrored digit is another digit (or none)
    if profile != "tiny":
        config.batch_size = 64
        config.num_steps = 600
        config.log_every = 50
        config.eval_every = 200
        config.checkpoint_every = 200
        config.optimizer.boundaries = (300, 450)  # the recipe's 32k and 48k of 64k
    config.anchor = ""  # the published number is CIFAR-10's, not this data set's
    return config
