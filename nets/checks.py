"""Argument checks shared by every module: each failure names what was expected and what was given.

Shapes are static under ``jax.jit``, so these checks run once at trace time and cost nothing
in the compiled step.
"""

from collections.abc import Sequence

import jax
import numpy as np


def check_positive(name: str, value) -> None:
    """Raise ValueError unless ``value`` is a positive integer (a size, a count, a length)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_rank(name: str, shape: Sequence[int], rank: int, layout: str) -> None:
    """Raise ValueError unless ``shape`` has ``rank`` axes, naming the expected ``layout``."""
    if len(shape) != rank:
        raise ValueError(
            f"{name} must have {rank} axes {layout}, got shape {tuple(shape)} ({len(shape)} axes)"
        )


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``, listing the valid ones."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(sorted(choices))}")


def concrete(x) -> np.ndarray | None:
    """``x`` as a numpy array when its values are known (not traced under ``jit``/``grad``),
    else None: values are checked where they are known and handled safely where they are not."""
    if x is None or any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x)):
        return None
    return np.asarray(x)


def check_image(name: str, x) -> None:
    """Raise ValueError unless ``x`` is a batch of channels-last images [batch, H, W, C]."""
    check_rank(name, x.shape, 4, "[batch, height, width, channels]")
