"""The training stack: the pure step against hand arithmetic, the configs end to end, and the
faults (a kill, a corrupt checkpoint, a non-finite loss, Ctrl-C, bad input)."""

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments import train as train_cli
from experiments.configs import (
    cifar10_resnet20,
    imagenet_resnet50,
    lenet5_digits,
    mnist1d_gru,
    mnist_lenet5,
    mnist_pixels,
    model_config,
)
from nets.cnn import LeNet5
from nets.data import batches, registry
from nets.training import objectives
from nets.training.checkpoint import (
    CheckpointError,
    Checkpoints,
    failed_save_echoes_dropped,
    sigint_deferred,
)
from nets.training.config import build_sweep, validate_training
from nets.training.distributed import describes_multihost
from nets.training.load import RunError, load_run
from nets.training.run_driver import NonFiniteError, evaluate
from nets.training.state import TrainState, eval_step, train_step

ROOT = Path(__file__).parent.parent


def tensorboard_log(workdir: Path) -> tuple[dict, list]:
    """What TensorBoard itself reads from ``workdir``: ``{tag: [(step, value), ...]}`` of the
    scalars, and the image tags."""
    events = EventAccumulator(str(workdir))
    events.Reload()
    scalars = {t: [(e.step, e.value) for e in events.Scalars(t)] for t in events.Tags()["scalars"]}
    return scalars, events.Tags()["images"]


def logged(workdir: Path, name: str) -> list[tuple[int, float]]:
    """``(step, name)`` of each line of metrics.jsonl."""
    rows = map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines())
    return [(row["step"], row[name]) for row in rows]


class Linear(nn.Module):
    """y = w . x + b, called as every model is."""

    @nn.compact
    def __call__(self, x, *, train=False):
        return nn.Dense(1, name="dense")(x)


def test_train_step_is_one_sgd_step_on_the_mean_squared_error():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    state = TrainState.create(Linear(), optax.sgd(0.1), x[:1], seed=0)
    w, b = (
        np.asarray(state.params["dense"]["kernel"])[:, 0],
        float(state.params["dense"]["bias"][0]),
    )
    new, metrics = jax.jit(partial(train_step, loss_fn=objectives.mse))(
        state, {"inputs": x, "targets": y}
    )
    error = x @ w + b - y  # d/dw mean(error^2) = 2/n X^T error
    grad_w, grad_b = 2 * x.T @ error / 6, 2 * error.mean()
    np.testing.assert_allclose(metrics["loss"], np.mean(error**2), rtol=1e-5)
    np.testing.assert_allclose(metrics["grad_norm"], np.sqrt(grad_w @ grad_w + grad_b**2), 1e-5)
    np.testing.assert_allclose(new.params["dense"]["kernel"][:, 0], w - 0.1 * grad_w, rtol=1e-5)
    np.testing.assert_allclose(new.params["dense"]["bias"][0], b - 0.1 * grad_b, rtol=1e-5)
    assert int(new.step) == 1


class Fixed(nn.Module):
    """Outputs the given logits whatever the input."""

    logits: np.ndarray

    @nn.compact
    def __call__(self, x, *, train=False):
        return self.logits + 0 * self.param("unused", nn.initializers.zeros, ())


def test_a_sharded_evaluation_reads_each_example_once_and_adds_up_to_the_whole():
    rng = np.random.default_rng(1)
    arrays = {"inputs": rng.normal(size=(11, 3)).astype(np.float32),
              "targets": rng.normal(size=11).astype(np.float32)}  # fmt: skip
    state = TrainState.create(Linear(), optax.sgd(0.1), arrays["inputs"][:1], seed=0)
    w, b = (
        np.asarray(state.params["dense"]["kernel"])[:, 0],
        float(state.params["dense"]["bias"][0]),
    )
    squared = (arrays["inputs"] @ w + b - arrays["targets"]) ** 2
    whole = evaluate(state, arrays, objectives.mse, 4)
    np.testing.assert_allclose(whole["loss"], squared.mean(), rtol=1e-5)
    # three processes' shards: examples k, k + 3, ...; each shard's mean is over its own rows
    for k in range(3):
        shard = evaluate(state, arrays, objectives.mse, 4, shard_index=k, shard_count=3)
        np.testing.assert_allclose(shard["loss"], squared[k::3].mean(), rtol=1e-5)
    (batch,) = batches.eval_batches(arrays, 4, rows=[1, 3, 5])
    np.testing.assert_array_equal(batch["inputs"], arrays["inputs"][[1, 3, 5, 5]])
    np.testing.assert_array_equal(batch["valid"], [1, 1, 1, 0])
    (empty,) = batches.eval_batches(arrays, 4, rows=[])  # a process with no rows adds zeros
    assert not empty["valid"].any()


def test_eval_step_sums_only_the_rows_that_are_valid():
    logits = np.log(np.array([[0.7, 0.3], [0.2, 0.8], [0.9, 0.1]], np.float32))

    state = TrainState.create(Fixed(logits), optax.sgd(0.1), np.zeros((1, 1)), seed=0)
    batch = {
        "inputs": np.zeros((3, 1)),
        "targets": np.array([0, 0, 1]),
        "valid": np.array([1, 1, 0]),
    }
    sums = eval_step(state, batch, loss_fn=objectives.cross_entropy)
    np.testing.assert_allclose(sums["loss"], -np.log(0.7) - np.log(0.2), rtol=1e-5)
    assert float(sums["accuracy"]) == 1.0 and float(sums["count"]) == 2.0


