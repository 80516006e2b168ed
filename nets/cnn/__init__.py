"""Convolutional networks: building blocks, the output-size formula, LeNet-5 and the modern
architectures (AlexNet, VGG, GoogLeNet, ResNet, EfficientNet) behind ``get_model``."""

from nets.cnn.alexnet import AlexNet
from nets.cnn.efficientnet import EfficientNet
from nets.cnn.googlenet import GoogLeNet
from nets.cnn.layers import ConvBlock, DenseBlock, adaptive_avg_pool, conv_output_size, pool
from nets.cnn.lenet import LeNet5
from nets.cnn.resnet import CifarResNet, ResNet
from nets.cnn.vgg import VGG
from nets.cnn.zoo import get_model

__all__ = [
    "VGG",
    "AlexNet",
    "CifarResNet",
    "ConvBlock",
    "DenseBlock",
    "EfficientNet",
    "GoogLeNet",
    "LeNet5",
    "ResNet",
    "adaptive_avg_pool",
    "conv_output_size",
    "get_model",
    "pool",
]
