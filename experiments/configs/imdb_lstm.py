"""Sentiment of IMDB movie reviews (tfds ``imdb_reviews``, 25,000 / 25,000; a download, prepared
once with ``python -m nets.data.prepare imdb_reviews``): the lecture's design on real reviews,
a 2-layer bidirectional LSTM(64) over learned word embeddings, read up to each review's last
real word, with dropout.

    python -m experiments.train --config experiments/configs/imdb_lstm.py --workdir runs/imdb

Words: the 20,000 most frequent of the training reviews (built once and saved beside the
prepared data), each review's first 256 (``nets.data.registry``). Published: Maas et al. 2011
88.89%; a Keras 2-layer BiLSTM(64) 87.8%. Profiles: 'quick' (a few epochs; an accelerator is
advised), 'full' (more), 'tiny' (the tests, under ``tfds.testing.mock_data``).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(
        profile,
        "imdb_reviews",
        "many_to_one",
        cell="lstm",
        hidden_size=64,
        embedding_size=128,
        num_layers=2,
        bidirectional=True,
        dropout=0.3,
    )
    config.optimizer.clip_norm = 1.0
    config.batch_size = 64
    config.num_steps = 2000  # about 5 epochs
    config.log_every = 100
    config.eval_every = 500
    config.checkpoint_every = 500
    if profile == "full":
        config.num_steps = 8000
        config.optimizer.schedule = "cosine"
    elif profile == "tiny":
        shrink_for_tests(config, batch_size=8, eval_every=2)
        config.model.hidden_size = 4
        config.model.embedding_size = 4
    return config
