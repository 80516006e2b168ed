"""A sweep group in the training dialect: built by name with the run driver's builders, drawn
from the registered data sets, summarised per seed."""

import jax
import numpy as np
import optax
import pytest

from experiments.configs import optimizer_config, sweep_config, vary
from nets.data.digits import load_digits
from nets.data.pixels import fixed_permutation
from nets.data.registry import load_split
from nets.data.synthetic import adding_problem, copy_task
from nets.models import get_model
from nets.training import objectives
from nets.training.config import build_sweep
from nets.training.sweep import evaluate_on, loss_spikes, seed_curves, sweep, sweep_group


def group(data="adding_problem/t6", model="many_to_one", **fields):
    config = sweep_config(data, model, test_size=16, hidden_size=4)
    config.update(dict(batch_size=8, num_steps=4, eval_every=2, seeds=2), **fields)
    return config


def test_a_generated_task_is_drawn_by_its_name_and_tested_on_its_own_key():
    parts = build_sweep(vary(group(), data__name="copy_task/t7", model__name="many_to_many"))
    expected = copy_task(jax.random.key(20_000 + 7), 16, 7)
    jax.tree.map(np.testing.assert_array_equal, parts.test_set, expected)
    drawn = parts.sample_batch(jax.random.key(5), None)
    jax.tree.map(np.testing.assert_array_equal, drawn, copy_task(jax.random.key(5), 8, 7))
    assert parts.train_sets is None and parts.model.num_tokens == 10  # the data set's tokens
    parts = build_sweep(group())
    np.testing.assert_array_equal(
        parts.test_set["inputs"], adding_problem(jax.random.key(10_006), 16, 6)["inputs"]
    )


def test_a_data_set_made_in_memory_is_sampled_by_rows():
    parts = build_sweep(group("digits8_pixels_permuted", metric="accuracy"))
    digits = load_digits(size=8)
    order = fixed_permutation(64)
    np.testing.assert_array_equal(
        parts.test_set["inputs"], digits["test"]["inputs"].reshape(-1, 64, 1)[:, order]
    )
    assert parts.train_sets["inputs"].shape == (1, len(digits["train"]["targets"]), 64, 1)
    batch = parts.sample_batch(jax.random.key(0), jax.tree.map(lambda a: a[0], parts.train_sets))
    assert batch["inputs"].shape == (8, 64, 1) and parts.model.num_outputs == 10
    # the 32x32 digits LeNet-5 reads, one pixel per step: T = 1,024, the same images
    large = load_split("digits32_pixels_permuted", "test")
    images = load_digits(size=32)["test"]["inputs"]
    np.testing.assert_array_equal(
        large["inputs"], images.reshape(-1, 1024, 1)[:, fixed_permutation(1024)]
    )


def test_a_sweep_group_trains_what_the_same_parts_built_by_hand_train():
    """The group's sweep is the object-level sweep of the same model, objective, optimiser and
    data, bit for bit: building by name changes nothing."""
    config = vary(group(), model__cell="gru")
    config.optimizer = optimizer_config(learning_rate=1e-2, clip_norm=1.0)
    result = sweep_group(config)
    model = get_model("many_to_one", 1, cell="gru", hidden_size=4)
    test_set = adding_problem(jax.random.key(10_006), 16, 6)
    by_hand = sweep(
        model,
        objectives.mse,
        optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
        lambda key, _: adding_problem(key, 8, 6),
        None,
        evaluate_on(test_set, objectives.mse),
        example_input=test_set["inputs"][:1],
        seeds=2,
        num_steps=4,
        eval_every=2,
    )
    np.testing.assert_array_equal(result["metric"], by_hand["metric"])
    np.testing.assert_array_equal(result["train"]["loss"], by_hand["train"]["loss"])
    assert result["steps"] == [0, 2, 4]


