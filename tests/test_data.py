"""tfds builders (array_record, no TensorFlow), the download-only path through mock_data, and
the grain loader: deterministic shuffles, process sharding, a checkpointable position."""

import itertools

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from nets.data import batches, pixels, prepare, registry, tfds_reader
from nets.data.augment import augmentation, center_crop, evaluation_view
from nets.data.builders import VERSION, AddingProblem, CopyTask, SequenceTaskConfig
from nets.data.digits import load_digits
from nets.data.synthetic import COPY_DELIMITER, adding_problem


def test_digits32_is_prepared_offline_and_reads_back_row_for_row(tmp_path):
    arrays = registry.load_split("digits32", "test", tmp_path)  # generated on first use
    assert (tmp_path / "digits32" / "1.0.0").is_dir()
    assert list((tmp_path / "digits32" / "1.0.0").glob("*.array_record*"))
    expected = load_digits()["test"]
    np.testing.assert_array_equal(arrays["inputs"], expected["inputs"])
    np.testing.assert_array_equal(arrays["targets"], expected["targets"])
    assert arrays["inputs"].shape == (359, 32, 32, 1) and arrays["targets"].dtype == np.int32


@pytest.mark.parametrize("builder_class", [AddingProblem, CopyTask])
def test_sequence_task_builders_hold_the_generators_batches(tmp_path, builder_class):
    config = SequenceTaskConfig(name="t6", length=6, train_size=24, test_size=8, version=VERSION)
    builder = builder_class(config=config, data_dir=tmp_path, file_format="array_record")
    builder.download_and_prepare()
    source = builder.as_data_source("train")
    x = np.stack([source[i]["x"] for i in range(len(source))])
    target = np.stack([source[i]["target"] for i in range(len(source))])
    assert len(source) == 24 and len(builder.as_data_source("test")) == 8
    if builder_class is AddingProblem:
        # the task itself: one marker in each half, the target the sum of the marked values
        assert x.shape == (24, 6, 2)
        np.testing.assert_array_equal(x[:, :, 1].sum(1), 2)
        np.testing.assert_array_equal(x[:, :3, 1].sum(1), 1)
        np.testing.assert_allclose(target, (x[:, :, 0] * x[:, :, 1]).sum(1), rtol=1e-6)
        expected = adding_problem(jax.random.key(0), 24, 6)  # the train split's fixed key
        np.testing.assert_array_equal(x, expected["inputs"])
    else:
        assert x.shape == target.shape == (24, 26)
        np.testing.assert_array_equal(x[:, 10 + 6 - 1], COPY_DELIMITER)  # 10 symbols, T-1 blanks
        np.testing.assert_array_equal(target[:, -10:], x[:, :10])


def test_download_only_datasets_go_through_the_same_path_under_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        cifar = registry.load_split("cifar10", "train", tmp_path)
        mnist = registry.load_split("mnist", "test", tmp_path)
        imdb = registry.load_split("imdb_reviews", "train", tmp_path)
    assert cifar["inputs"].shape == (12, 32, 32, 3) and cifar["inputs"].dtype == np.float32
    assert 0 <= cifar["inputs"].min() and cifar["inputs"].max() <= 1
    assert cifar["targets"].dtype == np.int32 and set(cifar["targets"]) <= set(range(10))
    assert mnist["inputs"].shape == (12, 32, 32, 1)  # 28x28 padded by 2 for LeNet-5
    assert not mnist["inputs"][:, :2].any() and not mnist["inputs"][:, :, -2:].any()
    assert imdb["inputs"].shape == (12, registry.IMDB_LENGTH) and imdb["inputs"].dtype == np.int32


def test_mnist_pixel_tasks_read_each_image_as_784_steps_in_one_fixed_order(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        padded = registry.load_split("mnist", "train", tmp_path)
        plain = registry.load_split("mnist_pixels", "train", tmp_path)
        permuted = registry.load_split("mnist_pixels_permuted", "train", tmp_path)
    assert plain["inputs"].shape == permuted["inputs"].shape == (6, 784, 1)
    # step 28 r + c is pixel (r, c) of the unpadded image
    np.testing.assert_array_equal(
        plain["inputs"], padded["inputs"][:, 2:30, 2:30].reshape(6, 784, 1)
    )
    order = pixels.fixed_permutation(784)
    np.testing.assert_array_equal(permuted["inputs"], plain["inputs"][:, order])
    np.testing.assert_array_equal(permuted["targets"], plain["targets"])


def test_the_pixel_permutation_is_a_true_permutation_fixed_by_its_seed():
    order = pixels.fixed_permutation(64, seed=3)
    np.testing.assert_array_equal(np.sort(order), np.arange(64))
    np.testing.assert_array_equal(order, pixels.fixed_permutation(64, seed=3))
    assert not np.array_equal(order, pixels.fixed_permutation(64, seed=4))
    assert not np.array_equal(order, np.arange(64))
    images = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1)
    sequences = pixels.pixel_sequences(images, order)
    assert sequences.shape == (2, 64, 1)
    np.testing.assert_array_equal(sequences[1, :, 0], images[1].ravel()[order])
    with pytest.raises(ValueError, match="not a permutation of the 64 pixels"):
        pixels.pixel_sequences(images, np.zeros(64, int))
    with pytest.raises(ValueError, match=r"images must be \[N, height, width, channels\]"):
        pixels.pixel_sequences(images[..., 0])


