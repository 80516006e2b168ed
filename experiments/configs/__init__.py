"""Experiment configurations: ``get_config(profile)`` in each file, loaded by ml_collections."""

import jax.numpy as jnp
import ml_collections

from nets.models import model_options

PROFILES = ("quick", "full", "tiny")


def new_config(profile: str, own: tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """An empty config for ``profile``: 'quick' (a laptop CPU, the default), 'full' (sized for an
    accelerator), 'tiny' (the tests) or one of the experiment's ``own``; any other name raises
    ValueError listing them."""
    if profile not in PROFILES + own:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES + own)}")
    config = ml_collections.ConfigDict()
    config.profile = profile
    return config


def optimizer_config(**fields) -> ml_collections.ConfigDict:
    """The optimizer group of every config (``nets.training.config.build_optimizer``); ``fields``
    set its values, and their types (a tuple of decays where the default is one number)."""
    defaults = {
        "name": "adam",  # adam, adamw or sgd
        "learning_rate": 1e-3,
        "schedule": "constant",  # 'cosine' (decay to zero over num_steps) or 'steps':
        "boundaries": (),  # the steps where 'steps' multiplies the rate by
        "decay": 0.1,  # this (or a tuple: one factor per boundary)
        "warmup_steps": 0,  # a linear ramp from 0 to learning_rate before the schedule
        "momentum": 0.9,  # sgd only
        "nesterov": True,  # sgd with momentum: Nesterov's (False: heavy ball)
        "weight_decay": 0.0,  # adamw and sgd
        "weight_decay_on": "all",  # or 'kernels': not biases, not BatchNorm's scale and offset
        "clip_norm": 0.0,  # global gradient norm clipping; 0 = off
    }
    return ml_collections.ConfigDict({**defaults, **fields})


def model_config(name: str, **options) -> ml_collections.ConfigDict:
    """The model group: ``name`` and every option of that model with its default (so that any
    can be overridden, ``--config.model.hidden_size=64``), ``options`` set. Options the data
    decide (``num_tokens``) are left to the code; a ``dtype`` is named ('float32',
    'bfloat16': the computation's)."""
    config = ml_collections.ConfigDict({"name": name})
    for option, default in model_options(name).items():
        if option == "dtype":  # None: the model computes in its float32 inputs' dtype
            config.dtype = jnp.dtype(default or jnp.float32).name
        elif option != "num_tokens" and isinstance(default, bool | int | float | str):
            config[option] = default
    config.update(options)
    return config


def training_config(profile: str, data: str, model: str, **model_options):
    """The fields of ``python -m experiments.train`` with their defaults, grouped by part (see
    ``nets.training.config``); a config file sets what its run needs."""
    config = new_config(profile)
    config.model = model_config(model, **model_options)  # nets.models.get_model(name, **options)
    # nets.data.registry.DATASETS, e.g. 'digits32', 'adding_problem/t100'; data_dir '' = tfds's
    # augment: '' or a training augmentation in nets.data.augment.AUGMENTATIONS ('cifar',
    # 'specaugment', 'word_dropout', ...);
    # image_size: the side of its crops (0: the recipe's own); stream: read a tfds data set's
    # records from its files as needed, not the split into memory; workers: processes that
    # read, decode and augment (0: this one); trim_to: cut each training batch's padding after
    # its longest sequence, rounded up to a multiple of this many steps (0: keep the split's)
    config.data = ml_collections.ConfigDict(
        {
            "name": data,
            "data_dir": "",
            "augment": "",
            "image_size": 0,
            "stream": False,
            "workers": 0,
            "trim_to": 0,
        }
    )
    config.optimizer = optimizer_config()
    config.batch_size = 64  # global: split over every device of every process
    config.eval_batch_size = 500
    config.num_steps = 1000
    config.log_every = 100
    config.eval_every = 0  # evaluate the validation (or test) split this often; 0 = at the end
    config.checkpoint_every = 500
    config.keep_checkpoints = 3
    config.parallel = "shard_map"  # or "pmap" (nets.training.parallel); see scripts/README.md
    config.seed = 0
    # trains a cross-entropy against (1 - a) y + a / K (Szegedy et al. 2016); 0 = the labels
    config.label_smoothing = 0.0
    # truncated BPTT: consecutive chunks of a text, the carry passed on (many_to_many only)
    config.stateful = False
    # resume even if the config now changes the run (nets.training.run_driver.check_resumable)
    config.resume_anyway = False
    # the published result a recipe reproduces, printed beside ours ('' for none)
    config.anchor = ""
    # 'a:b': a jax.profiler trace of steps a..b-1 in workdir/profile ('' = none)
    config.profile_steps = ""
    return config


def sweep_config(
    data: str, model: str, test_size: int = 0, **model_options
) -> ml_collections.ConfigDict:
    """A sweep group (``nets.training.sweep.sweep_group``) with its defaults, in the training
    dialect: model, data (a generated task's ``test_size`` examples are its test split),
    optimizer, batch_size, num_steps, eval_every, seeds, and the metric that scores the test
    split. An experiment's own fields sit beside them; it varies the group by ``vary``."""
    return ml_collections.ConfigDict(
        {
            "model": model_config(model, **model_options),
            "data": {"name": data, "test_size": test_size},
            "optimizer": optimizer_config(),
            "batch_size": 64,
            "num_steps": 1000,
            "eval_every": 100,
            "seeds": 1,
            "metric": "loss",  # or 'accuracy'
        }
    )


def vary(config: ml_collections.ConfigDict, **changes) -> ml_collections.ConfigDict:
    """A copy of ``config`` with ``changes`` by dotted path, '__' for the dot:
    ``vary(group, model__cell="gru", data__name="adding_problem/t200")``. A change may give a
    field a value of another type (a tuple of data sets where one name was)."""
    varied = config.copy_and_resolve_references().to_dict()
    for path, value in changes.items():
        *parents, field = path.split("__")
        target = varied
        for parent in parents:
            target = target[parent]
        target[field] = value.to_dict() if hasattr(value, "to_dict") else value
    return ml_collections.ConfigDict(varied)


def cell_group(config, cell: str, data: str, **cell_options) -> ml_collections.ConfigDict:
    """``vary`` a sweep group's cell (with its options, ``nets.rnn.make_cell``) and data set."""
    changes = {f"model__{option}": value for option, value in cell_options.items()}
    return vary(config, model__cell=cell, data__name=data, **changes)


def without(config: ml_collections.ConfigDict, *fields: str) -> ml_collections.ConfigDict:
    """A copy of ``config`` without ``fields``: an experiment's own groups taken out of the
    training config it hands to the run driver."""
    kept = {k: v for k, v in config.to_dict().items() if k not in fields}
    return ml_collections.ConfigDict(kept)


def shrink_for_tests(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
    """The 'tiny' profile of a training config: a few small steps, logged and saved every 2
    (``fields`` override these)."""
    config.update(dict(batch_size=16, num_steps=4, log_every=2, checkpoint_every=2), **fields)
    return config


def compared_run(
    config: ml_collections.ConfigDict, model: str, data: str, fields
) -> ml_collections.ConfigDict:
    """The training config of model ``model`` of ``config.compare`` on data set ``data``: what
    an experiment that compares models hands the run driver, without its own ``fields``."""
    single = without(config, *fields)
    single.model = config.compare[model].to_dict()
    single.data.name = data
    return single