def test_label_smoothing_is_what_training_minimises_and_evaluation_ignores():
    """Probabilities (0.7, 0.2, 0.1), label 0, a = 0.3: the target is (0.8, 0.1, 0.1), by hand;
    a bfloat16 model's logits are scored in float32."""
    p = np.array([[0.7, 0.2, 0.1]])
    logits = jax.numpy.asarray(np.log(p), jax.numpy.bfloat16)
    batch = {"targets": np.array([0])}
    trained = objectives.training_objective("cross_entropy", 0.3)(logits, batch)
    expected = -(0.8 * np.log(0.7) + 0.1 * np.log(0.2) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(trained["loss"], [expected], rtol=1e-2)  # bfloat16's logits
    assert trained["loss"].dtype == np.float32 and trained["accuracy"].tolist() == [1.0]
    evaluated = objectives.get_objective("cross_entropy")(logits, batch)
    np.testing.assert_allclose(evaluated["loss"], [-np.log(0.7)], rtol=1e-2)
    assert objectives.training_objective("mse", 0.0) is objectives.mse


def test_sequence_targets_average_the_cross_entropy_over_time():
    # the copy task's shapes: logits [B, T, C] against labels [B, T]
    logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]], np.float32))
    labels = np.array([[0, 1, 1]])
    result = objectives.cross_entropy(logits, {"targets": labels})
    expected = -(np.log(0.5) + np.log(0.1) + np.log(0.8)) / 3
    np.testing.assert_allclose(result["loss"], [expected], rtol=1e-6)
    np.testing.assert_allclose(result["accuracy"], [2 / 3])  # argmax of [.5, .5] is class 0
    # padded steps (t >= length) count for nothing: length 2 averages the first two steps
    padded = objectives.cross_entropy(logits, {"targets": labels, "lengths": np.array([2])})
    np.testing.assert_allclose(padded["loss"], [-(np.log(0.5) + np.log(0.1)) / 2], rtol=1e-6)
    np.testing.assert_allclose(padded["accuracy"], [1 / 2])


def tiny(get_config, data_dir, **overrides):
    config = get_config("tiny")
    config.data.data_dir = data_dir
    config.parallel = "shard_map"  # compiles faster than pmap for 8 simulated devices
    config.update_from_flattened_dict(overrides)
    return config


CONFIG_FILES = sorted(p.stem for p in (ROOT / "experiments" / "configs").glob("[a-z]*.py"))


@pytest.mark.parametrize("profile", ["quick", "full", "tiny"])
def test_every_training_config_and_profile_is_valid(profile):
    """The data-free checks of a run (names, sizes) for every config file that describes an
    experiments.train run (those with a dataset). Only 'tiny' must divide over the tests' 8
    devices: the others keep their recipes' batches (MNIST-1D's 100)."""
    configs = {
        name: importlib.import_module(f"experiments.configs.{name}").get_config(profile)
        for name in CONFIG_FILES
    }
    training = {name for name, c in configs.items() if "data" in c and "seeds" not in c}
    sweeps = {name for name, c in configs.items() if "data" in c and "seeds" in c}
    assert "adding_problem" in sweeps
    for name in sweeps:  # a sweep group in the training dialect: the same checks
        build_sweep(configs[name])
    assert {
        "lenet5_digits",
        "mnist1d_cnn",
        "mnist1d_gru",
        "lstm_adding",
        "cifar10_resnet20",
        "cifar10_resnet56",
        "cifar10_resnet110",
        "mnist_lenet5",
        "resnet20_digits",
        "lstm_copy",
        "mnist_pixels",
    } <= training
    for name in training:
        validate_training(configs[name], device_count=8 if profile == "tiny" else 1)
        if profile == "tiny":  # the tests' runs stay tiny (one inherited 4,000 quick steps)
            assert configs[name].num_steps <= 8, name
            assert configs[name].get("source_steps", 0) <= 8, name


