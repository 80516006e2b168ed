"""Train one model on several seeds (and data sets) at once, evaluating as it goes."""

from collections.abc import Callable
from functools import partial

import jax
import numpy as np
import optax

from nets.checks import check_positive
from nets.training.loop import run_steps
from nets.training.step import make_train_step, supervised_objective


def check_schedule(
    num_steps: int, eval_every: int, names: tuple[str, str] = ("num_steps", "eval_every")
) -> None:
    """Raise ValueError unless both are positive and evaluations divide the steps evenly;
    ``names`` are what the message calls them (a config's field names, say)."""
    for name, value in zip(names, (num_steps, eval_every), strict=True):
        check_positive(name, value)
    if num_steps % eval_every:
        raise ValueError(f"{names[0]} {num_steps} must be a multiple of {names[1]} {eval_every}")


def sample_rows(batch_size: int) -> Callable:
    """``sample_batch`` for a training set {'x': [N, ...], 'targets': [N, ...]}: ``batch_size``
    rows drawn uniformly with replacement."""

    def sample(key, train_set):
        index = jax.random.randint(key, (batch_size,), 0, train_set["x"].shape[0])
        return train_set["x"][index], train_set["targets"][index]

    return sample


def fit(
    model,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    sample_batch: Callable,
    train_sets,
    evaluate: Callable,
    *,
    example_input,
    seeds: int,
    num_steps: int,
    eval_every: int,
    progress=None,
) -> dict:
    """Train ``model`` from ``seeds`` initialisations on each of D training sets, all in one
    vmapped, compiled program, and evaluate every ``eval_every`` steps.

    Args:
      loss_fn: ``loss_fn(model_output, targets) -> scalar``.
      sample_batch: ``sample_batch(key, train_set) -> (inputs, targets)``.
      train_sets: a pytree whose leaves have a leading axis of D data sets (D = 1 for one), or
        None for a task whose ``sample_batch`` generates its batches (one data set).
      evaluate: ``evaluate(params) -> scalar`` (test accuracy, test error, ...).
      example_input: an input batch for ``model.init``.
      progress: an optional tqdm bar, advanced by ``eval_every`` * D * seeds per evaluation.

    Returns {'steps': [E + 1], 'metric': [D, seeds, E + 1], 'train_loss': [D, seeds, E]}: the
    metric before training and after each block of ``eval_every`` steps, and the mean training
    loss of each block; 'params' holds the trained parameters [D, seeds, ...]. Seed s starts
    from the same parameters on every data set.
    """
    check_positive("seeds", seeds)
    check_schedule(num_steps, eval_every)
    if train_sets is None:  # a synthetic task draws every batch from the key alone
        train_sets = np.zeros((1, 0), np.float32)
    datasets = jax.tree.leaves(train_sets)[0].shape[0]

    train_step = make_train_step(supervised_objective(model, loss_fn), optimizer)
    block = partial(run_steps, train_step, sample_batch, num_steps=eval_every)
    per_seed = jax.vmap(block, in_axes=(0, 0, 0, None))  # seeds share a data set
    train_block = jax.jit(jax.vmap(per_seed))  # data sets
    evaluate_all = jax.jit(jax.vmap(jax.vmap(evaluate)))

    keys = jax.vmap(jax.random.key)(np.arange(seeds))
    params = jax.jit(jax.vmap(lambda key: model.init(key, example_input)))(keys)
    params = jax.tree.map(lambda a: np.broadcast_to(a, (datasets, *a.shape)), params)
    opt_state = jax.jit(jax.vmap(jax.vmap(optimizer.init)))(params)
    train_keys = jax.vmap(lambda d: jax.vmap(lambda s: jax.random.key(1_000 * (d + 1) + s))(
        np.arange(seeds)))(np.arange(datasets))  # fmt: skip

    steps, metrics, losses = [0], [np.asarray(evaluate_all(params))], []
    for _ in range(num_steps // eval_every):
        params, opt_state, train_keys, block_metrics = train_block(
            params, opt_state, train_keys, train_sets
        )
        steps.append(steps[-1] + eval_every)
        metrics.append(np.asarray(evaluate_all(params)))
        losses.append(np.asarray(block_metrics["loss"]).mean(axis=-1))
        if progress is not None:
            progress.update(eval_every * datasets * seeds)
    return {
        "steps": steps,
        "metric": np.stack(metrics, axis=-1),
        "train_loss": np.stack(losses, axis=-1),
        "params": params,
    }
