"""The pure training step every experiment and benchmark shares."""

from collections.abc import Callable
from functools import partial

import jax
import optax


def make_train_step(loss_fn: Callable, optimizer: optax.GradientTransformation) -> Callable:
    """A jitted ``(params, opt_state, batch) -> (params, opt_state, metrics)``.

    ``loss_fn(params, batch)`` returns the scalar mean loss. The step differentiates it, applies
    the optimiser's update, and reports the loss and the global gradient norm (this codebase is
    about gradients). ``params`` and ``opt_state`` are donated: their buffers are reused for the
    new ones, so do not read them after the call.
    """

    @partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        return optax.apply_updates(params, updates), opt_state, metrics

    return train_step


def supervised_objective(model, loss_fn: Callable) -> Callable:
    """``(params, (inputs, targets)) -> loss_fn(model.apply(params, inputs), targets)``."""

    def objective(params, batch):
        inputs, targets = batch
        return loss_fn(model.apply(params, inputs), targets)

    return objective
