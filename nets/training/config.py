"""Configs: the one place where they are checked, and what a training config builds.

A training config (``experiments/configs/*.py``) is grouped by part, one name per concept:

    config.model       name, and the model's own options (hidden_size, cell, num_layers, ...)
    config.data        name ('digits32', 'adding_problem/t100', ...), data_dir, augment
                       ('' or a name in ``nets.data.augment.AUGMENTATIONS``), image_size (its
                       crops' side; 0 = the recipe's), stream (read records from the files
                       instead of memory), workers (grain processes), trim_to (each training
                       batch's padding cut after its longest sequence, rounded up to a
                       multiple of this many steps; 0 = off)
    config.optimizer   name ('adam', 'adamw', 'sgd'), learning_rate, schedule ('constant',
                       'cosine', or 'steps': times ``decay`` at each step of ``boundaries``),
                       warmup_steps (a linear ramp from 0 first), momentum, nesterov,
                       weight_decay (on 'all' parameters or the 'kernels': weight_decay_on),
                       clip_norm
    label_smoothing    the training target (1 - a) y + a / K of a cross-entropy (0 = off)
    num_steps, batch_size (global), eval_batch_size, log_every, eval_every (0 or a multiple
    of log_every), checkpoint_every, keep_checkpoints, parallel ('shard_map' or 'pmap'), seed,
    stateful (truncated BPTT: the carry passes between consecutive chunks), profile_steps
    ('a:b': a jax.profiler trace of steps a..b-1, ``nets.training.profiling``)

Every check raises ValueError with one line that names the field (``config.optimizer.name``)
and what is valid; the command line prints it as ``error: ...`` before anything is written.
The experiments' sweep configs use the same checks.
"""

import dataclasses
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax

from nets.checks import check_choice, check_positive
from nets.data.augment import augmentation, evaluation_view
from nets.data.registry import DatasetSpec, dataset_spec, load_split
from nets.data.tfds_reader import STREAM_ONLY, TfdsSplit
from nets.models import ManyToMany, get_model, model_options
from nets.rnn import CELLS
from nets.training.objectives import METRICS, training_objective
from nets.training.parallel import MODES, check_divisible
from nets.training.profiling import parse_steps
from nets.training.sweep import check_schedule, sample_rows

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "steps")


def _kernels(params):
    """True on the kernels (convolution and dense weights, ndim > 1), False on biases and
    BatchNorm's scales and offsets: flax's ImageNet example decays the kernels only."""
    return jax.tree.map(lambda p: p.ndim > 1, params)


# optimizer.weight_decay_on: the parameters weight decay pulls towards zero (an optax mask)
DECAYED = {"all": None, "kernels": _kernels}
TRAINING_COUNTS = (
    "num_steps",
    "batch_size",
    "eval_batch_size",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
)


def check_positive_fields(config, fields: Iterable[str], prefix: str = "config.") -> None:
    """Each of ``fields`` of ``config`` is a positive integer."""
    for field in fields:
        check_positive(f"{prefix}{field}", config[field])


def check_number(name: str, value, low: float, high: float = math.inf, *, above: bool = False):
    """A finite number in [low, high) (in (low, high) when ``above``): NaN and infinity, which
    every comparison lets through or fails at step 2, are refused by name."""
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value < low or value >= high or (above and value == low):
        interval = f"{'(' if above else '['}{low:g}, {high:g})"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")