@pytest.mark.slow
def test_a_config_trains_end_to_end_and_logs(tmp_path, data_dir):
    config = tiny(mnist1d_gru.get_config, data_dir)
    results = train_cli.run(config, str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 4]
    assert all(np.isfinite(row["loss"]) and row["grad_norm"] > 0 for row in rows)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test"]["loss"] == pytest.approx(results["test"]["loss"])
    assert saved["devices"] == 8 and (tmp_path / "curves.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["2", "4"]

    # the same command again: the run is complete, and its results are left untouched
    before = (tmp_path / "results.json").read_bytes()
    assert train_cli.run(config, str(tmp_path))["test"] == saved["test"]
    assert (tmp_path / "results.json").read_bytes() == before

    # a crash mid-write cut the last line short, into bytes that are not even UTF-8: the
    # resumed run drops it and goes on
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes() + b'{"step": 5, "lo\xff\xfe\x00')
    config.num_steps = 6
    train_cli.run(config, str(tmp_path))
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [2, 4, 6]
    # TensorBoard reads the same numbers from the event files beside metrics.jsonl
    scalars, images = tensorboard_log(tmp_path)
    for name in ("loss", "accuracy", "grad_norm", "learning_rate", "steps_per_s"):
        assert scalars[f"train/{name}"] == [
            (step, pytest.approx(value, rel=1e-6)) for step, value in logged(tmp_path, name)
        ]
    rate = pytest.approx(config.optimizer.learning_rate)
    assert scalars["train/learning_rate"] == [(2, rate), (4, rate), (6, rate)]
    # as a straight 6-step run's: the first run's final evaluation at step 4 is purged
    final = json.loads((tmp_path / "results.json").read_text())["test"]["loss"]
    assert scalars["test/loss"] == [(6, pytest.approx(final, rel=1e-6))]
    assert images == ["curves"]
    # a broken line before the last one is an error that names the file
    metrics.write_text("not json\n" + metrics.read_text())
    config.num_steps = 8
    with pytest.raises(ValueError, match=r"metrics.jsonl line 1 is not a metrics record"):
        train_cli.run(config, str(tmp_path))
    # damaged JSON documents are named, with the line: results.json where a rerun reads it,
    # config.json where a loaded run does (a resume reads the checkpoint's own copy)
    (tmp_path / "config.json").write_text('{\n "a')
    with pytest.raises(RunError, match=r"config.json line 2: not valid JSON \(Unterminated"):
        load_run(tmp_path)
    (tmp_path / "results.json").write_text('{\n "test": {\n  "loss')
    with pytest.raises(ValueError, match=r"results.json line 3: not valid JSON \(Unterminated"):
        train_cli.run(config, str(tmp_path))


@pytest.mark.parametrize("recipe", [cifar10_resnet20, mnist_lenet5], ids=lambda m: m.__name__)
@pytest.mark.slow
def test_the_image_recipes_train_through_tfds_under_mock_data(tmp_path, capsys, recipe):
    """The real decode path (and CIFAR's augmentation) for a few steps, the step schedule as
    logged, and the published number printed beside ours."""
    config = tiny(recipe.get_config, str(tmp_path / "data"))
    with tfds.testing.mock_data(num_examples=16):
        results = train_cli.run(config, str(tmp_path / "run"))
    assert results["steps"] == 3 and 0 <= results["test"]["accuracy"] <= 1
    assert np.isfinite(results["test"]["loss"])
    # the rate is multiplied by 0.1 at each boundary: step k is update k - 1
    rate = config.optimizer.learning_rate
    boundaries = config.optimizer.boundaries
    expected = [rate * 0.1 ** sum(k - 1 >= b for b in boundaries) for k in (1, 2, 3)]
    assert logged(tmp_path / "run", "learning_rate") == [
        (k, pytest.approx(value)) for k, value in zip((1, 2, 3), expected, strict=True)
    ]
    assert f"published: {config.anchor}" in capsys.readouterr().out


@pytest.mark.slow
def test_the_imagenet_recipe_trains_through_tfds_under_mock_data(tmp_path, capsys, optimized):
    """Images of many sizes (tfds's mock ImageNet), cropped at random for training and at the
    centre for evaluation; the warm-up then cosine rate, smoothed labels, per-device rate."""
    config = tiny(imagenet_resnet50.get_config, str(tmp_path / "data"))
    with tfds.testing.mock_data(num_examples=16):
        test_set = registry.load_records("imagenet2012", "test", config.data.data_dir)
        sizes = {batches.take(test_set, i)["inputs"].shape for i in range(4)}
        results = train_cli.run(config, str(tmp_path / "run"))
    assert len(sizes) > 1  # the evaluation could only stack them through its view
    assert results["steps"] == 3 and 0 <= results["test"]["accuracy"] <= 1
    assert np.isfinite(results["test"]["loss"])
    # 0 -> 0.4 over one warm-up update, then a cosine over the other two: 0.4, 0.4 (1 + cos
    # pi / 2) / 2
    assert logged(tmp_path / "run", "learning_rate") == [
        (1, 0.0), (2, pytest.approx(0.4)), (3, pytest.approx(0.2))
    ]  # fmt: skip
    per_device = results["steps_per_s"] * config.batch_size / results["devices"]
    assert results["examples_per_s_per_device"] == pytest.approx(per_device)
    assert f"published: {config.anchor}" in capsys.readouterr().out


@pytest.mark.slow
def test_permuted_sequential_mnist_trains_through_tfds_under_mock_data(tmp_path):
    """784 steps per example (the data tests check the plain and permuted orders)."""
    overrides = {"data.name": "mnist_pixels_permuted"}
    config = tiny(mnist_pixels.get_config, str(tmp_path / "data"), **overrides)
    with tfds.testing.mock_data(num_examples=16):
        results = train_cli.run(config, str(tmp_path / "run"))
    assert results["steps"] == 2 and 0 <= results["test"]["accuracy"] <= 1
    assert np.isfinite(results["test"]["loss"]) and results["test"]["loss"] > 0


