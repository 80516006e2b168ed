"""The four sweep experiments refuse a bad config in one line that names the field, before
anything is written: one test over all of them (their configs share the training dialect)."""

import importlib

import pytest

CASES = [
    ("adding_problem", {"lengths": (1,)}, "sequence length T must be an integer >= 2, got 1"),
    ("adding_problem", {"cells": ("lstm", "rnn")}, "unknown cell 'rnn'"),
    (
        "adding_problem",
        {"num_steps": 7},
        "config.num_steps 7 must be a multiple of config.eval_every 3",
    ),
    (
        "adding_problem",
        {"model.hidden_size": 0},
        "config.model: SimpleRNNCell hidden_size must be a positive",
    ),
    (
        "adding_problem",
        {"optimizer.clip_norm": -1.0},
        r"optimizer.clip_norm must be a finite number in \[0, inf\)",
    ),
    (
        "long_memory",
        {"adding.variants": ("lstm_b2",)},
        "unknown variant 'lstm_b2'; valid: exprnn, gru, gru_b1, irnn, lru_ring",
    ),
    ("long_memory", {"copy.lengths": (100, 0)}, "the delay T must be a positive integer, got 0"),
    (
        "long_memory",
        {"pixels.model.hidden_size": 0},
        "config.pixels.model: SimpleRNNCell hidden_size must",
    ),
    (
        "long_memory",
        {"clipping.threshold_factor": -1.0},
        r"threshold_factor must be a finite number in \(0",
    ),
    (
        "long_memory",
        {"clipping.model.recurrent_scale": 0.0},
        "config.clipping.model: cell recurrent_scale",
    ),
    (
        "long_memory",
        {"copy.data.test_size": 0},
        "config.copy.data.test_size must be a positive integer",
    ),
    (
        "long_memory",
        {"forget_gate.lengths": (1, 10)},
        "sequence length T must be an integer >= 2, got 1",
    ),
    ("long_memory", {"parts": ("copy", "memory")}, "unknown part 'memory'"),
    (
        "long_memory",
        {"pixels.optimizer.clip_norm": -1.0},
        "config.pixels.optimizer.clip_norm must be a finite number in \\[0, inf\\)",
    ),
    (
        "vanishing_gradients",
        {"lengths": (10, 0)},
        "sequence length T must be an integer >= 2, got 0",
    ),
    (
        "vanishing_gradients",
        {"cells": ("tanh", "transformer")},
        "unknown cell 'transformer'; valid: exprnn, gru, irnn",
    ),
    ("vanishing_gradients", {"cells": ()}, "empty sweep"),
    (
        "vanishing_gradients",
        {"spectral.norms": (0.5, -1.0)},
        "config.spectral.norms must be positive numbers",
    ),
    ("vanishing_gradients", {"seeds": 0}, "config.seeds must be a positive integer, got 0"),
    (
        "vanishing_gradients",
        {"measure.dtype": "float16"},
        "unknown config.measure.dtype 'float16'; valid: float32",
    ),
    (
        "vanishing_gradients",
        {"train.length": 1},
        r"config.train.length \(0: train at each T\) must be an integer",
    ),
    (
        "compare_losses",
        {"classification.losses": ("hinge",)},
        "unknown loss 'hinge'; valid: sigmoid_bce",
    ),
    (
        "compare_losses",
        {"parts": ("saturation", "speed")},
        "unknown part 'speed'; valid: anchor, binary",
    ),
    (
        "compare_losses",
        {"regression.outlier_fractions": (0.1, 1.0)},
        r"outlier fraction must be in \[0, 1\) in whole percent, got 1.0",
    ),
    (
        "compare_losses",
        {"anchor.models": ("resnet",)},
        "unknown model 'resnet'; valid: mnist1d_cnn",
    ),
    (
        "compare_losses",
        {"mnist1d.model.hidden_size": 0},
        "config.mnist1d.model: MLP hidden_size must be a positive integer, got 0",
    ),
    (
        "compare_losses",
        {"regression.num_steps": 5},
        "config.regression.num_steps 5 must be a multiple of config.regression.eval_every 2",
    ),
    (
        "compare_losses",
        {"mnist1d.optimizer.learning_rate": -1.0},
        "config.mnist1d.optimizer.learning_rate must be",
    ),
]


@pytest.mark.parametrize("experiment, override, message", CASES)
def test_a_bad_config_is_one_error_before_anything_is_written(
    tmp_path, data_dir, experiment, override, message
):
    module = importlib.import_module(f"experiments.{experiment}")
    config = importlib.import_module(f"experiments.configs.{experiment}").get_config("tiny")
    if experiment == "compare_losses":  # its checks read MNIST-1D, prepared here
        config.mnist1d.data.data_dir = data_dir
    config.update_from_flattened_dict(override)
    with pytest.raises(ValueError, match=message):
        module.run(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
