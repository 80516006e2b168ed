"""The four baselines of the MNIST-1D benchmark (Greydanus 2020), as Flax modules.

Published test accuracies on the default data: logistic regression 32%, MLP 68%, CNN 94%,
GRU 91% (Adam, learning rate 1e-2, batch 100). Inputs are [batch, 40] sequences; outputs logits.
None has dropout or BatchNorm: ``train`` is accepted and ignored, the call every model shares.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_positive, check_rank
from nets.cnn.convolution import Conv
from nets.rnn import GRUCell, Recurrent


def _check_sequences(name: str, x: jax.Array) -> None:
    check_rank(f"{name} input", jnp.shape(x), 2, "[batch, length]")


class LogisticRegression(nn.Module):
    """logits = W x + b."""

    num_outputs: int = 10

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        del train
        _check_sequences("LogisticRegression", x)
        return nn.Dense(self.num_outputs)(x)


class MLP(nn.Module):
    """h1 = relu(W1 x), h2 = h1 + relu(W2 h1) (a residual layer), logits = W3 h2; 100 units."""

    num_outputs: int = 10
    hidden_size: int = 100

    def __post_init__(self):
        check_positive("MLP hidden_size", self.hidden_size)
        super().__post_init__()

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        del train
        _check_sequences("MLP", x)
        h = nn.relu(nn.Dense(self.hidden_size)(x))
        h = h + nn.relu(nn.Dense(self.hidden_size)(h))
        return nn.Dense(self.num_outputs)(h)


class ConvNet1D(nn.Module):
    """Three 1-D convolutions with ReLU, 25 channels: kernel 5 then 3, 3, all stride 2 and
    padding 1, so length 40 -> 19 -> 10 -> 5 (the output-size formula, floored); then a dense
    layer on the 125 flattened features."""

    num_outputs: int = 10
    channels: int = 25

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        del train
        _check_sequences("ConvNet1D", x)
        h = x[..., None]  # [batch, length, 1 channel]
        for kernel in (5, 3, 3):
            h = nn.relu(Conv(self.channels, (kernel,), strides=2, padding=((1, 1),))(h))
        return nn.Dense(self.num_outputs)(h.reshape(h.shape[0], -1))


class GRUClassifier(nn.Module):
    """A bidirectional GRU with 6 units per direction reading one value per step; a dense
    layer on every step's outputs, flattened (40 x 12 = 480 features)."""

    num_outputs: int = 10
    hidden_size: int = 6

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        del train
        _check_sequences("GRUClassifier", x)
        _, outputs = Recurrent(GRUCell(self.hidden_size), bidirectional=True)(x[..., None])
        return nn.Dense(self.num_outputs)(outputs.reshape(outputs.shape[0], -1))


MODELS = {
    "mnist1d_logistic": LogisticRegression,
    "mnist1d_mlp": MLP,
    "mnist1d_cnn": ConvNet1D,
    "mnist1d_gru": GRUClassifier,
}
