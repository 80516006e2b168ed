"""How far back can each cell learn? The lecture's claim that LSTMs solve the vanishing gradient,
measured (config: experiments/configs/long_memory.py).

    python -m experiments.long_memory --workdir runs/long_memory

1. forget_gate: ||dL/dh_1|| / ||dL/dh_T|| at initialisation (one backward pass, float64) for
   the LSTM with forget bias b_f = 0, 1, 3 and chrono initialisation (Tallec and Ollivier
   2018), and the GRU with update-gate bias 0 and 1; the LSTM's is measured on C_t.
2. adding: the longest adding-problem T each cell and initialisation solves (mean final test
   MSE < 0.01) within one fixed budget of steps.
3. clipping: a tanh RNN with W_h = sigma Q (sigma > 1: exploding gradients) trained by SGD
   without clipping, then with ``optax.clip_by_global_norm`` at the unclipped run's median
   gradient norm: the gradient norm and the training loss of every step.
4. copy: the copy task (recall 10 symbols after T blanks) for each cell, against the
   memoryless baseline 10 ln 8 / (T + 20).
5. pixels: scikit-learn's 8x8 digits read one pixel per step (T = 64; the 32x32 that LeNet-5
   reads with --config.pixels.data.name=digits32_pixels, T = 1,024), plain and with a fixed
   permutation; the sequential-MNIST anchors (T = 784) are printed beside.

Writes results.json and forget_gate.png, adding.png, clipping.png, memory_length.png (each
cell's test loss over its memoryless baseline against T) and longest_solved.png (the longest T
each variant solved per task) into --workdir; prints the tables. Every training run is the
sweep driver's (seeds in one compiled program). A part already in --workdir's results.json with
the same settings is kept, not rerun: a long profile runs a part at a time into one directory.
"""

import contextlib
import json
import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli
from experiments.configs import cell_group, vary
from experiments.plotting import CELL_COLOURS, CELL_LABELS, plt, save_run
from nets.checks import check_choice, check_positive
from nets.data.registry import digit_pixels_side
from nets.data.synthetic import ADDING, ADDING_BASELINE_MSE, copy_recall, copy_task_baseline
from nets.runtime import fast_compilation
from nets.training.config import (
    build_sweep,
    check_lengths,
    check_number,
    check_positive_fields,
    model_from,
)
from nets.training.gradient_decay import decay_across_lengths
from nets.training.sweep import loss_spikes, seed_runs, sweep_group
from nets.training.workdir import json_bytes, prepare_workdir, run_header

PARTS = ("forget_gate", "adding", "clipping", "copy", "pixels")
# a variant: a cell and its options; an option given as a function is one of T_max, the part's
# longest T: chrono's T_max, and the LRU's ring 1 - 10 / T_max <= |lambda| <= 1 - 0.1 / T_max
# (memory time constants 1 / (1 - |lambda|) from T_max / 10 to 10 T_max; [0.9, 0.999] at T_max =
# 100, Orvieto et al.'s ring for long tasks)
VARIANTS = {
    "tanh": ("tanh", {}),
    "irnn": ("irnn", {}),
    "exprnn": ("exprnn", {}),
    "lru_ring": ("lru", {"r_min": lambda t: 1 - 10 / t, "r_max": lambda t: 1 - 0.1 / t}),
    "gru": ("gru", {}),
    "gru_b1": ("gru", {"update_bias": 1.0}),
    "lstm_b0": ("lstm", {"forget_bias": 0.0}),
    "lstm_b1": ("lstm", {"forget_bias": 1.0}),
    "lstm_b3": ("lstm", {"forget_bias": 3.0}),
    "lstm_chrono": ("lstm", {"chrono": lambda t: t}),
}
LABELS = {
    **CELL_LABELS,
    "gru_b1": "GRU, b_z = 1",
    "lstm_b0": "LSTM, b_f = 0",
    "lstm_b1": "LSTM, b_f = 1",
    "lstm_b3": "LSTM, b_f = 3",
    "lstm_chrono": "LSTM, chrono",
    "lru_ring": "LRU, ring by T",
}
COLOURS = {
    **CELL_COLOURS,
    "gru_b1": "darkgreen",
    "lstm_b0": "lightsteelblue",
    "lstm_b1": CELL_COLOURS["lstm"],
    "lstm_b3": "navy",
    "lstm_chrono": "tab:purple",
    "lru_ring": CELL_COLOURS["lru"],
}
# sequential / permuted MNIST test accuracy, %, T = 784 (Le et al. 2015; Cooijmans et al. 2017)
MNIST_ANCHORS = {"tanh RNN": (35.0, 35.0), "IRNN": (97.0, 82.0), "uRNN": (95.1, 91.4)}


