"""The sweep driver: one model trained from several seeds on several data sets at once.

Every (data set, seed) pair is an independent run of the shared ``train_step``; the pairs are
vmapped, and ``eval_every`` steps run inside one ``lax.scan`` with the batches drawn inside it,
so a whole sweep is one compiled program called once per evaluation: the blocks run in
``nets.training.steady.steady`` (nothing comes back to the host inside one), and a block that
compiles again after the first is a ``RecompilationWarning``. For experiments whose
data fit in memory or are generated from a key (MNIST-1D, the adding problem, a noisy sine).
"""

import time
from collections.abc import Callable
from functools import partial

import jax
import numpy as np
import optax
from numpy.lib.stride_tricks import sliding_window_view

from nets.checks import check_positive
from nets.training.objectives import batch_mean
from nets.training.state import TrainState, train_step
from nets.training.steady import Compilations, steady, warn_recompiled


def check_schedule(num_steps: int, eval_every: int, prefix: str = "config.") -> None:
    """Raise ValueError unless both are positive and evaluations divide the steps evenly;
    ``prefix`` names the fields' group in the message ('config.regression.', say)."""
    check_positive(f"{prefix}num_steps", num_steps)
    check_positive(f"{prefix}eval_every", eval_every)
    if num_steps % eval_every:
        raise ValueError(
            f"{prefix}num_steps {num_steps} must be a multiple of {prefix}eval_every {eval_every}"
        )


def sample_rows(batch_size: int) -> Callable:
    """``sample_batch`` for an in-memory training set {'inputs': [N, ...], 'targets': [N, ...]}:
    ``batch_size`` rows drawn uniformly with replacement."""

    def sample(key, train_set):
        size = jax.tree.leaves(train_set)[0].shape[0]
        index = jax.random.randint(key, (batch_size,), 0, size)
        return jax.tree.map(lambda a: a[index], train_set)

    return sample


def evaluate_on(test_set: dict, loss_fn: Callable, metric: str = "loss") -> Callable:
    """``evaluate(state)`` for ``sweep``: the mean of the objective's ``metric`` over an
    in-memory test set {'inputs', 'targets'}."""
    return lambda state: batch_mean(loss_fn, state.apply(test_set)[0], test_set, metric)


def run_steps(state, data_key, data, *, loss_fn, sample_batch, num_steps):
    """``num_steps`` train steps on batches ``sample_batch(fold_in(data_key, step), data)``,
    without leaving XLA; returns ``(state, metrics)``, each metric [num_steps]."""

    def one_step(state, _):
        batch = sample_batch(jax.random.fold_in(data_key, state.step), data)
        return train_step(state, batch, loss_fn=loss_fn)

    return jax.lax.scan(one_step, state, None, length=num_steps)


