"""The model registry: one way to build every model, one way to call it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets import cnn
from nets.models import MODELS, get_model, model_options
from nets.rnn import LSTMCell


def test_the_registry_holds_every_family_and_the_cnn_view_is_part_of_it():
    assert set(cnn.zoo.MODELS) <= set(MODELS)
    assert {"mnist1d_cnn", "mnist1d_gru", "many_to_one", "many_to_many", "lenet5"} <= set(MODELS)
    assert type(cnn.get_model("resnet18", 10)) is type(get_model("resnet18", num_outputs=10))


def test_bad_names_options_and_sizes_say_what_is_valid():
    with pytest.raises(ValueError, match="unknown model 'lstm'; valid: alexnet"):
        get_model("lstm", 10)
    with pytest.raises(ValueError, match="model 'many_to_one' takes no option 'hiden_size'; valid"):
        get_model("many_to_one", 1, hiden_size=8)
    with pytest.raises(ValueError, match="num_outputs must be a positive integer, got 0"):
        get_model("resnet18", 0)
    with pytest.raises(ValueError, match="unknown cell 'lstn'; valid: gru, irnn, lstm, tanh"):
        get_model("many_to_one", 1, cell="lstn")
    assert list(model_options("many_to_one")) == [
        "cell",
        "hidden_size",
        "num_layers",
        "bidirectional",
        "unroll",
        "remat",
        "implementation",
        "num_tokens",
        "embedding_size",
        "dropout",
        "dtype",
    ]


@pytest.mark.parametrize(
    "name, options, shape",
    [
        ("lenet5", {}, (32, 32, 1)),
        ("cifar_resnet20", {}, (32, 32, 3)),
        ("mnist1d_mlp", {}, (40,)),
        ("mnist1d_gru", {}, (40,)),
        ("many_to_one", {"hidden_size": 4}, (9, 2)),
        ("many_to_many", {"hidden_size": 4}, (9, 2)),
    ],
)
def test_every_family_is_called_the_same_way(name, options, shape):
    model = get_model(name, num_outputs=3, **options)
    x = jnp.ones((2, *shape))
    # each call compiled as one program: op by op, a CNN compiles every operation alone
    apply = jax.jit(model.apply, static_argnames=("train", "mutable"))
    variables = jax.jit(model.init)(jax.random.key(0), x)
    evaluation = apply(variables, x, train=False)
    mutable = ("batch_stats",) if "batch_stats" in variables else False
    training = apply(variables, x, train=True, mutable=mutable)
    training = training[0] if mutable else training
    assert evaluation.shape == training.shape and evaluation.shape[-1] == 3


def test_sequence_heads_take_every_recurrent_option_and_honour_padding():
    """A right-padded sequence gives what the sequence alone gives, through bidirectional
    layers (the backward direction starts at each sequence's own last step; two layers for the
    many-to-one head, whose readout concatenates the top layer's two directions), whatever the
    padding holds."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 3)).astype(np.float32)
    x[2, :4] = x[1, :4]
    x[2, 4:] = 100.0  # the same sequence as row 1, with other padding
    lengths = np.array([7, 4, 4])
    for name, layers in (("many_to_one", 2), ("many_to_many", 1)):
        model = get_model(
            name, 2, cell="gru", hidden_size=5, num_layers=layers, bidirectional=True, unroll=2
        )
        apply = jax.jit(model.apply)  # one program per shape, not one per operation
        variables = jax.jit(model.init)(jax.random.key(1), x)
        padded = apply(variables, x, lengths)
        alone = apply(variables, x[1:2, :4])[0]
        for row in (1, 2):
            got = padded[row] if name == "many_to_one" else padded[row, :4]
            np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-6)


def test_remat_leaves_the_head_unchanged():
    x = jnp.ones((2, 6, 3))
    plain = get_model("many_to_one", 1, cell="lstm", hidden_size=4)
    remat = get_model("many_to_one", 1, cell="lstm", hidden_size=4, remat=True)
    variables = plain.init(jax.random.key(0), x)
    np.testing.assert_allclose(plain.apply(variables, x), remat.apply(variables, x), rtol=1e-6)
    assert isinstance(plain.cell, LSTMCell)  # nets.gradients reads the cell of the head
