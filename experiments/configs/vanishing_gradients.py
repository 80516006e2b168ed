"""Vanishing gradients across sequence lengths (the README's main experiment).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients
    python -m experiments.vanishing_gradients --workdir runs/vg_full \
        --config experiments/configs/vanishing_gradients.py:full
    python -m experiments.vanishing_gradients --workdir runs/vg --config.seeds=5

Profiles: 'quick' (default; a 2-core CPU in about a minute), 'full' (sized for an accelerator:
more seeds, wider cells, longer training), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import model_config, new_config, optimizer_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile)
    config.cells = ("tanh", "irnn", "lstm", "gru", "exprnn", "lru")
    config.lengths = (10, 25, 50, 100, 200, 500, 1000)
    config.seeds = 3
    # each cell's many-to-one model (model.cell varied over cells); remat: recompute the forward
    # pass in sqrt(T)-step chunks in backpropagation through time (memory for recompute)
    config.model = model_config("many_to_one", hidden_size=32)
    # The gradients are measured on a batch of the adding problem; at T = 1000 they fall below
    # float32's smallest number, so they are measured in float64.
    config.measure = ml_collections.ConfigDict({"batch_size": 32, "dtype": "float64"})
    # The "short training" on the adding problem: at this length, then measured at every T
    # (length 0: train at each T).
    # Its sweep runs long enough for XLA's optimisations to pay (fast_compile False).
    config.train = ml_collections.ConfigDict(
        {"num_steps": 50, "batch_size": 32, "length": 100, "fast_compile": False}
    )
    config.optimizer = optimizer_config(learning_rate=1e-3, clip_norm=1.0)
    # tanh RNNs with W_h = sigma * Q (Q orthogonal): vanishing below 1, exploding above.
    config.spectral = ml_collections.ConfigDict({"norms": (0.5, 0.9, 1.0, 1.1, 1.5), "length": 100})
    # About 40 small programs, each run briefly: on a CPU compiling them dominates, so skip
    # XLA's expensive optimisations (same numbers, 79 s -> 64 s for this profile on 2 cores).
    config.fast_compile = True
    if profile == "full":
        config.seeds = 10
        config.model.hidden_size = 128
        config.measure.batch_size = 128
        config.train.update(num_steps=1000, batch_size=128, length=0)
        config.fast_compile = False  # long runs on an accelerator: optimise fully
    elif profile == "tiny":
        config.cells = ("tanh", "lstm", "lru")
        config.lengths = (5, 12)
        config.seeds = 2
        config.model.hidden_size = 8
        config.measure.batch_size = 4
        config.train.update(num_steps=3, batch_size=4, length=0, fast_compile=True)
        config.spectral.update(norms=(0.5, 1.5), length=10)
    return config
