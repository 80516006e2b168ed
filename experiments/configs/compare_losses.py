"""Loss functions compared: saturation, classification, regression with outliers, and the
published MNIST-1D table.

    python -m experiments.compare_losses --workdir runs/compare_losses
    python -m experiments.compare_losses --workdir runs/losses_full \
        --config experiments/configs/compare_losses.py:full

Profiles: 'quick' (default; 1,000 steps per MNIST-1D run, a 2-core CPU in under 5 minutes),
'full' (the published 8,000 steps and 5 seeds for every run), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import new_config, optimizer_config, sweep_config

ConfigDict = ml_collections.ConfigDict


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    c = new_config(profile)
    c.parts = ("saturation", "classification", "binary", "multilabel", "regression", "anchor")
    seeds = ml_collections.FieldReference(3)  # one field for every part: --config.seeds=5
    c.seeds = seeds
    c.saturation = ConfigDict({"points": 199})
    # MNIST-1D runs (classification, binary, multilabel, anchor), a sweep group: the benchmark's
    # Adam at 1e-2, batch 100. model: the MLP, its hidden_size the benchmark's model file's 100
    # units (its training script says 256); the other models are taken with their defaults.
    # data: 'mnist1d' (prepared on first use), 'mnist1d_even' or 'mnist1d_multilabel' per part.
    c.mnist1d = sweep_config("mnist1d", "mnist1d_mlp", hidden_size=100)
    c.mnist1d.update(batch_size=100, num_steps=1000, eval_every=100, metric="accuracy")
    c.mnist1d.seeds = seeds
    c.mnist1d.data.data_dir = ""  # tfds's default
    c.mnist1d.optimizer = optimizer_config(learning_rate=1e-2)
    c.classification = ConfigDict(
        {
            "models": ("mnist1d_mlp", "mnist1d_cnn"),
            "losses": ("softmax_cce", "softmax_mse", "sigmoid_mse"),
            "target_accuracy": 0.8,
        }
    )
    c.binary = ConfigDict({"losses": ("sigmoid_bce", "sigmoid_mse")})
    c.multilabel = ConfigDict({"losses": ("sigmoid_bce", "sigmoid_mse")})
    c.anchor = ConfigDict(
        {
            "models": ("mnist1d_logistic", "mnist1d_mlp", "mnist1d_cnn", "mnist1d_gru"),
            "num_steps": 1000,
        }
    )
    # Regression, a sweep group: a GRU forecasts the next value of the noisy sine
    # ('noisy_sine/P': P% of its training targets outliers), every outlier fraction at once.
    c.regression = sweep_config("noisy_sine", "many_to_one", cell="gru", hidden_size=32)
    c.regression.update(num_steps=500, eval_every=100, batch_size=64)
    c.regression.seeds = seeds
    c.regression.optimizer = optimizer_config(learning_rate=3e-3)
    c.regression.losses = ("mse", "mae", "huber")
    c.regression.outlier_fractions = (0.0, 0.05, 0.1, 0.2, 0.4)
    if profile == "full":
        seeds.set(5)
        c.mnist1d.update(num_steps=8000, eval_every=250)
        c.anchor.num_steps = 8000
        c.regression.num_steps = 3000
    elif profile == "tiny":
        seeds.set(2)
        c.saturation.points = 9
        c.mnist1d.update(num_steps=4, eval_every=2)
        c.classification.models = ("mnist1d_mlp",)
        c.classification.losses = ("softmax_cce", "sigmoid_mse")
        c.anchor.update(models=("mnist1d_logistic", "mnist1d_gru"), num_steps=2)
        c.regression.update(outlier_fractions=(0.0, 0.4), num_steps=4, eval_every=2, batch_size=8)
        c.regression.model.hidden_size = 4
    return c
