"""The CNN view of the model registry: ``get_model(name, num_outputs=...)`` for every CNN here.

Each entry is the module class with its variant's fields bound (``partial``), so a variant is one
line and the options a model takes are its class's fields. ``nets.models.get_model`` includes
every name below.
"""

from collections.abc import Callable
from functools import partial

import flax.linen as nn

from nets.cnn.alexnet import AlexNet
from nets.cnn.efficientnet import VARIANTS, EfficientNet
from nets.cnn.googlenet import GoogLeNet
from nets.cnn.lenet import LeNet5
from nets.cnn.resnet import IMAGENET, CifarResNet, ResNet
from nets.cnn.vgg import STAGES, VGG
from nets.registry import build

MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet5": LeNet5,
    "alexnet": AlexNet,
    **{f"vgg{depth}": partial(VGG, depth=depth) for depth in STAGES},
    **{f"vgg{depth}_bn": partial(VGG, depth=depth, batch_norm=True) for depth in STAGES},
    "googlenet": GoogLeNet,
    "googlenet_5x5": partial(GoogLeNet, five_by_five=True),
    **{f"resnet{depth}": partial(ResNet, depth=depth) for depth in IMAGENET},
    **{f"efficientnet_{variant}": partial(EfficientNet, variant=variant) for variant in VARIANTS},
    **{
        f"cifar_resnet{depth}": partial(CifarResNet, depth=depth) for depth in (20, 32, 44, 56, 110)
    },
}


def get_model(name: str, num_outputs: int = 1000, **options) -> nn.Module:
    """The CNN called ``name`` with ``num_outputs`` outputs (``nets.models.get_model`` restricted
    to the CNNs): an unknown name lists the valid ones. Every model is called as
    ``model.apply(variables, images, train=False)``."""
    return build(MODELS, name, num_outputs, options)
