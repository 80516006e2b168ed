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
from tqdm import tqdm

from experiments import cli
from experiments import vanishing_gradients_figures as figures
from experiments.configs import vary
from experiments.plotting import save_run
from nets.checks import check_choice
from nets.data.synthetic import adding_problem
from nets.runtime import fast_compilation
from nets.training.config import (
    build_optimizer,
    check_cells,
    check_length,
    check_lengths,
    check_positive_fields,
    model_from,
)
from nets.training.gradient_decay import (
    decay_across_lengths,
    gradient_norms,
    measured_model,
    norm_record,
    seed_keys,
)
from nets.training.workdir import prepare_workdir, run_header


def validate(config: ml_collections.ConfigDict) -> None:
    """Reject a bad config before any work, naming the field."""
    check_cells(config.cells)
    check_lengths(config.lengths)
    check_positive_fields(config, ("seeds",))
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
    for cell in config.cells:
        model_from(vary(config.model, cell=cell), 1)


def sweep_cell(cell: str, config, progress) -> list:
    """One cell at every length, all seeds: gradient norms at init and after a short training
    (``nets.training.gradient_decay``)."""
    records = decay_across_lengths(vary(config, model__cell=cell), progress=progress)
    return [{"cell": cell, **record} for record in records]


def measure_spectral(config) -> list:
    """tanh RNNs with W_h = sigma * Q at initialisation, every sigma in one compiled call."""
    model = measured_model(vary(config.model, cell="tanh"))
    length = config.spectral.length
    data = partial(adding_problem, batch_size=config.measure.batch_size, length=length)
    sigmas = jnp.asarray(config.spectral.norms, jnp.float32)
    dtype = jnp.dtype(config.measure.dtype)

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
            return gradient_norms(model, scaled, inputs, targets, dtype)["h"]

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
        fast_compilation(config.fast_compile),
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
        components = next(r["init"] for r in sweep if r["cell"] == cell)  # h_t; C_t; x_t
        for component in components:
            label = f"{cell} ({component})" if len(components) > 1 else cell
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
