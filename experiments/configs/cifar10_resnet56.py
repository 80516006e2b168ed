"""The CIFAR ResNet-56 of He et al. 2016 on CIFAR-10 with their recipe (``cifar10_resnet20.py``
says which): published 6.97% test error, 93.03% accuracy (Table 6).

    python -m experiments.train --config experiments/configs/cifar10_resnet56.py \
        --workdir runs/resnet56 --config.data.data_dir=DIR
"""

from experiments.configs.cifar10_resnet20 import cifar_resnet


def get_config(profile: str = "quick"):
    return cifar_resnet(profile, "cifar_resnet56")
