"""Loss functions compared: saturation, classification, regression with outliers, and the
published MNIST-1D table.

    python -m experiments.compare_losses --workdir runs/compare_losses
    python -m experiments.compare_losses --workdir runs/losses_full \
        --config experiments/configs/compare_losses.py:full

Profiles: 'quick' (default; 1,000 steps per MNIST-1D run, a 2-core CPU in under 5 minutes),
'full' (the published 8,000 steps and 5 seeds for every run), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import new_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    c = new_config(profile)
    c.parts = ("saturation", "classification", "binary", "multilabel", "regression", "anchor")
    c.seeds = 3
    c.saturation_points = 199
    # MNIST-1D runs: the benchmark's Adam at 1e-2, batch 100.
    c.learning_rate = 1e-2
    c.batch_size = 100
    c.steps = 1000
    c.eval_every = 100
    c.classification_models = ("mlp", "cnn")
    c.classification_losses = ("softmax_cce", "softmax_mse", "sigmoid_mse")
    c.target_accuracy = 0.8
    c.binary_losses = ("sigmoid_bce", "sigmoid_mse")
    c.multilabel_losses = ("sigmoid_bce", "sigmoid_mse")
    c.anchor_models = ("logistic", "mlp", "cnn", "gru")
    c.anchor_steps = 1000
    # Regression: forecast the next value of a noisy sine with a GRU.
    c.regression_losses = ("mse", "mae", "huber")
    c.huber_delta = 1.0
    c.outlier_fractions = (0.0, 0.05, 0.1, 0.2, 0.4)
    c.outlier_scale = 10.0
    c.regression_window = 20
    c.regression_hidden = 32
    c.regression_train_size = 2000
    c.regression_test_size = 1000
    c.regression_noise = 0.1
    c.regression_steps = 500
    c.regression_eval_every = 100
    c.regression_batch_size = 64
    c.regression_learning_rate = 3e-3
    if profile == "full":
        c.seeds = 5
        c.steps = 8000
        c.eval_every = 250
        c.anchor_steps = 8000
        c.regression_steps = 3000
    elif profile == "tiny":
        c.seeds = 2
        c.saturation_points = 9
        c.steps = 4
        c.eval_every = 2
        c.classification_models = ("mlp",)
        c.classification_losses = ("softmax_cce", "sigmoid_mse")
        c.anchor_models = ("logistic", "gru")
        c.anchor_steps = 2
        c.outlier_fractions = (0.0, 0.4)
        c.regression_hidden = 4
        c.regression_train_size = 32
        c.regression_test_size = 16
        c.regression_steps = 4
        c.regression_eval_every = 2
        c.regression_batch_size = 8
    return c
