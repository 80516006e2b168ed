"""The run driver behind ``python -m experiments.train``: data, model, steps, checkpoints.

Three phases: ``start`` (check the config, read the prepared data set, build the model and
optimiser, resume from the latest checkpoint in ``workdir/checkpoints``), ``train_steps`` (the
shared train step on every device, ``nets.training.parallel``, up to ``config.num_steps``) and
``evaluate`` (the whole test split); ``train`` runs them in order. Every ``config.log_every``
steps the interval's mean metrics (loss, accuracy, global gradient norm, steps/s) and the
learning rate of its last step are appended as one JSON line to ``workdir/metrics.jsonl`` and
written to TensorBoard event files beside it (``nets.training.events``); every
``config.eval_every`` steps (a multiple of log_every; 0 = never) the whole validation split
(the test split where the data set has none) is evaluated and joins that line as
``validation_loss``, ``validation_accuracy`` (``test_...``); every
``config.checkpoint_every`` steps and at the end a checkpoint is saved. With
``config.stateful`` the batches are consecutive chunks of the text (``stream_batches``) and the
recurrent carry passes from each chunk to the next inside the state (truncated BPTT), so a
checkpoint holds the carry too and a resumed run continues mid-text. A non-finite loss or
gradient norm stops the run before anything after it is saved (NonFiniteError names the step
and the last good checkpoint, which is kept).
"""

import contextlib
import dataclasses
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import jax
import ml_collections
import numpy as np
import optax
from tqdm import tqdm

from nets.data.augment import augmentation, evaluation_view
from nets.data.batches import eval_batches, size, stream_batches, take, train_batches
from nets.data.registry import load_records, load_split, pipeline
from nets.data.tfds_reader import Records
from nets.training.checkpoint import Checkpoints
from nets.training.config import validate_training
from nets.training.events import EventLog
from nets.training.objectives import get_objective
from nets.training.parallel import DataParallel
from nets.training.preemption import Preempted, stop_requests
from nets.training.profiling import Profile
from nets.training.state import TrainState, eval_step, initial_carry, train_step
from nets.training.steady import Compilations, steady, warn_recompiled
from nets.training.workdir import (
    exclusive,
    json_bytes,
    prepare_workdir,
    read_json,
    write_outputs,
)

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"  # the config of the run the checkpoints belong to
# what prediction needs of the data (nets.data.registry.pipeline) and the shapes of one example's
# inputs: with config.json and a checkpoint, all that nets.training.load.load_run reads
PIPELINE_FILE = "pipeline.json"
# fields that leave the trajectory as it is: a resumed run may change them freely
INTERVAL_KEY = "interval_metrics"  # in a checkpoint's data item, beside the iterator's state
UNLOGGED_KEY = "unlogged_row"  # a metrics row the run could not write before it stopped
UNTRACKED = (
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_batch_size",
    "eval_every",
    "data.data_dir",
    "parallel",
    "resume_anyway",
    "anchor",
    "profile_steps",
)
# fields added to the configs after runs were written: a saved config without one ran as this
ADDED_LATER = {
    "data.augment": "",
    "data.stream": False,
    "data.workers": 0,
    "data.trim_to": 0,
    "data.image_size": 0,
    "optimizer.boundaries": [],
    "optimizer.decay": 0.1,
    "optimizer.nesterov": True,
    "optimizer.warmup_steps": 0,
    "optimizer.weight_decay_on": "all",
    "model.dtype": "float32",
    "label_smoothing": 0.0,
}


class NonFiniteError(ValueError):
    """The loss or the gradient became NaN or infinite."""


def config_record(config: ml_collections.ConfigDict) -> dict:
    """The config as the JSON its files and checkpoints hold (tuples as lists)."""
    return json.loads(json_bytes(config.to_dict()))