def test_a_dataset_that_needs_a_download_names_the_command_that_prepares_it(tmp_path):
    with pytest.raises(tfds_reader.DatasetNotPreparedError) as error:
        registry.load_split("cifar10", "train", tmp_path)
    assert f"python -m nets.data.prepare cifar10 --data_dir {tmp_path}" in str(error.value)
    with pytest.raises(tfds_reader.DatasetNotPreparedError) as error:  # a manual download
        registry.load_records("imagenet2012", "test", tmp_path)
    assert "needs ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar" in str(error.value)
    assert str(error.value).endswith(
        f"python -m nets.data.prepare imagenet2012 --data_dir {tmp_path} --manual_dir DIR"
    )
    with pytest.raises(ValueError, match="'imagenet2012': its images come in many sizes"):
        registry.load_split("imagenet2012", "train", tmp_path)
    (tmp_path / "tars").mkdir()
    (tmp_path / "tars" / "ILSVRC2012_img_val.tar").write_bytes(b"")
    argv = ["imagenet2012", "--data_dir", str(tmp_path / "data"), "--manual_dir"]
    with pytest.raises(SystemExit, match="missing: ILSVRC2012_img_train.tar$"):
        prepare.main([*argv, str(tmp_path / "tars")])
    assert not (tmp_path / "data").exists()  # refused before tfds makes a directory


def test_imagenet_images_are_standardised_per_channel():
    images = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), np.uint8)
    mean = 255 * np.array([0.485, 0.456, 0.406])  # flax's ImageNet example's statistics
    std = 255 * np.array([0.229, 0.224, 0.225])
    expected = (images.astype(np.float64) - mean) / std
    np.testing.assert_allclose(registry._imagenet_images(images), expected, rtol=1e-5, atol=1e-6)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'; valid: adding_problem, "):
        registry.dataset_spec("cifar100")
    with pytest.raises(ValueError, match="unknown adding_problem config 't77'; valid: t100, "):
        tfds_reader.builder("adding_problem/t77")
    with pytest.raises(ValueError, match="unknown copy_task config 't150'; valid: t10, t100, t200"):
        registry.load_split("copy_task/t150", "train")


ARRAYS = {"inputs": np.arange(20)[:, None] * np.ones(3), "targets": np.arange(20)}


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_each_epoch_is_a_permutation_fixed_by_the_seed():
    first = take(batches.train_batches(ARRAYS, 5, seed=3), 8)
    again = take(batches.train_batches(ARRAYS, 5, seed=3), 8)
    other = take(batches.train_batches(ARRAYS, 5, seed=4), 8)
    rows = [b["targets"] for b in first]
    for epoch in (rows[:4], rows[4:]):
        assert sorted(np.concatenate(epoch)) == list(range(20))
    assert not np.array_equal(np.concatenate(rows[:4]), np.concatenate(rows[4:]))  # reshuffled
    np.testing.assert_array_equal(rows, [b["targets"] for b in again])
    assert not np.array_equal(rows, [b["targets"] for b in other])
    np.testing.assert_array_equal(first[0]["inputs"][:, 0], first[0]["targets"])  # rows aligned


def test_processes_take_disjoint_shards_of_the_same_order():
    shards = [
        take(batches.train_batches(ARRAYS, 5, 0, shard_index=i, shard_count=2), 2) for i in range(2)
    ]
    seen = np.concatenate([b["targets"] for shard in shards for b in shard])
    assert sorted(seen) == list(range(20))


def test_the_iterator_state_resumes_exactly():
    iterator = batches.train_batches(ARRAYS, 3, seed=1)
    take(iterator, 5)
    state = iterator.get_state()
    expected = take(iterator, 4)
    resumed = batches.train_batches(ARRAYS, 3, seed=1)
    resumed.set_state(state)
    for a, b in zip(expected, take(resumed, 4), strict=True):
        np.testing.assert_array_equal(a["targets"], b["targets"])


def test_eval_batches_cover_the_split_once_marking_the_padding():
    evaluated = list(batches.eval_batches(ARRAYS, 8))
    assert [len(b["targets"]) for b in evaluated] == [8, 8, 8]
    kept = [t for b in evaluated for t, v in zip(b["targets"], b["valid"], strict=True) if v]
    assert kept == list(range(20))
    assert list(itertools.chain(*(b["valid"] for b in evaluated))).count(0) == 4


