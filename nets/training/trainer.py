"""The training loop behind ``python -m experiments.train``: data, model, steps, checkpoints.

``train(config, workdir)`` reads a prepared data set (``nets.data.loader``), builds the model and
optimiser the config names, and runs ``config.num_steps`` data-parallel steps
(``nets.training.parallel``), resuming from the latest checkpoint in ``workdir/checkpoints`` if
there is one. Every ``config.log_every`` steps it appends the interval's mean metrics (loss,
accuracy, global gradient norm, steps/s) as one JSON line to ``workdir/metrics.jsonl``; every
``config.checkpoint_every`` steps and at the end it saves a checkpoint. A non-finite loss or
gradient norm stops the run before anything after it is saved (NonFiniteError names the step
and the last good checkpoint, which is kept). The final evaluation on the test split is returned.
"""

import json
import logging
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax
from tqdm import tqdm

from nets.checks import check_choice, check_positive
from nets.cnn.zoo import MODELS as CNN_MODELS
from nets.data.loader import dataset_spec, eval_batches, load_split, train_batches
from nets.mnist1d_models import MODELS as MNIST1D_MODELS
from nets.results import prepare_workdir, write_outputs
from nets.rnn import CELLS, ManyToMany, ManyToOne
from nets.training.checkpoint import Checkpoints
from nets.training.parallel import MODES, DataParallel, check_divisible
from nets.training.state import TrainState, eval_step, train_step

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
OPTIMIZERS = ("adam", "adamw", "sgd")


class NonFiniteError(ValueError):
    """The loss or the gradient became NaN or infinite."""


def model_names() -> list[str]:
    return [*CNN_MODELS, *(f"mnist1d_{m}" for m in MNIST1D_MODELS),
            *(f"rnn_{c}" for c in CELLS), *(f"rnn_seq_{c}" for c in CELLS)]  # fmt: skip


def build_model(name: str, num_outputs: int, hidden_size: int = 128, tokens: int = 0) -> nn.Module:
    """The model ``name`` with ``num_outputs`` outputs: a CNN of the zoo ('lenet5',
    'cifar_resnet20', ...), an MNIST-1D baseline ('mnist1d_cnn', 'mnist1d_gru', ...), or a
    recurrent network of ``hidden_size`` units, many-to-one ('rnn_<cell>') or many-to-many
    ('rnn_seq_<cell>', reading integer ``tokens`` as one-hot vectors: the copy task).
    """
    check_choice("model", name, model_names())
    if tokens and not name.startswith("rnn_seq_"):
        raise ValueError(f"this data set's inputs are integer tokens, which only the "
                         f"rnn_seq_<cell> models read; got model {name!r}")  # fmt: skip
    if name in CNN_MODELS:
        return CNN_MODELS[name](num_outputs)
    if name.startswith("mnist1d_"):
        return MNIST1D_MODELS[name.removeprefix("mnist1d_")](num_outputs)
    check_positive("config.hidden_size", hidden_size)
    if name.startswith("rnn_seq_"):
        return ManyToMany(CELLS[name.removeprefix("rnn_seq_")](hidden_size), num_outputs, tokens)
    return ManyToOne(CELLS[name.removeprefix("rnn_")](hidden_size), num_outputs)


def build_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """config.optimizer at config.learning_rate, with a cosine decay to zero over the run if
    config.schedule is 'cosine', and global-norm clipping at config.clip_norm when positive."""
    check_choice("optimizer", config.optimizer, OPTIMIZERS)
    check_choice("schedule", config.schedule, ("constant", "cosine"))
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = optax.cosine_decay_schedule(config.learning_rate, config.num_steps)
    optimizer = {
        "adam": lambda: optax.adam(rate),
        "adamw": lambda: optax.adamw(rate, weight_decay=config.weight_decay),
        "sgd": lambda: optax.chain(
            optax.add_decayed_weights(config.weight_decay),
            optax.sgd(rate, momentum=config.momentum or None, nesterov=config.momentum > 0),
        ),
    }[config.optimizer]()
    if config.clip_norm > 0:
        return optax.chain(optax.clip_by_global_norm(config.clip_norm), optimizer)
    return optimizer


def validate(config: ml_collections.ConfigDict, device_count: int | None = None) -> None:
    """Every check that needs no data, so a bad config fails before anything is written; the
    global batch must divide over ``device_count`` devices (default: all of this job's)."""
    spec = dataset_spec(config.dataset)
    build_model(config.model, spec.num_classes or 1, config.hidden_size, spec.tokens)
    build_optimizer(config)
    check_choice("data-parallel mode", config.parallel, MODES)
    for field in ("num_steps", "batch_size", "eval_batch_size", "log_every", "checkpoint_every",
                  "keep_checkpoints"):  # fmt: skip
        check_positive(f"config.{field}", config[field])
    check_divisible(config.batch_size, device_count or jax.device_count())