def check_resumable(saved: dict | None, source: Path, config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming every field that differs from the config the checkpoint was
    written with (``saved``, read from ``source``) and alters the trajectory (batch, seed,
    learning rate, model size, cell, optimiser, clipping, data, ...: the whole config less
    ``UNTRACKED``), unless ``config.resume_anyway``; and when no saved config is left to
    compare with. More steps are allowed under a constant schedule (a cosine one decays over
    num_steps, so it would change the steps already taken)."""
    if config.get("resume_anyway", False):
        return
    if saved is None:
        raise ValueError(
            f"{source} is missing (and the checkpoint holds no config), so resuming cannot check "
            "that this config describes the run it was saved from; --config.resume_anyway=True "
            "to continue anyway"
        )
    after = _flatten(config_record(config))
    added = {k: v for k, v in ADDED_LATER.items() if k in after}
    before = {**added, **_flatten(saved)}
    ignored = set(UNTRACKED)
    if config.optimizer.schedule == "constant":
        ignored.add("num_steps")
    fields = (before.keys() | after.keys()) - ignored
    changed = sorted(k for k in fields if before.get(k) != after.get(k))
    if changed:
        listed = ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in changed)
        raise ValueError(
            f"resuming from {source} with a config that changes its run ({listed}); use another "
            f"--workdir, or --config.resume_anyway=True to continue with the new values"
        )


def example_layout(example: dict) -> dict:
    """The shapes and dtypes of one example's 'inputs' (a dict of them for a nested input) and
    whether it has 'lengths': what a loaded model is initialised and exported with."""
    inputs = jax.tree.map(
        lambda leaf: {"shape": list(np.shape(leaf)), "dtype": np.asarray(leaf).dtype.name},
        example["inputs"],
    )
    return {"inputs": inputs, "lengths": "lengths" in example}


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _read_metrics(path: Path, up_to_step: int | None = None) -> list[str]:
    """The JSON lines of ``path`` logged at or before ``up_to_step`` (every line if None; a
    resumed run redoes the steps after its checkpoint, so their lines are logged again). A
    last line cut short (a crash mid-write) is dropped; any other line that is not JSON is an
    error naming the file."""
    if not path.exists():
        return []
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    kept = []
    for number, line in enumerate(lines, start=1):
        try:  # a crash mid-write can leave any bytes, not only a cut-short record
            step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError) as error:  # JSON and UTF-8 errors
            if number == len(lines):
                log.warning("dropping the cut-short last line of %s", path)
                break
            raise ValueError(f"{path} line {number} is not a metrics record ({error})") from None
        if up_to_step is None or step <= up_to_step:
            kept.append(line.decode())
    return kept


def metrics_rows(workdir) -> list[dict]:
    """The rows a run logged to ``workdir/metrics.jsonl``, in order of step."""
    return [json.loads(line) for line in _read_metrics(Path(workdir) / METRICS_FILE)]


@functools.cache
def _compiled_eval_step(loss_fn: Callable):
    return jax.jit(partial(eval_step, loss_fn=loss_fn))  # one per objective, compiled once


def evaluate(
    state: TrainState,
    arrays,
    loss_fn,
    batch_size: int,
    shard_index=None,
    shard_count=None,
    *,
    view=None,
    workers: int = 0,
) -> dict[str, float]:
    """Mean loss (and the objective's other metrics) over a whole split. Each process (shard
    ``shard_index`` of ``shard_count``, by default this JAX process of all) evaluates the
    examples k, k + P, k + 2P, ... of it, and the sums are added across processes: no process
    evaluates everything alone. ``view`` and ``workers``: as ``eval_batches`` takes them (the
    evaluation view of the training augmentation, the processes that read it)."""
    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
    rows = np.arange(size(arrays))[shard_index::shard_count]
    step = _compiled_eval_step(loss_fn)
    batches = eval_batches(arrays, batch_size, rows, view=view, workers=workers)
    sums = [step(state, batch) for batch in batches]
    totals = jax.tree.map(lambda *s: float(np.sum(s)), *sums)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        names = sorted(totals)
        local = np.array([totals[name] for name in names], np.float64)
        combined = np.asarray(multihost_utils.process_allgather(local)).sum(axis=0)
        totals = dict(zip(names, combined.tolist(), strict=True))
    count = totals.pop("count")
    return {name: total / count for name, total in totals.items()}


@jax.jit
def _outputs(state: TrainState, batch: dict):
    return state.apply(batch)[0]


def predict(state: TrainState, arrays: dict, batch_size: int = 500):
    """The model's outputs [N, ...] on every example of a split (each leaf, if the model
    returns several: a recogniser's (logits, lengths)), in evaluation mode (compiled once per
    model and batch shape; the padded rows of the last batch are cut)."""
    outputs = [_outputs(state, batch) for batch in eval_batches(arrays, batch_size)]
    return jax.tree.map(lambda *parts: np.concatenate(parts)[: size(arrays)], *outputs)


@dataclasses.dataclass
class Run:
    """A run ready to take its next step: its data, its state and where it is saved."""

    config: ml_collections.ConfigDict
    workdir: Path
    loss_fn: Callable  # what evaluation scores
    train_loss_fn: Callable  # what training minimises (its targets smoothed, if asked)
    schedule: optax.ScalarOrSchedule  # the learning rate: a number, or a function of the step
    view: Callable | None  # the evaluation view of the training augmentation, if it has one
    train_set: dict | Records  # arrays in memory, or records streamed from the files
    test_set: dict | Records
    eval_split: str  # what periodic evaluation reads: 'validation', or 'test' where there is none
    eval_set: dict | Records | None  # that split, if config.eval_every asks for it
    state: TrainState
    batches: Iterator
    checkpoints: Checkpoints
    resumed_from: int | None
    events: EventLog
    # the per-step metrics of the log interval the checkpoint cut, so the row that spans the
    # resume averages the same steps as an uninterrupted run's
    interval: list = dataclasses.field(default_factory=list)

    @property
    def metrics_path(self) -> Path:
        return self.workdir / METRICS_FILE

    @functools.cached_property
    def record(self) -> dict:
        """The config as each checkpoint keeps it."""
        return config_record(self.config)

    def evaluate(self, state: TrainState, split: dict | Records) -> dict[str, float]:
        """``evaluate`` on a split of this run, through its evaluation view and workers."""
        workers = self.config.data.get("workers", 0)
        batch_size = self.config.eval_batch_size
        return evaluate(state, split, self.loss_fn, batch_size, view=self.view, workers=workers)


def start(config: ml_collections.ConfigDict, workdir, stack: contextlib.ExitStack) -> Run:
    """Check the config, read the data, build the model and optimiser, lock ``workdir`` for
    the run (released when ``stack`` closes) and restore its latest checkpoint if there is one
    (trimming the metrics log to it and checking that the config still describes the same
    run). Nothing is written before the data and the model are known to fit."""
    parts = validate_training(config, jax.device_count())
    spec = parts.spec
    image_size = config.data.get("image_size", 0)
    augment = augmentation(config.data.get("augment", ""), image_size)
    view = evaluation_view(config.data.get("augment", ""), image_size)
    data_dir = config.data.data_dir or None
    read = load_records if config.data.get("stream", False) else load_split
    train_set = read(config.data.name, "train", data_dir)
    test_set = read(config.data.name, "test", data_dir)
    eval_split = "validation" if spec.validation else "test"
    eval_set = test_set if eval_split == "test" else None
    if config.get("eval_every", 0) and eval_set is None:
        eval_set = read(config.data.name, eval_split, data_dir)
    first = take(train_set, 0)
    trim_to = config.data.get("trim_to", 0)
    if trim_to and ("lengths" not in first or isinstance(first["inputs"], dict)):
        raise ValueError(
            f"config.data.trim_to cuts padded sequences to their 'lengths'; {config.data.name!r} "
            f"has no padded sequences (its examples hold {sorted(first)})"
        )
    if augment is not None:  # a crop that does not fit the images fails here, not later
        first = augment(first, np.random.default_rng(0))
    # the model meets its input here (a wrong shape is an error naming the expected one)
    example = jax.tree.map(lambda leaf: leaf[None], first["inputs"])  # a batch of one
    state = TrainState.create(parts.model, parts.optimizer, example, config.seed)
    local_batch = config.batch_size // jax.process_count()
    if config.get("stateful", False):
        if jax.process_count() > 1:
            raise ValueError("config.stateful runs in one process only (its carry is gathered)")
        inputs = take(train_set["inputs"], slice(config.batch_size))
        state = state.replace(carry=initial_carry(state.model, state.variables, inputs))
        batches = stream_batches(train_set, local_batch)
    else:
        workers = config.data.get("workers", 0)
        batches = train_batches(
            train_set, local_batch, config.seed, augment=augment, workers=workers, trim_to=trim_to
        )
    if hasattr(batches, "close"):  # stop its worker processes and free their shared memory
        stack.callback(batches.close)  # (also when the run stops on a signal or an error)
    workdir = prepare_workdir(workdir)
    stack.enter_context(exclusive(workdir))
    checkpoints = Checkpoints(workdir / "checkpoints", config.keep_checkpoints)
    latest = checkpoints.latest_step()
    if latest is not None:  # the config first: a changed model would not fit the arrays
        saved = checkpoints.saved_config(latest)
        source = checkpoints.path(latest)
        if saved is None:  # a checkpoint saved before they held their config
            source = workdir / CONFIG_FILE
            saved = read_json(source) if source.exists() else None
        check_resumable(saved, source, config)
    restored = checkpoints.restore_latest(jax.device_get(state))
    interval, unlogged = [], None
    if restored is not None:
        state, data_state = restored
        if int(state.step) > config.num_steps:
            raise ValueError(
                f"the checkpoint in {checkpoints.directory} is at step {int(state.step)}, beyond "
                f"config.num_steps {config.num_steps}"
            )
        data_state = dict(data_state)
        # float32, as the step returned them: the row's mean is then the straight run's, bit
        # for bit (JSON's float64 would round it differently)
        interval = [{k: np.asarray(v, np.float32) for k, v in m.items()}
                    for m in data_state.pop(INTERVAL_KEY, [])]  # fmt: skip
        unlogged = data_state.pop(UNLOGGED_KEY, None)
        batches.set_state(data_state)
        log.warning("resuming from %s", checkpoints.path(int(state.step)))
    if jax.process_index() == 0:
        facts = {**pipeline(config.data.name, data_dir), "example": example_layout(first)}
        write_outputs(
            workdir,
            {CONFIG_FILE: json_bytes(config_record(config)), PIPELINE_FILE: json_bytes(facts)},
        )
    resumed = int(state.step) if restored is not None else None
    lines = _read_metrics(workdir / METRICS_FILE, int(state.step))
    logged_steps = {json.loads(line)["step"] for line in lines}
    if unlogged is not None and unlogged["step"] not in logged_steps:
        lines.append(json.dumps(unlogged))  # written now, in its place before the next rows
    if jax.process_index() == 0:
        write_outputs(workdir, {METRICS_FILE: "".join(f"{line}\n" for line in lines).encode()})
    # TensorBoard is rewritten from metrics.jsonl up to the checkpoint: the event writer's
    # queue may have lost the last rows a killed run logged, and metrics.jsonl has them all
    rows = [json.loads(line) for line in lines]
    purge = rows[0]["step"] if rows else (None if resumed is None else resumed + 1)
    events = stack.enter_context(EventLog(workdir, purge))
    for row in rows:
        _log_events(events, eval_split, row)
    return Run(
        config=config,
        workdir=workdir,
        loss_fn=get_objective(spec.loss),
        train_loss_fn=parts.loss_fn,
        schedule=parts.schedule,
        view=view,
        train_set=train_set,
        test_set=test_set,
        eval_split=eval_split,
        eval_set=eval_set,
        state=state,
        batches=batches,
        checkpoints=checkpoints,
        resumed_from=resumed,
        events=events,
        interval=interval,
    )


def train_steps(run: Run, on_step: Callable[[int], None] | None = None) -> tuple[TrainState, list]:
    """Run the steps from the restored one to ``config.num_steps`` on every device; log each
    interval and save each checkpoint. Returns the final state (host copy) and the logged
    steps/s of each interval.

    Between log intervals the steps run in ``nets.training.steady.steady``: nothing comes back
    to the host (a transfer there raises), and a step that compiles after this process's first
    is a ``RecompilationWarning``. Each metrics row counts the programs compiled in
    its interval ('compilations': steps, evaluation and saving together)."""
    config, start_step = run.config, int(run.state.step)
    rate = run.schedule
    parallel = DataParallel(partial(train_step, loss_fn=run.train_loss_fn), config.parallel)
    device_state = parallel.put_state(run.state)
    pending, rates = list(run.interval), []
    interval_start, step = time.perf_counter(), start_step
    profile = Profile(config.get("profile_steps", ""), run.workdir, config.num_steps)

    def save(unlogged: dict | None = None):  # nothing after a non-finite step is saved
        interval = jax.device_get(pending)
        _check_finite(interval, step - len(interval) + 1, run.checkpoints)
        data = {**run.batches.get_state(), INTERVAL_KEY: _json_ready(interval)}
        if unlogged is not None:
            data[UNLOGGED_KEY] = unlogged
        run.checkpoints.save(step, parallel.get_state(device_state), data, run.record)

    with (
        progress_bar(config.num_steps, start_step) as bar,
        stop_requests() as stop,
        Compilations() as compiled,
        profile,
    ):
        logged = 0  # the compilations counted in earlier rows
        # with config.data.trim_to each length a batch is cut to compiles once, as expected
        trimming, trimmed_lengths = config.data.get("trim_to", 0), set()
        while step < config.num_steps:
            batch = next(run.batches)
            profile.before(step + 1)
            before = len(compiled.programs)
            with steady(), jax.profiler.StepTraceAnnotation("train", step_num=step + 1):
                device_state, metrics = parallel.step(device_state, parallel.put_batch(batch))
            step += 1
            profile.after(step, metrics)
            new_length = False
            if trimming:
                length = batch["inputs"].shape[1]
                new_length = length not in trimmed_lengths
                trimmed_lengths.add(length)
            if step > start_step + 1 and compiled.since(before) and not new_length:
                warn_recompiled(f"step {step}", compiled.since(before))
            pending.append(metrics)
            bar.update()
            saving = step % config.checkpoint_every == 0 or step == config.num_steps
            if step % config.log_every == 0 or step == config.num_steps:
                pending = jax.device_get(pending)
                _check_finite(pending, step - len(pending) + 1, run.checkpoints)
                row = _metrics_row(pending, step, time.perf_counter() - interval_start)
                row["learning_rate"] = float(rate(step - 1) if callable(rate) else rate)
                if config.get("eval_every", 0) and step % config.eval_every == 0:
                    state = parallel.get_state(device_state)
                    scores = run.evaluate(state, run.eval_set)
                    row.update({f"{run.eval_split}_{k}": v for k, v in scores.items()})
                row["compilations"] = len(compiled.programs) - logged
                logged = len(compiled.programs)
                try:
                    _log(run, row)
                except OSError as error:  # the log cannot be written: keep the run, then stop
                    pending = []  # the row holds them
                    save(unlogged=row)
                    raise ValueError(
                        f"{run.metrics_path} cannot be written ({error.strerror or error}); "
                        f"saved {run.checkpoints.path(step)} with the row it could not log: "
                        f"make the file writable and run the same command to resume"
                    ) from None
                rates.append(row["steps_per_s"])
                bar.set_postfix(loss=f"{row['loss']:.4g}")
                pending, interval_start = [], time.perf_counter()
            if saving:
                save()
            if on_step is not None:
                on_step(step)
            if stop and step < config.num_steps:  # SIGTERM or Ctrl-C: save this step, then go
                if not saving:
                    save()
                raise Preempted(stop[0], step, run.checkpoints.path(step))
    state = parallel.get_state(device_state) if step > start_step else run.state
    return state, rates


def train(
    config: ml_collections.ConfigDict,
    workdir,
    *,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Train as ``config`` says, in ``workdir``; returns the test metrics, the run's facts and
    the final state. ``on_step(step)`` is called after each step (and its checkpoint, if any)."""
    with contextlib.ExitStack() as stack:
        run = start(config, workdir, stack)
        state, rates = train_steps(run, on_step)
        run.checkpoints.close()
        test = run.evaluate(state, run.test_set)
        run.events.scalars("test", test, config.num_steps)
    # the first interval includes compilation; the rest is the steady rate
    steps_per_s = float(np.median(rates[1:] if len(rates) > 1 else rates)) if rates else None
    return {
        "test": test,
        "steps": config.num_steps,
        "resumed_from_step": run.resumed_from,
        "steps_per_s": steps_per_s,
        # what the input pipeline must supply to each device (images/s, for the image recipes)
        "examples_per_s_per_device": (
            steps_per_s * config.batch_size / jax.device_count() if steps_per_s else None
        ),
        "devices": jax.device_count(),
        "parallel": config.parallel,
        "state": state,
    }


def progress_bar(total: int, initial: int):
    """A tqdm bar on stderr, shown by process 0 only."""
    return tqdm(
        total=total,
        initial=initial,
        desc="training",
        unit="step",
        file=sys.stderr,
        disable=jax.process_index() != 0,
    )


def _log_events(events: EventLog, eval_split: str, row: dict) -> None:
    """One metrics row as TensorBoard scalars: 'train/...', and the periodic evaluation's
    metrics under their split's name."""
    prefix = f"{eval_split}_"
    evaluated = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
    trained = {k: v for k, v in row.items() if k != "step" and not k.startswith(prefix)}
    events.scalars("train", trained, row["step"])
    if evaluated:
        events.scalars(eval_split, evaluated, row["step"])


def _json_ready(metrics: list[dict]) -> list[dict]:
    return [{name: np.asarray(value).tolist() for name, value in m.items()} for m in metrics]


def _log(run: Run, row: dict) -> None:
    """Append one interval's metrics to metrics.jsonl and the event files (process 0 writes)."""
    _log_events(run.events, run.eval_split, row)
    if jax.process_index() == 0:
        with run.metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")


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
