"""Convolutional networks: building blocks, the output-size formula and LeNet-5."""

from nets.cnn.layers import ConvBlock, DenseBlock, conv_output_size, pool
from nets.cnn.lenet import LeNet5

__all__ = ["ConvBlock", "DenseBlock", "LeNet5", "conv_output_size", "pool"]
