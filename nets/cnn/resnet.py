"""Residual networks (He et al. 2016): ResNet-18/34/50/101/152 as torchvision (v1.5: the stride
on the bottleneck's 3x3 convolution) and the CIFAR ResNet-20/32/44/56/110 of the paper.

``dtype`` is the computation's dtype (``jnp.bfloat16`` for mixed precision on an accelerator);
the parameters stay float32.
"""

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_choice, check_image
from nets.cnn.convolution import Conv
from nets.cnn.layers import batch_norm


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; out = relu(F(x) + shortcut(x)).

    The shortcut is the identity, or where the shape changes a 1x1 strided convolution with
    BatchNorm (``projection``, torchvision's ImageNet models) or, the CIFAR paper's option A,
    a strided identity padded with zero channels (no parameters)."""

    features: int
    stride: int = 1
    projection: bool = True
    dtype: Any = jnp.float32
    zero_init_residual: bool = False
    expansion = 1

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        conv = partial(Conv, use_bias=False, dtype=self.dtype)
        norm = partial(batch_norm, train, dtype=self.dtype)
        y = nn.relu(norm()(conv(self.features, (3, 3), self.stride, padding=1)(x)))
        y = _last_norm(norm, self.zero_init_residual)(conv(self.features, (3, 3), padding=1)(y))
        return nn.relu(y + _shortcut(x, self.features, self.stride, self.projection, conv, norm))


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 (stride) -> 1x1 (expand x4) convolutions with BatchNorm, plus the
    shortcut; out = relu(F(x) + shortcut(x))."""

    features: int
    stride: int = 1
    projection: bool = True
    dtype: Any = jnp.float32
    zero_init_residual: bool = False
    expansion = 4

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        conv = partial(Conv, use_bias=False, dtype=self.dtype)
        norm = partial(batch_norm, train, dtype=self.dtype)
        y = nn.relu(norm()(conv(self.features, (1, 1))(x)))
        y = nn.relu(norm()(conv(self.features, (3, 3), self.stride, padding=1)(y)))
        out = self.features * self.expansion
        y = _last_norm(norm, self.zero_init_residual)(conv(out, (1, 1))(y))
        return nn.relu(y + _shortcut(x, out, self.stride, self.projection, conv, norm))


def _last_norm(norm, zero_init_residual: bool):
    """The residual branch's last BatchNorm; with ``zero_init_residual`` its scale starts at 0,
    so every block starts as its shortcut (Goyal et al. 2017; flax's ImageNet example)."""
    return norm(scale_init=nn.initializers.zeros) if zero_init_residual else norm()


def _shortcut(x, features: int, stride: int, projection: bool, conv, norm):
    if stride == 1 and x.shape[-1] == features:
        return x
    if projection:
        return norm()(conv(features, (1, 1), stride)(x))
    x = x[:, ::stride, ::stride, :]  # option A: subsample, then pad the new channels with zeros
    extra = features - x.shape[-1]
    return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))


IMAGENET = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """ImageNet ResNet: 7x7 stride-2 convolution, 3x3 stride-2 max pool, four stages of blocks
    (64, 128, 256, 512 channels, the last three starting with stride 2), global average pool,
    dense classifier. Parameters (1,000 classes): ResNet-18 11,689,512; 34: 21,797,672;
    50: 25,557,032; 101: 44,549,160; 152: 60,192,808 (BatchNorm scale and bias included, its
    running statistics, in 'batch_stats', not)."""

    depth: int = 50
    num_outputs: int = 1000
    dtype: Any = jnp.float32
    zero_init_residual: bool = False  # torchvision's name; True in flax's ImageNet recipe

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        check_image("ResNet input", x)
        check_choice("ResNet depth", str(self.depth), [str(d) for d in IMAGENET])
        block, counts = IMAGENET[self.depth]
        x = Conv(64, (7, 7), 2, padding=3, use_bias=False, dtype=self.dtype)(x)
        x = nn.relu(batch_norm(train, dtype=self.dtype)(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        for stage, (features, count) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                x = block(
                    features, stride, dtype=self.dtype, zero_init_residual=self.zero_init_residual
                )(x, train=train)
        return nn.Dense(self.num_outputs, dtype=self.dtype)(jnp.mean(x, axis=(1, 2)))


class CifarResNet(nn.Module):
    """The CIFAR-10 ResNet of He et al. (2016), depth = 6n + 2 (20, 32, 44, 56, 110): a 3x3
    convolution with 16 channels, three stages of n basic blocks (16, 32, 64 channels, strides
    1, 2, 2), parameter-free option-A shortcuts, global average pool, dense classifier.
    ResNet-20 has 269,722 parameters ("0.27M" in the paper). Input [batch, 32, 32, 3]."""

    depth: int = 20
    num_outputs: int = 10
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        check_image("CifarResNet input", x)
        if self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2 with n >= 1, got {self.depth}")
        n = (self.depth - 2) // 6
        x = Conv(16, (3, 3), padding=1, use_bias=False, dtype=self.dtype)(x)
        x = nn.relu(batch_norm(train, dtype=self.dtype)(x))
        for stage, features in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                x = BasicBlock(features, stride, projection=False, dtype=self.dtype)(x, train=train)
        return nn.Dense(self.num_outputs, dtype=self.dtype)(jnp.mean(x, axis=(1, 2)))
