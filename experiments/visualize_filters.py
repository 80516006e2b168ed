"""What CNNs learn: LeNet-5 trained on digits, its first-layer filters and feature maps.

    python -m experiments.visualize_filters --workdir runs/visualize_filters

Trains LeNet-5 (cross-entropy, Adam) on scikit-learn's digits resized to 32x32, then draws the
six 5x5 filters of the first layer (the lecture's "early layers detect edges") and the feature
maps of one test digit after every convolution and pooling layer. Writes filters.png,
feature_maps.png and results.json (test accuracy curve) into --workdir.
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm import tqdm

from experiments import cli
from experiments.plotting import plt
from nets import losses
from nets.cnn import LeNet5
from nets.data.digits import load_digits
from nets.results import prepare_workdir, run_header, save_run
from nets.training.fit import check_schedule, fit, sample_rows

MAP_LAYERS = ("conv1_output", "pool1_output", "conv2_output", "pool2_output")


def validate(config: ml_collections.ConfigDict) -> None:
    if config.batch_size < 1:
        raise ValueError(f"config.batch_size must be at least 1, got {config.batch_size}")
    check_schedule(config.steps, config.eval_every, ("config.steps", "config.eval_every"))
    if not 0 <= config.example_index < len(load_digits()["y_test"]):
        raise ValueError(f"config.example_index must index the {len(load_digits()['y_test'])} "
                         f"test digits, got {config.example_index}")  # fmt: skip


def train(config, progress) -> tuple[dict, dict]:
    data = load_digits()
    model = LeNet5()
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])

    result = fit(
        model,
        lambda logits, labels: losses.categorical_cross_entropy(logits, labels, from_logits=True),
        optax.adam(config.learning_rate),
        sample_rows(config.batch_size),
        {"x": jnp.asarray(data["x"])[None], "targets": jnp.asarray(data["y"])[None]},
        lambda p: jnp.mean(jnp.argmax(model.apply(p, x_test), -1) == y_test),
        example_input=x_test[:1],
        seeds=1,
        num_steps=config.steps,
        eval_every=config.eval_every,
        progress=progress,
    )
    params = jax.tree.map(lambda a: a[0, 0], result["params"])
    curve = {"steps": result["steps"], "test_accuracy": result["metric"][0, 0]}
    return params, curve


def filters_figure(params):
    kernel = np.asarray(params["params"]["conv1"]["conv"]["kernel"])[:, :, 0, :]  # [5, 5, 6]
    figure, axes = plt.subplots(1, kernel.shape[-1], figsize=(2 * kernel.shape[-1], 2.3))
    for i, ax in enumerate(axes):
        limit = np.abs(kernel[..., i]).max()
        ax.imshow(kernel[..., i], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"filter {i + 1}")
        ax.axis("off")
    figure.suptitle("LeNet-5 first-layer 5x5 filters after training (red +, blue -)")
    return figure


def feature_maps_figure(params, image, label):
    _, state = LeNet5().apply(params, image[None], mutable=["intermediates"])
    maps = {name: np.asarray(state["intermediates"][name][0][0]) for name in MAP_LAYERS}
    columns = max(m.shape[-1] for m in maps.values())
    figure, axes = plt.subplots(len(maps) + 1, columns, figsize=(columns * 1.1, 1.3 * 5))
    for ax in axes.ravel():
        ax.axis("off")
    axes[0][0].imshow(image[..., 0], cmap="gray")
    axes[0][0].set_title(f"input ({label})", fontsize=8)
    for row, (name, fmap) in enumerate(maps.items(), start=1):
        for channel in range(fmap.shape[-1]):
            axes[row][channel].imshow(fmap[..., channel], cmap="viridis")
        axes[row][0].set_title(f"{name.removesuffix('_output')} {fmap.shape[0]}x{fmap.shape[1]}"
                               f"x{fmap.shape[2]}", fontsize=8, loc="left")  # fmt: skip
    figure.suptitle("Feature maps of one test digit after each layer")
    return figure


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    workdir = prepare_workdir(workdir)
    start = time.perf_counter()
    with tqdm(total=config.steps, desc="training steps", unit="step", file=sys.stderr) as bar:
        params, curve = train(config, bar)
    data = load_digits()
    image, label = data["x_test"][config.example_index], int(data["y_test"][config.example_index])
    results = {**run_header("visualize_filters", config, start), **curve,
               "final_test_accuracy": float(curve["test_accuracy"][-1])}  # fmt: skip
    print(f"LeNet-5 on digits: test accuracy {100 * results['final_test_accuracy']:.1f}% after "
          f"{config.steps} steps")  # fmt: skip
    save_run(workdir, results, {
        "filters.png": filters_figure(params),
        "feature_maps.png": feature_maps_figure(params, image, label),
    })  # fmt: skip
    return results


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "visualize_filters.py"),
             "runs/visualize_filters")  # fmt: skip