def variant(name: str, max_length: int) -> tuple[str, dict]:
    """(cell name, cell options) of a variant, its options of T_max at T_max = ``max_length``."""
    cell, options = VARIANTS[name]
    return cell, {k: v(max_length) if callable(v) else v for k, v in options.items()}


def validate(config: ml_collections.ConfigDict) -> None:
    """The experiment's own fields; each sweep group it trains is checked when it is built,
    with the group's first variant."""
    if not config.parts:
        raise ValueError(f"no parts to run; valid: {', '.join(PARTS)}")
    for part in config.parts:
        check_choice("part", part, PARTS)
    check_positive_fields(config, ("seeds",))
    for part in ("forget_gate", "adding", "copy", "pixels"):
        if not config[part].variants:
            raise ValueError(f"empty sweep: config.{part}.variants needs at least one variant")
        for name in config[part].variants:
            check_choice("variant", name, VARIANTS)
    for part in ("forget_gate", "adding"):
        check_lengths(config[part].lengths, f"config.{part}.lengths")
    check_positive_fields(
        config.forget_gate.measure, ("batch_size",), "config.forget_gate.measure."
    )
    for name in config.forget_gate.variants:
        cell, options = variant(name, max(config.forget_gate.lengths))
        model_from(
            vary(config.forget_gate.model, cell=cell, **options), 1, "config.forget_gate.model"
        )
    for length in config.copy.lengths:
        check_positive("config.copy.lengths: the delay T", length)
    clip = config.clipping
    check_number("config.clipping.threshold_factor", clip.threshold_factor, 0.0, above=True)
    check_positive_fields(clip, ("spike_window",), "config.clipping.")
    if clip.spike_window >= clip.num_steps:
        raise ValueError(
            f"config.clipping.spike_window {clip.spike_window} must be below its num_steps "
            f"{clip.num_steps}"
        )
    for part in ("adding", "clipping", "copy"):  # scored on their test splits
        check_positive_fields(config[part].data, ("test_size",), f"config.{part}.data.")
    first = {
        "adding": adding_group(config.adding, config.adding.variants[0], config.adding.lengths[0]),
        "clipping": clip,
        "copy": copy_group(config.copy, config.copy.variants[0], config.copy.lengths[0]),
        "pixels": pixels_group(config.pixels, config.pixels.variants[0], config.pixels.data.name),
    }
    for part, group in first.items():
        build_sweep(group, f"config.{part}")


# --- 1. forget-gate initialisation ---------------------------------------------------------------


def forget_gate(config, progress) -> list:
    """Gradient-ratio records (``nets.training.gradient_decay``) per variant and length."""
    records = []
    with jax.enable_x64(config.measure.dtype == "float64"):
        for name in config.variants:
            cell, options = variant(name, max(config.lengths))
            changes = {f"model__{option}": value for option, value in options.items()}
            measured = vary(config, model__cell=cell, **changes)
            for record in decay_across_lengths(measured, "config.forget_gate", progress):
                records.append({"cell": cell, **record, "variant": name})
    return records


def carried(record: dict) -> str:
    return "c" if "c" in record["init"] else "h"


