"""nets: the lecture's convolutional and recurrent networks as pure-function Flax modules.

Import the pieces you need: ``nets.losses``, ``nets.cnn``, ``nets.rnn``, ``nets.gradients``.
These import only jax, flax, optax and numpy; data loading and training live in ``nets.data``
and ``nets.training``.
"""

__version__ = "0.1.0"
