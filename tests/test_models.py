"""The model registry: one way to build every model, one way to call it."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets import cnn
from nets.models import MODELS, ManyToOne, get_model, model_options
from nets.rnn import LSTMCell, SimpleRNNCell, identity

H = 4


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
    with pytest.raises(
        ValueError, match="unknown cell 'lstn'; valid: exprnn, gru, irnn, lru, lstm, tanh"
    ):
        get_model("many_to_one", 1, cell="lstn")
    assert list(model_options("many_to_one")) == [
        "cell",
        "hidden_size",
        "recurrent_init",
        "recurrent_scale",
        "forget_bias",
        "chrono",
        "update_bias",
        "r_min",
        "r_max",
        "max_phase",
        "state_size",
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


def cell_parameters(model, inputs) -> list[dict]:
    """Every cell's parameters in ``model``'s tree (the dicts holding a recurrent_kernel)."""
    variables = jax.jit(model.init)(jax.random.key(0), inputs)
    found = []

    def walk(tree):
        if "recurrent_kernel" in tree:
            found.append(jax.tree.map(np.asarray, dict(tree)))
        for value in tree.values():
            if isinstance(value, dict):
                walk(value)

    walk(variables["params"])
    return found


# every sequence head, with an input it reads
SEQUENCE_HEADS = [
    ("many_to_one", {}, np.ones((2, 8, 3), np.float32)),
    ("many_to_many", {"bidirectional": True}, np.ones((2, 8, 3), np.float32)),
    ("ctc", {"subsample": 1}, np.ones((2, 8, 3), np.float32)),
    (
        "attention_encoder_decoder",
        {"num_tokens": 5, "attention_size": 3},
        {"source": np.ones((2, 4), np.int32), "decoder_inputs": np.ones((2, 3), np.int32)},
    ),
]


@pytest.mark.parametrize(
    "name, options, inputs", SEQUENCE_HEADS, ids=[h[0] for h in SEQUENCE_HEADS]
)
def test_every_sequence_head_passes_the_cell_options_to_its_cells(name, options, inputs):
    """forget_bias, chrono, update_bias and W_h's initialisation, read back from the
    parameters: b_f = 3 on the forget quarter; chrono's b_f in [0, log(T_max - 1)], b_i = -b_f;
    every singular value of an orthogonal W_h equal to sigma; the IRNN's W_h = sigma I."""
    build = partial(get_model, name, 6, hidden_size=H, **options)
    for cell in cell_parameters(build(cell="lstm", forget_bias=3.0), inputs):
        bias = cell["input_dense"]["bias"]
        np.testing.assert_array_equal(bias[:H], 3.0)
        np.testing.assert_array_equal(bias[H:], 0.0)
    for cell in cell_parameters(build(cell="lstm", chrono=1000), inputs):
        forget, gate_in, rest = np.split(cell["input_dense"]["bias"], [H, 2 * H])
        assert 0.0 <= forget.min() and forget.max() <= np.log(999) + 1e-5
        np.testing.assert_array_equal(gate_in, -forget)
        np.testing.assert_array_equal(rest, 0.0)
    for cell in cell_parameters(build(cell="gru", update_bias=1.5), inputs):
        np.testing.assert_array_equal(cell["input_dense"]["bias"][H : 2 * H], 1.5)
    cells = cell_parameters(
        build(cell="tanh", recurrent_init="orthogonal", recurrent_scale=2.0), inputs
    )
    for cell in cells:
        np.testing.assert_allclose(np.linalg.svd(cell["recurrent_kernel"])[1], 2.0, rtol=1e-5)
    for cell in cell_parameters(build(cell="irnn", recurrent_scale=0.5), inputs):
        np.testing.assert_array_equal(cell["recurrent_kernel"], 0.5 * np.eye(H))
    for cell in cell_parameters(build(cell="lstm", recurrent_scale=0.5), inputs):
        # [H, 4H] with orthonormal rows, times sigma
        np.testing.assert_allclose(np.linalg.svd(cell["recurrent_kernel"])[1], 0.5, rtol=1e-5)
    assert len(cells) == {"many_to_many": 2, "attention_encoder_decoder": 2}.get(name, 1)


def test_the_cells_defaults_are_the_options_defaults():
    """At their defaults the options build the cell the name always built: the same
    parameters, bit for bit."""
    x = jnp.ones((2, 5, 3))
    irnn = {"activation": "relu", "recurrent_kernel_init": identity()}
    for cell, cls, fields in (("lstm", LSTMCell, {}), ("irnn", SimpleRNNCell, irnn)):
        plain = get_model("many_to_one", 1, cell=cell, hidden_size=H)
        direct = ManyToOne(cls(H, **fields), 1)
        a, b = plain.init(jax.random.key(3), x), direct.init(jax.random.key(3), x)
        jax.tree.map(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cell": "gru", "forget_bias": 3.0}, "cell 'gru' takes no option 'forget_bias'; its opt"),
        ({"cell": "tanh", "chrono": 100}, "cell 'tanh' takes no option 'chrono'"),
        ({"cell": "lstm", "update_bias": 1.0}, "cell 'lstm' takes no option 'update_bias'"),
        ({"cell": "lstm", "recurrent_init": "identity"}, r"needs a square W_h; the lstm cell's"),
        ({"cell": "tanh", "recurrent_init": "unitary"}, "unknown cell recurrent_init 'unitary'"),
        ({"cell": "tanh", "recurrent_scale": 0.0}, "recurrent_scale must be a finite number > 0"),
        ({"cell": "tanh", "recurrent_scale": float("nan")}, "recurrent_scale must be a finite"),
        ({"cell": "lstm", "chrono": 1}, "chrono initialisation needs T_max >= 2"),
    ],
)
def test_a_cell_option_the_cell_cannot_take_is_refused_by_name(options, message):
    for name in ("many_to_one", "encoder_decoder"):
        with pytest.raises(ValueError, match=message):
            get_model(name, 2, **options)


def test_every_model_takes_train_by_keyword_only():
    """``model.apply(variables, inputs, train=...)``: a positional True would silently be a
    sequence model's lengths or a CNN's second input."""
    import inspect

    for name in MODELS:
        options = {"num_tokens": 5} if "encoder_decoder" in name else {}
        model = get_model(name, 3, **options)
        parameter = inspect.signature(type(model).__call__).parameters["train"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
