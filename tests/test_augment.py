"""Augmentation: the transforms' geometry on hand-built images, the learning-rate steps of the
recipes, and seeded augmented batches that a resumed iterator reproduces."""

import jax
import numpy as np
import pytest

from experiments.configs import optimizer_config
from nets.data import batches
from nets.data.augment import (
    augmentation,
    center_crop,
    evaluation_view,
    horizontal_flip,
    pad_and_crop,
    random_resized_crop,
    resize,
)
from nets.training.config import build_optimizer, learning_rate


def coordinates(height, width):
    """image[y, x] = (y, x): a crop's values say where it was cut from."""
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([y, x], axis=-1).astype(np.float32)


def test_pad_and_crop_is_a_shift_of_at_most_the_padding():
    image = coordinates(32, 32) + 1  # zero only where the padding shows
    shifts = set()
    for seed in range(300):
        crop = pad_and_crop(image, np.random.default_rng(seed), padding=4)
        assert crop.shape == (32, 32, 2)
        inside = crop[..., 0] > 0
        # the first row and column of the image that shows give the shift
        top = int(crop[inside][:, 0].min()) - 1 - int(np.argmax(inside.any(axis=1)))
        left = int(crop[inside][:, 1].min()) - 1 - int(np.argmax(inside.any(axis=0)))
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
        np.testing.assert_array_equal(crop, padded[4 + top : 36 + top, 4 + left : 36 + left])
        shifts.add((top, left))
    assert {t for t, _ in shifts} == set(range(-4, 5)) == {s for _, s in shifts}


def test_horizontal_flip_mirrors_half_the_time():
    image = coordinates(5, 7)
    flips = [horizontal_flip(image, np.random.default_rng(s)) for s in range(400)]
    mirrored = [np.array_equal(f, image[:, ::-1]) for f in flips]
    assert all(m or np.array_equal(f, image) for m, f in zip(mirrored, flips, strict=True))
    assert 160 < sum(mirrored) < 240


def test_a_crop_larger_than_the_padded_image_is_refused():
    with pytest.raises(ValueError, match="the 41x41 crop does not fit in the 40x40 image padded"):
        pad_and_crop(np.zeros((32, 32, 3)), np.random.default_rng(0), padding=4, size=(41, 41))


@pytest.mark.parametrize("shape", [(13, 9), (5, 30)])
def test_bilinear_resize_equals_jax_image_resize(shape):
    image = np.random.default_rng(1).normal(size=(11, 17, 3)).astype(np.float32)
    expected = jax.image.resize(image, (*shape, 3), "linear", antialias=False)
    np.testing.assert_allclose(resize(image, *shape), expected, rtol=1e-5, atol=1e-5)


def test_random_resized_crop_keeps_area_and_aspect_in_range():
    image = coordinates(300, 400)
    for seed in range(50):
        crop = random_resized_crop(image, np.random.default_rng(seed), size=224)
        assert crop.shape == (224, 224, 2)
        # resizing a ramp keeps it a ramp: the values span the crop's rows and columns
        rows = crop[..., 0].max() - crop[..., 0].min()
        columns = crop[..., 1].max() - crop[..., 1].min()
        height, width = rows * 224 / 223, columns * 224 / 223  # centre-to-centre spans
        assert 0.08 * 300 * 400 * 0.9 <= height * width <= 300 * 400 * 1.01
        assert 3 / 4 * 0.9 <= width / height <= 4 / 3 * 1.1
        assert crop[..., 0].min() >= 0 and crop[..., 0].max() <= 299


def test_center_crop_is_the_middle_of_the_resized_image():
    image = coordinates(300, 400)  # shorter side 300 -> 256, longer 400 -> 341
    crop = center_crop(image, resize_to=256, size=224)
    assert crop.shape == (224, 224, 2)
    # about the image's centre (149.5, 199.5): the 117 columns cut from 341 split 58 / 59, half
    # a resized pixel (0.59 of the original's) off centre
    np.testing.assert_allclose(crop.mean(axis=(0, 1)), [149.5, 199.5 - 0.5 * 400 / 341], atol=0.01)
    assert crop[..., 1].max() - crop[..., 1].min() < 400 * 224 / 341 + 1


def test_an_unknown_augmentation_lists_the_known_ones():
    assert augmentation("") is None
    with pytest.raises(ValueError, match="unknown config.data.augment 'mixup'; valid: cifar"):
        augmentation("mixup")


def test_recipes_crop_to_the_size_asked_and_imagenet_evaluates_its_centre():
    example = {"inputs": coordinates(300, 400), "targets": 3}
    rng = np.random.default_rng(0)
    assert augmentation("cifar")(example, rng)["inputs"].shape == (300, 400, 2)  # its own size
    assert augmentation("cifar", 32)(example, rng)["inputs"].shape == (32, 32, 2)
    assert augmentation("imagenet")(example, rng)["inputs"].shape == (224, 224, 2)
    assert augmentation("imagenet", 64)(example, rng)["inputs"].shape == (64, 64, 2)
    assert evaluation_view("cifar") is None  # CIFAR evaluates the images as they are
    view = evaluation_view("imagenet")(example)
    assert view["targets"] == 3
    np.testing.assert_array_equal(view["inputs"], center_crop(example["inputs"], 256, 224))
    small = evaluation_view("imagenet", 64)(example)["inputs"]  # the same 256/224 ratio: 73
    np.testing.assert_array_equal(small, center_crop(example["inputs"], 73, 64))
    with pytest.raises(ValueError, match="the 48x48 crop does not fit in the 40x40 image"):
        augmentation("cifar", 48)({"inputs": np.zeros((32, 32, 3))}, rng)