def forget_gate_figure(records: list):
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["variant"] for r in records):
        mine = sorted((r for r in records if r["variant"] == name), key=lambda r: r["length"])
        ratios = [r["init"][carried(r)]["ratio_geometric_mean"] for r in mine]
        symbol = "C_t" if carried(mine[0]) == "c" else "h_t"
        ax.plot(
            [r["length"] for r in mine],
            np.where(np.asarray(ratios) > 0, ratios, np.nan),
            marker="o",
            color=COLOURS.get(name),
            label=f"{LABELS[name]} ({symbol})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(r"$\|\partial L/\partial s_1\| \,/\, \|\partial L/\partial s_T\|$ at init")
    ax.set_title("Gradient kept over T steps, by gate initialisation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return figure


# --- 2. the adding problem within a fixed budget ------------------------------------------------


def variant_group(config, name: str, data: str, max_length: int) -> ml_collections.ConfigDict:
    """The sweep group of variant ``name`` on data set ``data``, its options of T_max at
    ``max_length``."""
    cell, options = variant(name, max_length)
    return cell_group(config, cell, data, **options)


def adding_group(config, name: str, length: int) -> ml_collections.ConfigDict:
    """The sweep group of variant ``name`` at length T (T_max: the part's longest)."""
    return variant_group(config, name, f"adding_problem/t{length}", max(config.lengths))


def adding(config, progress) -> dict:
    """Every variant at every T; the longest T each solves (mean final test MSE < solved_mse)."""
    runs = []
    for name in config.variants:
        for length in config.lengths:
            group = adding_group(config, name, length)
            trained = seed_runs(group, solved=config.solved_mse, progress=progress)
            identity = {"cell": group.model.cell, "length": length, "variant": name}
            runs += [{**identity, **run} for run in trained]
    means = final_means(runs, "variant", "final_test_mse")
    longest = {
        name: max((t for t in config.lengths if means[name, t] < config.solved_mse), default=None)
        for name in config.variants
    }
    return {"runs": runs, "longest_solved": longest}


def final_means(runs: list, key: str, value: str) -> dict:
    """{(runs' ``key``, length): mean of ``value`` over seeds}."""
    groups = {}
    for r in runs:
        groups.setdefault((r[key], r["length"]), []).append(r[value])
    return {group: float(np.mean(values)) for group, values in groups.items()}


def adding_figure(result: dict, solved_mse: float):
    figure, ax = plt.subplots(figsize=(7, 4.5))
    means = final_means(result["runs"], "variant", "final_test_mse")
    for name in dict.fromkeys(r["variant"] for r in result["runs"]):
        lengths = sorted(t for v, t in means if v == name)
        ax.plot(
            lengths,
            [means[name, t] for t in lengths],
            marker="o",
            color=COLOURS.get(name),
            label=LABELS[name],
        )
    ax.axhline(ADDING_BASELINE_MSE, color="grey", linestyle="--", label="predict 1 (1/6)")
    ax.axhline(solved_mse, color="grey", linestyle=":", label="solved")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("final test MSE (mean over seeds)")
    ax.set_title("Adding problem within a fixed step budget")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return figure


# --- 3. exploding gradients and clipping ---------------------------------------------------------


def clipping(config, progress) -> dict:
    """The same tanh RNN (W_h = sigma Q) trained without and with clipping, from the same
    initialisations and batches. The threshold is ``threshold_factor`` times the median norm of
    the unclipped run's finite gradients: Pascanu et al.'s "average norm", robust to the
    spikes it is meant to cut."""

    def train(clip_norm: float) -> dict:
        group = vary(config, optimizer__clip_norm=clip_norm)
        result = sweep_group(group, where="config.clipping", progress=progress)
        loss, norms = result["train"]["loss"][0], result["train"]["grad_norm"][0]
        return {
            "clip_norm": clip_norm,
            "loss": loss,
            "grad_norm": norms,
            "steps": result["steps"],
            "test_mse": result["metric"][0],
            "final_test_mse_mean": float(result["metric"][0][:, -1].mean()),
            "max_grad_norm": float(norms.max()),
            "loss_spikes_mean": float(loss_spikes(loss, config.spike_window).mean()),
            "max_loss_after_window": float(np.nanmax(loss[:, config.spike_window :])),
        }

    plain = train(0.0)
    norms = plain["grad_norm"]
    threshold = config.threshold_factor * float(np.median(norms[np.isfinite(norms)]))
    return {
        "sigma": config.model.recurrent_scale,
        "length": ADDING.length(config.data.name),
        "threshold": threshold,
        "runs": [plain, train(threshold)],
    }


def clipping_figure(result: dict):
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for run, colour in zip(result["runs"], ("tab:red", "tab:blue"), strict=True):
        label = f"clipped at {run['clip_norm']:.3g}" if run["clip_norm"] else "no clipping"
        for seed, (norms, loss) in enumerate(zip(run["grad_norm"], run["loss"], strict=True)):
            axes[0].plot(norms, color=colour, alpha=0.6, lw=0.8, label=label if seed == 0 else None)
            axes[1].plot(loss, color=colour, alpha=0.6, lw=0.8, label=label if seed == 0 else None)
    axes[0].axhline(result["threshold"], color="black", linestyle=":", label="threshold")
    axes[1].axhline(ADDING_BASELINE_MSE, color="grey", linestyle="--", label="predict 1 (1/6)")
    for ax, name in zip(axes, ("gradient norm (before clipping)", "training loss"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(
        f"tanh RNN, W_h = {result['sigma']} Q, adding problem T = {result['length']}, SGD"
    )
    return figure


# --- 4. the copy task ----------------------------------------------------------------------------


@jax.jit
def recall_per_seed(states, test: dict) -> jax.Array:
    """Each seed's fraction of the copy task's recalled symbols right on ``test``, [seeds]."""
    return jax.vmap(lambda state: copy_recall(state.apply(test)[0], test["targets"]))(states)


def copy_group(config, name: str, length: int) -> ml_collections.ConfigDict:
    """The sweep group of variant ``name`` at delay T (T_max: the part's longest)."""
    return variant_group(config, name, f"copy_task/t{length}", max(config.lengths))


def copy(config, progress) -> list:
    rows = []
    for length in config.lengths:
        for name in config.variants:
            group = copy_group(config, name, length)
            result = sweep_group(group, where="config.copy", progress=progress)
            loss = result["metric"][0]
            states = jax.tree.map(lambda a: a[0], result["state"])  # [seeds, ...]
            recalled = np.asarray(recall_per_seed(states, result["parts"].test_set))
            rows.append(
                {
                    "cell": group.model.cell,
                    "variant": name,
                    "length": length,
                    "steps": result["steps"],
                    "test_loss": loss,
                    "final_test_loss_mean": float(loss[:, -1].mean()),
                    "baseline": copy_task_baseline(length),
                    "recall_accuracy": recalled,
                    "recall_accuracy_mean": float(recalled.mean()),
                }
            )
    return rows


# --- 5. pixel by pixel ---------------------------------------------------------------------------


def pixels_group(config, name: str, data: str) -> ml_collections.ConfigDict:
    """The sweep group of variant ``name`` on the digits ``data`` (T_max: its T)."""
    return variant_group(config, name, data, digit_pixels_side(data) ** 2)


def pixels(config, progress) -> list:
    """Each cell on the digits read pixel by pixel (``config.data.name``: 'digits8_pixels', T =
    64, or 'digits32_pixels', T = 1,024), in plain and in permuted order."""
    rows = []
    orders = {"plain": config.data.name, "permuted": f"{config.data.name}_permuted"}
    for order, data in orders.items():
        for name in config.variants:
            group = pixels_group(config, name, data)
            result = sweep_group(group, where="config.pixels", progress=progress)
            accuracy = result["metric"][0]
            rows.append(
                {
                    "cell": group.model.cell,
                    "variant": name,
                    "order": order,
                    "length": result["parts"].test_set["inputs"].shape[1],
                    "steps": result["steps"],
                    "test_accuracy": accuracy,
                    "final_accuracy_mean": float(accuracy[:, -1].mean()),
                }
            )
    return rows


# --- the summary figure and the tables -----------------------------------------------------------


def memory_length_figure(results: dict):
    """Each variant's final test loss over its memoryless baseline against T (1 = no memory)."""
    panels = [p for p in ("adding", "copy", "pixels") if p in results]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, part in zip(axes[0], panels, strict=True):
        if part == "pixels":
            accuracy = pixel_accuracies(results[part])
            names = list(accuracy)
            for offset, order in enumerate(("plain", "permuted")):
                ax.bar(
                    np.arange(len(names)) + 0.4 * offset,
                    [accuracy[name][order] for name in names],
                    0.4,
                    label=order,
                    color=[COLOURS.get(name) for name in names],
                    alpha=1.0 - 0.5 * offset,
                )
            ax.axhline(10, color="grey", linestyle="--", label="chance (10%)")
            ax.set_xticks(np.arange(len(names)) + 0.2, [LABELS[n] for n in names], rotation=30)
            ax.set_ylabel("test accuracy, % (dark: plain, light: permuted)")
            ax.set_title(f"digits pixel by pixel, T = {results[part][0]['length']}")
            continue
        if part == "adding":  # the copy task's variants where it ran: one set of lines
            shown = {r["variant"] for r in results.get("copy", results["adding"]["runs"])}
            runs = [r for r in results["adding"]["runs"] if r["variant"] in shown]
            runs = runs or results["adding"]["runs"]
            means = final_means(runs, "variant", "final_test_mse")
            baseline = {key: ADDING_BASELINE_MSE for key in means}
            title, ylabel = "adding problem", "test MSE / 1/6"
        else:
            means = final_means(results["copy"], "variant", "final_test_loss_mean")
            baseline = {(r["variant"], r["length"]): r["baseline"] for r in results["copy"]}
            title, ylabel = "copy task", "test cross-entropy / 10 ln 8 / (T + 20)"
        for name in dict.fromkeys(key for key, _ in means):
            lengths = sorted(t for k, t in means if k == name)
            ratios = [max(means[name, t] / baseline[name, t], 1e-6) for t in lengths]
            ax.plot(lengths, ratios, marker="o", color=COLOURS.get(name), label=LABELS[name])
        ax.axhline(1.0, color="grey", linestyle="--", label="memoryless baseline")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("dependency length T")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    for ax in axes[0]:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("How far back each cell learns")
    return figure


def pixel_accuracies(rows: list) -> dict:
    """{variant: {'plain': %, 'permuted': %}} of the pixels part's final test accuracies."""
    accuracy = {}
    for r in rows:
        accuracy.setdefault(r["variant"], {})[r["order"]] = 100 * r["final_accuracy_mean"]
    return accuracy


def longest_solved(results: dict, config) -> dict:
    """{task: {variant: the longest T it solved, or 0}}. Solved: the adding problem's mean final
    test MSE below ``config.adding.solved_mse``, the fraction of the copy task's recalled symbols
    right at least ``config.copy.solved_recall``, the digits' test accuracy at least
    ``config.pixels.solved_accuracy``."""
    longest = {}
    if "adding" in results:
        longest["adding"] = {k: v or 0 for k, v in results["adding"]["longest_solved"].items()}
    if "copy" in results:
        longest["copy"] = {}
        for r in results["copy"]:
            done = r["recall_accuracy_mean"] >= config.copy.solved_recall
            best = longest["copy"].get(r["variant"], 0)
            longest["copy"][r["variant"]] = max(best, r["length"] if done else 0)
    if "pixels" in results:
        length = results["pixels"][0]["length"]
        for order in ("plain", "permuted"):
            longest[f"pixels, {order}"] = {
                name: length if accuracy[order] >= 100 * config.pixels.solved_accuracy else 0
                for name, accuracy in pixel_accuracies(results["pixels"]).items()
            }
    return longest


def longest_solved_figure(longest: dict):
    """The headline picture: the longest T each variant solved on each task, one budget per
    task ('none': solved at no T tried; 'not run': the variant was not in that task's part)."""
    tasks = list(longest)
    names = list(dict.fromkeys(name for task in tasks for name in longest[task]))
    values = np.array([[longest[t].get(n, np.nan) for t in tasks] for n in names], float)
    figure, ax = plt.subplots(figsize=(1.9 * len(tasks) + 2.5, 0.45 * len(names) + 1.5))
    shown = np.where(values > 0, np.log10(np.where(values > 0, values, 1)), np.nan)
    image = ax.imshow(shown, cmap="viridis", aspect="auto", vmin=1, vmax=3.1)
    for (i, j), value in np.ndenumerate(values):
        text = "not run" if np.isnan(value) else (f"{value:.0f}" if value else "none")
        ax.text(j, i, text, ha="center", va="center", color="white" if value > 0 else "black")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(names)), [LABELS[n] for n in names])
    figure.colorbar(image, ax=ax, label="log10 of the longest T solved")
    ax.set_title("Longest dependency T solved, per cell and task (one budget per task)")
    return figure


def tables(results: dict) -> str:
    lines = []
    if "forget_gate" in results:
        records = results["forget_gate"]
        lengths = sorted({r["length"] for r in records})
        lines.append("forget_gate: ||dL/ds_1|| / ||dL/ds_T|| at init (s = C_t for the LSTM)")
        lines.append(f"  {'variant':<15}" + "".join(f"{'T=' + str(t):>11}" for t in lengths))
        for name in dict.fromkeys(r["variant"] for r in records):
            ratios = {
                r["length"]: r["init"][carried(r)]["ratio_geometric_mean"]
                for r in records
                if r["variant"] == name
            }
            lines.append(f"  {LABELS[name]:<15}" + "".join(f"{ratios[t]:>11.2e}" for t in lengths))
    if "adding" in results:
        means = final_means(results["adding"]["runs"], "variant", "final_test_mse")
        lengths = sorted({t for _, t in means})
        lines.append("\nadding: final test MSE (mean over seeds); longest T solved (< 0.01)")
        lines.append(
            f"  {'variant':<15}" + "".join(f"{'T=' + str(t):>9}" for t in lengths) + "  longest"
        )
        for name, longest in results["adding"]["longest_solved"].items():
            lines.append(
                f"  {LABELS[name]:<15}"
                + "".join(f"{means[name, t]:>9.4f}" for t in lengths)
                + f"  {longest or 'none'}"
            )
    if "clipping" in results:
        c = results["clipping"]
        lines.append(
            f"\nclipping: tanh RNN, sigma {c['sigma']}, T = {c['length']}, threshold "
            f"{c['threshold']:.3g} (median unclipped norm)"
        )
        for run in c["runs"]:
            label = "clipped" if run["clip_norm"] else "unclipped"
            lines.append(
                f"  {label:<10} max grad norm {run['max_grad_norm']:.3g}, loss spikes "
                f"{run['loss_spikes_mean']:.1f}, max loss after the first window "
                f"{run['max_loss_after_window']:.3g}, final test "
                f"MSE {run['final_test_mse_mean']:.4f}"
            )
    if "copy" in results:
        lines.append(
            "\ncopy: final test cross-entropy per step (memoryless baseline), recalled symbols "
            "right (1/8 by guessing)"
        )
        for r in results["copy"]:
            lines.append(
                f"  T={r['length']:<5} {LABELS[r['variant']]:<15} "
                f"{r['final_test_loss_mean']:.4f} ({r['baseline']:.4f})  "
                f"{100 * r['recall_accuracy_mean']:5.1f}%"
            )
    if "pixels" in results:
        length = results["pixels"][0]["length"]
        lines.append(f"\npixels: digits, T = {length}, test accuracy (plain / permuted)")
        for name, acc in pixel_accuracies(results["pixels"]).items():
            lines.append(f"  {LABELS[name]:<15} {acc['plain']:5.1f}% / {acc['permuted']:5.1f}%")
        anchors = ", ".join(f"{k} {a} / {b}" for k, (a, b) in MNIST_ANCHORS.items())
        lines.append(f"  anchors on sequential / permuted MNIST (T = 784): {anchors}")
    return "\n".join(lines)


def planned_steps(config) -> dict:
    """Training steps (or measurements) per part, for the progress bars."""
    return {
        "forget_gate": len(config.forget_gate.variants) * len(config.forget_gate.lengths),
        "adding": len(config.adding.variants)
        * len(config.adding.lengths)
        * config.seeds
        * config.adding.num_steps,
        "clipping": 2 * config.clipping.seeds * config.clipping.num_steps,
        "copy": len(config.copy.variants)
        * len(config.copy.lengths)
        * config.seeds
        * config.copy.num_steps,
        "pixels": 2 * len(config.pixels.variants) * config.seeds * config.pixels.num_steps,
    }


PART_RUNS = {
    "forget_gate": forget_gate,
    "adding": adding,
    "clipping": clipping,
    "copy": copy,
    "pixels": pixels,
}


def kept_parts(config, workdir: Path) -> tuple[dict, dict]:
    """(results, wall seconds) of each part of an earlier run in ``workdir`` (its results.json)
    made with the settings ``config`` has for it now: kept, not rerun, so a long profile runs a
    part at a time into one work directory and its summary figures cover every part done."""
    try:
        earlier = json.loads((workdir / "results.json").read_text())
    except (OSError, ValueError):
        return {}, {}
    settings = json.loads(json_bytes(config.to_dict()))
    kept = {
        part: earlier[part]
        for part in PARTS
        if part in earlier and earlier["settings"].get(part) == settings[part]
    }
    seconds = earlier.get("part_seconds", {})
    return kept, {part: seconds[part] for part in kept if part in seconds}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    workdir = prepare_workdir(workdir)
    start = time.perf_counter()
    totals = planned_steps(config)
    results, seconds = kept_parts(config, workdir)  # each part's wall time, kept ones' too
    if results:
        print(f"kept from {workdir}/results.json (same settings): {', '.join(results)}")
    for part in (p for p in PARTS if p in config.parts and p not in results):
        # the gradient measurements are many brief programs: there compiling dominates (the
        # training parts run 3x slower without XLA's optimisations)
        began = time.perf_counter()
        with (
            fast_compilation(True) if part == "forget_gate" else contextlib.nullcontext(),
            tqdm(total=totals[part], desc=part, file=sys.stderr) as progress,
        ):
            results[part] = PART_RUNS[part](config[part], progress)
        seconds[part] = time.perf_counter() - began
    results = {part: results[part] for part in PARTS if part in results}
    figures = {}
    if "forget_gate" in results:
        figures["forget_gate.png"] = forget_gate_figure(results["forget_gate"])
    if "adding" in results:
        figures["adding.png"] = adding_figure(results["adding"], config.adding.solved_mse)
    if "clipping" in results:
        figures["clipping.png"] = clipping_figure(results["clipping"])
    if results.keys() & {"adding", "copy", "pixels"}:
        figures["memory_length.png"] = memory_length_figure(results)
        results["longest_solved"] = longest_solved(results, config)
        figures["longest_solved.png"] = longest_solved_figure(results["longest_solved"])
    config = vary(config, parts=tuple(p for p in PARTS if p in results))  # what results.json holds
    results = {**run_header("long_memory", config, start), "part_seconds": seconds, **results}
    print(tables(results))
    save_run(workdir, results, figures)
    return results


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "long_memory.py"), "runs/long_memory")
