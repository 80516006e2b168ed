"""LeNet-5 on MNIST (tfds's ``mnist``, a download: prepare it first with
``python -m nets.data.prepare mnist --data_dir DIR``); the 28x28 digits are padded to the
32x32 input the network was designed for, as LeCun et al. did.

    python -m experiments.train --config experiments/configs/mnist_lenet5.py \
        --workdir runs/mnist_lenet5 --config.data.data_dir=DIR

Published: 0.95% test error without distortions (LeCun et al. 1998, section III.C). Their
training (20 passes of stochastic diagonal Levenberg-Marquardt with a decreasing step) is
replaced by its modern equivalent: SGD with momentum 0.9, batch 64, learning rate 0.01 divided
by 10 after 10 and 15 of 20 epochs. ``lenet5_digits.py`` is the offline counterpart on
scikit-learn's 8x8 digits. Profiles: 'quick' (default), 'full' (the same), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import optimizer_config, shrink_for_tests, training_config

EPOCH = 60_000 // 64  # steps per pass over MNIST's training set at batch 64


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "mnist", "lenet5")
    config.data.stream = True  # records read from the files as needed, never the whole split
    config.optimizer = optimizer_config(
        name="sgd",
        learning_rate=0.01,
        momentum=0.9,
        schedule="steps",
        boundaries=(10 * EPOCH, 15 * EPOCH),
    )
    config.batch_size = 64
    config.num_steps = 20 * EPOCH
    config.log_every = EPOCH // 3
    config.eval_every = EPOCH // 3 * 3
    config.checkpoint_every = 2 * EPOCH
    config.anchor = "0.95% test error (LeCun et al. 1998, LeNet-5 without distortions)"
    if profile == "tiny":
        shrink_for_tests(config, num_steps=3, log_every=1, eval_every=0, eval_batch_size=16)
        config.optimizer.boundaries = (2,)
    return config
