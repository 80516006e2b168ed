"""CNN blocks and LeNet-5 against hand arithmetic and direct numpy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.cnn import ConvBlock, LeNet5, conv_output_size, pool
from nets.cnn.layers import batch_norm


def count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize(
    "size, filt, padding, stride, expected",
    [
        (32, 5, "valid", 1, 28),
        (28, 2, 0, 2, 14),
        (224, 3, "same", 1, 224),
        (227, 11, 0, 4, 55),
        (7, 3, "same", 2, 4),
        (5, 5, 0, 1, 1),
    ],
)
def test_conv_output_size_formula(size, filt, padding, stride, expected):
    assert conv_output_size(size, filt, padding, stride) == expected


def test_conv_output_size_rejects_what_does_not_tile():
    with pytest.raises(ValueError, match=r"Input 6 - Filter 3 .* Stride 2 \+ 1 = 2.5"):
        conv_output_size(6, 3, 0, 2)
    # frameworks floor instead: ResNet's stem maps 224 to 112
    with pytest.raises(ValueError, match=r"= 112.5 is not an integer"):
        conv_output_size(224, 7, 3, 2)
    assert conv_output_size(224, 7, 3, 2, exact=False) == 112
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(4, 5)
    with pytest.raises(ValueError, match="stride must be a positive integer, got 0"):
        conv_output_size(4, 3, 0, 0)
    with pytest.raises(ValueError, match="padding must be"):
        conv_output_size(4, 3, "full")


def test_valid_convolution_equals_direct_sums():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 2, size=(6, 6)).astype(np.float32)  # a 6x6 binary image
    kernel = rng.integers(-1, 2, size=(3, 3)).astype(np.float32)
    block = ConvBlock(1, 3, activation="identity")
    params = {"params": {"conv": {"kernel": kernel[:, :, None, None], "bias": np.zeros(1)}}}
    out = block.apply(params, image[None, :, :, None])[0, :, :, 0]
    expected = np.array(
        [[np.sum(image[i : i + 3, j : j + 3] * kernel) for j in range(4)] for i in range(4)]
    )
    assert out.shape == (4, 4)  # (6 - 3 + 0) / 1 + 1
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_relu_block_zeroes_negative_responses():
    x = jnp.array([[-2.0, 3.0]])
    block = ConvBlock(1, 1, activation="relu")
    params = {"params": {"conv": {"kernel": np.ones((1, 1, 1, 1)), "bias": np.zeros(1)}}}
    out = block.apply(params, x.reshape(1, 1, 2, 1) * 1.0)
    np.testing.assert_allclose(out.ravel(), [0.0, 3.0])


# A 4x4 feature map whose 2x2 max pool (stride 2) is [[5, 2], [9, 8]], as the lecture's should be.
FEATURE_MAP = np.array([[1, 5, 2, 0], [3, 2, 1, 1], [9, 4, 8, 3], [7, 0, 2, 6]], np.float32)


def test_max_and_average_pooling_of_the_4x4_example():
    x = FEATURE_MAP[None, :, :, None]
    np.testing.assert_array_equal(pool(x, "max")[0, :, :, 0], [[5, 2], [9, 8]])
    blocks = FEATURE_MAP.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(pool(x, "avg")[0, :, :, 0], blocks.mean(axis=(2, 3)))
    np.testing.assert_allclose(pool(x, "avg")[0, :, :, 0], [[2.75, 1.0], [5.0, 4.75]])


def test_pool_rejects_unknown_kind_and_wrong_rank():
    with pytest.raises(ValueError, match="unknown pooling 'min'; valid: avg, max"):
        pool(jnp.ones((1, 4, 4, 1)), "min")
    with pytest.raises(ValueError, match=r"4 axes \[batch, height, width, channels\]"):
        pool(jnp.ones((4, 4)), "max")


def test_think_and_apply_1_same_convolution_on_224x224x3():
    block = ConvBlock(64, 3, stride=1, padding="same")
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    variables = jax.eval_shape(block.init, jax.random.key(0), x)
    out = jax.eval_shape(block.apply, variables, x)
    assert out.shape == (1, 224, 224, 64)
    assert count(variables["params"]) == 1_792 == (3 * 3 * 3 + 1) * 64


LENET_LAYERS = {"conv1": 156, "conv2": 2_416, "fc1": 48_120, "fc2": 10_164, "output": 850}
LENET_SHAPES = {
    "conv1_output": (2, 28, 28, 6),
    "pool1_output": (2, 14, 14, 6),
    "conv2_output": (2, 10, 10, 16),
    "pool2_output": (2, 5, 5, 16),
    "flatten_output": (2, 400),
    "fc1_output": (2, 120),
    "fc2_output": (2, 84),
    "output_output": (2, 10),
}


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_lenet5_has_61706_parameters_and_the_lectures_shapes(pooling):
    model = LeNet5(pooling=pooling)
    images = jnp.ones((2, 32, 32, 1))
    variables = model.init(jax.random.key(0), images)
    per_layer = {name: count(p) for name, p in variables["params"].items()}
    assert per_layer == LENET_LAYERS
    assert count(variables["params"]) == 61_706
    # each layer's count from the formula (filter area * in channels + 1) * out channels
    assert per_layer["conv1"] == (5 * 5 * 1 + 1) * 6
    assert per_layer["conv2"] == (5 * 5 * 6 + 1) * 16
    assert per_layer["fc1"] == (400 + 1) * 120
    logits, state = model.apply(variables, images, mutable=["intermediates"])
    shapes = {k: v[0].shape for k, v in state["intermediates"].items()}
    assert shapes == LENET_SHAPES
    assert logits.shape == (2, 10)


def test_lenet5_pooling_choice_changes_the_output():
    images = jax.random.normal(jax.random.key(1), (2, 32, 32, 1))
    variables = LeNet5().init(jax.random.key(0), images)
    assert not np.allclose(
        LeNet5(pooling="max").apply(variables, images),
        LeNet5(pooling="avg").apply(variables, images),
    )


def test_lenet5_rejects_wrong_sizes_and_names():
    with pytest.raises(ValueError, match=r"32 x 32 images .* got shape \(2, 28, 28, 1\)"):
        LeNet5().init(jax.random.key(0), jnp.ones((2, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"4 axes .* got shape \(32, 32, 1\)"):
        LeNet5().init(jax.random.key(0), jnp.ones((32, 32, 1)))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        LeNet5(activation="swish").init(jax.random.key(0), jnp.ones((1, 32, 32, 1)))
    with pytest.raises(ValueError, match="num_outputs must be a positive integer, got 0"):
        LeNet5(num_outputs=0).init(jax.random.key(0), jnp.ones((1, 32, 32, 1)))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, window", [((3, 28, 28, 6), 2), ((2, 9, 6, 3), 3)])
def test_tiled_pooling_equals_reduce_window_with_gradients(kind, shape, window):
    import flax.linen as nn

    x = jax.random.normal(jax.random.key(5), shape)  # continuous values: no ties
    reduce = nn.max_pool if kind == "max" else nn.avg_pool

    def reference(x):
        return reduce(x, (window, window), strides=(window, window), padding="VALID")

    np.testing.assert_allclose(pool(x, kind, window), reference(x), rtol=1e-6)
    weights = jax.random.normal(jax.random.key(6), reference(x).shape)
    got = jax.grad(lambda x: jnp.sum(pool(x, kind, window) * weights))(x)
    want = jax.grad(lambda x: jnp.sum(reference(x) * weights))(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_overlapping_pooling_falls_back_to_reduce_window():
    import flax.linen as nn

    x = jax.random.normal(jax.random.key(7), (1, 7, 7, 2))
    expected = nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    np.testing.assert_allclose(pool(x, "max", 3, 2), expected)


def test_batch_norm_keeps_flax_running_statistics_the_biased_batch_variance():
    x = np.random.default_rng(0).normal(2.0, 3.0, (4, 4, 4, 2))  # 64 values per channel
    layer = batch_norm(train=True)
    variables = layer.init(jax.random.key(0), x)
    y, updates = layer.apply(variables, x, mutable=["batch_stats"])
    values = x.reshape(-1, 2)
    running = updates["batch_stats"]
    np.testing.assert_allclose(running["mean"], 0.1 * values.mean(0), rtol=1e-5)
    np.testing.assert_allclose(running["var"], 0.9 + 0.1 * values.var(0), rtol=1e-5)  # / n
    assert not np.allclose(running["var"], 0.9 + 0.1 * values.var(0, ddof=1), rtol=1e-5)
    expected = (values - values.mean(0)) / np.sqrt(values.var(0) + 1e-5)
    np.testing.assert_allclose(np.asarray(y).reshape(-1, 2), expected, rtol=1e-4, atol=1e-4)
