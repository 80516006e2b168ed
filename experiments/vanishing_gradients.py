"""Vanishing gradients across sequence lengths: the lecture's BPTT product, measured.

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients

For each cell (tanh RNN, IRNN, LSTM, GRU), sequence length T and seed, a many-to-one model on
the adding problem (MSE on the last step) is measured at initialisation and after a short
training: ||dL/dh_t|| for every t in one backward pass (``nets.gradients``), and the ratio
||dL/dh_1|| / ||dL/dh_T||. A second sweep sets the spectral norm sigma of a tanh RNN's W_h.
Writes results.json and three figures into --workdir and prints a summary table.
"""

import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli
from experiments import vanishing_gradients_figures as figures
from experiments.plotting import save_run
from nets.checks import check_choice
from nets.data.synthetic import adding_problem
from nets.gradients import hidden_state_gradient_norms
from nets.models import get_model
from nets.training import objectives
from nets.training.config import (
    build_optimizer,
    check_cells,
    check_length,
    check_lengths,
    check_positive_fields,
)
from nets.training.state import TrainState
from nets.training.sweep import sweep
from nets.training.workdir import prepare_workdir, run_header


def validate(config: ml_collections.ConfigDict) -> None:
    """Reject a bad config before any work, naming the field."""
    check_cells(config.cells)
    check_lengths(config.lengths)
    check_positive_fields(config, ("seeds",))
    check_positive_fields(config.model, ("hidden_size",), "config.model.")
    check_positive_fields(config.measure, ("batch_size",), "config.measure.")
    check_positive_fields(config.train, ("batch_size",), "config.train.")
    check_length(config.spectral.length, "config.spectral.length")
    if config.train.length:
        check_length(config.train.length, "config.train.length (0: train at each T)")
    if isinstance(config.train.num_steps, bool) or config.train.num_steps < 0:
        raise ValueError(f"config.train.num_steps must be >= 0, got {config.train.num_steps}")
    if not config.spectral.norms or any(sigma <= 0 for sigma in config.spectral.norms):
        norms = tuple(config.spectral.norms)
        raise ValueError(f"config.spectral.norms must be positive numbers, got {norms}")
    check_choice("config.measure.dtype", config.measure.dtype, ("float32", "float64"))
    build_optimizer(config.optimizer, config.train.num_steps)


def geometric_mean(values) -> float:
    """exp(mean(log v)) across seeds (ratios span many decades); 0 if any underflowed to 0."""
    values = np.asarray(values, np.float64)
    return 0.0 if np.any(values <= 0) else float(np.exp(np.mean(np.log(values))))


