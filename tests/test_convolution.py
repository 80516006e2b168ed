"""The CPU convolution's own weight gradient against XLA's, and that every model uses it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from nets.cnn import convolution
from nets.cnn.convolution import Conv
from nets.models import get_model


def gradients(conv, x, kernel, **options):
    """dL/dx and dL/dW of sum(y * weights) for ``conv`` (ours or lax's), compiled."""

    def loss(x, kernel):
        y = conv(x, kernel, **options)
        return jnp.sum(y * jnp.cos(jnp.arange(y.size).reshape(y.shape)))

    return jax.jit(jax.grad(loss, argnums=(0, 1)))(x, kernel)


def assert_gradients_equal_xla(x_shape, kernel_shape, **options):
    """In float32 to float32's accuracy, and in float64 to 1e-12: the sums are kept in the
    inputs' precision, not rounded to float32."""
    for dtype, tolerance in [(jnp.float32, 1e-4), (jnp.float64, 1e-12)]:
        with jax.enable_x64(dtype == jnp.float64):
            x = jax.random.normal(jax.random.key(0), x_shape, dtype)
            kernel = jax.random.normal(jax.random.key(1), kernel_shape, dtype)
            ours = gradients(convolution.conv_general_dilated, x, kernel, **options)
            xla = gradients(lax.conv_general_dilated, x, kernel, **options)
            for a, b in zip(ours, xla, strict=True):
                assert a.dtype == dtype
                np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
            forward = convolution.conv_general_dilated(x, kernel, **options)
            np.testing.assert_array_equal(forward, lax.conv_general_dilated(x, kernel, **options))


NHWC = ("NHWC", "HWIO", "NHWC")


@pytest.mark.parametrize(
    "x_shape, kernel_shape, strides, padding",
    [
        ((3, 9, 8, 4), (3, 3, 4, 5), (1, 1), "SAME"),
        ((3, 9, 8, 4), (3, 3, 4, 5), (2, 2), "SAME"),  # odd size: XLA pads unevenly
        ((3, 9, 8, 4), (5, 3, 4, 2), (1, 2), "VALID"),
        ((2, 7, 7, 1), (5, 5, 1, 6), (1, 1), ((2, 1), (0, 3))),  # one input channel, LeNet's C1
        ((2, 11, 11, 3), (7, 7, 3, 4), (2, 2), ((3, 3), (3, 3))),  # ResNet's stem
    ],
)
def test_2d_weight_gradient_equals_xla(x_shape, kernel_shape, strides, padding):
    assert_gradients_equal_xla(
        x_shape, kernel_shape, window_strides=strides, padding=padding, dimension_numbers=NHWC
    )


def test_a_bfloat16_weight_gradient_is_accumulated_in_float32():
    """bfloat16 compute (the ImageNet recipe's): our gradient, summed in float32 and rounded
    once, against XLA's float32 gradient of the same bfloat16 values."""
    x = jax.random.normal(jax.random.key(0), (4, 12, 12, 8)).astype(jnp.bfloat16)
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 8, 16)).astype(jnp.bfloat16)
    options = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC)
    _, ours = gradients(convolution.conv_general_dilated, x, kernel, **options)
    f32 = jnp.float32
    _, exact = gradients(lax.conv_general_dilated, x.astype(f32), kernel.astype(f32), **options)
    assert ours.dtype == jnp.bfloat16
    scale = float(jnp.abs(exact).max())
    np.testing.assert_allclose(ours.astype(f32), exact, atol=1e-2 * scale)


def test_1d_and_depthwise_weight_gradients_equal_xla():
    assert_gradients_equal_xla(
        (3, 20, 4), (3, 4, 6), window_strides=(2,), padding=((1, 1),),
        dimension_numbers=("NWC", "WIO", "NWC"),
    )  # fmt: skip
    assert_gradients_equal_xla(  # EfficientNet's depthwise convolution: one filter per channel
        (2, 9, 9, 6), (3, 3, 1, 6), window_strides=(2, 2), padding="SAME",
        dimension_numbers=NHWC, feature_group_count=6,
    )  # fmt: skip


def test_chunks_of_examples_add_up_to_the_whole_batch(monkeypatch):
    # 64 bytes of input slice per chunk: 5 examples of 4 positions x 4 channels go one at a
    # time, the last chunk padded with zero examples
    monkeypatch.setattr(convolution, "CHUNK_BYTES", 64)
    x = jax.random.normal(jax.random.key(2), (5, 4, 4, 4))
    d_y = jax.random.normal(jax.random.key(3), (5, 2, 2, 3))
    chunked = convolution.weight_gradient(x, d_y, (3, 3, 4, 3), (2, 2), ((1, 0), (1, 0)))
    monkeypatch.setattr(convolution, "CHUNK_BYTES", 1 << 20)
    whole = convolution.weight_gradient(x, d_y, (3, 3, 4, 3), (2, 2), ((1, 0), (1, 0)))
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    # and by hand: dL/dW[i, j] = sum over examples and output positions of x_pad * d_y
    x_pad = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 0), (1, 0), (0, 0)))
    by_hand = np.zeros((3, 3, 4, 3))
    for i in range(3):
        for j in range(3):
            patch = x_pad[:, i : i + 3 : 2, j : j + 3 : 2]
            by_hand[i, j] = np.einsum("nhwc,nhwd->cd", patch, np.asarray(d_y, np.float64))
    np.testing.assert_allclose(whole, by_hand, rtol=1e-4, atol=1e-4)
    with jax.enable_x64(True):  # in float64, chunked, to float64's accuracy
        monkeypatch.setattr(convolution, "CHUNK_BYTES", 128)
        x64, d_y64 = (jnp.asarray(np.asarray(a), jnp.float64) for a in (x, d_y))
        chunked = convolution.weight_gradient(x64, d_y64, (3, 3, 4, 3), (2, 2), ((1, 0), (1, 0)))
        assert chunked.dtype == jnp.float64
        np.testing.assert_allclose(chunked, by_hand, rtol=1e-12, atol=1e-12)


def test_dilation_and_groups_fall_back_to_xla():
    x = jnp.ones((2, 9, 9, 4))
    dilated = jax.make_jaxpr(
        lambda x, w: convolution.conv_general_dilated(
            x, w, (1, 1), "SAME", rhs_dilation=(2, 2), dimension_numbers=NHWC
        )
    )(x, jnp.ones((3, 3, 4, 2)))
    grouped = jax.make_jaxpr(
        lambda x, w: convolution.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=NHWC, feature_group_count=2
        )
    )(x, jnp.ones((3, 3, 2, 2)))
    plain = jax.make_jaxpr(
        lambda x, w: convolution.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)
    )(x, jnp.ones((3, 3, 4, 2)))
    assert "custom_vjp_call" not in str(dilated) + str(grouped)
    assert "custom_vjp_call" in str(plain)


@pytest.mark.parametrize(
    "name, shape, convolutions",
    [("lenet5", (32, 32, 1), 2), ("cifar_resnet20", (32, 32, 3), 19), ("mnist1d_cnn", (40,), 3)],
)
def test_every_model_convolves_through_conv(name, shape, convolutions):
    model = get_model(name, 10)
    x = jnp.zeros((1, *shape))
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    jaxpr = str(jax.make_jaxpr(lambda v: model.apply(v, x))(variables))
    assert jaxpr.count("custom_vjp_call") == convolutions
    assert Conv.func is convolution.nn.Conv
