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
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm import tqdm

from experiments import cli
from experiments.plotting import plt, save_run
from nets import losses
from nets.checks import check_choice
from nets.data.mnist1d import load_mnist1d
from nets.data.synthetic import noisy_sine, with_outliers
from nets.models import get_model
from nets.models.mnist1d import MODELS
from nets.training import objectives
from nets.training.config import build_optimizer, check_positive_fields
from nets.training.sweep import check_schedule, evaluate_on, sample_rows, sweep
from nets.training.workdir import prepare_workdir, run_header

PARTS = ("saturation", "classification", "binary", "multilabel", "regression", "anchor")
PUBLISHED_ACCURACY = {
    "mnist1d_logistic": 0.32,
    "mnist1d_mlp": 0.68,
    "mnist1d_cnn": 0.94,
    "mnist1d_gru": 0.91,
}


def _dense(targets, logits):
    """Integer labels as one-hot rows; dense targets unchanged."""
    if targets.ndim < logits.ndim:
        return jax.nn.one_hot(targets, logits.shape[-1])
    return targets


# Classification losses, unreduced: ``terms(logits, targets)``; targets are labels or 0/1 arrays.
CLASSIFICATION_LOSSES = {
    "softmax_cce": lambda z, t: losses.categorical_cross_entropy(
        z, t, from_logits=True, reduction="none"
    ),
    "softmax_mse": lambda z, t: losses.mse(jax.nn.softmax(z), _dense(t, z), reduction="none"),
    "sigmoid_mse": lambda z, t: losses.mse(jax.nn.sigmoid(z), _dense(t, z), reduction="none"),
    "sigmoid_bce": lambda z, t: losses.binary_cross_entropy(
        z, _dense(t, z), from_logits=True, reduction="none"
    ),
}
LABEL_LOSSES = ("sigmoid_bce", "sigmoid_mse")  # the binary and multi-label parts'
REGRESSION_LOSSES = ("mse", "mae", "huber")


def regression_loss(name: str, delta: float):
    """The objective of 'mse', 'mae' or 'huber' for a one-output forecaster."""
    pick = {"mse": losses.mse, "mae": losses.mae, "huber": partial(losses.huber, delta=delta)}
    return objectives.from_terms(partial(pick[name], reduction="none"))


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
    if config.regression.huber_delta <= 0:
        raise ValueError(f"huber delta must be positive, got {config.regression.huber_delta}")
    for fraction in config.regression.outlier_fractions:
        if not 0 <= fraction < 1:
            raise ValueError(f"outlier fraction must be in [0, 1), got {fraction}")
    check_positive_fields(config, ("seeds",))
    for group in ("mnist1d", "regression"):
        check_positive_fields(config[group], ("batch_size",), f"config.{group}.")
        check_schedule(config[group].num_steps, config[group].eval_every, f"config.{group}.")
        build_optimizer(
            config[group].optimizer, config[group].num_steps, f"config.{group}.optimizer"
        )
    check_positive_fields(config.mnist1d, ("mlp_hidden_size",), "config.mnist1d.")
    check_schedule(config.anchor.num_steps, config.mnist1d.eval_every, "config.anchor.")


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


def accuracy(logits, targets):
    """Multi-class: argmax against labels; 0/1 targets: per-unit sign of the logit."""
    if targets.ndim < logits.ndim:
        return jnp.mean(jnp.argmax(logits, axis=-1) == targets)
    return jnp.mean((logits > 0) == (targets > 0.5))


