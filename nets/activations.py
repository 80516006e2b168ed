"""Activation functions by name, the lecture's f and g: tanh, ReLU, sigmoid, softmax, identity."""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nets.checks import check_choice

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "softmax": jax.nn.softmax,
    "identity": lambda x: x,
}


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation called ``name``; an unknown name raises ValueError listing the valid ones."""
    check_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]
