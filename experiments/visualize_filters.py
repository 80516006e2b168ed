"""What CNNs learn: LeNet-5 trained on digits, its first-layer filters and feature maps.

    python -m experiments.visualize_filters --workdir runs/visualize_filters

Trains LeNet-5 (cross-entropy, Adam) on scikit-learn's digits resized to 32x32 with the shared
training stack (the lenet5_digits config of ``experiments.train``), then draws the six 5x5
filters of the first layer (the lecture's "early layers detect edges") and the feature maps of
one test digit after every convolution and pooling layer. Writes filters.png, feature_maps.png
and results.json (final test metrics) beside the run's metrics.jsonl and checkpoints/.
"""

import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import cli
from experiments.plotting import plt, save_run
from nets.data.registry import load_split
from nets.models import get_model
from nets.training import run_driver
from nets.training.config import validate_training
from nets.training.workdir import run_header

MAP_LAYERS = ("conv1_output", "pool1_output", "conv2_output", "pool2_output")


def validate(config: ml_collections.ConfigDict) -> None:
    if config.model.name != "lenet5":
        name = config.model.name
        raise ValueError(
            f"the figures draw LeNet-5's layers: config.model.name must be 'lenet5', got {name!r}"
        )
    if config.example_index < 0:
        raise ValueError(f"config.example_index must be >= 0, got {config.example_index}")
    validate_training(config, jax.device_count())


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
    lenet = get_model("lenet5", num_outputs=10)
    _, state = lenet.apply(params, image[None], mutable=["intermediates"])
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
        axes[row][0].set_title(
            f"{name.removesuffix('_output')} {fmap.shape[0]}x{fmap.shape[1]}x{fmap.shape[2]}",
            fontsize=8,
            loc="left",
        )
    figure.suptitle("Feature maps of one test digit after each layer")
    return figure


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    test = load_split(config.data.name, "test", config.data.data_dir or None)
    if config.example_index >= len(test["targets"]):
        raise ValueError(
            f"config.example_index must index the {len(test['targets'])} test "
            f"images, got {config.example_index}"
        )
    start = time.perf_counter()
    outcome = run_driver.train(config, workdir)  # the shared stack: checkpoints, metrics.jsonl
    workdir = Path(workdir)
    params = {"params": outcome.pop("state").params}
    image = test["inputs"][config.example_index]
    label = int(test["targets"][config.example_index])
    results = {
        **run_header("visualize_filters", config, start),
        **outcome,
        "final_test_accuracy": outcome["test"]["accuracy"],
    }
    print(
        f"LeNet-5 on {config.data.name}: test accuracy {100 * results['final_test_accuracy']:.1f}% "
        f"after {config.num_steps} steps"
    )
    save_run(
        workdir,
        results,
        {
            "filters.png": filters_figure(params),
            "feature_maps.png": feature_maps_figure(params, image, label),
        },
    )
    return results


if __name__ == "__main__":
    cli.main(
        run,
        str(Path(__file__).parent / "configs" / "visualize_filters.py"),
        "runs/visualize_filters",
    )
