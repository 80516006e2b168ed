"""The modern CNNs: torchvision's exact parameter counts, forward passes, train/eval modes."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.cnn import adaptive_avg_pool, get_model
from nets.cnn.resnet import BasicBlock, Bottleneck

# torchvision's ImageNet models (1,000 classes); BatchNorm running statistics are not parameters
TORCHVISION_COUNTS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,  # torchvision: a 3x3 convolution in the "5x5" branch
    "googlenet_5x5": 7_005_832,  # the paper's true 5x5
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
}


def parameter_count(name: str, size: int, classes: int) -> int:
    model = get_model(name, classes)
    shape = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), shape)
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize("name", list(TORCHVISION_COUNTS))
def test_parameter_counts_equal_torchvision(name):
    # EfficientNet's counts do not depend on the resolution: a small one traces faster
    size = 64 if name.startswith("efficientnet") else 224
    assert parameter_count(name, size, 1000) == TORCHVISION_COUNTS[name]


@pytest.mark.parametrize(
    "depth, millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)]
)
def test_cifar_resnets_have_the_papers_rounded_counts(depth, millions):
    # He et al. 2016, Table 6, rounded to two significant figures
    count = parameter_count(f"cifar_resnet{depth}", 32, 10)
    assert float(f"{count / 1e6:.2g}") == millions


def test_cifar_resnet20_count_by_hand():
    conv = lambda cin, cout: 9 * cin * cout  # noqa: E731  3x3, no bias
    bn = lambda c: 2 * c  # noqa: E731  scale and bias
    block = lambda cin, cout: conv(cin, cout) + conv(cout, cout) + 2 * bn(cout)  # noqa: E731
    expected = conv(3, 16) + bn(16)
    expected += 3 * block(16, 16)
    expected += block(16, 32) + 2 * block(32, 32)
    expected += block(32, 64) + 2 * block(64, 64)
    expected += 64 * 10 + 10
    assert parameter_count("cifar_resnet20", 32, 10) == expected == 269_722
    # deeper CIFAR ResNets add 2 blocks per stage for every 12 layers
    assert parameter_count("cifar_resnet32", 32, 10) == expected + 2 * (
        block(16, 16) + block(32, 32) + block(64, 64)
    )


def cheap_variables(model, images):
    """Variables of the model's shapes filled from a small table of values: drawing 130M
    random numbers for VGG's dense layers would dominate a shape test."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), images)
    values = 0.02 * jax.random.normal(jax.random.key(1), (1024,))

    def fill(leaf):
        size = int(np.prod(leaf.shape))
        return jnp.resize(values, (size,)).reshape(leaf.shape).astype(leaf.dtype)

    variables = jax.tree.map(fill, shapes)
    if "batch_stats" in variables:  # running variance must be positive
        variables["batch_stats"] = jax.tree.map(jnp.ones_like, variables["batch_stats"])
    return variables


@pytest.mark.parametrize(
    "name, size",
    [
        ("alexnet", 64),
        ("vgg11_bn", 32),
        ("resnet18", 32),
        ("resnet50", 32),
        ("googlenet", 64),
        ("cifar_resnet20", 32),
        ("efficientnet_b0", 32),
    ],
)
def test_jitted_forward_at_small_resolution(name, size):
    model = get_model(name, 7)
    images = jax.random.normal(jax.random.key(0), (2, size, size, 3))
    variables = cheap_variables(model, images)
    logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, images)
    assert logits.shape == (2, 7) and np.all(np.isfinite(logits))


