"""The training state and the one pure train step (and its evaluation twin) of every driver.

    state = TrainState.create(model, optax.adam(1e-3), example_inputs, seed=0)
    state, metrics = train_step(state, {'inputs': x, 'targets': y}, loss_fn=objectives.mse)
    sums = eval_step(state, {'inputs': x, 'targets': y, 'valid': v}, loss_fn=objectives.mse)

``loss_fn(outputs, batch)`` returns per-example values ({'loss': [batch], ...}; see
``nets.training.objectives``). Both steps are pure functions of arrays: the sweep driver
(``nets.training.sweep``) vmaps the train step over seeds and data sets inside a scan, the run
driver (``nets.training.run_driver``) runs it on every device (``nets.training.parallel``), passing
``axis_name`` so that the gradients, the BatchNorm running statistics and the metrics are
averaged over the devices with ``lax.pmean``.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct


class TrainState(struct.PyTreeNode):
    """Everything a run needs to continue: the step count, the parameters, the BatchNorm running
    statistics ({} without BatchNorm), the optimiser state and the RNG (raw key data [2]; the key
    of step s is ``fold_in(rng, s)``, so a resumed run draws the same dropout masks) and, in a
    stateful run (truncated backpropagation through time), the recurrent carry [batch, ...] per
    leaf that the last chunk ended in (() otherwise). The model and the optimiser are static: a
    checkpoint holds only the arrays."""

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: Any
    rng: jax.Array
    carry: Any
    model: nn.Module = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)

    @classmethod
    def create(
        cls, model: nn.Module, tx: optax.GradientTransformation, example_inputs, seed, carry=()
    ):
        """A fresh state; ``seed`` is an integer or a JAX key (a traced one under ``vmap``);
        ``carry``: a stateful run's starting carry (zeros, ``initial_carry``)."""
        key = jax.random.key(seed) if isinstance(seed, int) else seed
        init_key, rng = jax.random.split(key)
        # compiled as one program: run op by op, a model's init compiles each operation alone
        variables = jax.jit(model.init)(init_key, example_inputs)
        params = variables["params"]
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            batch_stats=variables.get("batch_stats", {}),
            opt_state=tx.init(params),
            rng=jax.random.key_data(rng),
            carry=carry,
            model=model,
            tx=tx,
        )

    @property
    def variables(self) -> dict:
        """The model's variables for ``model.apply``: parameters and BatchNorm statistics."""
        if self.batch_stats:
            return {"params": self.params, "batch_stats": self.batch_stats}
        return {"params": self.params}

    @property
    def stateful(self) -> bool:
        return bool(jax.tree.leaves(self.carry))

    def apply(self, batch: dict, *, train: bool = False, params=None, rng=None, carry=None):
        """``(outputs, batch_stats)`` of the model on ``batch['inputs']`` (with its 'lengths' as
        ``seq_lengths`` where sequences are padded): in training the BatchNorm statistics
        updated by this batch, otherwise the current ones. With ``carry`` the model starts from
        it (from zeros on the rows where ``batch['reset']`` is set: a stream's first chunk)
        and its outputs are ``(outputs, final_carry)``."""
        variables = self.variables if params is None else {**self.variables, "params": params}
        kwargs = {"seq_lengths": batch["lengths"]} if "lengths" in batch else {}
        if carry is not None:
            kwargs["initial_carry"] = restart(carry, batch["reset"])
            kwargs["return_carry"] = True
        rngs = {"dropout": rng} if rng is not None else {}
        if train and self.batch_stats:
            outputs, updates = self.model.apply(
                variables, batch["inputs"], train=True, rngs=rngs, mutable=["batch_stats"], **kwargs
            )
            return outputs, updates["batch_stats"]
        outputs = self.model.apply(variables, batch["inputs"], train=train, rngs=rngs, **kwargs)
        return outputs, self.batch_stats


def restart(carry, reset: jax.Array):
    """``carry`` with its rows where ``reset`` [batch] is true set to zeros (a new stream)."""
    return jax.tree.map(lambda c: jnp.where(reset.reshape(-1, *[1] * (c.ndim - 1)), 0, c), carry)


def initial_carry(model: nn.Module, variables: dict, inputs) -> Any:
    """Zeros shaped like the carry ``model`` ends in after reading ``inputs`` [batch, time]
    (found by ``jax.eval_shape``: nothing is computed)."""
    _, carry = jax.eval_shape(lambda x: model.apply(variables, x, return_carry=True), inputs)
    return jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), carry)


def train_step(state: TrainState, batch: dict, *, loss_fn: Callable, axis_name=None):
    """One optimiser step on ``batch`` {'inputs', 'targets'[, 'lengths']} -> ``(state, metrics)``.

    A stateful state (truncated BPTT) reads the batch from its carry (the batch needs 'reset')
    and keeps the carry the chunk ends in; the gradient stops at the chunk's first step.

    metrics: the batch means of what ``loss_fn`` returns, and 'grad_norm', the global norm of
    the gradient that was applied. Under ``axis_name`` each device holds a shard of the global
    batch; the gradients, the BatchNorm statistics and the metrics are averaged over the devices
    (equal shards, so the gradient is the full batch's), and each device draws its own dropout
    mask.
    """
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    if axis_name is not None:
        key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))

    def objective(params):
        carry = state.carry if state.stateful else None
        outputs, batch_stats = state.apply(batch, train=True, params=params, rng=key, carry=carry)
        outputs, carry = outputs if state.stateful else (outputs, state.carry)
        metrics = jax.tree.map(jnp.mean, loss_fn(outputs, batch))
        return metrics["loss"], (metrics, batch_stats, carry)

    value_and_grad = jax.value_and_grad(objective, has_aux=True)
    (_, (metrics, batch_stats, carry)), grads = value_and_grad(state.params)
    if axis_name is not None:
        grads, batch_stats, metrics = jax.lax.pmean((grads, batch_stats, metrics), axis_name)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    new_state = state.replace(
        step=state.step + 1,
        params=optax.apply_updates(state.params, updates),
        batch_stats=batch_stats,
        opt_state=opt_state,
        carry=jax.lax.stop_gradient(carry),  # truncated: the next chunk does not reach back
    )
    return new_state, metrics


def eval_step(state: TrainState, batch: dict, *, loss_fn: Callable) -> dict[str, jax.Array]:
    """Sums of what ``loss_fn`` returns over the rows where ``batch['valid']`` is 1 (all rows
    without it), and their 'count': the evaluation divides the totals by the count, so a padded
    last batch does not bias them."""
    outputs, _ = state.apply(batch)
    per_example = loss_fn(outputs, batch)
    valid = batch.get("valid", jnp.ones(len(per_example["loss"])))
    sums = {name: jnp.sum(value * valid) for name, value in per_example.items()}
    return {**sums, "count": jnp.sum(valid)}
