"""The adding-problem experiment end to end on a tiny config."""

import json

import numpy as np
import pytest

from experiments import adding_problem
from experiments.configs.adding_problem import get_config
from nets.data.synthetic import ADDING_BASELINE_MSE


@pytest.mark.slow
def test_tiny_run_writes_learning_curves_and_a_consistent_table(tmp_path):
    config = get_config("tiny")
    adding_problem.run(config, str(tmp_path))
    assert (tmp_path / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "results.json").read_text())
    runs = results["runs"]
    assert {(r["cell"], r["length"]) for r in runs} == {("tanh", 6), ("lstm", 6)}
    for r in runs:
        assert r["steps"] == [0, 3, 6]  # evaluated before training and every eval_every steps
        assert r["final_test_mse"] == r["test_mse"][-1]
        assert r["best_test_mse"] == min(r["test_mse"])
        solved = [s for s, m in zip(r["steps"], r["test_mse"], strict=True) if m < 0.01]
        assert r["solved_at_step"] == (solved[0] if solved else None)
    for row in results["table"]:
        mine = [r["final_test_mse"] for r in runs if r["cell"] == row["cell"]]
        np.testing.assert_allclose(row["final_test_mse_mean"], np.mean(mine))
        assert row["baseline_mse"] == ADDING_BASELINE_MSE


def test_training_lowers_the_loss_of_an_lstm():
    config = get_config("tiny")
    config.update({"num_steps": 60, "eval_every": 60})
    config.optimizer.learning_rate = 1e-2
    (run,) = adding_problem.train_cell(adding_problem.cell_group(config, "lstm", 6), 0.01)
    assert run["test_mse"][-1] < 0.5 * run["test_mse"][0]
