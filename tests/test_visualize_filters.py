"""The digits data and the "what CNNs learn" experiment on a tiny config."""

import json

import numpy as np
import pytest

from experiments import visualize_filters
from experiments.configs.visualize_filters import get_config
from nets.data.digits import load_digits


def test_digits_are_resized_and_split_reproducibly():
    data = load_digits()
    train, test = data["train"]["inputs"], data["test"]["inputs"]
    assert train.shape == (1438, 32, 32, 1) and test.shape == (359, 32, 32, 1)
    assert train.min() >= 0.0 and train.max() <= 1.0
    assert set(np.unique(data["test"]["targets"])) == set(range(10))
    from sklearn.datasets import load_digits as sklearn_digits

    # the resize keeps each image's mean intensity: bilinear upsampling by 4 of the 8x8 original
    originals = sklearn_digits().images / 16.0
    assert np.isclose(
        np.sort(train.mean(axis=(1, 2, 3))).sum() + np.sort(test.mean(axis=(1, 2, 3))).sum(),
        originals.mean(axis=(1, 2)).sum(),
        rtol=0.02,
    )


def tiny(data_dir, **overrides):
    config = get_config("tiny")
    config.data.data_dir = data_dir
    config.update_from_flattened_dict(overrides)
    return config


@pytest.mark.slow
def test_tiny_run_writes_both_figures(tmp_path, data_dir):
    results = visualize_filters.run(tiny(data_dir), str(tmp_path))
    for name in ("filters.png", "feature_maps.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test"]["accuracy"] == results["final_test_accuracy"]
    assert 0.0 <= saved["final_test_accuracy"] <= 1.0
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").open()]
    assert steps == [2, 4, 6]  # trained by the shared stack, which logs every interval


@pytest.mark.parametrize(
    "override, message",
    [
        ({"num_steps": 0}, "config.num_steps must be a positive integer, got 0"),
        ({"model.name": "alexnet"}, "config.model.name must be 'lenet5', got 'alexnet'"),
        ({"example_index": 359}, "must index the 359 test images, got 359"),
    ],
)
def test_bad_config_is_rejected_before_anything_is_written(tmp_path, data_dir, override, message):
    with pytest.raises(ValueError, match=message):
        visualize_filters.run(tiny(data_dir, **override), str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
