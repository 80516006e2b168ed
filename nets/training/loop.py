"""Many training steps in one compiled call: the batches are drawn inside a ``lax.scan``."""

from collections.abc import Callable
from functools import partial

import jax


@partial(jax.jit, static_argnames=("train_step", "sample_batch", "num_steps"))
def run_steps(
    train_step: Callable, sample_batch: Callable, params, opt_state, key, data=(), *, num_steps
):
    """``num_steps`` of ``train_step`` on batches ``sample_batch(key, data)``, without leaving XLA.

    ``data`` (a pytree of arrays, e.g. a training set to sample from) is an argument rather than
    a constant baked into the compiled program, so one compilation serves every data set of the
    same shape. Returns ``(params, opt_state, key, metrics)``, each metric stacked over the steps
    [num_steps]. Pure in its array arguments: ``jax.vmap`` over (params, opt_state, key) trains
    several seeds at once, and over ``data`` several data sets.
    """

    def one_step(carry, _):
        params, opt_state, key = carry
        key, batch_key = jax.random.split(key)
        params, opt_state, metrics = train_step(params, opt_state, sample_batch(batch_key, data))
        return (params, opt_state, key), metrics

    (params, opt_state, key), metrics = jax.lax.scan(
        one_step, (params, opt_state, key), None, length=num_steps
    )
    return params, opt_state, key, metrics
