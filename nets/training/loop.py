"""Many training steps in one compiled call: the batches are drawn inside a ``lax.scan``."""

from collections.abc import Callable
from functools import partial

import jax


@partial(jax.jit, static_argnames=("train_step", "batch_fn", "num_steps"))
def run_steps(train_step: Callable, batch_fn: Callable, params, opt_state, key, num_steps: int):
    """``num_steps`` of ``train_step`` on fresh batches ``batch_fn(key)``, without leaving XLA.

    Returns ``(params, opt_state, key, metrics)``, each metric stacked over the steps [num_steps].
    Pure in its array arguments, so ``jax.vmap`` over (params, opt_state, key) trains several
    seeds at once.
    """

    def one_step(carry, _):
        params, opt_state, key = carry
        key, batch_key = jax.random.split(key)
        params, opt_state, metrics = train_step(params, opt_state, batch_fn(batch_key))
        return (params, opt_state, key), metrics

    (params, opt_state, key), metrics = jax.lax.scan(
        one_step, (params, opt_state, key), None, length=num_steps
    )
    return params, opt_state, key, metrics