def test_augmented_batches_are_seeded_and_resume_exactly():
    arrays = {"inputs": np.random.default_rng(2).random((40, 8, 8, 3), np.float32),
              "targets": np.arange(40, dtype=np.int32)}  # fmt: skip
    augment = augmentation("cifar")

    def stream(seed):
        return batches.train_batches(arrays, 4, seed, shard_index=0, shard_count=1, augment=augment)

    first, again, other = stream(0), stream(0), stream(1)
    taken = [next(first) for _ in range(12)]  # past the first epoch of 10 batches
    for batch in taken:
        np.testing.assert_array_equal(batch["inputs"], next(again)["inputs"])
    assert not np.array_equal(taken[0]["inputs"], next(other)["inputs"])
    # each image is a shifted (and maybe mirrored) copy of its own example
    for image, label in zip(taken[0]["inputs"], taken[0]["targets"], strict=True):
        assert image.shape == (8, 8, 3)
        assert np.isin(image[image > 0], arrays["inputs"][label]).all()
    resumed = stream(0)
    state = None
    for _ in range(5):
        next(resumed)
    state = resumed.get_state()
    restored = stream(0)
    restored.set_state(state)
    for batch in taken[5:]:
        np.testing.assert_array_equal(next(restored)["inputs"], batch["inputs"])


def test_the_steps_schedule_divides_the_rate_at_each_boundary():
    opt = optimizer_config(name="sgd", learning_rate=0.1, schedule="steps",
                           boundaries=(32_000, 48_000))  # fmt: skip
    rate = learning_rate(opt, 64_000)
    for count, value in [(0, 0.1), (31_999, 0.1), (32_000, 0.01), (47_999, 0.01), (48_000, 1e-3)]:
        assert float(rate(count)) == pytest.approx(value)
    warm = optimizer_config(learning_rate=0.01, schedule="steps", boundaries=(400, 32_000),
                            decay=(10.0, 0.1))  # fmt: skip
    assert [float(learning_rate(warm, 64_000)(c)) for c in (399, 400, 32_000)] == pytest.approx(
        [0.01, 0.1, 0.01]
    )
    for bad, message in [
        ({"boundaries": ()}, "must list the steps"),
        ({"boundaries": (48_000, 32_000)}, "must increase within 1..63999"),
        ({"boundaries": (32_000, 64_000)}, "must increase within 1..63999"),
        ({"boundaries": (32_000,), "decay": (0.1, 0.1)}, "one per boundary \\(1\\)"),
        ({"boundaries": (32_000,), "decay": -0.1}, "decay must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_optimizer(optimizer_config(schedule="steps", **bad), 64_000)


def test_warm_up_ramps_linearly_then_the_schedule_runs_on():
    """flax's ImageNet schedule: 0 -> peak over W updates, then a cosine over the rest."""
    peak, warmup, total = 0.4, 50, 250
    cosine = learning_rate(optimizer_config(learning_rate=peak, schedule="cosine",
                                            warmup_steps=warmup), total)  # fmt: skip
    for count in (0, 10, 49):
        assert float(cosine(count)) == pytest.approx(peak * count / warmup)
    for count in (50, 100, 175, 249):
        expected = 0.5 * peak * (1 + np.cos(np.pi * (count - warmup) / (total - warmup)))
        assert float(cosine(count)) == pytest.approx(expected, abs=1e-7)
    steps = learning_rate(optimizer_config(learning_rate=peak, schedule="steps", warmup_steps=10,
                                           boundaries=(100, 200)), total)  # fmt: skip
    rates = [float(steps(c)) for c in (5, 10, 99, 100, 199, 200)]
    assert rates == pytest.approx([0.2, 0.4, 0.4, 0.04, 0.04, 0.004])
    flat = learning_rate(optimizer_config(learning_rate=peak, warmup_steps=4), total)
    assert [float(flat(c)) for c in (1, 4, 200)] == pytest.approx([0.1, 0.4, 0.4])
    for bad, message in [
        ({"warmup_steps": 250}, r"warmup_steps \(250\) must leave steps of the run \(250\)"),
        ({"warmup_steps": -1}, "warmup_steps must be an integer >= 0"),
        ({"warmup_steps": 100, "schedule": "steps", "boundaries": (100,)}, "within 101..249"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_optimizer(optimizer_config(**bad), total)


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_weight_decay_on_kernels_leaves_biases_and_norms_alone(name):
    """A zero gradient: the update is the decay alone, -rate * wd * w, on the kernels only."""
    params = {"conv": {"kernel": np.ones((3, 3, 2, 4), np.float32), "bias": np.ones(4, np.float32)},
              "norm": {"scale": np.ones(4, np.float32)}}  # fmt: skip
    zeros = jax.tree.map(np.zeros_like, params)
    for on, decayed in (("kernels", {"kernel"}), ("all", {"kernel", "bias", "scale"})):
        opt = optimizer_config(name=name, learning_rate=0.5, weight_decay=0.1, momentum=0.0,
                               weight_decay_on=on)  # fmt: skip
        tx = build_optimizer(opt, 10)
        updates, _ = tx.update(zeros, tx.init(params), params)
        for path, update in jax.tree_util.tree_flatten_with_path(updates)[0]:
            expected = -0.05 if path[-1].key in decayed else 0.0
            np.testing.assert_allclose(update, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="weight_decay_on 'biases'; valid: all, kernels"):
        build_optimizer(optimizer_config(weight_decay_on="biases"), 10)