def _read_metrics(path: Path, up_to_step: int) -> list[str]:
    """The JSON lines of ``path`` logged at or before ``up_to_step`` (a resumed run redoes the
    steps after its checkpoint, so their lines are logged again)."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [line for line in lines if line and json.loads(line)["step"] <= up_to_step]


def evaluate(state: TrainState, arrays: dict, task: str, batch_size: int) -> dict[str, float]:
    """Mean loss (and accuracy) over a whole split."""
    step = jax.jit(partial(eval_step, task=task))
    sums = [step(state, batch) for batch in eval_batches(arrays, batch_size)]
    totals = jax.tree.map(lambda *s: float(np.sum(s)), *sums)
    count = totals.pop("count")
    return {name: total / count for name, total in totals.items()}


def train(
    config: ml_collections.ConfigDict,
    workdir,
    *,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Train as ``config`` says, in ``workdir`` (created); returns the test metrics, the run's
    facts and the final state.

    ``on_step(step)`` is called after each step (and its checkpoint, if any).
    """
    validate(config)
    spec = dataset_spec(config.dataset)
    data_dir = config.data_dir or None
    train_set = load_split(config.dataset, "train", data_dir)
    test_set = load_split(config.dataset, "test", data_dir)
    workdir = prepare_workdir(workdir)  # only once the data is there: a failed start leaves none

    model = build_model(config.model, spec.num_classes or 1, config.hidden_size, spec.tokens)
    state = TrainState.create(model, build_optimizer(config), train_set["inputs"][:1], config.seed)
    batches = train_batches(train_set, config.batch_size // jax.process_count(), config.seed)
    checkpoints = Checkpoints(workdir / "checkpoints", config.keep_checkpoints)
    restored = checkpoints.restore_latest(jax.device_get(state))
    if restored is not None:
        state, data_state = restored
        if int(state.step) > config.num_steps:
            raise ValueError(f"the checkpoint in {checkpoints.directory} is at step "
                             f"{int(state.step)}, beyond config.num_steps "
                             f"{config.num_steps}")  # fmt: skip
        batches.set_state(data_state)
        log.warning("resuming from %s", checkpoints.path(int(state.step)))
    start_step = int(state.step)

    parallel = DataParallel(partial(train_step, task=spec.task), config.parallel)
    metrics_path = workdir / METRICS_FILE
    lines = _read_metrics(metrics_path, start_step)
    if jax.process_index() == 0:
        write_outputs(workdir, {METRICS_FILE: "".join(f"{line}\n" for line in lines).encode()})

    device_state = parallel.put_state(state)
    pending, rates = [], []
    interval_start, step = time.perf_counter(), start_step
    with tqdm(total=config.num_steps, initial=start_step, desc="training", unit="step",
              file=sys.stderr, disable=jax.process_index() != 0) as bar:  # fmt: skip
        while step < config.num_steps:
            device_state, metrics = parallel.step(device_state, parallel.put_batch(next(batches)))
            step += 1
            pending.append(metrics)
            bar.update()
            logged = step % config.log_every == 0 or step == config.num_steps
            saving = step % config.checkpoint_every == 0 or step == config.num_steps
            if logged or saving:  # nothing after a non-finite step is logged or saved
                pending = jax.device_get(pending)
                _check_finite(pending, step - len(pending) + 1, checkpoints)
            if logged:
                seconds = time.perf_counter() - interval_start
                row = _metrics_row(pending, step, seconds)
                rates.append(row["steps_per_s"])
                bar.set_postfix(loss=f"{row['loss']:.4g}")
                if jax.process_index() == 0:
                    with metrics_path.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                pending, interval_start = [], time.perf_counter()
            if saving:
                checkpoints.save(step, parallel.get_state(device_state), batches.get_state())
            if on_step is not None:
                on_step(step)
    state = parallel.get_state(device_state) if step > start_step else state
    checkpoints.close()
    test = evaluate(state, test_set, spec.task, config.eval_batch_size)
    return {
        "test": test,
        "steps": config.num_steps,
        "resumed_from_step": start_step if restored is not None else None,
        # the first interval includes compilation; the rest is the steady rate
        "steps_per_s": float(np.median(rates[1:] if len(rates) > 1 else rates)) if rates else None,
        "devices": len(parallel.devices),
        "parallel": config.parallel,
        "state": state,
    }


def _check_finite(metrics: list[dict], first_step: int, checkpoints: Checkpoints) -> None:
    for offset, m in enumerate(metrics):
        bad = [name for name in ("loss", "grad_norm") if not np.isfinite(m[name])]
        if bad:
            last = checkpoints.latest_step()
            kept = f"{checkpoints.path(last)} (kept)" if last is not None else "none saved yet"
            raise NonFiniteError(
                f"non-finite {' and '.join(bad)} at step {first_step + offset}; training "
                f"stopped. Last good checkpoint: {kept}"
            )


def _metrics_row(metrics: list[dict], step: int, seconds: float) -> dict:
    row = {"step": step}
    row.update({name: float(np.mean([m[name] for m in metrics])) for name in metrics[0]})
    row["steps_per_s"] = len(metrics) / seconds
    return row
