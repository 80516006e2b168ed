"""An LSTM on the copy task at T = 10 (prepared array_record splits): recall 10 symbols after a
delay; the memoryless baseline cross-entropy is 10 ln 8 / (T + 20) = 0.69 at T = 10.

    python -m experiments.train --config experiments/configs/lstm_copy.py --workdir runs/copy

The adding problem's recipe (``lstm_adding.py``) with a many-to-many LSTM. Choose the delay
with --config.data.name=copy_task/t{10,50,100,200}. Profiles: 'quick' (default), 'full'
(T = 100, sized for an accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import lstm_adding, model_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = lstm_adding.get_config(profile)
    config.data.name = "copy_task/t100" if profile == "full" else "copy_task/t10"
    recurrent = {k: v for k, v in config.model.items() if k != "name"}
    config.model = model_config("many_to_many", **recurrent)
    return config
