"""The adding problem: which recurrent cells learn a dependency T steps back.

    python -m experiments.adding_problem --workdir runs/adding_problem
    python -m experiments.adding_problem --workdir runs/adding_full \
        --config experiments/configs/adding_problem.py:full

Profiles: 'quick' (default; T = 100 only, a 2-core CPU in under 10 minutes), 'full' (every T,
more steps and seeds: sized for an accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import new_config, optimizer_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile)
    config.cells = ("tanh", "lstm", "gru")
    config.lengths = (100,)
    config.seeds = 1
    # remat: recompute the forward pass in sqrt(T)-step chunks in backpropagation through time
    # (memory for recompute)
    config.model = ml_collections.ConfigDict({"hidden_size": 128, "remat": False})
    config.optimizer = optimizer_config(learning_rate=1e-3, clip_norm=1.0)
    config.batch_size = 64
    config.num_steps = 1500
    config.eval_every = 100
    config.test_size = 1000  # one fixed test set per T
    config.solved_mse = 0.01  # "solved": test MSE far below the 1/6 of predicting 1
    if profile == "full":
        config.lengths = (50, 100, 200, 400)
        config.seeds = 3
        config.num_steps = 20_000
        config.eval_every = 500
    elif profile == "tiny":
        config.cells = ("tanh", "lstm")
        config.lengths = (6,)
        config.model.hidden_size = 8
        config.batch_size = 8
        config.num_steps = 6
        config.eval_every = 3
        config.test_size = 16
    return config
