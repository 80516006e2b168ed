"""CNN building blocks: the output-size formula, convolution + activation, pooling, dense.

Images are channels-last, ``[batch, height, width, channels]``, as in Flax and XLA.

Output size of a convolution or pooling window along one spatial axis (the lecture):

    output = (Input - Filter + 2 * Padding) / Stride + 1

A note on the lecture's worked examples: its printed 4x4 result of a 3x3 kernel on a 6x6 binary
image, and its printed 2x2 max-pool result, do not follow from its own inputs. The functions here
compute the true sums and maxima; ``tests/test_cnn.py`` checks them against direct numpy loops.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.activations import get_activation
from nets.checks import check_choice, check_image, check_positive
from nets.cnn.convolution import Conv

PADDINGS = ("valid", "same")
POOLINGS = ("max", "avg")
# a convolution that subsamples a sequence over time by 2 (the CTC recogniser's front end)
TIME_FILTER, TIME_PADDING, TIME_STRIDE = 3, 1, 2


def conv_output_size(
    input_size: int, filter_size: int, padding="valid", stride: int = 1, *, exact: bool = True
) -> int:
    """(Input - Filter + 2 * Padding) / Stride + 1 for one spatial axis.

    ``padding`` is an integer P (zeros added on each side), ``'valid'`` (P = 0) or ``'same'``
    (XLA's and TensorFlow's convention: the output is ceil(Input / Stride), padding as needed,
    which for stride 1 and an odd filter is P = (Filter - 1) / 2). A window that does not fit
    (a result below 1) raises ValueError naming the numbers; so does a non-integer result,
    unless ``exact=False``, which floors it as every framework does (the last partial window
    is dropped: ResNet's 7x7 stride-2 stem maps 224 to floor(112.5) = 112).
    """
    check_positive("input_size", input_size)
    check_positive("filter_size", filter_size)
    check_positive("stride", stride)
    if padding == "same":
        return math.ceil(input_size / stride)
    if padding == "valid":
        padding = 0
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be 'valid', 'same' or an integer >= 0, got {padding!r}")
    span = input_size - filter_size + 2 * padding
    numbers = f"(Input {input_size} - Filter {filter_size} + 2 * Padding {padding})"
    if span < 0:
        raise ValueError(f"filter does not fit: {numbers} / Stride {stride} + 1 is below 1")
    if span % stride and exact:
        raise ValueError(
            f"{numbers} / Stride {stride} + 1 = {span / stride + 1:g} is not an integer"
        )
    return span // stride + 1


def subsampled_lengths(lengths, subsample: int):
    """Sequence lengths [batch] (arrays, traced or not) after log2(``subsample``) subsampling
    convolutions over time, each the output-size formula floor((L - F + 2P) / S) + 1 with
    Filter 3, Padding 1, Stride 2: how many frames of each padded sequence stay real."""
    for _ in range(int(math.log2(subsample))):
        lengths = (lengths + 2 * TIME_PADDING - TIME_FILTER) // TIME_STRIDE + 1
    return lengths


def _xla_padding(padding):
    """Flax's padding argument for 'valid', 'same' or an integer P on each side."""
    if isinstance(padding, str):
        return padding.upper()
    return ((padding, padding), (padding, padding))


def batch_norm(train: bool, **overrides) -> nn.BatchNorm:
    """The one BatchNorm of every CNN here: torchvision's BatchNorm2d (momentum 0.1, which Flax
    counts as 0.9 kept; epsilon 1e-5) unless ``overrides`` say otherwise (GoogLeNet's epsilon
    1e-3). ``train`` normalises with the batch's statistics and updates the running ones,

        mean <- 0.9 mean + 0.1 mean_B(x),    var <- 0.9 var + 0.1 var_B(x)

    with var_B the biased batch variance (divided by n, Flax's convention, as in the
    normalisation itself). torchvision feeds the unbiased one (divided by n - 1) into its running
    variance, n / (n - 1) larger (1.6% at 64 values per channel, less with more); nets keeps
    Flax's, so running variances carried over from torch differ by up to that factor."""
    return nn.BatchNorm(
        use_running_average=not train, **{"momentum": 0.9, "epsilon": 1e-5, **overrides}
    )


class ConvBlock(nn.Module):
    """Convolution then activation: a = f(W * x + b), with ``features`` filters of size
    ``kernel_size`` x ``kernel_size``.

    Parameters: (kernel_size^2 * in_channels + 1) * features. Shapes: [batch, H, W, C] ->
    [batch, H', W', features] with H', W' from ``conv_output_size``.
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: str | int = "valid"
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_image("ConvBlock input", x)
        check_positive("features", self.features)
        for size in jnp.shape(x)[1:3]:  # raises on a filter that does not fit the input
            conv_output_size(size, self.kernel_size, self.padding, self.stride, exact=False)
        act = get_activation(self.activation)
        conv = Conv(
            self.features,
            (self.kernel_size, self.kernel_size),
            strides=(self.stride, self.stride),
            padding=_xla_padding(self.padding),
            name="conv",
        )
        return act(conv(x))


def pool(x: jax.Array, kind: str = "max", window: int = 2, stride: int | None = None):
    """Max or average pooling over ``window`` x ``window`` patches, stride ``window`` by default.

    Max pooling keeps the largest activation of each patch; average pooling (the 1998 LeNet's
    subsampling, without its trainable scale) keeps the mean. Shapes: [batch, H, W, C] ->
    [batch, H', W', C], H' = floor((H - window) / stride) + 1.
    """
    check_image("pool input", x)
    check_choice("pooling", kind, POOLINGS)
    stride = window if stride is None else stride
    for size in jnp.shape(x)[1:3]:
        conv_output_size(size, window, "valid", stride, exact=False)
    batch, height, width, channels = jnp.shape(x)
    if stride == window and height % window == 0 and width % window == 0:
        # Windows that tile the map exactly: a reshape and a reduction, whose gradient is an
        # elementwise mask instead of XLA's slow select-and-scatter (the same values; on exact
        # ties max pooling shares the gradient among the tied maxima).
        tiles = x.reshape(batch, height // window, window, width // window, window, channels)
        return tiles.max(axis=(2, 4)) if kind == "max" else tiles.mean(axis=(2, 4))
    reduce = nn.max_pool if kind == "max" else nn.avg_pool
    return reduce(x, (window, window), strides=(stride, stride), padding="VALID")


class Pool(nn.Module):
    """``pool`` as a layer (no parameters), so that model summaries list it."""

    kind: str = "max"
    window: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return pool(x, self.kind, self.window)


class DenseBlock(nn.Module):
    """Fully connected layer then activation: a = f(W x + b); [..., in] -> [..., features]."""

    features: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_positive("features", self.features)
        act = get_activation(self.activation)
        return act(nn.Dense(self.features, name="dense")(x))


def adaptive_avg_pool(x: jax.Array, output_size: tuple[int, int]) -> jax.Array:
    """Average pooling to a fixed ``output_size`` whatever the input size, as PyTorch's
    AdaptiveAvgPool2d: output cell (i, j) averages rows floor(i H / h) .. ceil((i + 1) H / h)
    and likewise for columns. [batch, H, W, C] -> [batch, h, w, C]."""
    check_image("adaptive_avg_pool input", x)
    height, width = jnp.shape(x)[1:3]
    out_h, out_w = output_size
    if (height, width) == (out_h, out_w):
        return x

    def bounds(i, size, out):
        return (i * size) // out, -((-(i + 1) * size) // out)

    rows = []
    for i in range(out_h):
        r0, r1 = bounds(i, height, out_h)
        cells = []
        for j in range(out_w):
            c0, c1 = bounds(j, width, out_w)
            cells.append(jnp.mean(x[:, r0:r1, c0:c1, :], axis=(1, 2)))
        rows.append(jnp.stack(cells, axis=1))
    return jnp.stack(rows, axis=1)