def classify(model_name, loss_name, targets, test_targets, config, progress, steps=None) -> dict:
    """Train one model with one loss on MNIST-1D for all seeds; test-accuracy curves."""
    data = load_mnist1d()
    # integer labels [N] -> 10 logits; 0/1 targets [N, units] -> one logit per unit
    options = {"hidden_size": config.mnist1d.mlp_hidden_size} if model_name == "mnist1d_mlp" else {}
    model = get_model(model_name, 10 if targets.ndim == 1 else targets.shape[1], **options)
    test_set = {"inputs": jnp.asarray(data["test"]["inputs"]), "targets": jnp.asarray(test_targets)}
    train_set = {"inputs": data["train"]["inputs"][None], "targets": targets[None]}
    num_steps = steps or config.mnist1d.num_steps
    result = sweep(
        model,
        objectives.from_terms(CLASSIFICATION_LOSSES[loss_name]),
        build_optimizer(config.mnist1d.optimizer, num_steps),
        sample_rows(config.mnist1d.batch_size),
        jax.tree.map(jnp.asarray, train_set),
        lambda state: accuracy(state.apply(test_set)[0], test_set["targets"]),
        example_input=test_set["inputs"][:1],
        seeds=config.seeds,
        num_steps=num_steps,
        eval_every=config.mnist1d.eval_every,
        progress=progress,
    )
    curves = result["metric"][0]  # [seeds, evaluations]
    target = config.classification.target_accuracy
    reached = [
        next((s for s, a in zip(result["steps"], seed, strict=True) if a >= target), None)
        for seed in curves
    ]
    return {
        "model": model_name,
        "loss": loss_name,
        "steps": result["steps"],
        "test_accuracy": curves,
        "final_accuracy_mean": float(curves[:, -1].mean()),
        "final_accuracy_std": float(curves[:, -1].std()),
        "steps_to_target": reached,
    }


def derived_targets(labels: np.ndarray, task: str) -> np.ndarray:
    """0/1 targets from digit labels: 'binary' [N, 1] (even digit); 'multilabel' [N, 3]
    (even, at least 5, prime), so several units can be on at once."""
    even = labels % 2 == 0
    if task == "binary":
        return even[:, None].astype(np.float32)
    return np.stack([even, labels >= 5, np.isin(labels, (2, 3, 5, 7))], 1).astype(np.float32)


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


def regression(config, seeds: int, progress) -> list:
    """Every loss against every outlier fraction (``config``: the regression group): clean test
    MSE [fractions, seeds]."""
    sine = partial(noisy_sine, window=config.window, noise=config.noise)
    train = sine(config.train_size, seed=0, clean_targets=False)
    test_set = jax.tree.map(jnp.asarray, sine(config.test_size, seed=1, clean_targets=True))
    fractions = config.outlier_fractions
    corrupted = [
        with_outliers(train["targets"], f, config.outlier_scale, seed=2) for f in fractions
    ]
    train_sets = {  # one data set per outlier fraction: the sweep trains them all at once
        "inputs": np.broadcast_to(train["inputs"], (len(fractions), *train["inputs"].shape)),
        "targets": np.stack(corrupted),
    }
    model = get_model("many_to_one", 1, cell="gru", hidden_size=config.hidden_size)
    rows = []
    for name in config.losses:
        result = sweep(
            model,
            regression_loss(name, config.huber_delta),
            build_optimizer(config.optimizer, config.num_steps),
            sample_rows(config.batch_size),
            train_sets,
            evaluate_on(test_set, objectives.mse),
            example_input=test_set["inputs"][:1],
            seeds=seeds,
            num_steps=config.num_steps,
            eval_every=config.eval_every,
            progress=progress,
        )
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
    data = load_mnist1d()
    rows = []
    for name in config.anchor.models:
        if reuses_classification(config, name):
            (run,) = [
                r for r in classification_runs if (r["model"], r["loss"]) == (name, "softmax_cce")
            ]
        else:
            labels, test_labels = data["train"]["targets"], data["test"]["targets"]
            run = classify(
                name, "softmax_cce", labels, test_labels, config, progress, config.anchor.num_steps
            )
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
    data = load_mnist1d() if parts - {"saturation", "regression"} else None
    with tqdm(
        total=planned_steps(config), desc="training steps", unit="step", file=sys.stderr
    ) as progress:
        if "saturation" in parts:
            results["saturation"] = saturation(config)
            figures["saturation.png"] = saturation_figure(results["saturation"])
        classification_runs = []
        if "classification" in parts:
            labels, test_labels = data["train"]["targets"], data["test"]["targets"]
            classification_runs = [
                classify(m, loss, labels, test_labels, config, progress)
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
                targets = derived_targets(data["train"]["targets"], task)
                test_targets = derived_targets(data["test"]["targets"], task)
                task_runs = [
                    dict(
                        classify("mnist1d_mlp", loss, targets, test_targets, config, progress),
                        task=task,
                    )
                    for loss in config[task].losses
                ]
                results[task] = task_runs
                labelled += task_runs
        if labelled:
            figures["binary_multilabel.png"] = curves_figure(
                labelled, "task", "MNIST-1D, sigmoid outputs (per-unit accuracy)"
            )
        if "regression" in parts:
            results["regression"] = regression(config.regression, config.seeds, progress)
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
