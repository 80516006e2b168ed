"""The convolution every model here uses: ``Conv``, flax's ``nn.Conv`` with a faster weight
gradient on the CPU.

For a stride-s convolution y = W * x of a channels-last input, the weight gradient at filter
offset (i, j) is one matmul over every output position of every example:

    dL/dW[i, j] = sum_{n, h, w} x_pad[n, s h + i, s w + j, :]^T dL/dy[n, h, w, :]    [C_in, C_out]

XLA:CPU computes it as a convolution whose "batch" is the channels, which runs far slower than
the forward pass or the input gradient (measured in ``scripts/README.md``). Here it is
kh * kw such matmuls, one per offset, over a strided slice of the padded input. The forward
pass and the input gradient stay XLA's. On other backends, and for what the slices do not
cover (dilation, feature groups other than 1 or depthwise, other layouts), ``Conv`` is
exactly ``nn.Conv``.
"""

import itertools
import math
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def _channels_last(numbers: lax.ConvDimensionNumbers, spatial: int) -> bool:
    """[batch, *spatial, channels] inputs and outputs, [*window, in, out] kernels."""
    last = (0, spatial + 1, *range(1, spatial + 1))
    kernel = (spatial + 1, spatial, *range(spatial))
    return (
        tuple(numbers.lhs_spec) == last
        and tuple(numbers.out_spec) == last
        and tuple(numbers.rhs_spec) == kernel
    )


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
):
    """``lax.conv_general_dilated`` with the shifted-matmul weight gradient where it applies."""
    spatial = lhs.ndim - 2
    numbers = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    plain = partial(
        lax.conv_general_dilated,
        window_strides=window_strides,
        padding=padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    channels = lhs.shape[-1]
    depthwise = feature_group_count == channels and rhs.shape[-2:] == (1, channels)
    applies = (
        jax.default_backend() == "cpu"
        and _channels_last(numbers, spatial)
        and all(d == 1 for d in (lhs_dilation or ())) and all(d == 1 for d in (rhs_dilation or ()))
        and batch_group_count == 1
        and (feature_group_count == 1 or depthwise)
        and preferred_element_type is None
    )  # fmt: skip
    if not applies:
        return plain(lhs, rhs)
    window = rhs.shape[:spatial]
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:-1], window, window_strides, padding)
    padding = tuple(tuple(p) for p in padding)
    if any(p < 0 for pair in padding for p in pair):
        return plain(lhs, rhs)
    return _convolution(tuple(window_strides), padding, depthwise, plain, lhs, rhs)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _convolution(strides, padding, depthwise, plain, x, kernel):
    return plain(x, kernel)


def _convolution_forward(strides, padding, depthwise, plain, x, kernel):
    return plain(x, kernel), (x, kernel)


def _convolution_backward(strides, padding, depthwise, plain, residuals, d_y):
    x, kernel = residuals
    _, input_vjp = jax.vjp(lambda x: plain(x, kernel), x)
    (d_x,) = input_vjp(d_y)
    d_kernel = weight_gradient(x, d_y, kernel.shape, strides, padding, depthwise)
    return d_x, d_kernel.astype(kernel.dtype)


_convolution.defvjp(_convolution_forward, _convolution_backward)


# Examples per chunk of the weight gradient: as many as keep one offset's slice of the input
# within about 1 MiB, a core's share of the L2 cache, so that slicing it is not a trip to memory
# (unchunked, ResNet-20's 16-channel 32x32 layers took twice XLA's time; chunked, 0.7 of it).
CHUNK_BYTES = 1 << 20


def weight_gradient(x, d_y, kernel_shape, strides, padding, depthwise=False):
    """dL/dW of a channels-last convolution: one [C_in, n * H' * W'] x [n * H' * W', C_out]
    matmul per filter offset (an elementwise product and a sum for a depthwise kernel), summed
    over chunks of n examples.

    x [batch, *spatial, C_in]; d_y [batch, *spatial', C_out]; returns ``kernel_shape``,
    [*window, C_in, C_out] ([*window, 1, C] for depthwise), accumulated in the promoted type
    of the inputs and float32 (float32 for bfloat16 or float32 inputs, float64 for float64).
    """
    x_pad = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    batch, out = x.shape[0], d_y.shape[1:-1]
    per_example = math.prod(out) * x.shape[-1] * x.dtype.itemsize
    chunk = max(1, min(batch, CHUNK_BYTES // per_example))
    gradient = partial(_offsets, kernel_shape=kernel_shape, strides=strides, depthwise=depthwise)
    if chunk == batch:
        return gradient(x_pad, d_y)
    count = -(-batch // chunk)

    def chunks(a):  # [count, chunk, ...]; zero examples added at the end add nothing
        a = jnp.pad(a, ((0, count * chunk - batch),) + ((0, 0),) * (a.ndim - 1))
        return a.reshape(count, chunk, *a.shape[1:])

    def add(total, pair):
        return total + gradient(*pair), None

    zeros = jnp.zeros(kernel_shape, _accumulator(x, d_y))
    return jax.lax.scan(add, zeros, (chunks(x_pad), chunks(d_y)))[0]


def _accumulator(x, d_y):
    """The sums' dtype: float32 at least (bfloat16 products summed in bfloat16 lose the
    gradient), float64 where the inputs are."""
    return jnp.promote_types(jnp.promote_types(x.dtype, d_y.dtype), jnp.float32)


def _offsets(x_pad, d_y, kernel_shape, strides, depthwise):
    """The weight gradient of one chunk of examples, one offset of the window at a time."""
    total = _accumulator(x_pad, d_y)
    window, channels = kernel_shape[:-2], x_pad.shape[-1]
    out = d_y.shape[1:-1]
    d_y_rows = d_y.reshape(-1, d_y.shape[-1])
    # With one input channel the product is a [1, rows] x [rows, C_out] vector-matrix product,
    # which XLA:CPU runs at half the speed of the matrix-vector [C_out, rows] x [rows, 1]
    # (LeNet-5's C1: 24 against 12 ms); d_y^T is laid out once for all offsets.
    d_y_columns = d_y_rows.T if channels == 1 and not depthwise else None
    offsets = []
    for offset in itertools.product(*(range(k) for k in window)):
        index = tuple(
            slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offset, out, strides, strict=True)
        )
        rows = x_pad[(slice(None), *index)].reshape(-1, channels)
        if depthwise:
            offsets.append(jnp.sum(rows * d_y_rows, axis=0, dtype=total)[None])
        elif d_y_columns is not None:
            offsets.append(jnp.matmul(d_y_columns, rows, preferred_element_type=total).T)
        else:
            offsets.append(jnp.matmul(rows.T, d_y_rows, preferred_element_type=total))
    return jnp.stack(offsets).reshape(kernel_shape)


# Every model's convolution: nn.Conv with the weight gradient above (same parameters and names).
Conv = partial(nn.Conv, conv_general_dilated=conv_general_dilated)