def check_count(name: str, value) -> None:
    """An integer >= 0 (a seed, an interval where 0 means never)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def check_directory(name: str, path) -> None:
    """``path`` (None or '' for the default) is a directory or can become one: the nearest part
    of it that exists is a directory (tfds would otherwise fail deep inside makedirs)."""
    if not path:
        return
    existing = Path(path).absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} {str(path)!r}: {str(existing)!r} is a file, not a directory")


def check_cells(cells) -> None:
    """A non-empty sweep of known cells."""
    if not cells:
        raise ValueError("empty sweep: config.cells needs at least one cell")
    for name in cells:
        check_choice("cell", name, CELLS)


def check_lengths(lengths, name: str = "config.lengths") -> None:
    """A non-empty sweep of sequence lengths T, each an integer >= 2."""
    if not lengths:
        raise ValueError(f"empty sweep: {name} needs at least one length")
    for length in lengths:
        check_length(length)


def check_length(length, name: str = "sequence length T") -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"{name} must be an integer >= 2, got {length!r}")


def model_arguments(config: ml_collections.ConfigDict, spec: DatasetSpec) -> dict:
    """``config.model``'s options for ``get_model``, with the data set's token count for a
    model that reads tokens; a token data set given to a model that cannot read it is refused."""
    options = {k: v for k, v in config.model.items() if k != "name"}
    if spec.tokens:
        if "num_tokens" not in model_options(config.model.name):
            raise ValueError(
                f"dataset {config.data.name!r} has integer token inputs, which model "
                f"{config.model.name!r} cannot read; use a sequence model (many_to_one, "
                f"many_to_many)"
            )
        options["num_tokens"] = spec.tokens
    return options


def model_from(group, num_outputs: int, where: str = "config.model", **extra) -> nn.Module:
    """``get_model`` of a config's model group {name, **options} (``extra`` options added);
    a bad option is refused with the group's name, as every other field's."""
    options = {k: v for k, v in group.items() if k != "name"}
    try:
        return get_model(group["name"], num_outputs, **options, **extra)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def build_model(config: ml_collections.ConfigDict):
    """The model ``config.model`` names, with the outputs its data set needs."""
    spec = dataset_spec(config.data.name)
    return get_model(config.model.name, spec.num_outputs, **model_arguments(config, spec))


def learning_rate(opt: ml_collections.ConfigDict, num_steps: int) -> optax.ScalarOrSchedule:
    """``opt.learning_rate``, or the schedule ``opt.schedule`` names (a function of the update's
    count 0, 1, ...): 'cosine' decays it to zero over ``num_steps``; 'steps' multiplies it by
    ``opt.decay`` at each step of ``opt.boundaries`` (He et al.'s 0.1 at 32k and 48k; a tuple
    gives each boundary its own factor, ResNet-110's 10 after its 0.01 warm-up). A
    constant stays a number: optax then keeps no step count in the optimiser's state.

    ``opt.warmup_steps`` W > 0 first raises the rate linearly from 0 to ``learning_rate`` over
    W updates (Goyal et al. 2017; flax's ImageNet example), then the schedule runs: a cosine
    over the remaining ``num_steps - W``, the steps at their own (absolute) boundaries."""
    warmup = opt.get("warmup_steps", 0)
    if opt.schedule == "constant" and not warmup:
        return opt.learning_rate
    if opt.schedule == "cosine":
        after = optax.cosine_decay_schedule(opt.learning_rate, num_steps - warmup)
    elif opt.schedule == "steps":  # join_schedules counts the later schedule from W
        boundaries = [b - warmup for b in opt.boundaries]
        after = optax.piecewise_constant_schedule(
            opt.learning_rate, dict(zip(boundaries, _decays(opt), strict=True))
        )
    else:
        after = optax.constant_schedule(opt.learning_rate)
    if not warmup:
        return after
    ramp = optax.linear_schedule(0.0, opt.learning_rate, warmup)
    return optax.join_schedules([ramp, after], [warmup])


def _decays(opt: ml_collections.ConfigDict) -> tuple[float, ...]:
    """One factor per boundary: ``opt.decay`` repeated, or the tuple it is."""
    decay = opt.get("decay", 0.1)
    return tuple(decay) if isinstance(decay, tuple | list) else (decay,) * len(opt.boundaries)


def check_boundaries(opt: ml_collections.ConfigDict, num_steps: int, name: str) -> None:
    """The 'steps' schedule's boundaries: increasing steps inside the run (after the
    warm-up), and a positive factor for each."""
    steps = list(opt.get("boundaries", ()))
    if not steps or any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        raise ValueError(
            f"{name}.boundaries must list the steps where the 'steps' schedule decays the rate, "
            f"got {tuple(steps)!r}"
        )
    first = opt.get("warmup_steps", 0) + 1
    if steps != sorted(set(steps)) or steps[0] < first or steps[-1] >= num_steps:
        raise ValueError(
            f"{name}.boundaries must increase within {first}..{num_steps - 1} (the run's steps "
            f"after any warm-up), got {tuple(steps)!r}"
        )
    decays = _decays(opt)
    if len(decays) != len(steps) or any(
        isinstance(d, bool) or not isinstance(d, int | float) or d <= 0 for d in decays
    ):
        raise ValueError(
            f"{name}.decay must be a positive number or one per boundary ({len(steps)}), got "
            f"{opt.get('decay')!r}"
        )


def build_optimizer(opt: ml_collections.ConfigDict, num_steps: int, name: str = "config.optimizer"):
    """The optimiser ``opt`` (a config's optimizer group) describes, at its learning rate, with a
    cosine decay to zero over ``num_steps`` if its schedule is 'cosine', and global-norm
    clipping at its ``clip_norm`` when positive. ``name``: where the group sits in the config,
    for the error a bad field raises ('config.pixels.optimizer', say)."""
    check_choice(f"{name}.name", opt.name, OPTIMIZERS)
    check_choice(f"{name}.schedule", opt.schedule, SCHEDULES)
    # a rate of 0 trains nothing and momentum 1 never forgets a gradient: neither is meant
    check_number(f"{name}.learning_rate", opt.learning_rate, 0.0, above=True)
    check_number(f"{name}.momentum", opt.momentum, 0.0, 1.0)
    for field in ("weight_decay", "clip_norm"):
        check_number(f"{name}.{field}", opt[field], 0.0)
    warmup = opt.get("warmup_steps", 0)
    check_count(f"{name}.warmup_steps", warmup)
    if warmup and warmup >= num_steps:
        raise ValueError(
            f"{name}.warmup_steps ({warmup}) must leave steps of the run ({num_steps}) after it"
        )
    if opt.schedule == "steps":
        check_boundaries(opt, num_steps, name)
    decayed = opt.get("weight_decay_on", "all")
    check_choice(f"{name}.weight_decay_on", decayed, tuple(DECAYED))
    mask = DECAYED[decayed]
    rate = learning_rate(opt, num_steps)
    optimizer = {
        "adam": lambda: optax.adam(rate),
        "adamw": lambda: optax.adamw(rate, weight_decay=opt.weight_decay, mask=mask),
        "sgd": lambda: optax.chain(
            optax.add_decayed_weights(opt.weight_decay, mask),
            optax.sgd(
                rate,
                momentum=opt.momentum or None,
                nesterov=opt.momentum > 0 and opt.get("nesterov", True),
            ),
        ),
    }[opt.name]()
    if opt.clip_norm > 0:
        return optax.chain(optax.clip_by_global_norm(opt.clip_norm), optimizer)
    return optimizer


@dataclasses.dataclass(frozen=True)
class Parts:
    """What a config's model, data and optimizer groups build, each once."""

    spec: DatasetSpec
    model: nn.Module
    optimizer: optax.GradientTransformation
    schedule: optax.ScalarOrSchedule  # the learning rate, a number or a function of the step
    loss_fn: Callable


def data_names(config) -> tuple[str, ...]:
    """``config.data.name``, or a sweep's several names (data sets trained at once)."""
    name = config.data.name
    return (name,) if isinstance(name, str) else tuple(name)


def build_parts(
    config: ml_collections.ConfigDict, counts: Iterable[str], where: str = "config"
) -> Parts:
    """The checks a training run and a sweep share, returning what they built: ``counts`` are
    positive integers, the model is buildable for its data set, the optimizer for
    ``num_steps``, the objective for the data set's targets. ``where``: the config's name in
    the messages ('config.adding' for a group inside an experiment's config)."""
    check_positive_fields(config, counts, f"{where}.")
    spec = dataset_spec(data_names(config)[0])
    model = model_from(
        {"name": config.model.name, **model_arguments(config, spec)},
        spec.num_outputs,
        f"{where}.model",
    )
    return Parts(
        spec,
        model,
        build_optimizer(config.optimizer, config.num_steps, f"{where}.optimizer"),
        learning_rate(config.optimizer, config.num_steps),
        training_objective(config.get("loss") or spec.loss, config.get("label_smoothing", 0.0)),
    )


@dataclasses.dataclass(frozen=True)
class SweepParts(Parts):
    """A sweep group's parts, with its data: ``sample_batch(key, train_sets)`` draws a batch,
    ``test_set`` (None: none) is evaluated by the objective's ``metric``."""

    sample_batch: Callable
    train_sets: Any
    test_set: dict | None
    metric: str


def build_sweep(config: ml_collections.ConfigDict, where: str = "config") -> SweepParts:
    """Check a sweep group and build it, each part once. A sweep group is written in the
    training dialect:

        model         {name, **options}, as a run's (``get_model``)
        data          {name, test_size, data_dir}: a generated task ('adding_problem/t200',
                      drawn from keys; its test split has ``test_size`` examples, none for 0:
                      training only) or a data set read into memory ('digits8_pixels',
                      'mnist1d': rows drawn with replacement). A tuple of names of one kind
                      trains on each at once (the sweep's data-set axis; 'noisy_sine',
                      'noisy_sine/20'), all scored on the first's test split.
        optimizer     as a run's
        loss          the objective trained ('' = the data set's, which scores the test split;
                      ``nets.training.objectives.OBJECTIVES``: 'softmax_mse', 'huber', ...)
        num_steps, batch_size, eval_every (a divisor of num_steps), seeds
        metric        what the test split is scored by: 'loss' or 'accuracy'

    A bad field raises ValueError naming it (``where``: the group's name), before anything
    is trained."""
    parts = build_parts(config, ("num_steps", "batch_size", "seeds"), where)
    check_schedule(config.num_steps, config.eval_every, f"{where}.")
    spec, names = parts.spec, data_names(config)
    name, data_dir = names[0], config.data.get("data_dir") or None
    others = [n for n in names if dataset_spec(n) is not spec]
    if others or (spec.generated and len(names) > 1):
        raise ValueError(
            f"{where}.data.name: data sets trained at once must be of one kind made in memory, "
            f"got {names!r}"
        )
    metric = config.get("metric", "loss")
    if isinstance(spec.loss, str):
        check_choice(f"{where}.metric of dataset {name!r}", metric, METRICS[spec.loss])
    if spec.generated:
        test_size = config.data.get("test_size", 0)
        check_count(f"{where}.data.test_size (0: no test split, training only)", test_size)
        sample_batch = spec.generated.batches(name, config.batch_size)
        train_sets = None
        test_set = spec.generated.test_split(name, test_size) if test_size else None
    else:  # read into memory (a tfds data set generated here is prepared on first use)
        check_directory(f"{where}.data.data_dir", data_dir)
        splits = [load_split(n, "train", data_dir) for n in names]
        train_sets = jax.tree.map(lambda *a: np.stack(a), *splits)
        sample_batch = sample_rows(config.batch_size)
        test_set = load_split(name, "test", data_dir)
    return SweepParts(
        **vars(parts),
        sample_batch=sample_batch,
        train_sets=train_sets,
        test_set=test_set,
        metric=metric,
    )


def validate_training(config: ml_collections.ConfigDict, device_count: int) -> Parts:
    """Every check of a training config that needs no data, so a bad config fails before
    anything is written; the global batch must divide over ``device_count`` devices. Returns
    what the checks built (the run uses them: nothing is built twice)."""
    if not isinstance(config.data.name, str):
        raise ValueError(
            f"config.data.name: a run trains on one data set, got {config.data.name!r}"
        )
    parts = build_parts(config, TRAINING_COUNTS)
    spec = parts.spec
    check_choice("config.parallel", config.parallel, MODES)
    augment = config.data.get("augment", "")
    augmentation(augment)  # an unknown name is refused here
    check_count("config.data.image_size", config.data.get("image_size", 0))
    check_count("config.data.workers", config.data.get("workers", 0))
    check_count("config.data.trim_to", config.data.get("trim_to", 0))
    check_directory("config.data.data_dir", config.data.get("data_dir"))
    if isinstance(spec.load, TfdsSplit) and spec.load.varying_sizes:
        if not config.data.get("stream", False) or evaluation_view(augment) is None:
            raise ValueError(f"dataset {config.data.name!r}: {STREAM_ONLY}")
    if config.data.get("stream", False) and config.get("stateful", False):
        raise ValueError(
            "config.data.stream reads examples in random order; config.stateful "
            "reads a text in order from memory: choose one"
        )
    if config.get("stateful", False):
        if not isinstance(parts.model, ManyToMany) or config.parallel != "shard_map":
            raise ValueError(
                "config.stateful passes a many_to_many model's carry between chunks: it needs "
                f"model many_to_many and parallel 'shard_map', got {config.model.name!r} and "
                f"{config.parallel!r}"
            )
    every = config.get("eval_every", 0)
    check_count("config.eval_every", every)
    if every % config.log_every:
        raise ValueError(
            f"config.eval_every ({every}) must be a multiple of config.log_every "
            f"({config.log_every}): evaluations join the logged lines"
        )
    check_count("config.seed", config.seed)
    parse_steps(config.get("profile_steps", ""), config.num_steps)
    check_divisible(config.batch_size, device_count)
    return parts
