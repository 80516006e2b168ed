"""A character-level LSTM language model on the standard library's pydoc text (offline): embedding
-> LSTM -> a softmax over the next character at every step, trained with per-step
cross-entropy; results in nats and bits per character (bpc = nats / ln 2).

    python -m experiments.train --config experiments/configs/char_lm.py --workdir runs/char_lm
    python -m experiments.char_lm --workdir runs/char_lm       # with the n-gram baselines, samples

Training reads the text as 32 streams of consecutive chunks of ``CHARACTER_WINDOW`` characters
('pydoc_chars/L' for L) and carries the LSTM's state from each chunk to the next (truncated
BPTT, ``stateful``; ``--config.stateful=False`` reads shuffled independent windows instead),
and evaluates the validation split every ``eval_every`` steps (the learning curves). Levers
measured on the quick profile (test bpc, whole text): 256 units, Adam 2e-3, 2,000 steps 2.198;
with 5e-3 and dropout 0.2, 1.989; stateful, 1.970; 512 units, 4e-3, 1,500 steps (this config,
678 s) 1.922, against 1.939 for the 8-gram. Profiles:
'quick' (default, about 10 minutes on a 2-core CPU), 'full' (larger, for an accelerator),
'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(
        profile,
        "pydoc_chars",
        "many_to_many",
        cell="lstm",
        hidden_size=512,
        embedding_size=32,
        dropout=0.2,  # 372,648 training characters: without it the LSTM overfits by step 1,000
    )
    config.optimizer.learning_rate = 4e-3
    config.optimizer.schedule = "cosine"
    config.optimizer.clip_norm = 1.0
    config.batch_size = 32
    config.num_steps = 1500
    config.log_every = 100
    config.eval_every = 300
    config.stateful = True  # truncated BPTT: each chunk starts from where the last one ended
    config.checkpoint_every = 500
    config.eval_batch_size = 250
    config.ngram_orders = (2, 3, 4, 5, 6, 7, 8)  # the Kneser-Ney baselines of experiments.char_lm
    config.sample = ml_collections.ConfigDict(
        {"prompt": "The ", "length": 300, "temperatures": (0.5, 0.8, 1.0), "seed": 0}
    )
    if profile == "full":
        config.model.num_layers = 2
        config.num_steps = 20_000
        config.eval_every = 1000
    elif profile == "tiny":
        shrink_for_tests(config, eval_every=2)
        config.data.name = "pydoc_chars/16"
        config.model.hidden_size = 8
        config.model.embedding_size = 4
        config.sample.length = 8
        config.ngram_orders = (2, 3)
    return config
