"""The model registry: ``get_model(name, num_classes=...)`` for every CNN in nets.cnn."""

from collections.abc import Callable

import flax.linen as nn

from nets.checks import check_choice
from nets.cnn.alexnet import AlexNet
from nets.cnn.efficientnet import VARIANTS, EfficientNet
from nets.cnn.googlenet import GoogLeNet
from nets.cnn.lenet import LeNet5
from nets.cnn.resnet import CifarResNet, ResNet
from nets.cnn.vgg import VGG

MODELS: dict[str, Callable[[int], nn.Module]] = {
    "lenet5": lambda classes: LeNet5(num_classes=classes),
    "alexnet": lambda classes: AlexNet(num_classes=classes),
    **{f"vgg{d}": (lambda classes, d=d: VGG(d, classes)) for d in (11, 13, 16, 19)},
    **{f"vgg{d}_bn": (lambda classes, d=d: VGG(d, classes, batch_norm=True))
       for d in (11, 13, 16, 19)},
    "googlenet": lambda classes: GoogLeNet(classes),
    "googlenet_5x5": lambda classes: GoogLeNet(classes, five_by_five=True),
    **{f"resnet{d}": (lambda classes, d=d: ResNet(d, classes)) for d in (18, 34, 50, 101, 152)},
    **{f"efficientnet_{v}": (lambda classes, v=v: EfficientNet(v, classes)) for v in VARIANTS},
    **{f"cifar_resnet{d}": (lambda classes, d=d: CifarResNet(d, classes))
       for d in (20, 32, 44, 56, 110)},
}  # fmt: skip


def get_model(name: str, num_classes: int = 1000) -> nn.Module:
    """The model called ``name`` with ``num_classes`` outputs; an unknown name lists the valid
    ones. Every model is called as ``model.apply(variables, images, train=False)``, LeNet-5
    without ``train``."""
    check_choice("model", name, MODELS)
    return MODELS[name](num_classes)
