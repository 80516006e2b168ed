"""Per-layer summary of any registered model: output shape, parameters and FLOPs of each layer.

    python -m nets.summary lenet5                     # 32x32x1 by default
    python -m nets.summary resnet50 --input 224x224x3 --outputs 1000
    python -m nets.summary many_to_one --input 100x2 --option cell=gru --option hidden_size=64

Answers the lecture's "calculate the output dimensions after each layer". Rows are the
convolutions, dense layers, BatchNorms and pooling layers in call order, and each recurrent
cell as one row (its input projection and recurrent matmul over all T steps). FLOPs count 2 per
multiply-add of the convolutions, dense layers and cell matmuls, for one example; activations,
normalisation and pooling are listed with 0. The parameter column sums to the model's parameter
count (BatchNorm scale and bias included, its running statistics not).

Flax's ``Module.tabulate(compute_flops=True)`` was considered: it takes XLA's cost analysis of
each submodule, which also counts bias adds, activations and the pooling reductions, so LeNet-5
would not show the lecture's multiply-add count; this walker keeps the lecture's convention.
"""

import argparse
import ast
import math
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.cnn.layers import Pool
from nets.models import MODELS, get_model
from nets.rnn import RecurrentCell

LAYERS = (nn.Conv, nn.Dense, nn.BatchNorm, Pool)
# the input one example of each model reads, where it is not an ImageNet image
INPUT_SHAPES = {
    "lenet5": (32, 32, 1),
    **{name: (32, 32, 3) for name in MODELS if name.startswith("cifar_")},
    **{name: (40,) for name in MODELS if name.startswith("mnist1d_")},
    "many_to_one": (100, 2),
    "many_to_many": (100, 2),
}
DEFAULT_OUTPUTS = {"lenet5": 10, **{name: 10 for name in MODELS if name.startswith("cifar_")}}


def _count(tree) -> int:
    return sum(math.prod(p.shape) for p in jax.tree.leaves(tree))


def _inside_cell(module) -> bool:
    parent = module.parent
    while isinstance(parent, nn.Module):
        if isinstance(parent, RecurrentCell):
            return True
        parent = parent.parent
    return False


def _row(module, output_shape, flops) -> dict:
    return {
        "layer": "/".join(module.path),
        "type": type(module).__name__,
        "output_shape": tuple(output_shape),
        "parameters": _count(module.variables.get("params", {})),
        "flops": flops,
    }


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """One row per convolution, dense, BatchNorm, pooling layer and recurrent cell, in call
    order, for a batch of one [1, *input_shape]; shapes only (``jax.eval_shape``)."""
    if getattr(model, "remat", False):
        # recomputing in the backward pass changes no shape, parameter or forward FLOP, but it
        # projects the inputs inside its chunks through a detached copy of the cell's layer,
        # out of this table's sight: the model without it has the same rows
        model = model.clone(remat=False)
    example = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), example)
    rows = []

    def record(next_fun, args, kwargs, context):
        output = next_fun(*args, **kwargs)
        module, method = context.module, context.method_name
        if isinstance(module, RecurrentCell) and method == "input_projection":
            # output [time, 1, gates]: W_x x_t and W_h h_{t-1}, both to the gates, every step
            time, _, gates = output.shape
            features = args[0].shape[-1]
            flops = 2 * time * gates * (features + module.hidden_size)
            rows.append(_row(module, (time, module.hidden_size), flops))
        elif method == "__call__" and isinstance(module, LAYERS) and not _inside_cell(module):
            shape = output.shape[1:]
            kernel = module.variables.get("params", {}).get("kernel")
            flops = 0
            if isinstance(module, nn.Conv):  # kernel [kh, kw, in / groups, out]
                flops = 2 * math.prod(shape) * math.prod(kernel.shape[:-1])
            elif isinstance(module, nn.Dense):  # kernel [in, out]
                flops = 2 * math.prod(shape) * kernel.shape[0]
            rows.append(_row(module, shape, flops))
        return output

    with nn.intercept_methods(record):
        jax.eval_shape(model.apply, variables, example)
    return rows


def format_table(rows: list[dict]) -> str:
    width = max(len(r["layer"]) for r in rows) + 2
    kind = max(len(r["type"]) for r in rows) + 2
    header = f"{'output shape':<18}{'parameters':>13}{'FLOPs':>17}"
    lines = [f"{'layer':<{width}}{'type':<{kind}}{header}"]
    for r in rows:
        shape = "x".join(str(d) for d in r["output_shape"])
        counts = f"{r['parameters']:>13,}{r['flops']:>17,}"
        lines.append(f"{r['layer']:<{width}}{r['type']:<{kind}}{shape:<18}{counts}")
    params, flops = sum(r["parameters"] for r in rows), sum(r["flops"] for r in rows)
    lines.append(f"{'total':<{width + kind + 18}}{params:>13,}{flops:>17,}")
    return "\n".join(lines)


def parse_shape(text: str) -> tuple[int, ...]:
    """'224x224x3' -> (224, 224, 3); anything but positive sizes raises ValueError."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ValueError(f"--input must be sizes joined by 'x' (e.g. 32x32x1), got {text!r}")
    return shape


def parse_option(text: str) -> tuple[str, object]:
    """'hidden_size=64' -> ('hidden_size', 64); a value that is no Python literal stays text."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise ValueError(f"--option must be NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help=f"one of: {', '.join(sorted(MODELS))}")
    parser.add_argument("--input", default=None, help="one example's shape, e.g. 224x224x3")
    parser.add_argument("--outputs", type=int, default=None, help="num_outputs (1000; 10)")
    parser.add_argument("--option", action="append", default=[], help="a model option NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        default = "x".join(map(str, INPUT_SHAPES.get(args.model, (224, 224, 3))))
        shape = parse_shape(args.input or default)
        outputs = DEFAULT_OUTPUTS.get(args.model, 1000) if args.outputs is None else args.outputs
        options = dict(parse_option(option) for option in args.option)
        model = get_model(args.model, outputs, **options)
        print(format_table(layer_table(model, shape)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
