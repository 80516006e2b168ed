"""The contract: a model and a data set of your own, registered in a few lines, train through
both drivers (the sweep and the run) with no change to any trainer."""

import json
import os
import shutil
import socket
import subprocess

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nets.data.registry
import nets.models
from experiments.configs import shrink_for_tests, training_config
from nets.data.registry import DatasetSpec, dataset_spec, register_dataset
from nets.models import get_model, register_model
from nets.training.checkpoint import CHECKSUMS
from nets.training.objectives import get_objective
from nets.training.run_driver import ADDED_LATER, CONFIG_FILE, check_resumable, train
from nets.training.sweep import evaluate_on, sample_rows, sweep
from nets.training.workdir import WorkdirLocked, json_bytes

TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5], np.float32)


class Linear(nn.Module):
    """y = w . x + b: the smallest model that follows the contract."""

    num_outputs: int

    @nn.compact
    def __call__(self, x, *, train=False):
        del train  # no dropout or BatchNorm
        return nn.Dense(self.num_outputs)(x)


def linear_data(name, split, data_dir):
    """y = x . w* exactly: a least-squares problem with zero error at the optimum."""
    x = np.random.default_rng(0 if split == "train" else 1).normal(size=(256, 3))
    return {"inputs": x.astype(np.float32), "targets": (x @ TRUE_WEIGHTS).astype(np.float32)}


@pytest.fixture
def registered(monkeypatch):
    """The toy model and data set, in registries of the test's own (nothing leaks out)."""
    monkeypatch.setattr(nets.models, "MODELS", dict(nets.models.MODELS))
    monkeypatch.setattr(nets.data.registry, "DATASETS", dict(nets.data.registry.DATASETS))

    register_model("linear", Linear)
    register_dataset("linear_data", DatasetSpec(loss="mse", num_outputs=1, load=linear_data))


def test_a_registered_model_and_data_set_train_through_both_drivers(tmp_path, registered):
    # the run driver, from a config naming them: checkpoints, metrics and 8 devices included
    config = training_config("tiny", "linear_data", "linear")
    config.update(num_steps=60, batch_size=32, log_every=20, checkpoint_every=30)
    config.optimizer.learning_rate = 0.1
    run = train(config, tmp_path)
    baseline = np.mean(linear_data("", "test", None)["targets"] ** 2)  # predicting 0
    assert run["test"]["loss"] < 0.01 * baseline
    np.testing.assert_allclose(run["state"].params["Dense_0"]["kernel"][:, 0], TRUE_WEIGHTS, 0.1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["30", "60"]

    # the sweep driver: the same model and objective, two seeds in one program
    spec = dataset_spec("linear_data")
    train_set = jax.tree.map(lambda a: jnp.asarray(a)[None], linear_data("", "train", None))
    test_set = linear_data("", "test", None)
    loss_fn = get_objective(spec.loss)
    result = sweep(
        get_model("linear", spec.num_outputs),
        loss_fn,
        optax.adam(0.1),
        sample_rows(32),
        train_set,
        evaluate_on(test_set, loss_fn),
        example_input=test_set["inputs"][:1],
        seeds=2,
        num_steps=60,
        eval_every=30,
    )
    test_loss = result["metric"][0]  # [seeds, evaluations]
    assert test_loss.shape == (2, 3)
    assert np.all(test_loss[:, -1] < 0.01 * baseline) and np.all(test_loss[:, 0] > 0.1 * baseline)
    assert result["train"]["grad_norm"].shape == (1, 2, 60)  # every step's metrics, per seed


def test_a_resumed_run_must_be_the_same_run_and_the_only_one(tmp_path, registered):
    config = shrink_for_tests(training_config("tiny", "linear_data", "linear"))  # 4 steps, batch 16
    train(config, tmp_path)
    lock = tmp_path / ".lock"
    assert not lock.exists()  # released when the run ended

    # more steps resume; a change that alters the run is refused, naming each field
    changed = shrink_for_tests(training_config("tiny", "linear_data", "linear"))
    changed.update(num_steps=6, batch_size=32, seed=3)
    with pytest.raises(ValueError, match=r"changes its run \(batch_size 16 -> 32, seed 0 -> 3\)"):
        train(changed, tmp_path)

    # asked for, it goes on; but not while another live process holds the work directory
    changed.resume_anyway = True
    lock.write_text(f"{socket.gethostname()} {os.getpid()}")  # this test's process: alive
    with pytest.raises(WorkdirLocked, match=rf"in use by process {os.getpid()} on "):
        train(changed, tmp_path)
    # a lock that names no process (a run killed while taking it), and one of another host
    for text, message in [
        ("", r"names no process \(it holds ''\): a run died while taking it; delete it"),
        ("\x00\x00", r"names no process .* delete it if no run uses this work directory"),
        (
            f"gone-host-x {os.getpid()}",
            r"locked by process \d+ on host gone-host-x .* cannot check",
        ),
    ]:
        lock.write_text(text)
        with pytest.raises(WorkdirLocked, match=message):
            train(changed, tmp_path)
    lock.unlink()
    # the checkpoint keeps its config: a changed model size or clipping is named even when
    # config.json is gone, and with nothing left to compare with, resuming needs asking
    (tmp_path / CONFIG_FILE).unlink()
    changed.resume_anyway = False
    bigger = shrink_for_tests(training_config("tiny", "linear_data", "linear"))
    bigger.optimizer.clip_norm = 0.5
    with pytest.raises(ValueError, match=r"checkpoints/4 with a config that changes its run "
                       r"\(optimizer.clip_norm 0.0 -> 0.5\)"):  # fmt: skip
        train(bigger, tmp_path)
    # as saved before checkpoints held their config (or their checksums)
    shutil.rmtree(tmp_path / "checkpoints" / "4" / "config")
    (tmp_path / "checkpoints" / "4" / CHECKSUMS).unlink()
    with pytest.raises(ValueError, match=r"config.json is missing \(and the checkpoint holds no"):
        train(changed, tmp_path)
        train(changed, tmp_path)
    changed.resume_anyway = True
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock.write_text(f"{socket.gethostname()} {gone.pid}")  # a holder that has exited: stale
    assert train(changed, tmp_path)["resumed_from_step"] == 4
    assert not lock.exists()


def test_a_run_saved_before_a_field_existed_resumes_as_the_field_was(tmp_path):
    """config.json of an older run lacks the fields added since (label_smoothing, warm-up,
    ...): it ran as their neutral values, so only a new value counts as a change."""
    config = training_config("tiny", "digits32", "lenet5")
    saved = json.loads(json_bytes(config.to_dict()))
    for field in ADDED_LATER:
        group, _, name = field.rpartition(".")
        (saved[group] if group else saved).pop(name, None)
    check_resumable(saved, tmp_path / CONFIG_FILE, config)  # the same run
    config.label_smoothing = 0.1
    config.optimizer.warmup_steps = 10
    with pytest.raises(ValueError, match=r"\(label_smoothing 0.0 -> 0.1, optimizer.warmup_st"):
        check_resumable(saved, tmp_path / CONFIG_FILE, config)