def seed_keys(seeds: int, stream: int) -> jax.Array:
    """One key per seed for an independent random stream (init, data, training)."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), stream))(jnp.arange(seeds))


def gradient_norms(model, config, params, inputs, targets):
    """Per-step mean norms {component: [seeds, T]}; every argument carries a seed axis."""
    dtype = jnp.dtype(config.measure.dtype)
    cast = partial(jax.tree.map, lambda a: a.astype(dtype))

    def one_seed(params, inputs, targets):
        def loss_fn(predictions):
            return objectives.batch_mean(objectives.mse, predictions, {"targets": targets})

        norms = hidden_state_gradient_norms(model, params, inputs, loss_fn)
        return {name: n.mean for name, n in norms.items()}

    return jax.vmap(one_seed)(cast(params), cast(inputs), cast(targets))


def norm_record(norms: dict) -> dict:
    """Per-step norms and the first-to-last ratio per seed, for each carry component."""
    records = {}
    for name, per_step in norms.items():
        per_step = np.asarray(per_step)
        ratios = per_step[:, 0] / per_step[:, -1]
        records[name] = {
            "per_step": per_step,
            "ratio_first_to_last": ratios,
            "ratio_geometric_mean": geometric_mean(ratios),
        }
    return records


def sweep_cell(cell_name: str, config, progress, **cell_options) -> list:
    """One cell (``cell_name`` with ``cell_options``) at every length, all seeds:
    gradient norms at init and after a short training.

    The parameters do not depend on T, so each seed's network is the same at every length.
    With ``config.train.length`` > 0 it is trained once, at that length, and the trained network
    is measured at every T (one compilation per cell, not per T: the quick profile); with 0 a
    fresh copy is trained at each T. Training is the sweep driver's, from the same
    initialisation as the measurement.
    """
    model = get_model(
        "many_to_one",
        1,
        cell=cell_name,
        hidden_size=config.model.hidden_size,
        remat=config.model.remat,
        **cell_options,
    )
    optimizer = build_optimizer(config.optimizer, config.train.num_steps)
    example = jnp.zeros((config.measure.batch_size, 2, 2), jnp.float32)

    def train(length):
        # The measurements are brief programs, compiled without XLA's costly optimisations
        # (config.fast_compile); the quick profile's training sweep runs long enough for them
        # to pay (config.train.fast_compile False): the first run took 59 s instead of 69 s,
        # and a rerun from the cache 25 s instead of 35 (the cache keeps the longer compile).
        with cli.fast_compilation(config.train.fast_compile):
            result = sweep(
                model,
                objectives.mse,
                optimizer,
                lambda key, _: adding_problem(key, config.train.batch_size, length),
                None,
                None,
                example_input=example,
                seeds=config.seeds,
                num_steps=config.train.num_steps,
                eval_every=config.train.num_steps,
            )
        params = {"params": jax.tree.map(lambda a: a[0], result["state"].params)}
        return params, result["train"]["loss"][0, :, -10:].mean(axis=1)  # [seeds]

    @partial(jax.jit, static_argnames="length")
    def measure(params, length):
        data = partial(adding_problem, batch_size=config.measure.batch_size, length=length)
        batch = jax.vmap(data)(seed_keys(config.seeds, 1))
        return gradient_norms(model, config, params, batch["inputs"], batch["targets"])

    def initial(seed):  # the sweep driver's initialisation of seed s
        return {"params": TrainState.create(model, optimizer, example, jax.random.key(seed)).params}

    params = jax.jit(jax.vmap(initial))(jnp.arange(config.seeds))
    trained = loss = None
    if config.train.num_steps and config.train.length:
        trained, loss = train(config.train.length)
    records = []
    for length in config.lengths:
        record = {"cell": cell_name, "length": length, "init": norm_record(measure(params, length))}
        if config.train.num_steps:
            if not config.train.length:
                trained, loss = train(length)
            record["trained"] = norm_record(measure(trained, length))
            record["train_length"] = config.train.length or length
            record["train_loss_last_10"] = np.asarray(loss)
        records.append(record)
        progress.update()
    return records


def measure_spectral(config) -> list:
    """tanh RNNs with W_h = sigma * Q at initialisation, every sigma in one compiled call."""
    model = get_model("many_to_one", 1, cell="tanh", hidden_size=config.model.hidden_size)
    length = config.spectral.length
    data = partial(adding_problem, batch_size=config.measure.batch_size, length=length)
    sigmas = jnp.asarray(config.spectral.norms, jnp.float32)

    @jax.jit
    def experiment():
        batch = jax.vmap(data)(seed_keys(config.seeds, 1))
        inputs, targets = batch["inputs"], batch["targets"]
        params = jax.vmap(model.init)(seed_keys(config.seeds, 0), inputs)

        def with_sigma(sigma):  # the same orthogonal Q for every sigma, scaled
            scaled = jax.tree_util.tree_map_with_path(
                lambda path, a: (
                    a * sigma if "recurrent_kernel" in jax.tree_util.keystr(path) else a
                ),
                params,
            )
            return gradient_norms(model, config, scaled, inputs, targets)["h"]

        return jax.lax.map(with_sigma, sigmas)

    norms = experiment()
    return [
        {"sigma": sigma, "length": length, "h": norm_record({"h": n})["h"]}
        for sigma, n in zip(config.spectral.norms, norms, strict=True)
    ]


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """The whole experiment; returns the results also written to ``workdir``."""
    validate(config)
    workdir = prepare_workdir(workdir)
    start = time.perf_counter()
    combos = len(config.cells) * len(config.lengths)
    # float64 only for this run (a context, not a global switch), so importers are unaffected
    with (
        cli.fast_compilation(config.fast_compile),
        jax.enable_x64(config.measure.dtype == "float64"),
        tqdm(total=combos, desc="cells x lengths", file=sys.stderr) as progress,
    ):
        sweep = [r for cell in config.cells for r in sweep_cell(cell, config, progress)]
        spectral = measure_spectral(config)
    results = {
        **run_header("vanishing_gradients", config, start),
        "sweep": sweep,
        "spectral": spectral,
    }
    print(summary_table(results))
    save_run(
        workdir,
        results,
        {
            "gradient_decay.png": figures.gradient_decay(sweep, max(config.lengths)),
            "decay_ratio_vs_length.png": figures.ratio_vs_length(sweep),
            "spectral_norm.png": figures.spectral_norm(spectral),
        },
    )
    return results


def summary_table(results: dict) -> str:
    """||dL/dh_1|| / ||dL/dh_T|| (geometric mean over seeds) per cell and T, init -> trained."""
    sweep = results["sweep"]
    lengths = sorted({r["length"] for r in sweep})
    lines = ["||dL/dh_1|| / ||dL/dh_T||, geometric mean over seeds (init / after training)"]
    lines.append(f"{'cell':<10}" + "".join(f"{'T=' + str(t):>22}" for t in lengths))
    for cell in dict.fromkeys(r["cell"] for r in sweep):
        components = ("c", "h") if cell == "lstm" else ("h",)
        for component in components:
            label = f"{cell} ({component})" if cell == "lstm" else cell
            cells = []
            for length in lengths:
                (r,) = [r for r in sweep if r["cell"] == cell and r["length"] == length]
                init = r["init"][component]["ratio_geometric_mean"]
                trained = r.get("trained", r["init"])[component]["ratio_geometric_mean"]
                cells.append(f"{init:9.2e} / {trained:9.2e}")
            lines.append(f"{label:<10}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


if __name__ == "__main__":
    cli.main(
        run,
        str(Path(__file__).parent / "configs" / "vanishing_gradients.py"),
        "runs/vanishing_gradients",
    )
