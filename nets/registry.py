"""Building a model by name from a registry: the checks every registry shares.

A registry maps names to builders, ``builder(num_outputs=..., **options) -> nn.Module``: a
module class, a ``partial`` of one with a variant's fields bound, or a function. The options a
builder takes are its keyword parameters, so a misspelt option is named with the valid ones
instead of surfacing as a dataclass TypeError deep inside Flax. A ``dtype`` option may be
given by name ('bfloat16'), as a config gives it.
"""

import inspect
from collections.abc import Callable, Mapping

import flax.linen as nn
import jax.numpy as jnp

from nets.checks import check_choice, check_positive

# a model's computation dtype by name: bfloat16 is mixed precision on an accelerator (the
# parameters stay float32)
DTYPES = ("float32", "bfloat16", "float16")
# not options: the outputs are their own argument; parent and name are Flax's own
_NOT_OPTIONS = ("num_outputs", "parent", "name")


def option_defaults(builder: Callable) -> dict:
    """The keyword options ``builder`` takes besides ``num_outputs``, with their defaults
    (``inspect.Parameter.empty`` where there is none)."""
    parameters = inspect.signature(builder).parameters
    return {name: p.default for name, p in parameters.items() if name not in _NOT_OPTIONS}


def build(registry: Mapping[str, Callable], name: str, num_outputs: int, options) -> nn.Module:
    """``registry[name](num_outputs=num_outputs, **options)``, with one-line errors for an unknown
    name, a non-positive ``num_outputs`` and an option the model does not take."""
    check_choice("model", name, registry)
    check_positive("num_outputs", num_outputs)
    builder = registry[name]
    valid = list(option_defaults(builder))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"model {name!r} takes no option {', '.join(map(repr, unknown))}; valid: "
            f"{', '.join(valid) or 'none'}"
        )
    if isinstance(options.get("dtype"), str):  # a config's 'bfloat16'
        check_choice(f"model {name!r} dtype", options["dtype"], DTYPES)
        options = {**options, "dtype": jnp.dtype(options["dtype"])}
    return builder(num_outputs=num_outputs, **options)
