"""The per-layer summary: the lecture's LeNet-5 dimensions, totals equal to parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.models import get_model
from nets.summary import layer_table, main, parse_option, parse_shape


def test_lenet5_rows_are_the_lectures_layers():
    rows = layer_table(get_model("lenet5", 10), (32, 32, 1))
    assert [(r["layer"], r["output_shape"], r["parameters"]) for r in rows] == [
        ("conv1/conv", (28, 28, 6), 156),
        ("pool1", (14, 14, 6), 0),
        ("conv2/conv", (10, 10, 16), 2_416),
        ("pool2", (5, 5, 16), 0),
        ("fc1/dense", (120,), 48_120),
        ("fc2/dense", (84,), 10_164),
        ("output/dense", (10,), 850),
    ]
    # FLOPs: 2 per multiply-add, e.g. conv1 = 2 * (28 * 28 * 6 outputs) * (5 * 5 * 1 inputs each)
    flops = {r["layer"]: r["flops"] for r in rows}
    assert flops["conv1/conv"] == 2 * 28 * 28 * 6 * 25
    assert flops["conv2/conv"] == 2 * 10 * 10 * 16 * 5 * 5 * 6
    assert flops["fc1/dense"] == 2 * 400 * 120


@pytest.mark.parametrize(
    "name, options, shape",
    [
        ("resnet50", {}, (224, 224, 3)),
        ("googlenet", {}, (224, 224, 3)),
        ("efficientnet_b0", {}, (224, 224, 3)),
        ("vgg11_bn", {}, (224, 224, 3)),
        ("mnist1d_gru", {}, (40,)),
        ("many_to_one", {"cell": "gru", "num_layers": 2, "bidirectional": True}, (30, 3)),
        ("many_to_many", {"cell": "tanh", "hidden_size": 7}, (30, 3)),
    ],
)
def test_totals_equal_the_parameter_count(name, options, shape):
    model = get_model(name, 1000, **options)
    rows = layer_table(model, shape)
    shape = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), shape)
    expected = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))
    assert sum(r["parameters"] for r in rows) == expected


def test_resnet50_multiply_adds_are_the_published_four_billion():
    rows = layer_table(get_model("resnet50", 1000), (224, 224, 3))
    multiply_adds = sum(r["flops"] for r in rows) / 2
    # He et al. (2016) report 3.8e9 multiply-adds for v1; v1.5 (stride on the 3x3) has 4.1e9
    assert 4.0e9 < multiply_adds < 4.2e9
    assert rows[-1]["output_shape"] == (1000,)


@pytest.mark.parametrize("remat", [False, True])  # recomputation changes no row
def test_an_lstm_is_one_row_with_the_lectures_gate_count(remat):
    model = get_model("many_to_one", 1, cell="lstm", hidden_size=16, remat=remat)
    rows = layer_table(model, (50, 3))
    assert [(r["layer"], r["type"], r["output_shape"]) for r in rows] == [
        ("recurrent/cells_0", "LSTMCell", (50, 16)),
        ("head", "Dense", (1,)),
    ]
    # four gates, each W [h; x] + b: 4 * (16 * (16 + 3) + 16); 2 FLOPs per multiply-add per step
    assert rows[0]["parameters"] == 4 * (16 * (16 + 3) + 16)
    assert rows[0]["flops"] == 50 * 2 * 4 * 16 * (16 + 3)


def test_command_line(capsys):
    assert main(["lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "28x28x6" in out and "833,040" in out
    assert main(["many_to_one", "--option", "cell=gru", "--option", "hidden_size=4"]) == 0
    assert "GRUCell" in capsys.readouterr().out
    assert main(["resnet9"]) == 2
    assert "unknown model 'resnet9'; valid: alexnet" in capsys.readouterr().err
    assert main(["resnet18", "--outputs", "0"]) == 2
    assert "num_outputs must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["lenet5", "--option", "width=3"]) == 2
    assert "model 'lenet5' takes no option 'width'; valid: pooling" in capsys.readouterr().err
    with pytest.raises(ValueError, match="sizes joined by 'x' .*, got '224x-1'"):
        parse_shape("224x-1")
    assert parse_shape("64x48x3") == (64, 48, 3)
    assert parse_option("bidirectional=True") == ("bidirectional", True)
    assert parse_option("cell=lstm") == ("cell", "lstm")
