"""A character-level LSTM language model on tfds ``tiny_shakespeare`` (1,115,394 characters; a
download, prepared once with ``python -m nets.data.prepare tiny_shakespeare``): the
``char_lm`` recipe on the corpus of Karpathy's char-rnn and nanoGPT.

    python -m experiments.train --config experiments/configs/shakespeare_char.py --workdir runs/sc

Validation loss is logged every ``eval_every`` steps in nats (bpc = nats / ln 2). Published:
nanoGPT's character transformer reaches 1.47 nats validation on an A100. Profiles: 'quick',
'full' (sized for an accelerator), 'tiny' (the tests, under ``tfds.testing.mock_data``).
"""

import ml_collections

from experiments.configs import char_lm


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = char_lm.get_config(profile)
    config.data.name = "tiny_shakespeare/4" if profile == "tiny" else "tiny_shakespeare"
    return config
