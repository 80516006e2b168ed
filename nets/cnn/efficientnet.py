"""EfficientNet-B0..B7 (Tan and Le 2019), as torchvision builds them: MBConv blocks with
depthwise convolutions, squeeze-and-excitation and stochastic depth, scaled in width, depth
and resolution by the published compound coefficients."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_choice, check_image
from nets.cnn.convolution import Conv
from nets.cnn.layers import batch_norm

# B0's stages: (expand ratio, kernel, stride, input channels, output channels, layers)
B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
# variant: (width multiplier, depth multiplier, resolution, dropout)
VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never more than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcitation(nn.Module):
    """Channel attention: s = sigmoid(W2 silu(W1 mean_hw(x) + b1) + b2); out = s * x."""

    squeeze: int

    @nn.compact
    def __call__(self, x):
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        s = nn.silu(Conv(self.squeeze, (1, 1))(s))
        return x * jax.nn.sigmoid(Conv(x.shape[-1], (1, 1))(s))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k convolution, squeeze-and-excitation,
    1x1 projection; the input is added back (after stochastic depth: in training the whole
    branch is dropped per example with probability ``drop_rate``, kept ones scaled by
    1 / (1 - drop_rate)) when the shape is unchanged."""

    expand_ratio: int
    kernel: int
    stride: int
    features: int
    drop_rate: float

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        inputs = x.shape[-1]
        expanded = make_divisible(inputs * self.expand_ratio)
        y = x
        if expanded != inputs:
            y = nn.silu(batch_norm(train)(Conv(expanded, (1, 1), use_bias=False)(y)))
        y = Conv(
            expanded,
            (self.kernel, self.kernel),
            self.stride,
            padding=self.kernel // 2,
            feature_group_count=expanded,
            use_bias=False,
        )(y)
        y = nn.silu(batch_norm(train)(y))
        y = SqueezeExcitation(max(1, inputs // 4))(y)
        y = batch_norm(train)(Conv(self.features, (1, 1), use_bias=False)(y))
        if self.stride != 1 or inputs != self.features:
            return y
        if train and self.drop_rate > 0:
            keep = 1.0 - self.drop_rate
            rng = self.make_rng("dropout")
            kept = jax.random.bernoulli(rng, keep, (y.shape[0], 1, 1, 1))
            y = jnp.where(kept, y / keep, 0.0)
        return x + y


class EfficientNet(nn.Module):
    """EfficientNet-``variant``: a 3x3 stride-2 stem, seven stages of MBConv blocks (B0's
    table, widths times the width multiplier rounded to multiples of 8, layers times the depth
    multiplier rounded up), a 1x1 head to 4x the last width, average pool, dropout, dense.
    Parameters for 1,000 classes as torchvision: B0 5,288,548; B1 7,794,184; B4 19,341,616;
    B7 66,347,960. Stochastic depth rises linearly to ``stochastic_depth`` over the blocks."""

    variant: str = "b0"
    num_outputs: int = 1000
    stochastic_depth: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        check_image("EfficientNet input", x)
        check_choice("EfficientNet variant", self.variant, VARIANTS)
        width, depth, _, dropout = VARIANTS[self.variant]
        stages = [
            (
                e,
                k,
                s,
                make_divisible(c_in * width),
                make_divisible(c_out * width),
                math.ceil(n * depth),
            )
            for e, k, s, c_in, c_out, n in B0_STAGES
        ]
        x = Conv(stages[0][3], (3, 3), 2, padding=1, use_bias=False)(x)
        x = nn.silu(batch_norm(train)(x))
        total, block = sum(stage[-1] for stage in stages), 0
        for expand, kernel, stride, _, features, layers in stages:
            for i in range(layers):
                drop = self.stochastic_depth * block / total
                x = MBConv(expand, kernel, stride if i == 0 else 1, features, drop)(x, train=train)
                block += 1
        x = Conv(4 * stages[-1][4], (1, 1), use_bias=False)(x)
        x = nn.silu(batch_norm(train)(x))
        x = nn.Dropout(dropout, deterministic=not train)(jnp.mean(x, axis=(1, 2)))
        return nn.Dense(self.num_outputs)(x)