def sweep(
    model,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    sample_batch: Callable,
    train_sets,
    evaluate: Callable | None,
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
      loss_fn: the objective, ``loss_fn(outputs, batch) -> {'loss': [batch], ...}``.
      sample_batch: ``sample_batch(key, train_set) -> batch`` {'inputs', 'targets', ...}.
      train_sets: a pytree whose leaves have a leading axis of D data sets (D = 1 for one), or
        None for a task whose ``sample_batch`` generates its batches from the key (one data set).
      evaluate: ``evaluate(state) -> scalar`` (test accuracy, test error, ...), or None.
      example_input: an input batch for ``model.init``.
      progress: an optional tqdm bar, advanced by ``eval_every`` * D * seeds per evaluation.

    Returns {'steps': [E + 1], 'metric': [D, seeds, E + 1] (with ``evaluate``), 'train':
    {name: [D, seeds, num_steps]} (every step's metrics: loss, grad_norm, ...), 'state': the
    final TrainStates, leaves [D, seeds, ...]}. Seed s starts from the same parameters on every
    data set; its batches differ by data set.
    """
    check_positive("seeds", seeds)
    check_schedule(num_steps, eval_every, prefix="")
    if train_sets is None:  # a synthetic task draws every batch from the key alone
        train_sets = np.zeros((1, 0), np.float32)
    datasets = jax.tree.leaves(train_sets)[0].shape[0]

    block = partial(run_steps, loss_fn=loss_fn, sample_batch=sample_batch, num_steps=eval_every)
    per_seed = jax.vmap(block, in_axes=(0, 0, None))  # seeds share a data set
    train_block = jax.jit(jax.vmap(per_seed), donate_argnums=(0,))
    evaluate_all = jax.jit(jax.vmap(jax.vmap(evaluate))) if evaluate else None

    keys = jax.vmap(jax.random.key)(np.arange(seeds))
    create = jax.vmap(lambda key: TrainState.create(model, optimizer, example_input, key))
    state = jax.jit(create)(keys)
    state = jax.tree.map(lambda a: np.broadcast_to(a, (datasets, *a.shape)), state)
    # the batches of data set d, seed s come from the key 1000 (d + 1) + s
    seed_grid = 1_000 * (np.arange(datasets)[:, None] + 1) + np.arange(seeds)[None, :]
    data_keys = jax.vmap(jax.vmap(jax.random.key))(seed_grid)

    steps, metrics, blocks = [0], [], []
    if evaluate_all:
        metrics.append(np.asarray(evaluate_all(state)))
    with Compilations() as compiled:
        for block in range(num_steps // eval_every):
            before = len(compiled.programs)
            with steady():  # eval_every steps, and nothing comes back until they are done
                state, block_metrics = train_block(state, data_keys, train_sets)
            steps.append(steps[-1] + eval_every)
            blocks.append(jax.device_get(block_metrics))
            if evaluate_all:
                metrics.append(np.asarray(evaluate_all(state)))
            if block and compiled.since(before):
                warn_recompiled(f"the block ending at step {steps[-1]}", compiled.since(before))
            if progress is not None:
                progress.update(eval_every * datasets * seeds)
    result = {
        "steps": steps,
        "train": {name: np.concatenate([b[name] for b in blocks], -1) for name in blocks[0]},
        "state": state,
    }
    if evaluate_all:
        result["metric"] = np.stack(metrics, axis=-1)
    return result


def sweep_group(group, *, where: str = "config", progress=None) -> dict:
    """``sweep`` of a sweep group, a config in the training dialect
    (``nets.training.config.build_sweep``: model, data, optimizer, num_steps, batch_size,
    eval_every, seeds, metric), checked and built by name, each part once; its test split is
    scored by the objective's ``group.metric`` every ``eval_every`` steps (if it has one: a
    generated task's ``data.test_size`` 0 trains only). Returns ``sweep``'s
    result with 'parts': what the group built (the model, the optimizer, the data). ``where``
    names the group in the messages of a bad field ('config.adding')."""
    from nets.training.config import build_sweep  # config imports the data registry
    from nets.training.objectives import get_objective

    parts = build_sweep(group, where)
    scored = get_objective(parts.spec.loss)  # the plain objective: no label smoothing
    result = sweep(
        parts.model,
        parts.loss_fn,
        parts.optimizer,
        parts.sample_batch,
        parts.train_sets,
        None if parts.test_set is None else evaluate_on(parts.test_set, scored, parts.metric),
        example_input=example_input(parts),
        seeds=group.seeds,
        num_steps=group.num_steps,
        eval_every=group.eval_every,
        progress=progress,
    )
    return {**result, "parts": parts}


def example_input(parts) -> jax.Array:
    """An input of one example for ``model.init``: the test split's first, else a drawn one."""
    if parts.test_set is not None:
        return jax.tree.map(lambda a: a[:1], parts.test_set["inputs"])
    train_set = None if parts.train_sets is None else jax.tree.map(lambda a: a[0], parts.train_sets)
    return jax.tree.map(lambda a: a[:1], parts.sample_batch(jax.random.key(0), train_set)["inputs"])


def seed_curves(result: dict, eval_every: int, below: float | None = None) -> list[dict]:
    """Per seed of data set 0 of a ``sweep`` result with ``evaluate``: 'metric' [E + 1] after
    every ``eval_every`` steps, 'train_loss_per_block' (the mean training loss of each block of
    ``eval_every`` steps), 'final' and 'best' (its last and least value) and 'reached_at_step'
    (the first step where it fell below ``below``; None if it never did or none is given)."""
    steps = result["steps"]
    curves = result["metric"][0]
    blocks = result["train"]["loss"][0].reshape(len(curves), -1, eval_every).mean(-1)
    records = []
    for curve, block_losses in zip(curves, blocks, strict=True):
        reached = [s for s, m in zip(steps, curve, strict=True) if below is not None and m < below]
        records.append(
            {
                "metric": curve,
                "train_loss_per_block": block_losses,
                "final": float(curve[-1]),
                "best": float(curve.min()),
                "reached_at_step": reached[0] if reached else None,
            }
        )
    return records


def seed_runs(group, *, solved: float | None = None, where="config", progress=None) -> list[dict]:
    """Train a sweep group (``sweep_group``) and describe each seed's run: 'seed', 'steps',
    the test metric's curve named by what it measures ('test_mse' for the MSE objective's loss,
    'test_cross_entropy', 'test_accuracy'), its 'final_' and 'best_' values,
    'train_loss_per_chunk' (each block of ``eval_every`` steps' mean training loss),
    'solved_at_step' (the first evaluation below ``solved``) and 'train_seconds' (per seed)."""
    start = time.perf_counter()
    result = sweep_group(group, where=where, progress=progress)
    seconds = (time.perf_counter() - start) / group.seeds
    parts = result["parts"]
    measured = parts.spec.loss if parts.metric == "loss" else parts.metric
    name = f"test_{measured if isinstance(measured, str) else 'loss'}"
    return [
        {
            "seed": seed,
            "steps": result["steps"],
            name: curve["metric"],
            "train_loss_per_chunk": curve["train_loss_per_block"],
            f"final_{name}": curve["final"],
            f"best_{name}": curve["best"],
            "solved_at_step": curve["reached_at_step"],
            "train_seconds": seconds,
        }
        for seed, curve in enumerate(seed_curves(result, group.eval_every, below=solved))
    ]


def loss_spikes(loss: np.ndarray, window: int) -> np.ndarray:
    """Per run of ``loss`` [runs, steps]: how many steps' loss is not finite or more than twice
    the median of the ``window`` steps before it."""
    before = np.median(sliding_window_view(loss, window, axis=1)[:, :-1], axis=-1)
    later = loss[:, window:]
    return np.sum(~np.isfinite(later) | (later > 2 * before), axis=1)