def test_several_data_sets_of_one_kind_train_at_once_under_a_loss_of_their_own(data_dir):
    """The regression of the loss comparison: the noisy sine with 0% and 20% outliers on the
    data-set axis, trained with Huber's loss and scored by the data set's MSE; and MNIST-1D,
    prepared on first use, read into memory."""
    changes = dict(data__name=("noisy_sine", "noisy_sine/20"), model__cell="gru", loss="huber")
    parts = build_sweep(vary(group(), **changes))
    clean, corrupted = load_split("noisy_sine", "train"), load_split("noisy_sine/20", "train")
    np.testing.assert_array_equal(parts.train_sets["targets"][0], clean["targets"])
    np.testing.assert_array_equal(parts.train_sets["targets"][1], corrupted["targets"])
    np.testing.assert_array_equal(
        parts.test_set["targets"], load_split("noisy_sine", "test")["targets"]
    )
    z, y = np.array([[0.5], [3.0]], np.float32), np.array([0.0, 0.0], np.float32)
    np.testing.assert_allclose(parts.loss_fn(z, {"targets": y})["loss"], [0.125, 2.5])  # Huber, 1
    result = sweep_group(vary(group(), **changes))
    assert result["metric"].shape == (2, 2, 3)  # [data sets, seeds, evaluations]
    digits = build_sweep(vary(group("mnist1d", "mnist1d_mlp"), data__data_dir=data_dir))
    assert digits.train_sets["inputs"].shape == (1, 4000, 40) and digits.model.num_outputs == 10


def test_a_generated_task_without_a_test_split_trains_only():
    result = sweep_group(vary(group(), data__test_size=0))
    assert "metric" not in result and result["parts"].test_set is None
    assert result["train"]["loss"].shape == (1, 2, 4)  # [data sets, seeds, steps]


def test_seed_curves_summarise_each_seed_by_hand():
    metric = np.array([[[0.5, 0.2, 0.3], [0.9, 0.8, 0.05]]])  # [D=1, seeds=2, E+1=3]
    train = np.arange(8, dtype=float).reshape(1, 2, 4)  # [D, seeds, num_steps]
    result = {"steps": [0, 2, 4], "metric": metric, "train": {"loss": train}}
    first, second = seed_curves(result, eval_every=2, below=0.25)
    np.testing.assert_array_equal(first["train_loss_per_block"], [0.5, 2.5])
    np.testing.assert_array_equal(second["train_loss_per_block"], [4.5, 6.5])
    assert (first["final"], first["best"], first["reached_at_step"]) == (0.3, 0.2, 2)
    assert (second["final"], second["best"], second["reached_at_step"]) == (0.05, 0.05, 4)
    assert seed_curves(result, 2)[0]["reached_at_step"] is None


def test_vary_changes_a_copy_by_dotted_path():
    config = group()
    varied = vary(config, model__cell="gru", data__name="adding_problem/t9", seeds=3)
    assert (varied.model.cell, varied.data.name, varied.seeds) == ("gru", "adding_problem/t9", 3)
    assert (config.model.cell, config.data.name, config.seeds) == ("lstm", "adding_problem/t6", 2)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model__name": "rnn"}, r"config.model: unknown model 'rnn'; valid: alexnet"),
        ({"model__cell": "gru", "model__forget_bias": 3.0}, "cell 'gru' takes no option 'forg"),
        ({"model__hidden_size": 0}, "config.model: LSTMCell hidden_size must be a positive"),
        ({"num_steps": 5}, "config.num_steps 5 must be a multiple of config.eval_every 2"),
        ({"seeds": 0}, "config.seeds must be a positive integer, got 0"),
        ({"batch_size": -1}, "config.batch_size must be a positive integer, got -1"),
        ({"data__test_size": -1}, r"config.data.test_size \(0: no test split, training only\)"),
        ({"data__name": "adding_problem/t1"}, "adding problem length must be an integer >= 2"),
        ({"data__name": "adding_problem/x5"}, "the part after '/' must be t<T>"),
        ({"data__name": ("digits8_pixels", "noisy_sine")}, "must be of one kind made in memo"),
        ({"loss": "hinge"}, "unknown loss 'hinge'; valid: binary_cross_entropy"),
        ({"metric": "accuracy"}, r"unknown config.metric of dataset 'adding_problem/t6' 'acc"),
        ({"optimizer__learning_rate": 0.0}, r"config.optimizer.learning_rate must be a finite"),
    ],
)
def test_a_bad_sweep_group_is_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        build_sweep(vary(group(), **changes))


def test_loss_spikes_count_steps_above_twice_the_median_before_them_and_non_finite_ones():
    loss = np.array(
        [
            [1.0, 1.0, 1.0, 3.0, 1.0, np.nan],  # 3 > 2 x median(1, 1, 1); nan: both spikes
            [4.0, 2.0, 1.0, 2.0, 2.5, 1.0],  # medians 2, 2, 2: nothing above 4
        ]
    )
    np.testing.assert_array_equal(loss_spikes(loss, window=3), [2, 0])
