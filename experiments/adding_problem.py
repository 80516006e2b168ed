"""The adding problem (Hochreiter and Schmidhuber 1997): can a cell carry two numbers T steps?

    python -m experiments.adding_problem --workdir runs/adding_problem

Trains a many-to-one tanh RNN, LSTM and GRU (Adam, gradient clipping, MSE on the last step) at
each sequence length T and reports the test MSE against the baseline 1/6 of always predicting 1.
Writes results.json and learning_curves.png into --workdir and prints a table.
"""

import sys
import time
from pathlib import Path

import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli, configs
from experiments.plotting import CELL_COLOURS, CELL_LABELS, plt, save_run
from nets.data.registry import dataset_spec
from nets.data.synthetic import ADDING_BASELINE_MSE
from nets.training.config import (
    build_sweep,
    check_cells,
    check_lengths,
    check_number,
    check_positive_fields,
)
from nets.training.sweep import seed_runs
from nets.training.workdir import prepare_workdir, run_header


def validate(config: ml_collections.ConfigDict) -> None:
    """The experiment's own fields; each group it trains is checked when it is built."""
    check_cells(config.cells)
    check_lengths(config.lengths)
    check_number("config.solved_mse", config.solved_mse, 0.0, above=True)
    check_positive_fields(config.data, ("test_size",), "config.data.")
    for cell in config.cells:
        build_sweep(cell_group(config, cell, config.lengths[0]))


def cell_group(config, cell: str, length: int) -> ml_collections.ConfigDict:
    """The sweep group of ``cell`` at length T."""
    return configs.cell_group(config, cell, f"adding_problem/t{length}")


def train_cell(group, solved_mse: float, progress=None) -> list:
    """Train one sweep group (a cell at one length) from every seed; the test MSE after every
    ``eval_every`` steps is each seed's learning curve."""
    length = dataset_spec(group.data.name).generated.length(group.data.name)
    identity = {"cell": group.model.cell, "length": length}
    return [{**identity, **run} for run in seed_runs(group, solved=solved_mse, progress=progress)]


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
    groups = [cell_group(config, c, t) for t in config.lengths for c in config.cells]
    total = len(groups) * config.seeds * config.num_steps
    with tqdm(total=total, desc="training steps", unit="step", file=sys.stderr) as progress:
        runs = [run for g in groups for run in train_cell(g, config.solved_mse, progress)]
    rows = summarise(runs, config)
    results = {**run_header("adding_problem", config, start), "table": rows, "runs": runs}
    print(table(rows, config.solved_mse))
    save_run(workdir, results, {"learning_curves.png": learning_curves(runs, config)})
    return results


if __name__ == "__main__":
    cli.main(
        run, str(Path(__file__).parent / "configs" / "adding_problem.py"), "runs/adding_problem"
    )
