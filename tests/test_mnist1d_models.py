"""The MNIST-1D baselines: parameter counts of the published PyTorch models, shapes, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.cnn import conv_output_size
from nets.models import get_model


def count(variables) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mnist1d_logistic", 40 * 10 + 10),
        ("mnist1d_mlp", (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10)),
        ("mnist1d_cnn", (5 * 1 * 25 + 25) + 2 * (3 * 25 * 25 + 25) + (125 * 10 + 10)),
        # torch.nn.GRU has 5,134: it also keeps b_hr and b_hz, which only add to b_ir and b_iz
        ("mnist1d_gru", 2 * (3 * 6 * 1 + 3 * 6 + 3 * 6 * 6 + 6) + (40 * 12 * 10 + 10)),
    ],
)
def test_parameter_counts_and_logits(name, expected):
    model = get_model(name, num_outputs=10)
    x = jax.random.normal(jax.random.key(0), (3, 40))
    variables = model.init(jax.random.key(1), x)
    assert count(variables) == expected
    assert model.apply(variables, x).shape == (3, 10)


def test_cnn_lengths_follow_the_output_size_formula():
    lengths = [40]
    for kernel in (5, 3, 3):
        lengths.append(conv_output_size(lengths[-1], kernel, 1, 2, exact=False))
    assert lengths == [40, 19, 10, 5]  # 5 positions x 25 channels = the 125 flattened features


def test_models_reject_a_wrong_rank():
    with pytest.raises(ValueError, match=r"2 axes \[batch, length\], got shape \(3, 40, 1\)"):
        get_model("mnist1d_cnn", 10).init(jax.random.key(0), jnp.ones((3, 40, 1)))
