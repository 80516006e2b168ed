"""Vanishing gradients across sequence lengths (the README's main experiment).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients
    python -m experiments.vanishing_gradients --workdir runs/vg_full \
        --config experiments/configs/vanishing_gradients.py:full
    python -m experiments.vanishing_gradients --workdir runs/vg --config.seeds=5

Profiles: 'quick' (default; a 2-core CPU in under a minute), 'full' (sized for an
accelerator: more seeds, wider cells, longer training), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import new_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile)
    config.cells = ("tanh", "irnn", "lstm", "gru")
    config.lengths = (10, 25, 50, 100, 200, 500, 1000)
    config.seeds = 3
    # Rematerialise each step in backpropagation through time (memory for recompute).
    config.remat = False
    config.hidden_size = 32
    config.batch_size = 32  # examples in the batch whose gradients are measured
    config.train_batch_size = 32
    config.train_steps = 50  # the "short training" on the adding problem
    # Train once at this T and measure the trained network at every T; 0: train at each T.
    config.train_length = 100
    config.learning_rate = 1e-3
    config.clip_norm = 1.0
    # tanh RNNs with W_h = sigma * Q (Q orthogonal): vanishing below 1, exploding above.
    config.spectral_norms = (0.5, 0.9, 1.0, 1.1, 1.5)
    config.spectral_length = 100
    # Gradients at T = 1000 fall below float32's smallest number; measure them in float64.
    config.measure_dtype = "float64"
    # About 40 small programs, each run briefly: on a CPU compiling them dominates, so skip
    # XLA's expensive optimisations (same numbers, 79 s -> 64 s for this profile on 2 cores).
    config.fast_compile = True
    if profile == "full":
        config.seeds = 10
        config.hidden_size = 128
        config.batch_size = 128
        config.train_batch_size = 128
        config.train_steps = 1000
        config.train_length = 0
        config.fast_compile = False  # long runs on an accelerator: optimise fully
    elif profile == "tiny":
        config.cells = ("tanh", "lstm")
        config.lengths = (5, 12)
        config.seeds = 2
        config.hidden_size = 8
        config.batch_size = 4
        config.train_batch_size = 4
        config.train_steps = 3
        config.train_length = 0
        config.spectral_norms = (0.5, 1.5)
        config.spectral_length = 10
    return config
