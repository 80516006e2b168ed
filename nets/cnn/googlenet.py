"""GoogLeNet / Inception v1 (Szegedy et al. 2015), as torchvision builds it."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_image
from nets.cnn.convolution import Conv
from nets.cnn.layers import adaptive_avg_pool, batch_norm


def _max_pool_ceil(x, window: int, stride: int, padding: int = 0):
    """Max pooling with PyTorch's ceil_mode=True: a last partial window is kept (padded with
    -inf on the bottom and right)."""
    pads = []
    for size in x.shape[1:3]:
        out = math.ceil((size + 2 * padding - window) / stride) + 1
        extra = max((out - 1) * stride + window - size - 2 * padding, 0)
        pads.append((padding, padding + extra))
    return nn.max_pool(x, (window, window), strides=(stride, stride), padding=pads)


class BasicConv(nn.Module):
    """Convolution without bias, BatchNorm (epsilon 1e-3), ReLU."""

    features: int
    kernel: int
    stride: int = 1
    padding: int = 0

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        x = Conv(
            self.features,
            (self.kernel, self.kernel),
            self.stride,
            padding=self.padding,
            use_bias=False,
        )(x)
        x = batch_norm(train, epsilon=1e-3)(x)
        return nn.relu(x)


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 -> 3x3; 1x1 -> 5x5 (a 3x3 in
    torchvision's model, a true 5x5 with ``five_by_five``); 3x3 max pool -> 1x1."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_projection: int
    five_by_five: bool = False

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        k = 5 if self.five_by_five else 3
        branch1 = BasicConv(self.ch1x1, 1)(x, train=train)
        branch2 = BasicConv(self.ch3x3, 3, padding=1)(
            BasicConv(self.ch3x3_reduce, 1)(x, train=train), train=train
        )
        branch3 = BasicConv(self.ch5x5, k, padding=k // 2)(
            BasicConv(self.ch5x5_reduce, 1)(x, train=train), train=train
        )
        pooled = _max_pool_ceil(x, 3, 1, padding=1)
        branch4 = BasicConv(self.pool_projection, 1)(pooled, train=train)
        return jnp.concatenate([branch1, branch2, branch3, branch4], axis=-1)


class AuxiliaryHead(nn.Module):
    """The training-time classifier on an intermediate map: 4x4 average pool, 1x1 convolution
    to 128 channels, dense 1024 with dropout 0.7, dense classes."""

    num_outputs: int

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        x = BasicConv(128, 1)(adaptive_avg_pool(x, (4, 4)), train=train)
        x = nn.relu(nn.Dense(1024)(x.reshape(x.shape[0], -1)))
        x = nn.Dropout(0.7, deterministic=not train)(x)
        return nn.Dense(self.num_outputs)(x)


# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection) of each Inception module
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet: a convolutional stem, nine Inception modules with max pools between stages,
    global average pooling, dropout 0.2 and a dense classifier. 6,624,904 parameters for 1,000
    classes as torchvision builds it (a 3x3 convolution in the "5x5" branch); 7,005,832 with
    the paper's true 5x5 (``five_by_five=True``). ``aux_heads`` adds the two auxiliary
    classifiers (after 4a and 4d; 13,004,888 parameters in all); with ``train`` the call then
    returns (logits, aux1, aux2), and in evaluation they are not computed."""

    num_outputs: int = 1000
    five_by_five: bool = False
    aux_heads: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False):
        check_image("GoogLeNet input", x)
        x = _max_pool_ceil(BasicConv(64, 7, 2, 3)(x, train=train), 3, 2)
        x = BasicConv(192, 3, padding=1)(BasicConv(64, 1)(x, train=train), train=train)
        x = _max_pool_ceil(x, 3, 2)
        auxiliary = []
        for name, widths in INCEPTION.items():
            if name in ("4a", "5a"):
                x = _max_pool_ceil(x, 3 if name == "4a" else 2, 2)
            x = Inception(*widths, five_by_five=self.five_by_five, name=f"inception{name}")(
                x, train=train
            )
            if self.aux_heads and name in ("4a", "4d") and (train or self.is_initializing()):
                auxiliary.append(
                    AuxiliaryHead(self.num_outputs, name=f"aux_{name}")(x, train=train)
                )
        x = nn.Dropout(0.2, deterministic=not train)(jnp.mean(x, axis=(1, 2)))
        logits = nn.Dense(self.num_outputs)(x)
        return (logits, *auxiliary) if self.aux_heads and train else logits