class CountingSource:
    """A random-access source that counts the records read."""

    def __init__(self, arrays):
        self.arrays, self.reads = arrays, 0

    def __len__(self):
        return len(self.arrays["image"])

    def __getitem__(self, index):
        self.reads += 1
        return {"image": self.arrays["image"][index], "label": self.arrays["label"][index]}


def test_streamed_records_give_the_in_memory_batches_reading_only_what_they_need():
    rng = np.random.default_rng(0)
    stored = {"image": rng.integers(0, 256, (500, 4, 4, 1), np.uint8),
              "label": rng.integers(0, 10, 500)}  # fmt: skip
    split = tfds_reader.TfdsSplit("image", "label", registry._scale_bytes)
    source = CountingSource(stored)
    records = tfds_reader.Records(source, split.decode)
    arrays = {"inputs": stored["image"] / np.float32(255), "targets": stored["label"]}
    assert source.reads == 0 and batches.size(records) == 500
    streamed = batches.train_batches(records, 8, 3, shard_index=0, shard_count=1, prefetch=1)
    in_memory = batches.train_batches(arrays, 8, 3, shard_index=0, shard_count=1)
    for _ in range(3):
        a, b = next(streamed), next(in_memory)
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
        np.testing.assert_array_equal(a["targets"], b["targets"])
        assert a["targets"].dtype == np.int32
    assert source.reads <= 5 * 8  # the batches taken and the one prefetched, not the split
    evaluated = list(batches.eval_batches(records, 200))
    assert [b["valid"].sum() for b in evaluated] == [200, 200, 100]
    np.testing.assert_array_equal(evaluated[2]["inputs"][:100], arrays["inputs"][400:])


@pytest.mark.slow
def test_worker_processes_stream_the_same_batches_and_resume(data_dir):
    records = registry.load_records("digits32", "train", data_dir)
    np.testing.assert_array_equal(
        batches.take(records, slice(0, 3))["inputs"],
        registry.load_split("digits32", "train", data_dir)["inputs"][:3],
    )
    augment = augmentation("cifar")

    def stream(workers):
        return batches.train_batches(
            records, 16, 0, shard_index=0, shard_count=1, augment=augment, workers=workers
        )

    alone, parallel = stream(0), stream(2)
    for _ in range(3):
        np.testing.assert_array_equal(next(alone)["inputs"], next(parallel)["inputs"])
    # the workers' iterator state resumes them (its format is the worker count's own, so a
    # run that changes config.data.workers is refused as a changed run)
    resumed = stream(2)
    resumed.set_state(parallel.get_state())
    for _ in range(2):
        np.testing.assert_array_equal(next(resumed)["inputs"], next(alone)["inputs"])
    # evaluation through a view (ImageNet's centre crop, at 16x16), read by 2 workers or here
    view = evaluation_view("imagenet", 16)
    rows = np.arange(0, 150, 3)
    here = list(batches.eval_batches(records, 32, rows, view=view))
    there = list(batches.eval_batches(records, 32, rows, view=view, workers=2))
    assert len(here) == len(there) == 2 and here[1]["valid"].sum() == 50 - 32
    for a, b in zip(here, there, strict=True):
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
        np.testing.assert_array_equal(a["valid"], b["valid"])
    first = batches.take(records, 3)["inputs"]
    np.testing.assert_array_equal(here[0]["inputs"][1], center_crop(first, 18, 16))


def test_only_tfds_data_sets_stream():
    with pytest.raises(ValueError, match="dataset 'reviews' is made in memory"):
        registry.load_records("reviews", "train")


def test_trimmed_batches_end_at_their_longest_sequence_rounded_up():
    lengths = np.array([3, 17, 9, 30, 12, 5, 40, 1], np.int32)
    arrays = {"inputs": np.arange(8 * 40 * 2).reshape(8, 40, 2), "lengths": lengths,
              "targets": np.arange(8)}  # fmt: skip
    stream = batches.train_batches(arrays, 2, 0, shard_index=0, shard_count=1, trim_to=8)
    for _ in range(12):
        batch = next(stream)
        longest = int(batch["lengths"].max())
        # the first multiple of 8 that holds the longest (40 at most: the split's own)
        assert batch["inputs"].shape[1] == min(40, 8 * -(-longest // 8))
        for row, target in enumerate(batch["targets"]):  # the same rows, their first steps
            np.testing.assert_array_equal(
                batch["inputs"][row], arrays["inputs"][target, : batch["inputs"].shape[1]]
            )
    whole = batches.trim_padding({"inputs": np.zeros((2, 10)), "lengths": np.array([10, 2])}, 4)
    assert whole["inputs"].shape == (2, 10)  # never past the split's length
    with pytest.raises(ValueError, match="trim_to .* needs one process, not 2"):
        batches.train_batches(arrays, 2, 0, shard_index=0, shard_count=2, trim_to=8)
