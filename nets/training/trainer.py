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

import jax
import ml_collections
import numpy as np
from tqdm import tqdm

from nets.data.loader import dataset_spec, eval_batches, load_split, train_batches
from nets.training.checkpoint import Checkpoints
from nets.training.config import build_model, build_optimizer, validate_training
from nets.training.objectives import get_objective
from nets.training.parallel import DataParallel
from nets.training.state import TrainState, eval_step, train_step
from nets.training.workdir import prepare_workdir, write_outputs

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


class NonFiniteError(ValueError):
    """The loss or the gradient became NaN or infinite."""


def _read_metrics(path: Path, up_to_step: int) -> list[str]:
    """The JSON lines of ``path`` logged at or before ``up_to_step`` (a resumed run redoes the
    steps after its checkpoint, so their lines are logged again)."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [line for line in lines if line and json.loads(line)["step"] <= up_to_step]


def evaluate(state: TrainState, arrays: dict, loss_fn, batch_size: int) -> dict[str, float]:
    """Mean loss (and the objective's other metrics) over a whole split."""
    step = jax.jit(partial(eval_step, loss_fn=loss_fn))
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
    validate_training(config, jax.device_count())
    loss_fn = get_objective(dataset_spec(config.data.name).loss)
    data_dir = config.data.data_dir or None
    train_set = load_split(config.data.name, "train", data_dir)
    test_set = load_split(config.data.name, "test", data_dir)
    optimizer = build_optimizer(config.optimizer, config.num_steps)
    # the model meets its input here (a wrong shape is an error naming the expected one)
    state = TrainState.create(build_model(config), optimizer, train_set["inputs"][:1], config.seed)
    workdir = prepare_workdir(workdir)  # only once data and model fit: a failed start leaves none
    batches = train_batches(train_set, config.batch_size // jax.process_count(), config.seed)
    checkpoints = Checkpoints(workdir / "checkpoints", config.keep_checkpoints)
    restored = checkpoints.restore_latest(jax.device_get(state))
    if restored is not None:
        state, data_state = restored
        if int(state.step) > config.num_steps:
            raise ValueError(
                f"the checkpoint in {checkpoints.directory} is at step "
                f"{int(state.step)}, beyond config.num_steps "
                f"{config.num_steps}"
            )
        batches.set_state(data_state)
        log.warning("resuming from %s", checkpoints.path(int(state.step)))
    start_step = int(state.step)

    parallel = DataParallel(partial(train_step, loss_fn=loss_fn), config.parallel)
    metrics_path = workdir / METRICS_FILE
    lines = _read_metrics(metrics_path, start_step)
    if jax.process_index() == 0:
        write_outputs(workdir, {METRICS_FILE: "".join(f"{line}\n" for line in lines).encode()})

    device_state = parallel.put_state(state)
    pending, rates = [], []
    interval_start, step = time.perf_counter(), start_step
    with tqdm(
        total=config.num_steps,
        initial=start_step,
        desc="training",
        unit="step",
        file=sys.stderr,
        disable=jax.process_index() != 0,
    ) as bar:
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
    test = evaluate(state, test_set, loss_fn, config.eval_batch_size)
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
