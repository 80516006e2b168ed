"""The training state and the pure train and eval steps of ``experiments.train``.

    state = TrainState.create(model, optax.adam(1e-3), example_inputs, seed=0)
    state, metrics = train_step(state, {'inputs': x, 'targets': y}, task='classification')
    sums = eval_step(state, {'inputs': x, 'targets': y, 'mask': m}, task='classification')

Both steps are pure functions of arrays: data parallelism (``nets.training.parallel``) wraps
them, passing ``axis_name`` so the gradients, the BatchNorm running statistics and the metrics
are averaged over the devices with ``lax.pmean``.
"""

import inspect
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from nets import losses
from nets.checks import check_choice

TASKS = ("classification", "regression")


def takes_train_flag(model: nn.Module) -> bool:
    """Whether ``model`` switches BatchNorm and dropout with a ``train`` argument (the zoo's
    CNNs) or has no training mode (LeNet-5, the recurrent models)."""
    return "train" in inspect.signature(type(model).__call__).parameters


class TrainState(struct.PyTreeNode):
    """Everything a run needs to continue: the step count, the parameters, the BatchNorm running
    statistics ({} without BatchNorm), the optimiser state and the RNG (raw key data [2]; the key
    of step s is ``fold_in(rng, s)``, so a resumed run draws the same dropout masks). The model and
    the optimiser are static: a checkpoint holds only the arrays."""

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: Any
    rng: jax.Array
    model: nn.Module = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)

    @classmethod
    def create(cls, model: nn.Module, tx: optax.GradientTransformation, example_inputs, seed: int):
        init_key, rng = jax.random.split(jax.random.key(seed))
        variables = jax.jit(model.init)(init_key, example_inputs)
        params = variables["params"]
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            batch_stats=variables.get("batch_stats", {}),
            opt_state=tx.init(params),
            rng=jax.random.key_data(rng),
            model=model,
            tx=tx,
        )

    def apply(self, params, inputs, *, train: bool, rng=None):
        """``(outputs, batch_stats)``: the model's outputs, and in training the BatchNorm
        statistics updated by this batch (otherwise the current ones)."""
        variables = {"params": params}
        if self.batch_stats:
            variables["batch_stats"] = self.batch_stats
        kwargs = {"train": train} if takes_train_flag(self.model) else {}
        rngs = {"dropout": rng} if rng is not None else {}
        if train and self.batch_stats:
            outputs, updates = self.model.apply(
                variables, inputs, rngs=rngs, mutable=["batch_stats"], **kwargs
            )
            return outputs, updates["batch_stats"]
        return self.model.apply(variables, inputs, rngs=rngs, **kwargs), self.batch_stats


def per_example(task: str, outputs: jax.Array, targets: jax.Array) -> dict[str, jax.Array]:
    """Each example's loss, and for classification whether it is right: {'loss': [B], ...}.

    classification: categorical cross-entropy on logits [B, ..., C] with labels [B, ...]
    (averaged over any time axis), accuracy the fraction of argmax = label.
    regression: squared error of outputs [B] or [B, 1] against targets [B].
    """
    check_choice("task", task, TASKS)
    if task == "regression":
        outputs = outputs.reshape(targets.shape)
        return {"loss": jax.vmap(lambda o, t: losses.mse(o[None], t[None]))(outputs, targets)}

    def cross_entropy(logits, label):
        return losses.categorical_cross_entropy(logits[None], label[None], from_logits=True)

    correct = (jnp.argmax(outputs, -1) == targets).astype(jnp.float32)
    return {
        "loss": jax.vmap(cross_entropy)(outputs, targets),
        "accuracy": correct.reshape(len(correct), -1).mean(axis=1),
    }


def train_step(state: TrainState, batch: dict, *, task: str, axis_name: str | None = None):
    """One optimiser step on ``batch`` {'inputs', 'targets'} -> ``(state, metrics)``.

    metrics: the batch's mean loss (and accuracy), and the global norm of the gradient that was
    applied. Under ``axis_name`` each device holds a shard of the global batch; the gradients,
    the BatchNorm statistics and the metrics are averaged over the devices (equal shards, so the
    gradient is the full batch's), and each device draws its own dropout mask.
    """
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    if axis_name is not None:
        key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))

    def objective(params):
        outputs, batch_stats = state.apply(params, batch["inputs"], train=True, rng=key)
        metrics = jax.tree.map(jnp.mean, per_example(task, outputs, batch["targets"]))
        return metrics["loss"], (metrics, batch_stats)

    (_, (metrics, batch_stats)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    if axis_name is not None:
        grads, batch_stats, metrics = jax.lax.pmean((grads, batch_stats, metrics), axis_name)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    new_state = state.replace(
        step=state.step + 1,
        params=optax.apply_updates(state.params, updates),
        batch_stats=batch_stats,
        opt_state=opt_state,
    )
    return new_state, metrics


def eval_step(state: TrainState, batch: dict, *, task: str) -> dict[str, jax.Array]:
    """Sums over the rows where ``batch['mask']`` is 1: {'loss', ('accuracy'), 'count'}; the
    evaluation divides the totals by the count, so a padded last batch does not bias them."""
    outputs, _ = state.apply(state.params, batch["inputs"], train=False)
    mask = batch["mask"]
    sums = {name: jnp.sum(value * mask) for name, value in
            per_example(task, outputs, batch["targets"]).items()}  # fmt: skip
    return {**sums, "count": jnp.sum(mask)}
