"""pmap with lax.pmean over 8 simulated devices gives the single-device full-batch gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets import losses
from nets.cnn import LeNet5
from nets.rnn import LSTMCell, ManyToOne
from nets.training.parallel import pmap_value_and_grad, shard


@pytest.mark.parametrize(
    "model, input_shape",
    [(LeNet5(), (16, 32, 32, 1)), (ManyToOne(LSTMCell(8), 3), (16, 12, 4))],
    ids=["lenet5", "lstm"],
)
def test_pmap_gradient_equals_single_device_gradient(model, input_shape):
    cpus = jax.devices("cpu")  # the 8 simulated devices, also on a machine with a GPU
    assert len(cpus) == 8
    key_x, key_p = jax.random.split(jax.random.key(0))
    inputs = jax.random.normal(key_x, input_shape)
    labels = jnp.arange(input_shape[0]) % 3
    params = model.init(key_p, inputs[:1])

    def loss_fn(params, batch):
        x, y = batch
        return losses.categorical_cross_entropy(model.apply(params, x), y, from_logits=True)

    loss, grads = jax.value_and_grad(loss_fn)(params, (inputs, labels))
    p_loss, p_grads = pmap_value_and_grad(loss_fn, cpus)(params, (inputs, labels))
    np.testing.assert_allclose(p_loss, loss, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), p_grads, grads
    )
    # the shards really differ: device 0's own gradient is not the full-batch one
    shard0 = jax.tree.map(lambda a: a[0], shard((inputs, labels), 8))
    own = jax.grad(loss_fn)(params, shard0)
    assert not all(jax.tree.leaves(jax.tree.map(np.allclose, own, grads)))


def test_shard_rejects_a_batch_the_devices_do_not_divide():
    with pytest.raises(ValueError, match="global batch 10 is not divisible by the device count 8"):
        shard(jnp.ones((10, 3)), 8)
