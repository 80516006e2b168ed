"""Recurrent cells against flax's cells and the numpy recurrence; the scan's semantics."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.data.synthetic import adding_problem
from nets.rnn import GRUCell, LSTMCell, Recurrent, SimpleRNNCell, identity, make_cell, orthogonal

B, T, X, H = 3, 9, 5, 4


def random_inputs(seed=0, shape=(B, T, X)):
    return jax.random.normal(jax.random.key(seed), shape)


def run_flax_cell(cell, params, inputs):
    """Step a flax cell over [batch, time, features] with a Python loop (the reference)."""
    carry = cell.initialize_carry(jax.random.key(0), inputs[:, 0].shape)
    step = jax.jit(cell.apply)  # one compiled step, reused at every t
    outputs = []
    for t in range(inputs.shape[1]):
        carry, y = step(params, carry, inputs[:, t])
        outputs.append(y)
    return carry, jnp.stack(outputs, axis=1)


def test_lstm_equals_flax_lstm_with_weights_mapped():
    inputs = random_inputs()
    ours = Recurrent(LSTMCell(H))
    variables = ours.init(jax.random.key(1), inputs)
    p = variables["params"]["cells_0"]
    w_x, b, w_h = p["input_dense"]["kernel"], p["input_dense"]["bias"], p["recurrent_kernel"]
    # our gate order is the lecture's [f, i, C~, o]; flax names them f, i, g, o
    split = lambda a: dict(zip("figo", jnp.split(a, 4, axis=-1), strict=True))  # noqa: E731
    wx, wh, bb = split(w_x), split(w_h), split(b)
    flax_params = {"params": {}}
    for gate in "figo":
        flax_params["params"][f"i{gate}"] = {"kernel": wx[gate]}
        flax_params["params"][f"h{gate}"] = {"kernel": wh[gate], "bias": bb[gate]}
    (c_ref, h_ref), y_ref = run_flax_cell(nn.LSTMCell(H), flax_params, inputs)
    (c, h), y = ours.apply(variables, inputs)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h_ref, rtol=1e-5, atol=1e-6)


def test_gru_equals_flax_gru_with_weights_mapped():
    inputs = random_inputs(1)
    ours = Recurrent(GRUCell(H))
    variables = ours.init(jax.random.key(2), inputs)
    p = variables["params"]["cells_0"]
    variables = jax.tree.map(lambda a: a + 0.1, variables)  # non-zero biases too
    p = variables["params"]["cells_0"]
    wx = jnp.split(p["input_dense"]["kernel"], 3, axis=-1)
    bx = jnp.split(p["input_dense"]["bias"], 3, axis=-1)
    wh = jnp.split(p["recurrent_kernel"], 3, axis=-1)
    flax_params = {
        "params": {
            "ir": {"kernel": wx[0], "bias": bx[0]},
            "iz": {"kernel": wx[1], "bias": bx[1]},
            "in": {"kernel": wx[2], "bias": bx[2]},
            "hr": {"kernel": wh[0]},
            "hz": {"kernel": wh[1]},
            "hn": {"kernel": wh[2], "bias": p["candidate_bias"]},
        }
    }
    h_ref, y_ref = run_flax_cell(nn.GRUCell(H), flax_params, inputs)
    h, y = ours.apply(variables, inputs)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation, f", [("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0))])
def test_simple_rnn_equals_the_numpy_recurrence(activation, f):
    inputs = np.asarray(random_inputs(2))
    cell = SimpleRNNCell(H, activation=activation, output_size=2, output_activation="sigmoid")
    model = Recurrent(cell)
    variables = model.init(jax.random.key(3), inputs)
    p = jax.tree.map(np.asarray, variables["params"]["cells_0"])
    w_x, b = p["input_dense"]["kernel"], p["input_dense"]["bias"] + 0.1
    variables["params"]["cells_0"]["input_dense"]["bias"] = b
    w_h, w_y = p["recurrent_kernel"], p["output_dense"]["kernel"]
    h = np.zeros((B, H), np.float32)
    ys = []
    for t in range(T):  # h_t = f(W_h h_{t-1} + W_x x_t + b), y_t = g(W_y h_t)
        h = f(h @ w_h + inputs[:, t] @ w_x + b)
        ys.append(1 / (1 + np.exp(-(h @ w_y))))
    final, outputs = model.apply(variables, inputs)
    np.testing.assert_allclose(final, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs, np.stack(ys, axis=1), rtol=1e-5, atol=1e-6)
    # one step through the cell's own __call__ agrees with the first step of the scan
    _, y0 = cell.apply({"params": variables["params"]["cells_0"]}, jnp.zeros((B, H)), inputs[:, 0])
    np.testing.assert_allclose(y0, ys[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", [SimpleRNNCell(H), LSTMCell(H), GRUCell(H)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_sequences_end_in_the_state_they_reach_alone(cell, bidirectional):
    inputs = random_inputs(3)
    lengths = np.array([T, 4, 1])
    model = Recurrent(cell, bidirectional=bidirectional)
    apply = jax.jit(model.apply)  # one program per shape, not one per operation
    variables = jax.jit(model.init)(jax.random.key(4), inputs)
    padded = jnp.where(jnp.arange(T)[None, :, None] < lengths[:, None, None], inputs, 99.0)
    final, outputs = apply(variables, padded, lengths)
    for b, length in enumerate(lengths):
        alone_final, alone_out = apply(variables, inputs[b : b + 1, :length])
        jax.tree.map(
            lambda a, r, b=b: np.testing.assert_allclose(a[b], r[0], rtol=1e-5, atol=1e-6),
            final,
            alone_final,
        )
        np.testing.assert_allclose(outputs[b, :length], alone_out[0], rtol=1e-5, atol=1e-6)
        assert np.all(outputs[b, length:] == 0.0)


def test_stacked_layers_feed_each_other():
    inputs = random_inputs(4)
    stacked = Recurrent(GRUCell(H), num_layers=2)
    variables = stacked.init(jax.random.key(5), inputs)
    final, outputs = jax.jit(stacked.apply)(variables, inputs)
    single = jax.jit(Recurrent(GRUCell(H)).apply)  # one program, not one per operation
    layer = lambda i, x: single({"params": {"cells_0": variables["params"][f"cells_{i}"]}}, x)  # noqa: E731
    h0, y0 = layer(0, inputs)
    h1, y1 = layer(1, y0)
    np.testing.assert_allclose(outputs, y1, rtol=1e-6)
    np.testing.assert_allclose(final[0], h0, rtol=1e-6)
    np.testing.assert_allclose(final[1], h1, rtol=1e-6)


def test_bidirectional_backward_half_reads_the_reversed_sequence():
    inputs = random_inputs(5)
    model = Recurrent(LSTMCell(H), bidirectional=True)
    variables = model.init(jax.random.key(6), inputs)
    _, outputs = jax.jit(model.apply)(variables, inputs)  # one program, not one per operation
    single = Recurrent(LSTMCell(H))
    backward = {"params": {"cells_0": variables["params"]["cells_1"]}}
    _, reversed_out = jax.jit(single.apply)(backward, inputs[:, ::-1])
    assert outputs.shape == (B, T, 2 * H)
    np.testing.assert_allclose(outputs[..., H:], reversed_out[:, ::-1], rtol=1e-5, atol=1e-6)


def test_scan_not_python_loop_jaxpr_size_independent_of_length():
    model = Recurrent(LSTMCell(H))
    variables = model.init(jax.random.key(0), random_inputs())

    def equations(time):
        x = jnp.zeros((B, time, X))
        return len(jax.make_jaxpr(lambda v, x: model.apply(v, x))(variables, x).jaxpr.eqns)

    assert equations(10) == equations(1000)
    assert "scan" in str(jax.make_jaxpr(lambda v, x: model.apply(v, x))(variables, random_inputs()))


def _matmul_shapes(equations):
    return [e.outvars[0].aval.shape for e in equations if e.primitive.name == "dot_general"]


def test_only_the_recurrent_matmul_runs_inside_the_loops():
    """Forward: W_x x for all steps is one matmul before the scan, the scan body holds only
    h_{t-1} W_h. Backward: the reverse scan holds only dL/dr_t W_h^T; dL/dW_h and dL/dW_x are
    one matmul each over all T*B rows after it."""
    model = Recurrent(LSTMCell(H))
    inputs = random_inputs()
    variables = model.init(jax.random.key(0), inputs)
    forward = jax.make_jaxpr(lambda v, x: model.apply(v, x))(variables, inputs).jaxpr
    assert _matmul_shapes(forward.eqns) == [(T, B, 4 * H)]
    (call,) = [e for e in forward.eqns if e.primitive.name == "custom_vjp_call"]
    (scan,) = [e for e in call.params["call_jaxpr"].jaxpr.eqns if e.primitive.name == "scan"]
    assert _matmul_shapes(scan.params["jaxpr"].jaxpr.eqns) == [(B, 4 * H)]

    loss = lambda v, x: jnp.sum(model.apply(v, x)[1] ** 2)  # noqa: E731
    gradient = jax.make_jaxpr(jax.grad(loss))(variables, inputs).jaxpr
    scans = [e for e in gradient.eqns if e.primitive.name == "scan"]
    assert [_matmul_shapes(s.params["jaxpr"].jaxpr.eqns) for s in scans] == [
        [(B, 4 * H)],  # forward: h_{t-1} W_h
        [(B, H)],  # backward: dL/dr_t W_h^T
    ]
    after = _matmul_shapes(gradient.eqns[gradient.eqns.index(scans[1]) :])
    assert sorted(after) == sorted([(H, 4 * H), (4 * H, X)])  # dL/dW_h, dL/dW_x (transposed)


def test_works_under_jit_grad_vmap_and_unroll():
    inputs = random_inputs(6)
    model = Recurrent(LSTMCell(H))
    variables = model.init(jax.random.key(7), inputs)
    reference = model.apply(variables, inputs)[1]
    np.testing.assert_allclose(jax.jit(model.apply)(variables, inputs)[1], reference, rtol=1e-6)
    unrolled = Recurrent(LSTMCell(H), unroll=4).apply(variables, inputs)[1]
    np.testing.assert_allclose(unrolled, reference, rtol=1e-5, atol=1e-6)
    many = jax.vmap(lambda x: model.apply(variables, x)[1])(jnp.stack([inputs, 2 * inputs]))
    np.testing.assert_allclose(many[0], reference, rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda v: jnp.sum(model.apply(v, inputs)[1] ** 2))(variables)
    # finite differences on one recurrent weight
    path = ("params", "cells_0", "recurrent_kernel")

    def loss_at(delta):
        v = jax.tree.map(lambda a: a, variables)
        v["params"]["cells_0"]["recurrent_kernel"] = (
            v[path[0]][path[1]][path[2]].at[0, 0].add(delta)
        )
        return jnp.sum(model.apply(v, inputs)[1] ** 2)

    numeric = (loss_at(1e-2) - loss_at(-1e-2)) / 2e-2
    np.testing.assert_allclose(grads[path[0]][path[1]][path[2]][0, 0], numeric, rtol=1e-2)


def test_initialisers_set_the_spectral_norm():
    w = orthogonal(0.9)(jax.random.key(0), (16, 16))
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), 0.9, rtol=1e-5)
    np.testing.assert_array_equal(identity(1.0)(jax.random.key(0), (3, 3)), np.eye(3))
    model = Recurrent(SimpleRNNCell(8, activation="relu", recurrent_kernel_init=identity()))
    variables = model.init(jax.random.key(0), jnp.ones((1, 2, 3)))
    np.testing.assert_array_equal(variables["params"]["cells_0"]["recurrent_kernel"], np.eye(8))


def test_lstm_forget_gate_bias_starts_at_one():
    variables = Recurrent(LSTMCell(H)).init(jax.random.key(0), random_inputs())
    bias = variables["params"]["cells_0"]["input_dense"]["bias"]
    np.testing.assert_array_equal(bias[:H], 1.0)
    np.testing.assert_array_equal(bias[H:], 0.0)


@pytest.mark.parametrize("max_length", [2, 100, 1000])
def test_chrono_forget_biases_lie_in_0_to_log_t_max_and_the_input_biases_are_their_negatives(
    max_length,
):
    cell = make_cell("lstm", 256, chrono=max_length)
    variables = cell.init(jax.random.key(0), cell.initialize_carry(1), jnp.ones((1, X)))
    forget, inputs, rest = np.split(
        np.asarray(variables["params"]["input_dense"]["bias"]), [256, 512]
    )
    assert forget.min() >= 0.0 and forget.max() <= np.log(max_length - 1) + 1e-6
    np.testing.assert_array_equal(inputs, -forget)
    np.testing.assert_array_equal(rest, 0.0)
    if max_length > 2:  # u = exp(b_f) is spread over [1, T_max - 1]: not one value
        u = np.exp(forget)
        assert u.min() < 1 + 0.05 * (max_length - 2) and u.max() > max_length - 1 - 0.05 * (
            max_length - 2
        )


def test_the_gru_update_bias_initialises_b_z_only():
    cell = GRUCell(H, update_bias=-1.5)
    variables = cell.init(jax.random.key(0), cell.initialize_carry(1), jnp.ones((1, X)))
    bias = variables["params"]["input_dense"]["bias"]
    np.testing.assert_array_equal(bias[H : 2 * H], -1.5)
    np.testing.assert_array_equal(np.delete(bias, np.s_[H : 2 * H]), 0.0)


def test_bad_input_names_what_was_expected():
    model = Recurrent(LSTMCell(H))
    with pytest.raises(ValueError, match=r"3 axes \[batch, time, features\], got shape \(9, 5\)"):
        model.init(jax.random.key(0), jnp.ones((T, X)))
    with pytest.raises(ValueError, match=r"time >= 1, got shape \(3, 0, 5\)"):
        model.init(jax.random.key(0), jnp.ones((B, 0, X)))
    with pytest.raises(ValueError, match="must be floating point, got int32 .token ids"):
        model.init(jax.random.key(0), jnp.ones((B, T, X), jnp.int32))
    with pytest.raises(ValueError, match=r"seq_lengths must have shape \(3,\)"):
        model.init(jax.random.key(0), random_inputs(), jnp.ones((2,), int))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got 0"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got -3"):
        SimpleRNNCell(-3)
    with pytest.raises(ValueError, match="unknown activation 'sigmod'; valid: "):
        Recurrent(SimpleRNNCell(H, activation="sigmod")).init(jax.random.key(0), random_inputs())
    with pytest.raises(ValueError, match="chrono initialisation needs T_max >= 2"):
        make_cell("lstm", H, chrono=1)
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        Recurrent(GRUCell(H), num_layers=0).init(jax.random.key(0), random_inputs())


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_are_checked_where_known_and_clipped_where_traced(bidirectional):
    model = Recurrent(GRUCell(H), bidirectional=bidirectional)
    x = random_inputs()  # [3, 9, 5]
    variables = model.init(jax.random.key(0), x)
    for bad in (10, 0, -1, 2.5):
        with pytest.raises(ValueError, match=rf"integers in 1..9 .*, got {bad} for sequence 1"):
            model.apply(variables, x, np.array([9, bad, 2]))
    # under jit the values are unknown: a length beyond T reads as T, never NaN
    outputs = jax.jit(lambda lengths: model.apply(variables, x, lengths)[1])
    too_long = outputs(np.array([9, 12, 2]))
    assert np.all(np.isfinite(too_long))
    np.testing.assert_allclose(too_long, outputs(np.array([9, 9, 2])), rtol=1e-6)


@pytest.mark.parametrize("cell", [LSTMCell(H), GRUCell(H)], ids=type)
def test_remat_gives_the_same_gradients_and_rematerialises(cell):
    inputs = random_inputs(8)
    plain, remat = Recurrent(cell), Recurrent(cell, remat=True)
    variables = plain.init(jax.random.key(9), inputs)

    def loss(model):
        return lambda v: jnp.sum(model.apply(v, inputs)[1] ** 2)

    grads = jax.jit(jax.grad(loss(plain)))(variables)  # compiled, not op by op
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # noqa: E731
    jax.tree.map(close, jax.jit(jax.grad(loss(remat)))(variables), grads)
    gates = variables["params"]["cells_0"]["recurrent_kernel"].shape[1]

    def arrays_of_all_steps(model):
        """The gradient program's arrays (outside the loops) of gate width over all 8 steps."""
        jaxpr = jax.make_jaxpr(jax.grad(loss(model)))(variables).jaxpr
        shapes = [v.aval.shape for e in jaxpr.eqns for v in e.outvars]
        return [s for s in shapes if s[-1:] == (gates,) and math.prod(s[:-1]) >= 8 * B]

    # Without remat the projections and recurrent terms of all steps are held for the backward
    # pass; with it only chunks of ceil(sqrt(8)) = 3 steps ever are.
    assert arrays_of_all_steps(plain) and not arrays_of_all_steps(remat)


