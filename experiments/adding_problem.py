"""The adding problem (Hochreiter and Schmidhuber 1997): can a cell carry two numbers T steps?

    python -m experiments.adding_problem --workdir runs/adding_problem

Trains a many-to-one tanh RNN, LSTM and GRU (Adam, gradient clipping, MSE on the last step) at
each sequence length T and reports the test MSE against the baseline 1/6 of always predicting 1.
Writes results.json and learning_curves.png into --workdir and prints a table.
"""

import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli
from experiments.plotting import CELL_COLOURS, CELL_LABELS, plt, save_run
from nets.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from nets.models import get_model
from nets.training import objectives
from nets.training.config import build_optimizer, check_cells, check_lengths, check_positive_fields
from nets.training.sweep import check_schedule, sweep_group
from nets.training.workdir import prepare_workdir, run_header


def validate(config: ml_collections.ConfigDict) -> None:
    check_cells(config.cells)
    check_lengths(config.lengths)
    check_positive_fields(config, ("seeds", "batch_size", "test_size"))
    check_positive_fields(config.model, ("hidden_size",), "config.model.")
    build_optimizer(config.optimizer, config.num_steps)
    check_schedule(config.num_steps, config.eval_every)


def train_cell(cell_name: str, length: int, config, progress=None, **cell_options) -> list:
    """Train one cell (``cell_name`` with ``cell_options``, ``nets.rnn.make_cell``) at one
    length from every seed; the test MSE after every ``eval_every`` steps is each seed's
    learning curve."""
    model = get_model(
        "many_to_one",
        1,
        cell=cell_name,
        hidden_size=config.model.hidden_size,
        remat=config.model.remat,
        **cell_options,
    )
    test_set = adding_problem(jax.random.key(10_000 + length), config.test_size, length)
    start = time.perf_counter()
    result = sweep_group(
        config,
        model,
        objectives.mse,
        lambda key, _: adding_problem(key, config.batch_size, length),
        None,
        test_set,
        progress=progress,
    )
    seconds = (time.perf_counter() - start) / config.seeds
    steps = result["steps"]
    # the mean training loss of each block of eval_every steps, per seed
    block_losses = result["train"]["loss"][0].reshape(config.seeds, -1, config.eval_every)
    runs = []
    for seed, (test_mse, train_loss) in enumerate(
        zip(result["metric"][0], block_losses.mean(-1), strict=True)
    ):
        solved = [s for s, m in zip(steps, test_mse, strict=True) if m < config.solved_mse]
        runs.append(
            {
                "cell": cell_name,
                "length": length,
                "seed": seed,
                "steps": steps,
                "test_mse": test_mse,
                "train_loss_per_chunk": train_loss,
                "final_test_mse": float(test_mse[-1]),
                "best_test_mse": float(test_mse.min()),
                "solved_at_step": solved[0] if solved else None,
                "train_seconds": seconds,
            }
        )
    return runs


def summarise(runs: list, config) -> list:
    """One row per (cell, T): mean final test MSE over seeds and how many seeds solved it."""
    rows = []
    for cell in config.cells:
        for length in config.lengths:
            mine = [r for r in runs if r["cell"] == cell and r["length"] == length]
            finals = [r["final_test_mse"] for r in mine]
            rows.append(
                {
                    "cell": cell,
                    "length": length,
                    "final_test_mse_mean": float(np.mean(finals)),
                    "final_test_mse_std": float(np.std(finals)),
                    "baseline_mse": ADDING_BASELINE_MSE,
                    "seeds_solved": sum(r["solved_at_step"] is not None for r in mine),
                    "seeds": len(mine),
                    "train_seconds_mean": float(np.mean([r["train_seconds"] for r in mine])),
                }
            )
    return rows


def table(rows: list, solved_mse: float) -> str:
    lines = [f"{'cell':<6}{'T':>6}{'test MSE':>12}{'/ baseline':>12}{'solved':>9}{'s/run':>8}"]
    for r in rows:
        lines.append(
            f"{r['cell']:<6}{r['length']:>6}{r['final_test_mse_mean']:>12.4f}"
            f"{r['final_test_mse_mean'] / r['baseline_mse']:>12.3f}"
            f"{str(r['seeds_solved']) + '/' + str(r['seeds']):>9}{r['train_seconds_mean']:>8.0f}"
        )
    lines.append(
        f"baseline (predict 1): MSE 1/6 = {ADDING_BASELINE_MSE:.3f}; "
        f"solved: test MSE < {solved_mse}"
    )
    return "\n".join(lines)


def learning_curves(runs: list, config):
    lengths = list(config.lengths)
    figure, axes = plt.subplots(1, len(lengths), figsize=(5 * len(lengths), 4), squeeze=False)
    for ax, length in zip(axes[0], lengths, strict=True):
        for r in (r for r in runs if r["length"] == length):
            label = CELL_LABELS.get(r["cell"], r["cell"]) if r["seed"] == 0 else None
            ax.plot(r["steps"], r["test_mse"], color=CELL_COLOURS.get(r["cell"]), label=label)
        ax.axhline(ADDING_BASELINE_MSE, color="grey", linestyle="--", label="predict 1 (1/6)")
        ax.axhline(config.solved_mse, color="grey", linestyle=":", label="solved")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(f"adding problem, T = {length}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("test MSE")
    axes[0][0].legend()
    return figure


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    workdir = prepare_workdir(workdir)
    start = time.perf_counter()
    jobs = [(cell, length) for length in config.lengths for cell in config.cells]
    total = len(jobs) * config.seeds * config.num_steps
    with tqdm(total=total, desc="training steps", unit="step", file=sys.stderr) as progress:
        runs = [run for job in jobs for run in train_cell(*job, config, progress)]
    rows = summarise(runs, config)
    results = {**run_header("adding_problem", config, start), "table": rows, "runs": runs}
    print(table(rows, config.solved_mse))
    save_run(workdir, results, {"learning_curves.png": learning_curves(runs, config)})
    return results


if __name__ == "__main__":
    cli.main(
        run, str(Path(__file__).parent / "configs" / "adding_problem.py"), "runs/adding_problem"
    )
