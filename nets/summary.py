"""Per-layer summary of a CNN: output shape, parameters and FLOPs of every layer.

    python -m nets.summary lenet5 --input 32x32x1
    python -m nets.summary resnet50                   # --input 224x224x3 by default

Answers the lecture's "calculate the output dimensions after each layer" for any model in
``nets.cnn.get_model``. FLOPs count 2 per multiply-add of the convolutions and dense layers
(for one image); activations, normalisation and pooling are listed with 0. The parameter
column sums to the model's parameter count (BatchNorm scale and bias included, its running
statistics not).
"""

import argparse
import math
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.cnn import get_model
from nets.cnn.layers import Pool
from nets.cnn.zoo import MODELS

LAYERS = (nn.Conv, nn.Dense, nn.BatchNorm, Pool)


def _flops(module, output_shape) -> int:
    kernel = module.variables.get("params", {}).get("kernel")
    if isinstance(module, nn.Conv):  # kernel [kh, kw, in / groups, out]
        return 2 * math.prod(output_shape) * math.prod(kernel.shape[:-1])
    if isinstance(module, nn.Dense):  # kernel [in, out]
        return 2 * math.prod(output_shape) * kernel.shape[0]
    return 0


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """One row per convolution, dense, BatchNorm and pooling layer, in call order, for a batch
    of one [1, *input_shape]; shapes only (``jax.eval_shape``: nothing is computed)."""
    images = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), images)
    rows = []

    def record(next_fun, args, kwargs, context):
        output = next_fun(*args, **kwargs)
        module = context.module
        if context.method_name == "__call__" and isinstance(module, LAYERS):
            params = jax.tree.leaves(module.variables.get("params", {}))
            rows.append({
                "layer": "/".join(module.path),
                "type": type(module).__name__,
                "output_shape": tuple(output.shape[1:]),
                "parameters": sum(math.prod(p.shape) for p in params),
                "flops": _flops(module, output.shape[1:]),
            })  # fmt: skip
        return output

    with nn.intercept_methods(record):
        jax.eval_shape(model.apply, variables, images)
    return rows


def format_table(rows: list[dict]) -> str:
    width = max(len(r["layer"]) for r in rows) + 2
    lines = [f"{'layer':<{width}}{'type':<11}{'output shape':<18}{'parameters':>13}{'FLOPs':>17}"]
    for r in rows:
        shape = "x".join(str(d) for d in r["output_shape"])
        lines.append(f"{r['layer']:<{width}}{r['type']:<11}{shape:<18}"
                     f"{r['parameters']:>13,}{r['flops']:>17,}")  # fmt: skip
    params, flops = sum(r["parameters"] for r in rows), sum(r["flops"] for r in rows)
    lines.append(f"{'total':<{width + 29}}{params:>13,}{flops:>17,}")
    return "\n".join(lines)


def parse_shape(text: str) -> tuple[int, ...]:
    """'224x224x3' -> (224, 224, 3); anything else raises ValueError saying what is expected."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"--input must be HEIGHTxWIDTHxCHANNELS with positive sizes, got {text!r}")
    return shape


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help=f"one of: {', '.join(sorted(MODELS))}")
    parser.add_argument("--input", default=None, help="HxWxC (224x224x3; 32x32x1 for lenet5)")
    parser.add_argument("--classes", type=int, default=None, help="outputs (1000; lenet5: 10)")
    args = parser.parse_args(argv)
    lenet = args.model == "lenet5"
    try:
        shape = parse_shape(args.input or ("32x32x1" if lenet else "224x224x3"))
        model = get_model(args.model, args.classes or (10 if lenet else 1000))
        print(format_table(layer_table(model, shape)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
