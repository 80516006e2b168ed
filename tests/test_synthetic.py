"""The synthetic tasks' structure and baselines, checked on generated batches."""

import jax
import numpy as np
import pytest

from nets.data.synthetic import (
    ADDING_BASELINE_MSE,
    adding_problem,
    copy_task,
    copy_task_baseline,
)


def test_adding_problem_structure_and_baseline():
    batch = adding_problem(jax.random.key(0), 20_000, 50)
    inputs, targets = np.asarray(batch["inputs"]), np.asarray(batch["targets"])
    values, markers = inputs[..., 0], inputs[..., 1]
    assert inputs.shape == (20_000, 50, 2) and targets.shape == (20_000,)
    assert np.all((values >= 0) & (values < 1))
    np.testing.assert_array_equal(markers[:, :25].sum(axis=1), 1)  # one marker in each half
    np.testing.assert_array_equal(markers[:, 25:].sum(axis=1), 1)
    np.testing.assert_allclose(targets, (values * markers).sum(axis=1), rtol=1e-6)
    # predicting 1 always: MSE = Var(u_a + u_b) = 1/6
    np.testing.assert_allclose(np.mean((targets - 1.0) ** 2), ADDING_BASELINE_MSE, rtol=0.03)


@pytest.mark.parametrize("length", [1, 0, -5, 2.5])
def test_adding_problem_rejects_lengths_below_two(length):
    with pytest.raises(ValueError, match="length must be an integer >= 2"):
        adding_problem(jax.random.key(0), 4, length)


def test_copy_task_structure_and_baseline():
    delay = 15
    batch = copy_task(jax.random.key(1), 64, delay)
    inputs, targets = np.asarray(batch["inputs"]), np.asarray(batch["targets"])
    assert inputs.shape == targets.shape == (64, delay + 20)
    symbols = inputs[:, :10]
    assert np.all((symbols >= 1) & (symbols <= 8))
    assert np.all(inputs[:, 10 : 10 + delay - 1] == 0)
    assert np.all(inputs[:, 10 + delay - 1] == 9)
    assert np.all(inputs[:, 10 + delay :] == 0)
    assert np.all(targets[:, : delay + 10] == 0)
    np.testing.assert_array_equal(targets[:, delay + 10 :], symbols)
    # memoryless: blanks are certain, each of the 10 recalled symbols costs ln 8
    np.testing.assert_allclose(copy_task_baseline(delay), 10 * np.log(8) / (delay + 20))
    with pytest.raises(ValueError, match="delay must be a positive integer, got 0"):
        copy_task(jax.random.key(1), 4, 0)


def test_copy_recall_scores_the_last_ten_steps_only():
    """Targets: blanks, then 10 symbols; logits pick the right symbol at 7 of the 10 recalled
    steps and the wrong one everywhere before them, which does not count."""
    from nets.data.synthetic import copy_recall

    targets = np.zeros((1, 25), np.int32)
    targets[0, -10:] = np.arange(1, 11) % 8 + 1
    picked = targets.copy()
    picked[0, :15] = 5  # wrong before the recall: not scored
    picked[0, -3:] = (picked[0, -3:] % 8) + 1  # 3 recalled symbols wrong
    logits = np.eye(10)[picked]
    assert float(copy_recall(logits, targets)) == pytest.approx(0.7)
