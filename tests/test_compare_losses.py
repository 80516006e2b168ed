"""The loss-comparison experiment: closed-form gradients, its data, and a tiny run of each part."""

import json

import jax
import numpy as np
import pytest

from experiments import compare_losses as cl
from experiments.configs.compare_losses import get_config
from nets.data.mnist1d import derived_targets, load_mnist1d
from nets.data.registry import load_split
from nets.data.synthetic import NOISY_SINE, noisy_sine, with_outliers
from nets.training import objectives


def test_saturation_gradients_match_the_closed_forms():
    result = cl.saturation(get_config("tiny"))
    p = result["p"]
    for y in (1, 0):
        np.testing.assert_allclose(
            result["mse"][f"y={y}"], np.abs(2 * (p - y) * p * (1 - p)), rtol=2e-4, atol=1e-7
        )
        np.testing.assert_allclose(result["bce"][f"y={y}"], np.abs(p - y), rtol=2e-4, atol=1e-7)
    # confidently wrong (p = 0.005, y = 1): MSE's gradient is ~0.01, BCE's ~1
    assert result["mse"]["y=1"][0] < 0.011 and result["bce"]["y=1"][0] > 0.99


def test_classification_losses_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=6)
    one_hot = np.eye(10)[labels]
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    sigmoid = 1 / (1 + np.exp(-logits))
    batch = {"targets": labels}

    def per_example(name):  # the objective the sweep trains with: each example's mean term
        objective = objectives.get_objective(cl.OBJECTIVE.get(name, name))
        return objective(logits, batch)["loss"]

    np.testing.assert_allclose(
        per_example("softmax_mse"), np.mean((softmax - one_hot) ** 2, axis=1), rtol=1e-5
    )
    np.testing.assert_allclose(
        per_example("sigmoid_mse"), np.mean((sigmoid - one_hot) ** 2, axis=1), rtol=1e-5
    )
    bce = -np.mean(one_hot * np.log(sigmoid) + (1 - one_hot) * np.log(1 - sigmoid), axis=1)
    np.testing.assert_allclose(per_example("sigmoid_bce"), bce, rtol=1e-5)
    np.testing.assert_allclose(
        per_example("softmax_cce"), -np.log(softmax[np.arange(6), labels]), rtol=1e-5
    )
    # the regression losses, one output against scalar targets: |e|, and Huber's with delta 1
    z, y = np.array([[0.5], [-3.0]], np.float32), np.array([0.0, 0.0], np.float32)
    mae, huber = (objectives.get_objective(n)(z, {"targets": y})["loss"] for n in ("mae", "huber"))
    np.testing.assert_allclose(mae, [0.5, 3.0])
    np.testing.assert_allclose(huber, [0.125, 2.5])


def test_derived_targets():
    labels = np.arange(10)
    np.testing.assert_array_equal(derived_targets(labels, "even")[:, 0], labels % 2 == 0)
    multi = derived_targets(labels, "multilabel")
    np.testing.assert_array_equal(multi[7], [0, 1, 1])  # odd, >= 5, prime
    np.testing.assert_array_equal(multi[2], [1, 0, 1])
    np.testing.assert_array_equal(multi[8], [1, 1, 0])
    even = load_split("mnist1d_even", "test")
    np.testing.assert_array_equal(even["targets"][:, 0], load_mnist1d()["test"]["targets"] % 2 == 0)


def test_outliers_replace_exactly_the_fraction_asked():
    targets = np.linspace(-1, 1, 200).astype(np.float32)
    corrupted = with_outliers(targets, 0.1, 10.0, seed=0)
    changed = corrupted != targets
    assert changed.sum() == 20
    assert np.all((np.abs(corrupted[changed]) >= 5) & (np.abs(corrupted[changed]) <= 10))
    np.testing.assert_array_equal(with_outliers(targets, 0.0, 10.0, seed=0), targets)


def test_noisy_sine_test_targets_are_clean():
    window, noise = NOISY_SINE["window"], NOISY_SINE["noise"]
    clean = noisy_sine(50, window, noise, seed=1, clean_targets=True)
    x, y = clean["inputs"], clean["targets"]
    assert x.shape == (50, window, 1) and y.shape == (50,)
    assert np.all(np.abs(y) <= 1.0)  # a noiseless sine
    noisy = noisy_sine(50, window, noise, seed=1, clean_targets=False)["targets"]
    assert 0.5 * noise < np.std(noisy - y) < 2 * noise
    # the registered sets: the same training inputs, 20% of the targets replaced
    clean, corrupted = (load_split(n, "train") for n in ("noisy_sine", "noisy_sine/20"))
    np.testing.assert_array_equal(clean["inputs"], corrupted["inputs"])
    assert np.mean(clean["targets"] != corrupted["targets"]) == 0.2
    assert cl.outlier_sets((0.0, 0.05, 0.4)) == ("noisy_sine", "noisy_sine/5", "noisy_sine/40")


@pytest.mark.parametrize(
    "parts",
    [("saturation", "classification"), ("binary", "multilabel"), ("regression",), ("anchor",)],
)
@pytest.mark.slow
def test_tiny_run_of_each_part(tmp_path, data_dir, parts):
    config = get_config("tiny")
    config.parts = parts
    config.mnist1d.data.data_dir = data_dir
    cl.run(config, str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    for part in ("classification", "binary", "multilabel"):
        for r in results.get(part, []):
            curves = np.asarray(r["test_accuracy"])
            evaluations = config.mnist1d.num_steps // config.mnist1d.eval_every + 1
            assert curves.shape == (config.seeds, evaluations)
            np.testing.assert_allclose(r["final_accuracy_mean"], curves[:, -1].mean())
            for seed, reached in zip(curves, r["steps_to_target"], strict=True):
                hits = [s for s, a in zip(r["steps"], seed, strict=True) if a >= 0.8]
                assert reached == (hits[0] if hits else None)
    for r in results.get("regression", []):
        assert np.asarray(r["clean_test_mse"]).shape == (2, config.seeds)  # fractions x seeds
    for r in results.get("anchor", []):
        assert r["gap_points"] == pytest.approx(100 * (r["test_accuracy_mean"] - r["published"]))
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    expected = {
        ("saturation", "classification"): ["classification.png", "saturation.png"],
        ("binary", "multilabel"): ["binary_multilabel.png"],
        ("regression",): ["regression.png"],
        ("anchor",): [],
    }
    assert pngs == expected[parts]


def test_mnist1d_is_generated_with_the_default_split():
    from nets.data.mnist1d import load_mnist1d

    data = load_mnist1d()
    assert data["train"]["inputs"].shape == (4000, 40)
    assert data["test"]["inputs"].shape == (1000, 40)
    assert set(np.unique(data["train"]["targets"])) == set(range(10))
    assert jax.numpy.asarray(data["train"]["targets"]).dtype == np.int32