@pytest.mark.slow
def test_a_streamed_augmented_run_resumes_to_the_uninterrupted_one(tmp_path, data_dir):
    """Records read from the files, augmented: stopped at step 2 and resumed to 4, the run
    ends with the parameters of one that ran 4 steps straight (the same augmented images)."""
    overrides = {"data.stream": True, "data.augment": "cifar", "checkpoint_every": 2}
    straight = tiny(lenet5_digits.get_config, data_dir, **overrides)
    train_cli.run(straight, str(tmp_path / "straight"))
    stopped = tiny(lenet5_digits.get_config, data_dir, num_steps=2, **overrides)
    train_cli.run(stopped, str(tmp_path / "resumed"))
    resumed = train_cli.run(straight, str(tmp_path / "resumed"))  # constant rate: may go on
    assert resumed["resumed_from_step"] == 2
    one = json.loads((tmp_path / "straight" / "results.json").read_text())
    assert resumed["test"] == one["test"]  # to the last bit
    assert logged(tmp_path / "resumed", "loss") == logged(tmp_path / "straight", "loss")


KILLABLE_RUN = """
import os, signal, sys
from nets.runtime import compilation_cache
from experiments.configs.lenet5_digits import get_config
from nets.training.preemption import Preempted
from nets.training.run_driver import train
workdir, data_dir, kill_at, how, cache = sys.argv[1:3] + [int(sys.argv[3])] + sys.argv[4:6]
compilation_cache(cache)
config = get_config("tiny")
config.update(dict(num_steps=60, checkpoint_every=10, log_every=5))
config.data.data_dir = data_dir
def on_step(step):
    if step == kill_at:
        os.kill(os.getpid(), getattr(signal, how))
try:
    train(config, workdir, on_step=on_step)  # the loop itself: no figures to draw at the end
except Preempted as stopped:
    print(stopped, file=sys.stderr)
    sys.exit(stopped.exit_status)
"""


def final_state(workdir: Path):
    template = TrainState.create(LeNet5(), optax.adam(1e-3), np.zeros((1, 32, 32, 1)), 0)
    state, _ = Checkpoints(workdir / "checkpoints", keep=3).restore_latest(jax.device_get(template))
    return state


@pytest.mark.slow
def test_a_run_preempted_then_killed_resumes_to_a_bit_identical_result(tmp_path, data_dir):
    """SIGTERM at step 25 (between checkpoints): the step is saved and the process exits 143;
    resumed, then SIGKILL at 35: it continues from 30. The end equals an uninterrupted run."""
    registry.load_split("digits32", "train", data_dir)  # prepared before two processes race to it
    env = {**os.environ, "JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}  # compile faster; same in all
    # the later runs load the first two's compiled programs: a resume from the persistent
    # compilation cache must be as bit-identical as one that compiles
    cache = str(tmp_path / "compilation_cache")

    def launch(workdir, kill_at=0, how="SIGKILL"):
        arguments = [str(workdir), data_dir, str(kill_at), how, cache]
        return subprocess.Popen(
            [sys.executable, "-c", KILLABLE_RUN, *arguments],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )

    def checkpoints():
        return sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir())

    straight, preempted = launch(tmp_path / "straight"), launch(tmp_path / "resumed", 25, "SIGTERM")
    _, straight_log = straight.communicate(timeout=300)  # read as it runs: a full pipe blocks
    _, preempted_log = preempted.communicate(timeout=300)
    assert straight.returncode == 0, straight_log[-2000:]
    assert preempted.returncode == 128 + signal.SIGTERM, preempted_log[-2000:]
    assert "SIGTERM at step 25: saved" in preempted_log and "checkpoints/25" in preempted_log
    assert checkpoints() == ["10", "20", "25"]  # every folder whole: no orbax temporaries
    killed = launch(tmp_path / "resumed", kill_at=35)
    killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert checkpoints() == ["20", "25", "30"]
    resumed = launch(tmp_path / "resumed")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-2000:]
    assert "resuming from" in stderr and "checkpoints/30" in stderr
    a, b = final_state(tmp_path / "straight"), final_state(tmp_path / "resumed")
    assert int(a.step) == int(b.step) == 60
    for x, y in zip(
        jax.tree.leaves((a.params, a.opt_state, a.rng)),
        jax.tree.leaves((b.params, b.opt_state, b.rng)),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)  # bit for bit
    # the metrics log has each interval once, with the same losses as the straight run
    losses = [
        [
            (r["step"], r["loss"])
            for r in map(json.loads, (tmp_path / d / "metrics.jsonl").read_text().splitlines())
        ]
        for d in ("straight", "resumed")
    ]
    assert losses[0] == losses[1] and [s for s, _ in losses[0]] == list(range(5, 61, 5))
    # in TensorBoard too: the resumed run purged what the killed one had logged after step 30
    curves = [tensorboard_log(tmp_path / d)[0]["train/loss"] for d in ("straight", "resumed")]
    assert curves[0] == curves[1] == [(s, pytest.approx(v, rel=1e-6)) for s, v in losses[0]]


