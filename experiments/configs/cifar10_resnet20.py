"""The CIFAR ResNet-20 of He et al. 2016 on tfds's CIFAR-10 (a download: prepare it first with
``python -m nets.data.prepare cifar10 --data_dir DIR``).

    python -m experiments.train --config experiments/configs/cifar10_resnet20.py \
        --workdir runs/resnet20 --config.data.data_dir=DIR

The paper's schedule (SGD, momentum 0.9, weight decay 1e-4, learning rate 0.1, batch 128, 64k
steps) with a cosine decay in place of its steps; no augmentation yet, so expect a few points
below its 91.25%. ``resnet20_digits.py`` is the same recipe as an offline smoke run.
Profiles: 'quick' (default), 'full' (the same; sized for an accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "cifar10", "cifar_resnet20")
    config.optimizer.update(
        name="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4, schedule="cosine"
    )
    config.batch_size = 128
    config.num_steps = 64_000
    config.log_every = 500
    config.checkpoint_every = 5000
    if profile == "tiny":
        shrink_for_tests(config, num_steps=2, log_every=1, eval_batch_size=16)
    return config
