"""An LSTM on the adding problem at T = 100 from prepared array_record splits (20,000 training
sequences): solved when the test MSE falls far below the 1/6 of always predicting 1.

    python -m experiments.train --config experiments/configs/lstm_adding.py --workdir runs/adding

Choose T with --config.data.name=adding_problem/t{50,100,200,400}; another cell with
--config.model.cell={tanh,irnn,gru}. Profiles: 'quick' (default), 'full' (T = 400, sized for an
accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(
        profile, "adding_problem/t100", "many_to_one", cell="lstm", hidden_size=128
    )
    config.optimizer.clip_norm = 1.0
    config.num_steps = 2000
    config.log_every = 100
    config.checkpoint_every = 500
    if profile == "full":
        config.data.name = "adding_problem/t400"
        config.num_steps = 20_000
        config.checkpoint_every = 2000
    elif profile == "tiny":
        shrink_for_tests(config)
        config.data.name = "adding_problem/t50"
        config.model.hidden_size = 8
    return config