def test_a_corrupt_or_incompatible_checkpoint_stops_the_run_naming_it(tmp_path, data_dir):
    config = tiny(lenet5_digits.get_config, data_dir, num_steps=3)
    train_cli.run(config, str(tmp_path))
    sgd = tiny(lenet5_digits.get_config, data_dir, **{"optimizer.name": "sgd"})
    with pytest.raises(ValueError, match=r"changes its run \(optimizer.name 'adam' -> 'sgd'\)"):
        train_cli.run(sgd, str(tmp_path))
    sgd.resume_anyway = True  # asked for, the arrays still do not fit: named, and kept
    message = f"checkpoint {tmp_path}/checkpoints/3 cannot be restored into this run"
    with pytest.raises(CheckpointError, match=f"{message} \\(ValueError: Structure mismatch"):
        train_cli.run(sgd, str(tmp_path))
    # one flipped bit in the array data (orbax would read other numbers back): refused
    checkpoint = tmp_path / "checkpoints" / "3"
    largest = max((p for p in checkpoint.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(largest.read_bytes())
    data[len(data) // 2] ^= 0x10
    largest.write_bytes(bytes(data))
    damaged = (rf"checkpoint {checkpoint} is damaged: {largest.relative_to(checkpoint)} differs "
               r"from the checksums written when it was saved; delete it to")  # fmt: skip
    config.num_steps = 5  # more steps than the finished run: it must restore checkpoint 3
    with pytest.raises(CheckpointError, match=damaged):
        train_cli.run(config, str(tmp_path))
    with pytest.raises(RunError, match=damaged):
        load_run(tmp_path)
    assert checkpoint.is_dir()  # kept for inspection, never overwritten


def test_a_non_finite_loss_stops_naming_the_step_and_keeping_the_last_good_checkpoint(
    tmp_path, data_dir
):
    config = tiny(
        lenet5_digits.get_config,
        data_dir,
        **{"optimizer.name": "sgd", "optimizer.learning_rate": 1e30},
        num_steps=6,
        checkpoint_every=1,
        log_every=1,
    )
    with pytest.raises(NonFiniteError, match=r"non-finite .* at step (\d); training stopped") as e:
        train_cli.run(config, str(tmp_path))
    bad_step = int(e.value.args[0].split("at step ")[1].split(";")[0])
    kept = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir())
    assert kept and kept[-1] == bad_step - 1
    assert f"checkpoints/{bad_step - 1} (kept)" in str(e.value)
    assert not (tmp_path / "results.json").exists()


def test_ctrl_c_during_a_save_waits_for_the_save_to_finish():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(True)  # still running after the signal
    assert finished == [True]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"model.name": "resnet21"},
            "unknown model 'resnet21'; valid: alexnet, attention_encoder_decoder, bag_of",
        ),
        ({"data.name": "imagenet"}, "unknown dataset 'imagenet'; valid: adding_problem, cifar10"),
        ({"batch_size": 12}, "global batch 12 is not divisible by the device count 8"),
        ({"num_steps": -5}, "config.num_steps must be a positive integer, got -5"),
        ({"parallel": "pjit"}, "unknown config.parallel 'pjit'; valid: pmap, shard_map"),
        ({"data.name": "copy_task/t10"}, "integer token inputs, which model 'lenet5' cannot"),
        ({"model.hidden_size": 8}, "model 'lenet5' takes no option 'hidden_size'; valid: pool"),
        ({"optimizer.name": "lion"}, "unknown config.optimizer.name 'lion'; valid: adam, adamw"),
        ({"optimizer.learning_rate": -1.0}, "config.optimizer.learning_rate must be a finite"),
        ({"seed": -1}, "config.seed must be an integer >= 0, got -1"),
        ({"data.augment": "mixup"}, "unknown config.data.augment 'mixup'; valid: cifar, imagenet"),
        ({"data.workers": -1}, "config.data.workers must be an integer >= 0, got -1"),
        ({"optimizer.schedule": "steps"}, "config.optimizer.boundaries must list the steps"),
        ({"eval_every": 3}, "config.eval_every \\(3\\) must be a multiple of config.log_every"),
        ({"stateful": True}, "config.stateful passes a many_to_many model's carry between chunks"),
        (
            {"batch_size": 4000},
            "a batch of 4000 needs at least that many examples; the data set has 1438",
        ),
        ({"model.name": "mnist1d_cnn"}, "model 'mnist1d_cnn' takes no option 'activation'"),
        ({"label_smoothing": 1.0}, "config.label_smoothing must be in \\[0, 1\\), got 1.0"),
        (
            {"data.name": "adding_problem/t50", "label_smoothing": 0.1},
            "label_smoothing smooths class labels: .* trained with 'mse'",
        ),
        ({"data.image_size": -2}, "config.data.image_size must be an integer >= 0, got -2"),
        (
            {"data.augment": "cifar", "data.image_size": 48},
            "the 48x48 crop does not fit in the 40x40 image padded by 4",
        ),
        ({"data.augment": "imagenet"}, "LeNet5 expects 32 x 32 images .* got shape \\(1, 224"),
        ({"data.name": "imagenet2012"}, "'imagenet2012': its images come in many sizes; stream"),
        ({"optimizer.warmup_steps": 6}, "warmup_steps \\(6\\) must leave steps of the run \\(6"),
        ({"optimizer.weight_decay_on": "biases"}, "weight_decay_on 'biases'; valid: all"),
        ({"profile_steps": "5:3"}, "profile_steps must be 'a:b' with 1 <= a < b <= num_steps"),
        ({"profile_steps": "2:9"}, "b <= num_steps \\+ 1 \\(7\\) to trace steps a..b-1, got '2:9'"),
        ({"profile_steps": "10"}, "config.profile_steps must be 'a:b'"),
        (
            {"optimizer.learning_rate": float("nan")},
            r"learning_rate must be a finite number in \(0, inf\), got nan",
        ),
        (
            {"optimizer.learning_rate": 0.0},
            r"learning_rate must be a finite number in \(0, inf\), got 0.0",
        ),
        ({"optimizer.learning_rate": float("inf")}, "learning_rate must be a finite number"),
        ({"optimizer.momentum": 1.0}, r"momentum must be a finite number in \[0, 1\), got 1.0"),
        ({"optimizer.momentum": float("nan")}, "momentum must be a finite number"),
    ],
)
def test_bad_configs_are_refused_before_anything_is_written(tmp_path, overrides, message):
    config = lenet5_digits.get_config("tiny")
    if "model.hidden_size" in overrides:  # a field the config does not have yet
        config.model.hidden_size = overrides.pop("model.hidden_size")
    config.update_from_flattened_dict(overrides)
    with pytest.raises(ValueError, match=message):
        train_cli.run(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_dataset_that_is_not_prepared_says_how_to_prepare_it(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.train",
            f"--workdir={tmp_path / 'run'}",
            "--config=experiments/configs/cifar10_resnet20.py:tiny",
            f"--config.data.data_dir={tmp_path / 'empty'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: dataset 'cifar10' is not prepared in {tmp_path}/empty/cifar10/3.0.2; prepare "
        f"it (needs a download) with: python -m nets.data.prepare cifar10 --data_dir "
        f"{tmp_path}/empty"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "env, multihost",
    [
        ({}, False),
        ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4"}, True),
        ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "1"}, False),
        ({"SLURM_NTASKS": "2"}, True),
        ({"SLURM_NTASKS": "1"}, False),
        ({"OMPI_COMM_WORLD_SIZE": "8"}, True),
        ({"TPU_WORKER_HOSTNAMES": "t1v-a-w-0,t1v-a-w-1"}, True),
        ({"TPU_WORKER_HOSTNAMES": "localhost"}, False),
    ],
)
def test_multihost_jobs_are_recognised_from_the_environment(env, multihost):
    assert describes_multihost(env) is multihost


