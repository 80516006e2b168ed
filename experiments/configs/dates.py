"""Date translation with an encoder-decoder (``nets.data.translation``): "Saturday 9 May 2018",
"9/5/18", "may 9th, 2018", ... -> "2018-05-09", one character at a time, trained with teacher
forcing and a per-token cross-entropy over each target's real steps.

    python -m experiments.train --config experiments/configs/dates.py --workdir runs/dates
    python -m experiments.translation --workdir runs/translation   # both models, the figures

``config.model`` is the attention model (Bahdanau et al. 2015); the translation experiment
also trains ``config.compare``'s encoder-decoder without attention (Sutskever et al. 2014) on
the same data. Profiles: 'quick' (default, a few minutes on a 2-core CPU), 'full', 'tiny'.
"""

import ml_collections

from experiments.configs import model_config, shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    recurrent = dict(cell="lstm", hidden_size=128, embedding_size=32)
    config = training_config(profile, "dates", "attention_encoder_decoder", **recurrent)
    config.optimizer.learning_rate = 3e-3
    config.optimizer.schedule = "cosine"
    config.optimizer.clip_norm = 1.0
    config.batch_size = 64
    config.num_steps = 2000
    config.log_every = 100
    config.eval_every = 500
    config.checkpoint_every = 500
    config.compare = ml_collections.ConfigDict(
        {"attention": config.model, "no_attention": model_config("encoder_decoder", **recurrent)}
    )
    # the translation experiment: the length-controlled task beside the dates, beam search
    # (width, length normalisation n^alpha) and the attention heat maps of a few test dates
    config.length_task = "reversal/30"
    config.beam_width = 4
    config.alpha = 0.6
    config.heatmaps = 3
    if profile == "full":
        config.num_steps = 10_000
    elif profile == "tiny":
        shrink_for_tests(config, checkpoint_every=4)
        del config.compare["no_attention"]  # the same code path; its model has its own tests
        config.length_task = "reversal/4"
        config.beam_width = 2
        config.heatmaps = 2
        for model in config.compare.values():
            model.hidden_size = 8
            model.embedding_size = 4
        config.model.attention_size = 4
    return config
