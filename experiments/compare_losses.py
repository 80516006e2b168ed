"""Which loss for which task, measured (the lecture's three claims).

    python -m experiments.compare_losses --workdir runs/compare_losses

1. Saturation: for a sigmoid unit, |dL/dz| of MSE vanishes when the prediction is confidently
   wrong; binary cross-entropy's stays near 1.
2. Classification on MNIST-1D (MLP and 1-D CNN): softmax + cross-entropy against softmax + MSE
   and sigmoid + MSE on one-hot targets; a binary task (even digit) and a multi-label task
   (even, >= 5, prime) with sigmoid + BCE against sigmoid + MSE.
3. Regression with outliers: a GRU forecasting a noisy sine, a fraction of training targets
   replaced by outliers; MSE against MAE and Huber on a clean test set.
4. Anchor: logistic regression, MLP, CNN and GRU with cross-entropy against the published
   MNIST-1D test accuracies.
Writes results.json and one figure per part into --workdir; prints the tables.
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli
from experiments.configs import model_config, vary
from experiments.plotting import plt, save_run
from nets import losses
from nets.checks import check_choice
from nets.models.mnist1d import MODELS
from nets.training.config import build_sweep, check_positive_fields
from nets.training.sweep import check_schedule, sweep_group
from nets.training.workdir import prepare_workdir, run_header

PARTS = ("saturation", "classification", "binary", "multilabel", "regression", "anchor")
PUBLISHED_ACCURACY = {
    "mnist1d_logistic": 0.32,
    "mnist1d_mlp": 0.68,
    "mnist1d_cnn": 0.94,
    "mnist1d_gru": 0.91,
}


# the classification losses compared (``nets.training.objectives``: softmax_cce is cross_entropy)
CLASSIFICATION_LOSSES = ("softmax_cce", "softmax_mse", "sigmoid_mse", "sigmoid_bce")
OBJECTIVE = {"softmax_cce": "cross_entropy"}
LABEL_LOSSES = ("sigmoid_bce", "sigmoid_mse")  # the binary and multi-label parts'
REGRESSION_LOSSES = ("mse", "mae", "huber")
TASK_DATA = {"binary": "mnist1d_even", "multilabel": "mnist1d_multilabel"}


def outlier_sets(fractions) -> tuple[str, ...]:
    """The registered noisy sines with these fractions of outliers: 'noisy_sine', 'noisy_sine/5'."""
    names = []
    for fraction in fractions:
        percent = round(100 * fraction)
        if not 0 <= fraction < 1 or abs(100 * fraction - percent) > 1e-9:
            raise ValueError(f"outlier fraction must be in [0, 1) in whole percent, got {fraction}")
        names.append(f"noisy_sine/{percent}" if percent else "noisy_sine")
    return tuple(names)


def mnist1d_group(config, model: str, loss: str, data: str = "mnist1d", steps: int = 0):
    """The MNIST-1D sweep group of ``model`` trained with ``loss`` on ``data``: the group's own
    model (the MLP of the benchmark's width) or another with its defaults."""
    group = config.mnist1d
    model_group = group.model if model == group.model.name else model_config(model)
    return vary(
        group,
        model=model_group,
        data__name=data,
        loss=OBJECTIVE.get(loss, loss),
        num_steps=steps or group.num_steps,
    )


def validate(config: ml_collections.ConfigDict) -> None:
    def known(kind, names, valid):
        for name in names:
            check_choice(kind, name, valid)

    if not config.parts:
        raise ValueError(f"no parts to run; valid: {', '.join(PARTS)}")
    known("part", config.parts, PARTS)
    known("model", (*config.classification.models, *config.anchor.models), MODELS)
    known("loss", config.classification.losses, CLASSIFICATION_LOSSES)
    known("loss", (*config.binary.losses, *config.multilabel.losses), LABEL_LOSSES)
    known("loss", config.regression.losses, REGRESSION_LOSSES)
    outlier_sets(config.regression.outlier_fractions)
    check_positive_fields(config, ("seeds",))
    check_schedule(config.anchor.num_steps, config.mnist1d.eval_every, "config.anchor.")
    models = {*config.classification.models, *config.anchor.models}
    for model in sorted(models):
        build_sweep(mnist1d_group(config, model, "softmax_cce"), "config.mnist1d")
    if "regression" in config.parts:
        regression_group = vary(config.regression, data__name="noisy_sine")
        build_sweep(regression_group, "config.regression")


# --- 1. saturation -------------------------------------------------------------------------------


def saturation(config) -> dict:
    """|dL/dz| against p = sigmoid(z) for MSE and BCE, targets 1 and 0, from ``jax.grad``."""
    p = np.linspace(0.005, 0.995, config.saturation.points)
    z = jnp.log(p / (1 - p))
    result = {"p": p}
    # each point is its own one-unit loss: the gradient of their sum is every point's dL/dz
    for name, loss in (
        ("mse", lambda z, y: losses.mse(jax.nn.sigmoid(z), y, reduction="sum")),
        ("bce", lambda z, y: losses.binary_cross_entropy(z, y, from_logits=True, reduction="sum")),
    ):
        grad = jax.grad(loss)
        result[name] = {f"y={y}": np.abs(np.asarray(grad(z, jnp.full_like(z, y)))) for y in (1, 0)}
    return result


def saturation_figure(result):
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, y in zip(axes, (1, 0), strict=True):
        ax.plot(result["p"], result["mse"][f"y={y}"], label="MSE: 2 |p - y| p (1 - p)")
        ax.plot(result["p"], result["bce"][f"y={y}"], label="BCE: |p - y|")
        ax.set_xlabel("predicted probability p = sigmoid(z)")
        ax.set_title(f"target y = {y}: confidently wrong at p = {1 - y}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("|dL/dz|")
    axes[0].legend()
    figure.suptitle("A sigmoid output: MSE's gradient vanishes where the prediction is most wrong")
    return figure


# --- 2. classification on MNIST-1D ---------------------------------------------------------------


def classify(config, model: str, loss: str, progress, data="mnist1d", steps: int = 0) -> dict:
    """Train one model with one loss on an MNIST-1D task for all seeds; test-accuracy curves
    (the data set's own accuracy: argmax against labels, per unit for 0/1 targets)."""
    group = mnist1d_group(config, model, loss, data, steps)
    result = sweep_group(group, where="config.mnist1d", progress=progress)
    curves = result["metric"][0]  # [seeds, evaluations]
    target = config.classification.target_accuracy
    reached = [
        next((s for s, a in zip(result["steps"], seed, strict=True) if a >= target), None)
        for seed in curves
    ]
    return {
        "model": model,
        "loss": loss,
        "steps": result["steps"],
        "test_accuracy": curves,
        "final_accuracy_mean": float(curves[:, -1].mean()),
        "final_accuracy_std": float(curves[:, -1].std()),
        "steps_to_target": reached,
    }


def curves_figure(runs: list, group_key: str, title: str, target=None):
    groups = list(dict.fromkeys(r[group_key] for r in runs))
    figure, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for r in (r for r in runs if r[group_key] == group):
            curves = np.asarray(r["test_accuracy"])
            line = ax.plot(r["steps"], curves.mean(axis=0), label=r["loss"])[0]
            ax.fill_between(
                r["steps"],
                curves.min(axis=0),
                curves.max(axis=0),
                color=line.get_color(),
                alpha=0.2,
            )
        if target:
            ax.axhline(target, color="grey", linestyle=":", label=f"{target:.0%}")
        ax.set_title(f"{title}: {group}")
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (mean; band: min-max over seeds)")
    axes[0][0].legend()
    return figure


# --- 3. regression with outliers -----------------------------------------------------------------


def regression(config, progress) -> list:
    """Every loss against every outlier fraction (``config``: the regression group, its data
    sets trained at once), scored by the MSE on the clean test set: [fractions, seeds]."""
    fractions = config.outlier_fractions
    rows = []
    for name in config.losses:
        group = vary(config, data__name=outlier_sets(fractions), loss=name)
        result = sweep_group(group, where="config.regression", progress=progress)
        final = result["metric"][..., -1]  # [fractions, seeds]
        rows.append(
            {
                "loss": name,
                "outlier_fractions": list(fractions),
                "clean_test_mse": final,
                "clean_test_mse_mean": final.mean(axis=1),
                "clean_test_mse_std": final.std(axis=1),
            }
        )
    return rows


def regression_figure(rows: list):
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        fractions = 100 * np.asarray(row["outlier_fractions"])
        ax.errorbar(
            fractions,
            row["clean_test_mse_mean"],
            yerr=row["clean_test_mse_std"],
            marker="o",
            capsize=3,
            label=row["loss"],
        )
    ax.set_yscale("log")
    ax.set_xlabel("training targets replaced by outliers (%)")
    ax.set_ylabel("clean test MSE (mean +- std over seeds)")
    ax.set_title("GRU forecasting a noisy sine: which loss resists outliers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return figure


# --- 4. the published anchor ---------------------------------------------------------------------


def anchor(config, classification_runs: list, progress) -> list:
    """Cross-entropy runs of the four benchmark models against the published accuracies."""
    rows = []
    for name in config.anchor.models:
        if reuses_classification(config, name):
            (run,) = [
                r for r in classification_runs if (r["model"], r["loss"]) == (name, "softmax_cce")
            ]
        else:
            run = classify(config, name, "softmax_cce", progress, steps=config.anchor.num_steps)
        rows.append(
            {
                "model": name,
                "test_accuracy_mean": run["final_accuracy_mean"],
                "test_accuracy_std": run["final_accuracy_std"],
                "published": PUBLISHED_ACCURACY[name],
                "gap_points": 100 * (run["final_accuracy_mean"] - PUBLISHED_ACCURACY[name]),
                "steps": config.anchor.num_steps,
            }
        )
    return rows


# --- the run -------------------------------------------------------------------------------------


def planned_steps(config) -> int:
    """Training steps x seeds x data sets of the whole run, for the progress bar."""
    parts, per_run = set(config.parts), config.mnist1d.num_steps * config.seeds
    total = 0
    if "classification" in parts:
        total += len(config.classification.models) * len(config.classification.losses) * per_run
    total += ("binary" in parts) * len(config.binary.losses) * per_run
    total += ("multilabel" in parts) * len(config.multilabel.losses) * per_run
    if "regression" in parts:
        regression = config.regression
        runs = len(regression.losses) * len(regression.outlier_fractions) * config.seeds
        total += runs * regression.num_steps
    if "anchor" in parts:
        to_train = [m for m in config.anchor.models if not reuses_classification(config, m)]
        total += len(to_train) * config.anchor.num_steps * config.seeds
    return total


def reuses_classification(config, model: str) -> bool:
    """Whether the anchor can take this model's cross-entropy run from the classification part."""
    return (
        "classification" in config.parts
        and model in config.classification.models
        and "softmax_cce" in config.classification.losses
        and config.anchor.num_steps == config.mnist1d.num_steps
    )


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    workdir = prepare_workdir(workdir)
    start = time.perf_counter()
    parts = set(config.parts)
    results = {}
    figures = {}
    with tqdm(
        total=planned_steps(config), desc="training steps", unit="step", file=sys.stderr
    ) as progress:
        if "saturation" in parts:
            results["saturation"] = saturation(config)
            figures["saturation.png"] = saturation_figure(results["saturation"])
        classification_runs = []
        if "classification" in parts:
            classification_runs = [
                classify(config, m, loss, progress)
                for m in config.classification.models
                for loss in config.classification.losses
            ]
            results["classification"] = classification_runs
            figures["classification.png"] = curves_figure(
                classification_runs,
                "model",
                "MNIST-1D, 10 classes",
                config.classification.target_accuracy,
            )
        labelled = []
        for task in ("binary", "multilabel"):
            if task in parts:
                data = TASK_DATA[task]
                task_runs = [
                    dict(classify(config, "mnist1d_mlp", loss, progress, data), task=task)
                    for loss in config[task].losses
                ]
                results[task] = task_runs
                labelled += task_runs
        if labelled:
            figures["binary_multilabel.png"] = curves_figure(
                labelled, "task", "MNIST-1D, sigmoid outputs (per-unit accuracy)"
            )
        if "regression" in parts:
            results["regression"] = regression(config.regression, progress)
            figures["regression.png"] = regression_figure(results["regression"])
        if "anchor" in parts:
            results["anchor"] = anchor(config, classification_runs, progress)
    results = {**run_header("compare_losses", config, start), **results}
    print(tables(results))
    save_run(workdir, results, figures)
    return results


def tables(results: dict) -> str:
    lines = []
    if "saturation" in results:
        s = results["saturation"]
        lines.append(
            "saturation, |dL/dz| at p = 0.005 with target 1 (confidently wrong): "
            f"MSE {s['mse']['y=1'][0]:.4f}, BCE {s['bce']['y=1'][0]:.4f}"
        )
    for part in ("classification", "binary", "multilabel"):
        if part in results:
            lines.append(f"\n{part}: test accuracy (mean +- std), steps to target per seed")
            for r in results[part]:
                mean, std = 100 * r["final_accuracy_mean"], 100 * r["final_accuracy_std"]
                lines.append(
                    f"  {r['model']:<5} {r['loss']:<12} {mean:6.1f} +- {std:4.1f}%   "
                    f"{r['steps_to_target']}"
                )
    if "regression" in results:
        lines.append("\nregression: clean test MSE (mean over seeds) by outlier fraction")
        fractions = results["regression"][0]["outlier_fractions"]
        lines.append("  loss  " + "".join(f"{100 * f:>10.0f}%" for f in fractions))
        for r in results["regression"]:
            lines.append(
                f"  {r['loss']:<6}" + "".join(f"{m:>11.4f}" for m in r["clean_test_mse_mean"])
            )
    if "anchor" in results:
        lines.append("\nanchor: MNIST-1D test accuracy, cross-entropy, against the published")
        for r in results["anchor"]:
            mean, std = 100 * r["test_accuracy_mean"], 100 * r["test_accuracy_std"]
            lines.append(
                f"  {r['model']:<9} {mean:5.1f} +- {std:4.1f}%  published "
                f"{100 * r['published']:.0f}%  gap {r['gap_points']:+.1f} points"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    cli.main(
        run, str(Path(__file__).parent / "configs" / "compare_losses.py"), "runs/compare_losses"
    )
