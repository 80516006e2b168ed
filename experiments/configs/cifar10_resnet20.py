"""The CIFAR ResNet-20 of He et al. 2016 on tfds's CIFAR-10, their recipe (a download: prepare
it first with ``python -m nets.data.prepare cifar10 --data_dir DIR``).

    python -m experiments.train --config experiments/configs/cifar10_resnet20.py \
        --workdir runs/resnet20 --config.data.data_dir=DIR

Section 4.2 of the paper: 4 pixels of zero padding, a random 32x32 crop and a random horizontal
flip of every training image; SGD with momentum 0.9 (heavy ball), weight decay 1e-4, batch 128,
learning rate 0.1 divided by 10 at 32k and 48k iterations, 64k iterations in all. Published:
8.75% test error (Table 6). ``cifar10_resnet56.py`` and ``cifar10_resnet110.py`` are the deeper
rows of the same table; ``resnet20_digits.py`` is an offline smoke run. The accuracy run needs
the data and, in reasonable time, an accelerator (64k steps of about 0.7-1 s on a 2-core CPU).
Profiles: 'quick' (default), 'full' (the same; sized for an accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import optimizer_config, shrink_for_tests, training_config

# He et al. 2016, Table 6: test error of the CIFAR-10 ResNets
PUBLISHED_ERROR = {"cifar_resnet20": 8.75, "cifar_resnet56": 6.97, "cifar_resnet110": 6.43}


def cifar_resnet(profile: str, model: str, **optimizer) -> ml_collections.ConfigDict:
    """The paper's recipe for one of its CIFAR-10 ResNets (``optimizer`` overrides)."""
    config = training_config(profile, "cifar10", model)
    config.data.augment = "cifar"
    config.data.stream = True  # records read from the files as needed, never the whole split
    config.data.workers = 4 if profile == "full" else 0
    config.optimizer = optimizer_config(
        **{
            "name": "sgd",
            "learning_rate": 0.1,
            "momentum": 0.9,
            "nesterov": False,
            "weight_decay": 1e-4,
            "schedule": "steps",
            "boundaries": (32_000, 48_000),
            **optimizer,
        }
    )
    config.batch_size = 128
    config.num_steps = 64_000
    config.log_every = 500
    config.eval_every = 4000
    config.checkpoint_every = 4000
    error = PUBLISHED_ERROR[model]
    config.anchor = f"{100 - error:.2f}% test accuracy ({error}% error; He et al. 2016, Table 6)"
    if profile == "tiny":
        shrink_for_tests(config, num_steps=3, log_every=1, eval_every=0, eval_batch_size=16)
        config.optimizer.boundaries = (1, 2)
    return config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    return cifar_resnet(profile, "cifar_resnet20")
