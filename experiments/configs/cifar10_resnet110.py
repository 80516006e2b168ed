"""The CIFAR ResNet-110 of He et al. 2016 on CIFAR-10 with their recipe (``cifar10_resnet20.py``
says which), and its warm-up: "we use 0.01 to warm up the training until the training error is
below 80% (about 400 iterations), and then go back to 0.1" (section 4.2), here as 0.01 for the
first 400 steps. Published: 6.43% test error, 93.57% accuracy (Table 6, best of 5 runs; mean
6.61 +- 0.16).

    python -m experiments.train --config experiments/configs/cifar10_resnet110.py \
        --workdir runs/resnet110 --config.data.data_dir=DIR
"""

from experiments.configs.cifar10_resnet20 import cifar_resnet


def get_config(profile: str = "quick"):
    config = cifar_resnet(
        profile,
        "cifar_resnet110",
        learning_rate=0.01,
        boundaries=(400, 32_000, 48_000),
        decay=(10.0, 0.1, 0.1),
    )
    if profile == "tiny":
        config.update_from_flattened_dict({"num_steps": 4, "optimizer.boundaries": (1, 2, 3)})
    return config
