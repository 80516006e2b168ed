"""Data parallelism: one gradient body, run on every device with ``jax.pmap``.

Each device gets an equal shard of the global batch, computes the gradient of its shard's mean
loss, and ``lax.pmean`` over the axis ``'batch'`` averages them: with equal shards the mean of
shard means is the full-batch mean, so the result equals the single-device gradient on the whole
batch. Parameters are broadcast (``in_axes=None``), as in Flax's ImageNet example, rather than
replicated by hand.
"""

from collections.abc import Callable

import jax
import numpy as np

AXIS = "batch"


def shard(batch, num_devices: int):
    """Reshape every leaf [global_batch, ...] to [num_devices, global_batch / num_devices, ...]."""

    def split(x):
        if x.shape[0] % num_devices:
            raise ValueError(
                f"global batch {x.shape[0]} is not divisible by the device count {num_devices}"
            )
        return x.reshape(num_devices, x.shape[0] // num_devices, *x.shape[1:])

    return jax.tree.map(split, batch)


def pmap_value_and_grad(loss_fn: Callable, devices=None) -> Callable:
    """``(params, batch) -> (loss, grads)`` averaged over devices; batch is [global_batch, ...].

    ``loss_fn(params, batch)`` returns the mean loss of ``batch``. The returned function shards
    the batch across ``devices`` (all local devices by default) and returns device 0's copy of
    the pmean-ed loss and gradients, which every device holds identically.
    """
    devices = jax.local_devices() if devices is None else devices

    def body(params, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        return jax.lax.pmean((loss, grads), axis_name=AXIS)

    step = jax.pmap(body, axis_name=AXIS, in_axes=(None, 0), devices=devices)

    def run(params, batch):
        loss, grads = step(params, shard(batch, len(devices)))
        return jax.tree.map(lambda x: np.asarray(x[0]), (loss, grads))

    return run