def test_cudnn_weight_packing_reproduces_the_scan():
    """The packed weights, run through jax.experimental.rnn's reference LSTM (the semantics of
    the cuDNN kernel), give the scan's outputs and final state."""
    from jax.experimental import rnn as cudnn_rnn

    inputs = random_inputs(10)
    cell = LSTMCell(H)
    model = Recurrent(cell)
    variables = model.init(jax.random.key(11), inputs)
    variables = jax.tree.map(lambda a: a + 0.05, variables)  # a non-trivial bias everywhere
    (c, h), outputs = model.apply(variables, inputs)
    cell_params = {"params": variables["params"]["cells_0"]}
    weights = cell.apply(cell_params, inputs, method=cell.cudnn_weights)
    assert weights.shape == (cudnn_rnn.get_num_params_in_lstm(X, H, 1, False),)
    w_ih, w_hh, b_ih, b_hh = cudnn_rnn.unpack_lstm_weights(weights, X, H, 1, False)
    zeros = jnp.zeros((1, B, H))
    y, h_n, c_n = cudnn_rnn.lstm_ref(
        inputs,
        zeros,
        zeros,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        jnp.full((B,), T, jnp.int32),
        X,
        H,
        1,
        0.0,
        False,
    )
    np.testing.assert_allclose(y, outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_n[0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_n[0], c, rtol=1e-5, atol=1e-6)


def test_cudnn_implementation_says_what_it_needs():
    inputs = random_inputs(12)
    if jax.default_backend() != "gpu":
        with pytest.raises(ValueError, match="needs a GPU with cuDNN; this backend is 'cpu'"):
            Recurrent(LSTMCell(H), implementation="cudnn").init(jax.random.key(0), inputs)
    with pytest.raises(ValueError, match="one LSTMCell layer in one direction, got GRUCell"):
        Recurrent(GRUCell(H), implementation="cudnn").init(jax.random.key(0), inputs)
    with pytest.raises(ValueError, match="unknown implementation 'cuda'; valid: cudnn, scan"):
        Recurrent(LSTMCell(H), implementation="cuda").init(jax.random.key(0), inputs)


def test_many_to_many_reads_tokens_as_one_hot_and_is_causal():
    from nets.models import ManyToMany

    tokens = jax.random.randint(jax.random.key(0), (2, 9), 0, 5)
    model = ManyToMany(GRUCell(6), 3, num_tokens=5)
    apply = jax.jit(model.apply)  # one program, not one per operation
    params = jax.jit(model.init)(jax.random.key(1), tokens)
    outputs = apply(params, tokens)
    assert outputs.shape == (2, 9, 3)
    as_vectors = jax.jit(ManyToMany(GRUCell(6), 3).apply)(params, jax.nn.one_hot(tokens, 5))
    np.testing.assert_allclose(outputs, as_vectors, rtol=1e-6)
    changed = apply(params, tokens.at[:, 5].set((tokens[:, 5] + 1) % 5))
    np.testing.assert_array_equal(changed[:, :5], outputs[:, :5])  # y_t sees only x_1..x_t
    assert not np.allclose(changed[:, 5:], outputs[:, 5:])


@pytest.mark.parametrize("remat", [False, True], ids=["scan", "remat"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_bfloat16_recurrence_matches_float32_to_bfloat16_precision(cell, remat):
    """dtype='bfloat16' (as a config names it): the carry and the scan in bfloat16, the
    parameters, the head, the loss and the gradients in float32. Against the float32 model with
    the same parameters, outputs and gradients differ by about bfloat16's precision (2^-8 per
    rounding, over 12 steps): more than float32 rounding, less than 3%."""
    from nets.models import get_model

    x = jax.random.normal(jax.random.key(0), (8, 12, 5))
    targets = jax.random.normal(jax.random.key(1), (8, 12, 3))
    models = {
        dtype: get_model("many_to_many", 3, cell=cell, hidden_size=16, remat=remat, dtype=dtype)
        for dtype in ("float32", "bfloat16")
    }
    variables = models["float32"].init(jax.random.key(2), x)
    outputs, carry = models["bfloat16"].apply(variables, x, return_carry=True)
    assert {leaf.dtype for leaf in jax.tree.leaves(carry)} == {jnp.dtype(jnp.bfloat16)}
    assert outputs.dtype == jnp.float32

    def loss(variables, dtype):
        return jnp.mean((models[dtype].apply(variables, x) - targets) ** 2)

    def relative(a, b):
        return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a))

    exact, half = (models[d].apply(variables, x) for d in ("float32", "bfloat16"))
    assert 1e-4 < relative(exact, half) < 3e-2
    grads = {d: jax.grad(loss)(variables, d) for d in ("float32", "bfloat16")}
    leaves = (jax.tree.leaves(grads[d]) for d in ("float32", "bfloat16"))
    for a, b in zip(*leaves, strict=True):
        assert b.dtype == jnp.float32
        assert 1e-4 < relative(a, b) < 3e-2


def test_exprnn_starts_as_rotations_and_its_recurrent_matrix_stays_orthogonal_in_training():
    """W_h = expm(S - S^T): at initialisation each pair of units rotates by its own angle
    (cos t, sin t by hand); after Adam steps at a large rate W_h^T W_h = I still, to 1e-5,
    while S has moved and the loss has fallen."""
    import optax

    from nets.models import get_model
    from nets.training import objectives
    from nets.training.state import TrainState, train_step

    hidden = 8
    model = get_model("many_to_one", 1, cell="exprnn", hidden_size=hidden)
    batch = adding_problem(jax.random.key(0), 32, 10)
    state = TrainState.create(model, optax.adam(0.05), batch["inputs"][:1], seed=0)
    skew = np.asarray(state.params["recurrent"]["cells_0"]["skew"])
    kernel = np.asarray(jax.scipy.linalg.expm(skew - skew.T))
    for i in range(hidden // 2):
        t = skew[2 * i, 2 * i + 1]
        block = kernel[2 * i : 2 * i + 2, 2 * i : 2 * i + 2]
        np.testing.assert_allclose(
            block, [[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]], atol=1e-6
        )
    step = jax.jit(lambda s, b: train_step(s, b, loss_fn=objectives.mse))
    first = None
    for _ in range(30):
        state, metrics = step(state, batch)
        first = float(metrics["loss"]) if first is None else first
    trained = np.asarray(state.params["recurrent"]["cells_0"]["skew"], np.float64)
    assert np.abs(trained - skew).max() > 0.05  # W_h was trained
    w = np.asarray(jax.scipy.linalg.expm(jnp.asarray(trained - trained.T, jnp.float32)))
    np.testing.assert_allclose(w.T @ w, np.eye(hidden), atol=1e-5)
    assert float(metrics["loss"]) < first
    with pytest.raises(ValueError, match="cell 'exprnn' takes no option 'recurrent_scale'; its "):
        get_model("many_to_one", 1, cell="exprnn", recurrent_scale=2.0)


def test_an_orthogonal_w_h_needs_a_square_parametrisation():
    from nets.rnn import orthogonal_matrix

    with pytest.raises(ValueError, match=r"needs a square S \[n, n\], got shape \(4, 3\)"):
        orthogonal_matrix(jnp.zeros((4, 3)))
    # a 2 x 2 S = [[0, t], [0, 0]]: expm([[0, t], [-t, 0]]) is the rotation by t, by hand
    t = 0.3
    w = orthogonal_matrix(jnp.array([[0.0, t], [0.0, 0.0]]))
    np.testing.assert_allclose(w, [[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]], atol=1e-6)
