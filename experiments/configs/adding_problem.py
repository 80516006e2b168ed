"""The adding problem: which recurrent cells learn a dependency T steps back.

    python -m experiments.adding_problem --workdir runs/adding_problem
    python -m experiments.adding_problem --workdir runs/adding_full \
        --config experiments/configs/adding_problem.py:full

Profiles: 'quick' (default; T = 100 only, a 2-core CPU in under 10 minutes), 'full' (every T,
more steps and seeds: sized for an accelerator), 'tiny' (the tests).

A sweep group in the training dialect (``nets.training.config.build_sweep``): the experiment
varies ``model.cell`` over ``cells`` and the data set 'adding_problem/t<T>' over ``lengths``.
"""

import ml_collections

from experiments.configs import new_config, optimizer_config, sweep_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile)
    # model.remat: recompute the forward pass in sqrt(T)-step chunks in backpropagation through
    # time (memory for recompute); one fixed test set of data.test_size per T
    config.update(
        sweep_config("adding_problem/t100", "many_to_one", test_size=1000, hidden_size=128)
    )
    config.cells = ("tanh", "lstm", "gru")
    config.lengths = (100,)
    config.optimizer = optimizer_config(learning_rate=1e-3, clip_norm=1.0)
    config.batch_size = 64
    config.num_steps = 1500
    config.eval_every = 100
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
        config.data.test_size = 16
    return config
