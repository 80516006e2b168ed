"""A trained run's prediction function serialised with ``jax.export`` (StableHLO), to run
without this repository's code.

    export_run(load_run("runs/sentiment"), "exported/sentiment")

writes into the directory:

- ``model.jax``: ``jax.export.Exported.serialize()`` of the prediction function with the
  model's variables inside it; its batch dimension is symbolic ('b', and the time axis 't' of
  speech features and prompts) where the model allows it, else fixed at 1;
- ``signature.json``: the function's arguments and results (names, shapes with their symbols,
  dtypes) and what it computes;
- ``pipeline.json``: what the data pipeline fixed (the vocabulary, labels, scaling, sample
  rate), to turn a person's input into the arguments and the results into an answer.

Read it back with jax alone::

    from jax import export
    exported = export.deserialize(bytearray(open("model.jax", "rb").read()))
    outputs = exported.call(*arguments)

The function per task: the model's outputs (logits; a recogniser's (logits, frames); a
forecaster's scaled changes) for ``inputs`` [and ``lengths``], and for a translation model the
greedy decoding's output tokens [b, max_length] (``nets.models.decoding``).
"""

import json
from functools import partial
from pathlib import Path

import jax
import numpy as np
from jax import export

from nets.files import write_whole


def _arguments(run) -> tuple[list[str], list[list[str]], list[str], str]:
    """(names, shapes as lists of sizes and symbols, dtypes, description) of the exported
    function's arguments."""
    facts, example = run.pipeline, run.pipeline["example"]
    if run.task == "translation":
        shapes = [["b", str(facts["max_source"])], ["b"]]
        return ["source", "lengths"], shapes, ["int32", "int32"], "greedy output tokens"
    inputs = example["inputs"]
    if "shape" not in inputs:  # nested inputs: only translation has them
        raise ValueError(f"a run of task {run.task!r} with nested inputs cannot be exported")
    shape = [str(n) for n in inputs["shape"]]
    if run.task in ("speech", "language_model"):
        shape[0] = "t"  # any number of frames, any prompt length
    names, shapes, dtypes = ["inputs"], [["b", *shape]], [inputs["dtype"]]
    if example["lengths"]:
        names, shapes, dtypes = [*names, "lengths"], [*shapes, ["b"]], [*dtypes, "int32"]
    return names, shapes, dtypes, "the model's outputs"


def _fixed(size: str, time: int) -> int:
    return {"b": 1, "t": time}.get(size) or int(size)


def _function(run):
    if run.task == "translation":
        from nets.models.decoding import _greedy

        facts = run.pipeline
        return partial(
            _greedy, run.model, run.variables, max_length=facts["max_length"],
            start=facts["start"], end=facts["end"], pad=facts["pad"],
        )  # fmt: skip

    def outputs(inputs, lengths=None):
        kwargs = {} if lengths is None else {"seq_lengths": lengths}
        return run.model.apply(run.variables, inputs, train=False, **kwargs)

    return outputs


def export_run(run, directory) -> Path:
    """Write ``run``'s prediction function and pipeline into ``directory`` (module docstring)."""
    names, shapes, dtypes, description = _arguments(run)
    function = jax.jit(_function(run))
    try:
        scope = export.SymbolicScope()
        arguments = [
            jax.ShapeDtypeStruct(export.symbolic_shape(", ".join(s), scope=scope), dtype)
            for s, dtype in zip(shapes, dtypes, strict=True)
        ]
        exported = export.export(function)(*arguments)
    except Exception:  # a model whose shapes must all be known: one example of the training one
        time = run.pipeline["example"]["inputs"].get("shape", [1])[0]
        shapes = [[str(_fixed(size, time)) for size in shape] for shape in shapes]
        arguments = [
            jax.ShapeDtypeStruct(tuple(int(n) for n in shape), dtype)
            for shape, dtype in zip(shapes, dtypes, strict=True)
        ]
        exported = export.export(function)(*arguments)
    serialized = bytes(exported.serialize())
    signature = {
        "task": run.task,
        "computes": description,
        "arguments": [
            {"name": n, "shape": s, "dtype": d}
            for n, s, d in zip(names, shapes, dtypes, strict=True)
        ],
        "results": [
            {"shape": str(aval.shape), "dtype": np.dtype(aval.dtype).name}
            for aval in exported.out_avals
        ],
        "model": run.config.model.to_dict(),
        "data": run.config.data.name,
        "step": run.step,
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_whole(directory / "model.jax", serialized)
    write_whole(directory / "signature.json", json.dumps(signature, indent=1).encode())
    write_whole(directory / "pipeline.json", json.dumps(run.pipeline, indent=1).encode())
    return directory
