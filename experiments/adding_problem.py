"""The adding problem (Hochreiter and Schmidhuber 1997): can a cell carry two numbers T steps?

    python -m experiments.adding_problem --workdir runs/adding_problem

Trains a many-to-one tanh RNN, LSTM and GRU (Adam, gradient clipping, MSE on the last step) at
each sequence length T and reports the test MSE against the baseline 1/6 of always predicting 1.
Writes results.json and learning_curves.png into --workdir and prints a table.
"""

import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm import tqdm

from experiments import cli
from experiments.plotting import CELL_COLOURS, CELL_LABELS, plt
from nets import losses
from nets.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from nets.results import environment, figure_png, json_bytes, prepare_workdir, write_outputs
from nets.rnn import ManyToOne, make_cell
from nets.training.loop import run_steps
from nets.training.step import make_train_step


def adding_trainer(model, learning_rate: float, clip_norm: float):
    """The recipe both recurrent experiments train with: MSE on the last step, Adam, clipping.

    Returns ``(optimizer, loss_fn, train_step)``; batches are (inputs [B, T, 2], targets [B]).
    """
    optimizer = optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))

    def loss_fn(params, batch):
        inputs, targets = batch
        return losses.mse(model.apply(params, inputs)[:, 0], targets)

    return optimizer, loss_fn, make_train_step(loss_fn, optimizer)


def validate(config: ml_collections.ConfigDict) -> None:
    fields = ("seeds", "hidden_size", "batch_size", "train_steps", "eval_every", "test_size")
    cli.validate_sweep(config, fields)
    if config.train_steps % config.eval_every:
        raise ValueError(
            f"config.train_steps {config.train_steps} must be a multiple of config.eval_every "
            f"{config.eval_every}"
        )


def train_one(cell_name: str, length: int, seed: int, config, progress=None) -> dict:
    """Train one model; the test MSE after every ``eval_every`` steps is its learning curve."""
    model = ManyToOne(make_cell(cell_name, config.hidden_size), 1)
    optimizer, loss_fn, train_step = adding_trainer(model, config.learning_rate, config.clip_norm)
    data = partial(adding_problem, batch_size=config.batch_size, length=length)
    test_set = adding_problem(jax.random.key(10_000 + length), config.test_size, length)
    key_init, key_train = jax.random.split(jax.random.key(seed))
    params = model.init(key_init, test_set[0][:1])
    opt_state = optimizer.init(params)
    evaluate = jax.jit(loss_fn)
    chunk = partial(run_steps, train_step, data, num_steps=config.eval_every)
    steps, test_mse, train_loss = [0], [float(evaluate(params, test_set))], []
    start = time.perf_counter()
    for _ in range(config.train_steps // config.eval_every):
        params, opt_state, key_train, metrics = chunk(params, opt_state, key_train)
        steps.append(steps[-1] + config.eval_every)
        test_mse.append(float(evaluate(params, test_set)))
        train_loss.append(float(jnp.mean(metrics["loss"])))
        if progress is not None:
            progress.set_postfix(cell=cell_name, T=length, test_mse=f"{test_mse[-1]:.4f}")
            progress.update(config.eval_every)
    solved = [s for s, mse in zip(steps, test_mse, strict=True) if mse < config.solved_mse]
    return {
        "cell": cell_name,
        "length": length,
        "seed": seed,
        "steps": steps,
        "test_mse": test_mse,
        "train_loss_per_chunk": train_loss,
        "final_test_mse": test_mse[-1],
        "best_test_mse": min(test_mse),
        "solved_at_step": solved[0] if solved else None,
        "train_seconds": time.perf_counter() - start,
    }


def summarise(runs: list, config) -> list:
    """One row per (cell, T): mean final test MSE over seeds and how many seeds solved it."""
    rows = []
    for cell in config.cells:
        for length in config.lengths:
            mine = [r for r in runs if r["cell"] == cell and r["length"] == length]
            finals = [r["final_test_mse"] for r in mine]
            rows.append({
                "cell": cell,
                "length": length,
                "final_test_mse_mean": float(np.mean(finals)),
                "final_test_mse_std": float(np.std(finals)),
                "baseline_mse": ADDING_BASELINE_MSE,
                "seeds_solved": sum(r["solved_at_step"] is not None for r in mine),
                "seeds": len(mine),
                "train_seconds_mean": float(np.mean([r["train_seconds"] for r in mine])),
            })  # fmt: skip
    return rows


def table(rows: list, solved_mse: float) -> str:
    lines = [f"{'cell':<6}{'T':>6}{'test MSE':>12}{'/ baseline':>12}{'solved':>9}{'s/run':>8}"]
    for r in rows:
        lines.append(
            f"{r['cell']:<6}{r['length']:>6}{r['final_test_mse_mean']:>12.4f}"
            f"{r['final_test_mse_mean'] / r['baseline_mse']:>12.3f}"
            f"{str(r['seeds_solved']) + '/' + str(r['seeds']):>9}{r['train_seconds_mean']:>8.0f}"
        )
    lines.append(f"baseline (predict 1): MSE 1/6 = {ADDING_BASELINE_MSE:.3f}; "
                 f"solved: test MSE < {solved_mse}")  # fmt: skip
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
    jobs = [(c, t, s) for t in config.lengths for c in config.cells for s in range(config.seeds)]
    total = len(jobs) * config.train_steps
    with tqdm(total=total, desc="training steps", unit="step", file=sys.stderr) as progress:
        runs = [train_one(*job, config, progress) for job in jobs]
    rows = summarise(runs, config)
    results = {
        "experiment": "adding_problem",
        "settings": config.to_dict(),
        "environment": environment(),
        "elapsed_s": time.perf_counter() - start,
        "table": rows,
        "runs": runs,
    }
    write_outputs(workdir, {
        "learning_curves.png": figure_png(learning_curves(runs, config)),
        "results.json": json_bytes(results),
    })  # fmt: skip
    print(table(rows, config.solved_mse))
    print(f"wrote {workdir}/results.json and learning_curves.png in {results['elapsed_s']:.0f} s")
    return results


if __name__ == "__main__":
    cli.main(
        run, str(Path(__file__).parent / "configs" / "adding_problem.py"), "runs/adding_problem"
    )
