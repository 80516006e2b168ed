"""The long-memory experiment on its tiny config (one run shared by the tests), gradient
clipping against hand arithmetic, and its bad input."""

import json
import math

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from experiments import long_memory
from experiments.configs.long_memory import get_config
from nets.training.config import build_optimizer


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("long_memory")
    config = get_config("tiny")
    long_memory.run(config, str(workdir))
    return config, workdir, json.loads((workdir / "results.json").read_text())


@pytest.mark.slow
def test_every_part_writes_its_figure(tiny_run):
    _, workdir, results = tiny_run
    for name in ("forget_gate", "adding", "clipping", "memory_length", "longest_solved"):
        assert (workdir / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert set(long_memory.PARTS) <= results.keys()


@pytest.mark.slow
def test_chrono_keeps_more_gradient_at_initialisation_than_a_forget_bias_of_one(tiny_run):
    """Chrono's forget biases are log(u), u ~ U[1, T_max - 1]: mostly above 1, and its input
    gates start nearly shut, so C_t carries more of the gradient back."""
    _, _, results = tiny_run
    longest = {
        r["variant"]: r["init"]["c"]["ratio_geometric_mean"]
        for r in results["forget_gate"]
        if r["length"] == 12
    }
    assert longest["lstm_chrono"] > longest["lstm_b1"] > 0


@pytest.mark.slow
def test_the_longest_solved_length_follows_from_the_runs(tiny_run):
    config, _, results = tiny_run
    runs = results["adding"]["runs"]
    for name, longest in results["adding"]["longest_solved"].items():
        solved = [
            t
            for t in config.adding.lengths
            if np.mean(
                [r["final_test_mse"] for r in runs if (r["variant"], r["length"]) == (name, t)]
            )
            < config.adding.solved_mse
        ]
        assert longest == (max(solved) if solved else None)
    assert {r["variant"] for r in runs} == set(config.adding.variants)


@pytest.mark.slow
def test_clipped_and_unclipped_runs_start_alike_and_clip_at_the_median_norm(tiny_run):
    config, _, results = tiny_run
    plain, clipped = results["clipping"]["runs"]
    norms = np.asarray(plain["grad_norm"])
    threshold = config.clipping.threshold_factor * np.median(norms)
    assert results["clipping"]["threshold"] == pytest.approx(threshold)
    assert (plain["clip_norm"], clipped["clip_norm"]) == (0.0, pytest.approx(threshold))
    # the same initialisation and first batch: the first gradients are the same
    np.testing.assert_allclose(np.asarray(clipped["grad_norm"])[:, 0], norms[:, 0], rtol=1e-5)
    assert np.asarray(plain["loss"]).shape == (config.clipping.seeds, config.clipping.num_steps)


@pytest.mark.slow
def test_copy_rows_carry_the_memoryless_baseline(tiny_run):
    config, _, results = tiny_run
    rows = results["copy"]
    assert [(r["cell"], r["variant"], r["length"]) for r in rows] == [("lstm", "lstm_b1", 5)]
    for r in rows:
        assert r["baseline"] == pytest.approx(10 * math.log(8) / (r["length"] + 20))
        assert r["final_test_loss_mean"] == pytest.approx(
            np.mean(np.asarray(r["test_loss"])[:, -1])
        )
        recalled = np.asarray(r["recall_accuracy"])
        assert recalled.shape == (config.seeds,) and np.all((0 <= recalled) & (recalled <= 1))
        assert r["recall_accuracy_mean"] == pytest.approx(recalled.mean())
    pixels = {(r["cell"], r["order"]) for r in results["pixels"]}
    assert pixels == {("tanh", "plain"), ("tanh", "permuted")}


def test_the_variants_options_of_t_max():
    """chrono's T_max and the LRU's ring 1 - 10 / T_max <= |lambda| <= 1 - 0.1 / T_max."""
    assert long_memory.variant("lstm_chrono", 300) == ("lstm", {"chrono": 300})
    cell, ring = long_memory.variant("lru_ring", 1000)
    assert cell == "lru"
    assert ring == {"r_min": pytest.approx(0.99), "r_max": pytest.approx(0.9999)}
    assert long_memory.variant("exprnn", 1000) == ("exprnn", {})


def test_the_longest_solved_t_per_task_reads_each_tasks_own_threshold():
    config = get_config("tiny")  # solved: recall >= 0.99, accuracy >= 0.9, MSE < 0.01

    def copy_row(name, t, recall):
        return {"variant": name, "length": t, "recall_accuracy_mean": recall}

    def pixel_row(name, order, accuracy):
        return {"variant": name, "order": order, "length": 64, "final_accuracy_mean": accuracy}

    results = {
        "adding": {"longest_solved": {"lstm": 200, "tanh": None}},
        "copy": [
            copy_row("lru_ring", 100, 1.0),
            copy_row("lru_ring", 1000, 0.995),
            copy_row("lstm", 100, 0.989),
            copy_row("lstm", 1000, 0.12),
        ],
        "pixels": [
            pixel_row("lstm", "plain", 0.93),
            pixel_row("lstm", "permuted", 0.899),
            pixel_row("lru_ring", "plain", 0.95),
            pixel_row("lru_ring", "permuted", 0.91),
        ],
    }
    assert long_memory.longest_solved(results, config) == {
        "adding": {"lstm": 200, "tanh": 0},
        "copy": {"lru_ring": 1000, "lstm": 0},
        "pixels, plain": {"lstm": 64, "lru_ring": 64},
        "pixels, permuted": {"lstm": 0, "lru_ring": 64},
    }


def test_clipping_keeps_small_gradients_and_scales_large_ones_to_the_threshold():
    group = ml_collections.ConfigDict(
        dict(
            name="sgd",
            learning_rate=1.0,
            schedule="constant",
            momentum=0.0,
            weight_decay=0.0,
            clip_norm=5.0,
        )
    )
    sgd = build_optimizer(group, num_steps=1)
    params = {"w": jnp.zeros(2)}
    small, large = {"w": jnp.array([3.0, 0.0])}, {"w": jnp.array([30.0, 40.0])}  # norms 3, 50
    step = lambda grads: sgd.update(grads, sgd.init(params), params)[0]["w"]  # noqa: E731
    np.testing.assert_allclose(step(small), [-3.0, 0.0])  # below 5: the plain SGD step
    np.testing.assert_allclose(step(large), [-3.0, -4.0], rtol=1e-6)  # 50 -> 5, same direction
    assert float(optax.tree.norm(step(large))) == pytest.approx(5.0)


@pytest.mark.slow
def test_a_part_run_with_the_same_settings_is_kept_and_a_changed_one_reruns(tmp_path, capsys):
    config = get_config("tiny")
    config.parts = ("copy",)
    first = long_memory.run(config, str(tmp_path))
    config.parts = ("pixels",)
    second = long_memory.run(config, str(tmp_path))
    assert "kept from" in capsys.readouterr().out
    assert second["settings"]["parts"] == ("copy", "pixels")
    assert second["copy"][0]["test_loss"] == np.asarray(first["copy"][0]["test_loss"]).tolist()
    assert set(second["longest_solved"]) == {"copy", "pixels, plain", "pixels, permuted"}
    assert second["part_seconds"]["copy"] == first["part_seconds"]["copy"] > 0  # kept
    config.parts = ("copy",)
    config.copy.num_steps = 2  # changed settings: the copy part runs again, pixels are kept
    third = long_memory.run(config, str(tmp_path))
    assert list(third["copy"][0]["steps"]) == [0, 2] and "pixels" in third
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["copy"][0]["steps"] == [0, 2]