@pytest.mark.slow
def test_command_line_errors_are_one_line_and_leave_nothing(tmp_path):
    """What absl and ml_collections would print as tracebacks is one line, exit status 1, for
    every experiment (they share experiments.cli)."""
    (tmp_path / "broken.py").write_text("def get_config(:\n")
    (tmp_path / "a_file").write_text("")
    train, vanishing = "experiments.train", "experiments.vanishing_gradients"
    cases = [  # (experiment, argument, what the one line says)
        (train, "--config.nonexistent=1", "the config has no field 'nonexistent'"),
        (
            train,
            "--config.optimizer.learnig_rate=1",
            "no field 'optimizer.learnig_rate'; did you mean optimizer.learning_rate",
        ),
        (vanishing, "--config.num_step=1", "no field 'num_step'; did you mean train.num_steps?"),
        (
            train,
            f"--config.data.data_dir={tmp_path / 'a_file' / 'data'}",
            f"'{tmp_path / 'a_file'}' is a file, not a directory",
        ),
        (train, "--config=experiments/configs/nope.py", "No such file or directory"),
        (train, "--config=experiments/configs/lenet5_digits.py:huge", "unknown profile 'huge'"),
        (train, f"--config={tmp_path / 'broken.py'}", "invalid syntax"),
        (train, "--config.num_steps=abc", "--config.num_steps=abc: invalid literal"),
        (train, "--workdir=", "--workdir must name a directory, got ''"),
        (vanishing, "--config.lengths=(5,-3)", "sequence length T must be an integer >= 2"),
        (vanishing, f"--workdir={tmp_path / 'a_file' / 'run'}", "is not writable"),
    ]
    runs = [  # all at once: most of each is starting Python and importing JAX
        subprocess.Popen(
            [sys.executable, "-m", experiment, f"--workdir={tmp_path / 'run'}", argument],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for experiment, argument, _ in cases
    ]
    for (_, argument, expected), process in zip(cases, runs, strict=True):
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (argument, stderr[-500:])
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argument, stderr[-500:])
        assert expected in lines[0], (argument, lines[0])
    assert not (tmp_path / "run").exists() and not (ROOT / "results.json").exists()


def test_a_save_that_fails_is_one_error_naming_the_path_and_keeps_the_earlier_ones(
    tmp_path, monkeypatch
):
    checkpoints = Checkpoints(tmp_path / "checkpoints", keep=3)
    state = {"w": np.arange(3.0)}
    checkpoints.save(1, state, {"epoch": 0})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.manager, "save", disk_full)
    with pytest.raises(CheckpointError) as error:
        checkpoints.save(2, state, {"epoch": 0})
    message = str(error.value)
    assert message.startswith(f"saving checkpoint {tmp_path}/checkpoints/2 failed (OSError: ")
    assert "No space left on device" in message and "\n" not in message
    assert checkpoints.latest_step() == 1 and (tmp_path / "checkpoints" / "1").is_dir()


