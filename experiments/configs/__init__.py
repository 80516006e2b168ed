"""Experiment configurations: ``get_config(profile)`` in each file, loaded by ml_collections."""

import ml_collections

PROFILES = ("quick", "full", "tiny")


def new_config(profile: str) -> ml_collections.ConfigDict:
    """An empty config for ``profile``: 'quick' (a laptop CPU, the default), 'full' (sized for an
    accelerator) or 'tiny' (the tests); any other name raises ValueError listing them."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    config = ml_collections.ConfigDict()
    config.profile = profile
    return config


def training_config(profile: str, dataset: str, model: str) -> ml_collections.ConfigDict:
    """The fields of ``python -m experiments.train`` with their defaults; a config file sets
    what its run needs (see ``nets.training.trainer``)."""
    config = new_config(profile)
    config.dataset = dataset  # nets.data.loader.DATASETS, e.g. 'digits32', 'adding_problem/t100'
    config.data_dir = ""  # where the array_record files are; '' = tfds's default
    config.model = model  # nets.training.trainer.model_names()
    config.hidden_size = 128  # units of an 'rnn_<cell>' model
    config.optimizer = "adam"  # adam, adamw or sgd
    config.learning_rate = 1e-3
    config.schedule = "constant"  # or 'cosine' (decay to zero over num_steps)
    config.momentum = 0.9  # sgd only
    config.weight_decay = 0.0  # adamw and sgd
    config.clip_norm = 0.0  # global gradient norm clipping; 0 = off
    config.batch_size = 64  # global: split over every device of every process
    config.eval_batch_size = 500
    config.num_steps = 1000
    config.log_every = 100
    config.checkpoint_every = 500
    config.keep_checkpoints = 3
    config.parallel = "shard_map"  # or "pmap" (nets.training.parallel); see the README
    config.seed = 0
    return config


def shrink_for_tests(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
    """The 'tiny' profile of a training config: a few small steps, logged and saved every 2
    (``fields`` override these)."""
    config.update(dict(batch_size=16, num_steps=4, log_every=2, checkpoint_every=2), **fields)
    return config