def test_batch_norm_train_and_eval_differ_and_statistics_update():
    model = get_model("cifar_resnet20", 10)
    images = 3.0 + jax.random.normal(jax.random.key(2), (4, 32, 32, 3))
    apply = jax.jit(model.apply, static_argnames=("train", "mutable"))  # not op by op
    variables = jax.jit(model.init)(jax.random.key(3), images)
    evaluated = apply(variables, images, train=False)
    trained, updates = apply(variables, images, train=True, mutable=("batch_stats",))
    assert not np.allclose(evaluated, trained)  # batch statistics against running ones
    before = jax.tree.leaves(variables["batch_stats"])
    after = jax.tree.leaves(updates["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


def test_dropout_is_on_only_in_training():
    model = get_model("alexnet", 5)
    images = jax.random.normal(jax.random.key(4), (2, 64, 64, 3))
    variables = cheap_variables(model, images)
    apply = jax.jit(model.apply, static_argnames="train")  # one program, not one per operation
    eval_a = apply(variables, images)
    np.testing.assert_array_equal(eval_a, apply(variables, images))
    train = [
        apply(variables, images, train=True, rngs={"dropout": jax.random.key(k)}) for k in (6, 7)
    ]
    assert not np.allclose(train[0], train[1])


def test_adaptive_average_pool_matches_the_pytorch_windows():
    x = jnp.arange(2 * 5 * 7 * 1, dtype=jnp.float32).reshape(2, 5, 7, 1)
    out = adaptive_avg_pool(x, (3, 2))
    # rows [0,2), [1,4), [3,5); columns [0,4), [3,7)
    np.testing.assert_allclose(out[:, 1, 1, 0], x[:, 1:4, 3:7, 0].mean(axis=(1, 2)))
    np.testing.assert_allclose(out[:, 2, 0, 0], x[:, 3:5, 0:4, 0].mean(axis=(1, 2)))


def test_unknown_model_and_depth_say_what_is_valid():
    with pytest.raises(ValueError, match="unknown model 'resnet9'; valid: alexnet, "):
        get_model("resnet9")
    from nets.cnn import CifarResNet

    with pytest.raises(ValueError, match="6n \\+ 2 with n >= 1, got 21"):
        CifarResNet(21).init(jax.random.key(0), jnp.ones((1, 32, 32, 3)))


def test_googlenet_auxiliary_heads_only_in_training():
    from nets.cnn import GoogLeNet

    model = GoogLeNet(num_outputs=6, aux_heads=True)
    images = jax.random.normal(jax.random.key(8), (2, 64, 64, 3))
    variables = cheap_variables(model, images)
    count = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))
    aux = 2 * (128 * 512 + 128 * 2 + 2048 * 1024 + 1024 + 1024 * 6 + 6) + 128 * (528 - 512)
    assert count == parameter_count("googlenet", 224, 6) + aux
    # shapes only: evaluate abstractly (running GoogLeNet op by op took 25 s)
    outputs, _ = jax.eval_shape(
        lambda v: model.apply(
            v, images, train=True, mutable=["batch_stats"], rngs={"dropout": jax.random.key(9)}
        ),
        variables,
    )
    assert [o.shape for o in outputs] == [(2, 6)] * 3
    assert jax.eval_shape(lambda v: model.apply(v, images), variables).shape == (2, 6)


def test_make_divisible_rounds_channels_as_torchvision():
    from nets.cnn.efficientnet import make_divisible

    assert [make_divisible(c * 1.4) for c in (32, 16, 24, 40, 80, 112, 192, 320)] == [
        48,
        24,
        32,
        56,
        112,
        160,
        272,
        448,
    ]
    assert make_divisible(3.0) == 8  # never below the divisor
    assert make_divisible(20.0, 16) == 32  # 16 would be more than 10% below 20


def test_stochastic_depth_drops_whole_branches_and_rescales_the_rest():
    from nets.cnn.efficientnet import MBConv

    x = jax.random.normal(jax.random.key(10), (64, 8, 8, 16))
    block = MBConv(6, 3, 1, 16, drop_rate=0.5)
    variables = jax.jit(block.init)(jax.random.key(11), x)
    keep_all = MBConv(6, 3, 1, 16, drop_rate=0.0)
    training = dict(train=True, mutable=("batch_stats",))
    full, _ = jax.jit(partial(keep_all.apply, **training))(variables, x)
    branch = full - x
    out, _ = jax.jit(partial(block.apply, **training))(
        variables, x, rngs={"dropout": jax.random.key(12)}
    )
    dropped = np.all(np.isclose(out, x, atol=1e-6), axis=(1, 2, 3))
    kept = np.all(np.isclose(out, x + 2 * branch, atol=1e-5), axis=(1, 2, 3))
    assert np.all(dropped | kept) and 10 < dropped.sum() < 54  # about half of 64
    evaluated = block.apply(variables, x)  # no dropping outside training
    np.testing.assert_allclose(evaluated, keep_all.apply(variables, x), rtol=1e-6)


@pytest.mark.parametrize("block, channels", [(BasicBlock, 8), (Bottleneck, 2)])
def test_zero_init_residual_starts_every_block_as_its_shortcut(block, channels):
    """The residual branch's last BatchNorm scale starts at 0: out = relu(0 + x) at init."""
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 8))
    for zero, identity in ((True, True), (False, False)):
        module = block(channels, zero_init_residual=zero)
        variables = jax.jit(module.init)(jax.random.key(1), x)
        out = module.apply(variables, x)
        assert np.allclose(out, np.maximum(x, 0), atol=1e-6) == identity


def test_a_bfloat16_resnet_computes_in_bfloat16_and_keeps_float32_parameters():
    model = get_model("resnet18", 7, dtype="bfloat16")
    images = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
    variables = cheap_variables(model, images)
    logits = jax.jit(lambda v, x: model.apply(v, x))(variables, images)
    assert logits.dtype == jnp.bfloat16 and logits.shape == (2, 7)
    assert {leaf.dtype for leaf in jax.tree.leaves(variables["params"])} == {np.dtype("float32")}
    with pytest.raises(ValueError, match="dtype 'int8'; valid: bfloat16, float16, float32"):
        get_model("resnet18", 7, dtype="int8")
