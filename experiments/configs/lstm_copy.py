"""An LSTM on the copy task at T = 10 (prepared array_record splits): recall 10 symbols after a
delay; the memoryless baseline cross-entropy is 10 ln 8 / (T + 20) = 0.69 at T = 10.

    python -m experiments.train --config experiments/configs/lstm_copy.py --workdir runs/copy

Choose the delay with --config.dataset=copy_task/t{10,50,100,200}. Profiles: 'quick'
(default), 'full' (T = 100, sized for an accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "copy_task/t10", "rnn_seq_lstm")
    config.hidden_size = 128
    config.clip_norm = 1.0
    config.num_steps = 2000
    config.log_every = 100
    config.checkpoint_every = 500
    if profile == "full":
        config.dataset = "copy_task/t100"
        config.num_steps = 20_000
        config.checkpoint_every = 2000
    elif profile == "tiny":
        config.hidden_size = 8
        config.batch_size = 16
        config.num_steps = 4
        config.log_every = 2
        config.checkpoint_every = 2
    return config
