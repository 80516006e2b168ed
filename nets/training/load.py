"""A trained run, loaded for prediction from its work directory alone.

    run = load_run("runs/dates")                 # the latest checkpoint; step=N for another
    logits = run.model.apply(run.variables, inputs, train=False)
    run.pipeline["vocabulary"]                   # what the data pipeline fixed at training time

A run directory is self-contained: the run driver writes ``config.json`` (the model and data
set), ``pipeline.json`` (the data pipeline's facts: task, vocabulary, labels, sample rate,
image scaling, series scaling, and the layout of one example's inputs) and its checkpoints,
so a run copied to another machine or path loads without the data it was trained on. Loading
is read-only: it takes no lock, writes nothing, and so may read a run that is still training
(its latest complete checkpoint). Only the model's variables are read (parameters and
BatchNorm statistics), not the optimiser state.
"""

import dataclasses
from pathlib import Path

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from nets.data.text import PAD
from nets.training.checkpoint import CheckpointError, check_intact
from nets.training.config import build_model
from nets.training.run_driver import CONFIG_FILE, PIPELINE_FILE
from nets.training.workdir import read_json


class RunError(ValueError):
    """A work directory that cannot be loaded: what is missing or different, in one line."""


@dataclasses.dataclass(frozen=True)
class LoadedRun:
    """What prediction needs of a trained run."""

    model: nn.Module
    variables: dict  # {'params'[, 'batch_stats']}: model.apply(variables, inputs, train=False)
    config: ml_collections.ConfigDict
    pipeline: dict  # nets.data.registry.pipeline, with 'example': the inputs' layout
    step: int  # the checkpoint's step
    workdir: Path

    @property
    def task(self) -> str:
        return self.pipeline["task"]

    def example_inputs(self, batch: int = 1):
        """Zeros shaped like a batch of ``batch`` inputs, as the model was trained on."""
        return jax.tree.map(
            lambda leaf: np.zeros((batch, *leaf["shape"]), leaf["dtype"]),
            self.pipeline["example"]["inputs"],
            is_leaf=lambda node: isinstance(node, dict) and "shape" in node,
        )


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise RunError(f"{path} is missing: {what}")
    try:
        return read_json(path)
    except ValueError as error:
        raise RunError(str(error)) from None


def _checkpoint_step(directory: Path, step: int | None) -> int:
    steps = sorted(
        int(p.name) for p in directory.glob("*") if p.is_dir() and p.name.isdigit()
    )  # complete checkpoints only: orbax writes into a temporary name, then renames
    if not steps:
        raise RunError(f"{directory.parent} has no checkpoint yet ({directory} has none)")
    if step is None:
        return steps[-1]
    if step not in steps:
        raise RunError(f"{directory.parent} has no checkpoint at step {step}; it has {steps}")
    return step


def _differences(expected, restored) -> list[str]:
    """The paths of the arrays whose shapes differ (or that only one side has)."""
    want = {jax.tree_util.keystr(k): np.shape(v) for k, v in jax.tree.leaves_with_path(expected)}
    have = {jax.tree_util.keystr(k): np.shape(v) for k, v in jax.tree.leaves_with_path(restored)}
    return [
        f"{key} {have.get(key, 'missing')} (this code builds {want.get(key, 'nothing')})"
        for key in sorted(want.keys() | have.keys())
        if want.get(key) != have.get(key)
    ]


def load_run(workdir, *, step: int | None = None) -> LoadedRun:
    """The model, variables, config and data pipeline of the run in ``workdir`` at its latest
    checkpoint (or at ``step``). Raises RunError naming what is missing or different: no
    config.json or pipeline.json, no checkpoint, or a checkpoint whose arrays this code's
    model no longer has."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise RunError(f"{workdir} is not a directory")
    config = ml_collections.ConfigDict(
        _read_json(workdir / CONFIG_FILE, "not a training run's work directory")
    )
    pipeline = _read_json(workdir / PIPELINE_FILE, "the run was written before runs kept it")
    if pipeline.get("task") == "translation":  # runs written before the pipeline named it
        pipeline.setdefault("pad", PAD)
    directory = workdir / "checkpoints"
    step = _checkpoint_step(directory, step)
    try:
        model = build_model(config)
    except ValueError as error:
        raise RunError(f"the config in {workdir} no longer builds a model: {error}") from None
    run = LoadedRun(model, {}, config, pipeline, step, workdir)
    expected = jax.eval_shape(model.init, jax.random.key(0), run.example_inputs())
    try:
        check_intact(directory / str(step))
    except CheckpointError as error:
        raise RunError(str(error)) from None
    options = ocp.CheckpointManagerOptions(read_only=True, create=False)
    with ocp.CheckpointManager(directory.absolute(), options=options) as manager:
        try:  # no template: the saved TrainState comes back as a dict of its fields
            restored = manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore())
            ).state
        except Exception as error:  # orbax raises many types for unreadable files
            first = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            raise RunError(f"checkpoint {directory / str(step)} cannot be read ({first})") from None
    variables = {"params": restored["params"]}
    if restored.get("batch_stats"):
        variables["batch_stats"] = restored["batch_stats"]
    different = _differences(expected, variables)
    if different:
        raise RunError(
            f"checkpoint {directory / str(step)} does not fit the model its config builds "
            f"with this code: {'; '.join(different[:3])}"
            + (f" and {len(different) - 3} more" if len(different) > 3 else "")
        )
    variables = jax.tree.map(lambda leaf, want: np.asarray(leaf, want.dtype), variables, expected)
    return dataclasses.replace(run, variables=variables)