def test_a_model_that_cannot_read_the_data_is_refused_before_anything_is_written(
    tmp_path, data_dir
):
    config = tiny(lenet5_digits.get_config, data_dir)
    config.model = model_config("many_to_one", hidden_size=4)  # sequences, given images
    with pytest.raises(ValueError, match=r"Recurrent input must have 3 axes .*32, 32, 1\)"):
        train_cli.run(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_the_mse_objective_reads_one_output_per_target_and_refuses_other_shapes():
    targets = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    predictions = np.array([[1.5], [2.0], [2.0], [4.0]], np.float32)  # a one-output head
    loss = objectives.mse(jax.numpy.asarray(predictions), {"targets": targets})["loss"]
    np.testing.assert_allclose(loss, (predictions[:, 0] - targets) ** 2, rtol=1e-6)
    with pytest.raises(ValueError, match=r"predictions of shape \(4, 3\) for targets of shape"):
        objectives.mse(np.zeros((4, 3)), {"targets": targets})


def test_a_resumed_run_logs_what_an_uninterrupted_run_logs(tmp_path, data_dir):
    """Checkpoint every 3 steps, log every 2: the row at step 4 spans the resume from 3 and
    averages steps 3 and 4, as the straight run's does (the checkpoint carries step 3's
    metrics); TensorBoard is rewritten from metrics.jsonl, so rows that a kill -9 took with the
    event writer's queue come back."""
    from nets.training.run_driver import train

    config = tiny(lenet5_digits.get_config, data_dir, checkpoint_every=3, log_every=2, num_steps=6)
    train(config, tmp_path / "straight")

    class Killed(Exception):
        pass

    def kill_after_3(step):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train(config, tmp_path / "resumed", on_step=kill_after_3)
    assert [step for step, _ in logged(tmp_path / "resumed", "loss")] == [2]
    for events in (tmp_path / "resumed").glob("events.out.tfevents.*"):
        events.unlink()  # what the writer thread had not written when the process died
    train(config, tmp_path / "resumed")
    for name in ("loss", "accuracy", "grad_norm"):
        straight, resumed = logged(tmp_path / "straight", name), logged(tmp_path / "resumed", name)
        assert [s for s, _ in resumed] == [2, 4, 6]
        assert resumed == straight, name  # bit for bit, the spanning row too
        scalars, _ = tensorboard_log(tmp_path / "resumed")
        assert scalars[f"train/{name}"] == [(s, pytest.approx(v, rel=1e-6)) for s, v in straight]


def start_training(workdir: Path, *overrides: str) -> subprocess.Popen:
    """``python -m experiments.train`` of the quick LeNet-5 config in a process of its own."""
    command = [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
               "--config=experiments/configs/lenet5_digits.py", *overrides]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def said(stderr: str) -> list[str]:
    """What a run printed on stderr, less its progress bar and absl's logged warnings."""
    return [line for line in stderr.replace("\r", "\n").splitlines()
            if line.strip() and not line.startswith(("training:", "W1"))]  # fmt: skip


def test_ctrl_c_at_any_moment_is_one_line_and_status_130(tmp_path):
    """While importing JAX, loading the data, compiling or training: never a traceback, never
    swallowed (a KeyboardInterrupt raised in JAX's garbage-collection callback was ignored and
    the run finished with status 0), never a half-written file."""
    moments = (0.3, 1.2, 2.5, 6.0)
    runs = [start_training(tmp_path / str(moment)) for moment in moments]
    start = time.perf_counter()
    for moment, process in zip(moments, runs, strict=True):
        time.sleep(max(0.0, start + moment - time.perf_counter()))
        process.send_signal(signal.SIGINT)
    for moment, process in zip(moments, runs, strict=True):
        _, stderr = process.communicate(timeout=120)
        lines = said(stderr)
        assert process.returncode == 130, (moment, stderr[-800:])
        assert len(lines) == 1 and lines[0].startswith(("interrupted", "stopped: SIGINT")), lines
        assert not list((tmp_path / str(moment)).glob("**/*.tmp")), moment


def children(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads started them."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:  # the thread has exited
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_worker_processes_leave_signals_to_the_run_and_die_with_it(tmp_path):
    """A scheduler's SIGTERM reaches the whole process group: the workers ignore it and the run
    saves (a worker that died first made grain raise in the run before it could save); and
    after a kill -9 of the run its workers exit (they were left running)."""
    runs = [start_training(tmp_path / n, "--config.data.workers=2") for n in ("term", "kill")]

    def training(name: str, run) -> bool:  # its first row logged: the workers are serving
        metrics = tmp_path / name / "metrics.jsonl"
        return metrics.exists() and metrics.stat().st_size > 0 and len(children(run.pid)) >= 3

    deadline = time.perf_counter() + 90
    while not all(training(name, run) for name, run in zip(("term", "kill"), runs, strict=True)):
        assert time.perf_counter() < deadline and all(r.poll() is None for r in runs)
        time.sleep(0.1)
    term, kill = runs
    for worker in children(term.pid):
        os.kill(worker, signal.SIGTERM)  # what a group SIGTERM does first, at worst
    time.sleep(1.0)
    term.send_signal(signal.SIGTERM)
    _, stderr = term.communicate(timeout=60)
    lines = said(stderr)
    assert term.returncode == 128 + signal.SIGTERM and len(lines) == 1, stderr[-1500:]
    assert lines[0].startswith("stopped: SIGTERM at step") and "saved" in lines[0]
    workers = children(kill.pid)
    kill.kill()
    kill.wait()
    deadline = time.perf_counter() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.perf_counter() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]


def test_a_full_disk_is_one_line_and_the_earlier_checkpoints_stay_usable(tmp_path):
    """A 2 MiB file system holds two LeNet-5 checkpoints, not three: the save of the third is
    one line (orbax's threads printed over 100 lines of tracebacks), and so is a rerun while
    the disk is still full, which resumes from the last good checkpoint first. The stray
    tracebacks come and go with thread timing: this test's two attempts, repeated, printed them
    in 6 of 12 attempts when the hooks were set only after the failure, 1 of 20 (asyncio's
    abandoned writes) before those were dropped too, and 0 of 30 since."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        for attempt in range(2):
            run = start_training(disk / "run", "--config.checkpoint_every=100",
                                 "--config.keep_checkpoints=10")  # fmt: skip
            _, stderr = run.communicate(timeout=120)
            lines = said(stderr)
            assert run.returncode == 1 and len(lines) == 1, (attempt, stderr[-2000:])
            assert lines[0].startswith(f"error: saving checkpoint {disk}/run/checkpoints/300 ")
            assert "the earlier checkpoints are kept" in lines[0]
            if attempt:  # the rerun read checkpoint 200 back before the disk was full again
                assert f"resuming from {disk}/run/checkpoints/200" in stderr
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_the_echoes_of_a_failed_save_are_dropped_from_its_start_and_after_it_fails(
    monkeypatch, caplog
):
    """tensorstore prints its failed callbacks through sys.excepthook, Python's through
    sys.unraisablehook, and asyncio logs the abandoned writes: 'Event loop is closed' and
    'Task exception was never retrieved' are dropped during a save and, once one failed, after
    it; any other error still reaches the hooks set before, and a save that succeeds leaves
    them as it found them."""
    import logging
    import sys

    reached = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, trace: reached.append(str(error)))
    monkeypatch.setattr(sys, "unraisablehook", lambda args: reached.append(str(args.exc_value)))
    hooks = sys.excepthook, sys.unraisablehook

    class RaisesWhenCollected:
        def __init__(self, error):
            self.error = error

        def __del__(self):
            raise self.error

    def report():
        reached.clear()
        caplog.clear()
        for message in ("Event loop is closed", "boom"):
            sys.excepthook(RuntimeError, RuntimeError(message), None)
            RaisesWhenCollected(RuntimeError(message))  # Python calls sys.unraisablehook
        for message in ("Task exception was never retrieved", "other"):
            logging.getLogger("asyncio").error(message)
        return reached + [record.getMessage() for record in caplog.records]

    echoes = ["Event loop is closed"] * 2 + ["boom"] * 2
    with failed_save_echoes_dropped():
        assert report() == ["boom", "boom", "other"]
    assert (sys.excepthook, sys.unraisablehook) == hooks
    assert report() == echoes + ["Task exception was never retrieved", "other"]
    try:
        with pytest.raises(CheckpointError), failed_save_echoes_dropped():
            raise CheckpointError("disk full")
        assert report() == ["boom", "boom", "other"]
    finally:
        logging.getLogger("asyncio").filters.clear()


def test_a_metrics_log_that_cannot_be_written_stops_the_run_after_a_save(tmp_path, data_dir):
    """metrics.jsonl unwritable mid-run (here a directory in its place): one error naming the
    file, a checkpoint at that step holding the row it could not write, and the rerun, with
    the file back, logs exactly what a straight run logs."""
    from nets.training.run_driver import train

    config = tiny(lenet5_digits.get_config, data_dir, checkpoint_every=3, log_every=2, num_steps=6)
    train(config, tmp_path / "straight")
    metrics = tmp_path / "run" / "metrics.jsonl"
    kept = []

    def break_the_log(step):
        if step == 3:
            kept.append(metrics.read_bytes())
            metrics.unlink()
            metrics.mkdir()

    with pytest.raises(ValueError, match=rf"{metrics} cannot be written \(Is a directory\); saved "
                       rf"{tmp_path}/run/checkpoints/4 with the row it could not log"):  # fmt: skip
        train(config, tmp_path / "run", on_step=break_the_log)
    metrics.rmdir()
    metrics.write_bytes(kept[0])
    train(config, tmp_path / "run")
    for name in ("loss", "accuracy"):
        expected = [(s, pytest.approx(v, rel=1e-6)) for s, v in logged(tmp_path / "straight", name)]
        assert logged(tmp_path / "run", name) == expected
