"""Data parallelism on 8 simulated CPU devices: pmap and shard_map give the parameters of one
device on the same global batches, and the BatchNorm running statistics are averaged."""

from functools import partial

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest

from nets.data.batches import stream_batches
from nets.data.text import windows
from nets.models import ManyToMany, ManyToOne
from nets.models.mnist1d import ConvNet1D
from nets.rnn import LSTMCell
from nets.training import objectives
from nets.training.parallel import DataParallel, shard
from nets.training.state import TrainState, train_step

CPUS = jax.devices("cpu")  # the 8 simulated devices, also on a machine with a GPU


def train(model, batches, mode, devices, example, carry=()):
    state = TrainState.create(model, optax.adam(1e-2), example, seed=0, carry=carry)
    parallel = DataParallel(partial(train_step, loss_fn=objectives.cross_entropy), mode, devices)
    state = parallel.put_state(state)
    for batch in batches:
        state, metrics = parallel.step(state, parallel.put_batch(batch))
    return parallel.get_state(state), metrics


@pytest.mark.parametrize(
    "model, shape, mode",
    [
        (ConvNet1D(), (16, 40), "pmap"),
        (ConvNet1D(), (16, 40), "shard_map"),
        (ManyToOne(LSTMCell(8), 3), (16, 12, 4), "pmap"),
        (ManyToOne(LSTMCell(8), 3), (16, 12, 4), "shard_map"),
    ],
    ids=["cnn-pmap", "cnn-shard_map", "lstm-pmap", "lstm-shard_map"],
)
def test_eight_devices_train_as_one(model, shape, mode):
    assert len(CPUS) == 8
    rng = np.random.default_rng(0)
    batches = [
        {
            "inputs": rng.normal(size=shape).astype(np.float32),
            "targets": rng.integers(0, 3, shape[0]).astype(np.int32),
        }
        for _ in range(3)
    ]
    one, one_metrics = train(model, batches, mode, CPUS[:1], batches[0]["inputs"][:1])
    eight, eight_metrics = train(model, batches, mode, CPUS, batches[0]["inputs"][:1])
    assert int(one.step) == int(eight.step) == 3
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6),
        eight.params,
        one.params,
    )
    np.testing.assert_allclose(eight_metrics["loss"], one_metrics["loss"], rtol=1e-5)
    np.testing.assert_allclose(eight_metrics["grad_norm"], one_metrics["grad_norm"], rtol=1e-4)
    # each device really held 2 of the 16 examples (so the pmean combined 8 different shards)
    parallel = DataParallel(partial(train_step, loss_fn=objectives.cross_entropy), mode, CPUS)
    inputs = parallel.put_batch(batches[0])["inputs"]
    if mode == "pmap":
        assert inputs.shape[:2] == (8, 2)
    else:
        assert [s.data.shape[0] for s in inputs.addressable_shards] == [2] * 8


class NormedNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(3)(x)


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_batch_norm_running_statistics_are_the_mean_over_devices(mode):
    rng = np.random.default_rng(1)
    # shards with very different statistics, so per-shard and pooled results differ
    x = (rng.normal(size=(16, 2)) * np.arange(1, 17)[:, None]).astype(np.float32)
    batch = {"inputs": x, "targets": np.zeros(16, np.int32)}
    state, _ = train(NormedNet(), [batch], mode, CPUS, x[:1])
    shards = x.reshape(8, 2, 2)
    mean = 0.1 * shards.mean(axis=1).mean(axis=0)  # running mean starts at 0, momentum 0.9
    var = 0.9 + 0.1 * shards.var(axis=1).mean(axis=0)  # running var starts at 1 (biased var)
    stats = state.batch_stats["BatchNorm_0"]
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(stats["var"], var, rtol=1e-5)
    assert not np.allclose(stats["var"], 0.9 + 0.1 * x.var(axis=0), rtol=1e-3)  # not pooled


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_a_batch_the_devices_do_not_divide_is_refused(mode):
    parallel = DataParallel(partial(train_step, loss_fn=objectives.cross_entropy), mode, CPUS)
    with pytest.raises(ValueError, match="global batch 10 is not divisible by the device count 8"):
        parallel.put_batch({"inputs": np.ones((10, 3)), "targets": np.zeros(10)})
    with pytest.raises(ValueError, match="unknown data-parallel mode 'pjit'; valid: pmap, shard"):
        DataParallel(train_step, "pjit")
    assert shard(np.ones((8, 3)), 8).shape == (8, 1, 3)


def test_a_stateful_run_shards_its_carry_and_trains_as_one_device():
    """Truncated BPTT on 8 devices: each device carries the rows of its own examples, and the
    parameters and carry equal one device's after 3 consecutive chunks."""
    model = ManyToMany(LSTMCell(4), 5, num_tokens=5)
    stream = stream_batches(windows(np.arange(200) % 5, 3), 16, shard_index=0, shard_count=1)
    batches = [next(stream) for _ in range(3)]
    zeros = jax.tree.map(lambda c: np.zeros((16, 4), np.float32), LSTMCell(4).initialize_carry(1))
    runs = [
        train(model, batches, "shard_map", devices, batches[0]["inputs"][:1], zeros)[0]
        for devices in (CPUS[:1], CPUS)
    ]
    one, eight = runs
    assert np.abs(one.carry[1]).max() > 0
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6),
        (eight.params, eight.carry),
        (one.params, one.carry),
    )
    with pytest.raises(ValueError, match="needs parallel='shard_map'"):
        DataParallel(partial(train_step, loss_fn=objectives.cross_entropy), "pmap").put_state(
            TrainState.create(model, optax.sgd(0.1), batches[0]["inputs"][:1], 0, carry=zeros)
        )
