"""Per-step gradient norms and step Jacobians against independent computations and the theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.gradients import hidden_state_gradient_norms, scaled_norm, step_jacobian_norms
from nets.models import ManyToOne
from nets.rnn import GRUCell, LSTMCell, Recurrent, SimpleRNNCell, orthogonal

# compiled as one program per model and loss, as the experiments run it: called op by op, the
# backward pass through the scan compiles each of its operations alone
hidden_state_gradient_norms = jax.jit(hidden_state_gradient_norms, static_argnums=(0, 3))
step_jacobian_norms = jax.jit(
    step_jacobian_norms, static_argnums=0, static_argnames=("exact", "iterations")
)

B, T, X, H = 4, 30, 3, 16


def inputs(seed=0, time=T):
    return jax.random.normal(jax.random.key(seed), (B, time, X))


def last_step_loss(out):
    """A regression loss on the last step's output of a Recurrent."""
    _, outputs = out
    return jnp.mean((jnp.sum(outputs[:, -1], axis=-1) - 1.0) ** 2)


# (0.7, 150): 0.7^149 = 1e-23 is a float32 number, but its square is not: a plain norm gives 0.
@pytest.mark.parametrize("sigma, time", [(0.5, T), (0.9, T), (1.1, T), (0.7, 150)])
def test_linear_rnn_gradient_scales_as_sigma_to_the_k(sigma, time):
    # h_t = W h_{t-1} + ..., W = sigma Q: dL/dh_{T-k} = (W^T)^k dL/dh_T, norm sigma^k ||dL/dh_T||
    cell = SimpleRNNCell(H, activation="identity", recurrent_kernel_init=orthogonal(sigma))
    model = Recurrent(cell)
    x = inputs(time=time)
    variables = model.init(jax.random.key(1), x)
    norms = hidden_state_gradient_norms(model, variables, x, last_step_loss)["h"]
    k = np.arange(time)[::-1]  # step t = T - k
    expected = sigma**k * norms.per_example[:, -1:]
    np.testing.assert_allclose(norms.per_example, expected, rtol=1e-4)
    np.testing.assert_allclose(norms.mean, np.mean(norms.per_example, axis=0), rtol=1e-6)


def test_tanh_rnn_decays_at_least_as_fast_as_sigma_to_the_k():
    sigma = 0.8  # largest singular value of W_h, below 1 (Pascanu, Mikolov and Bengio 2013)
    model = Recurrent(SimpleRNNCell(H, recurrent_kernel_init=orthogonal(sigma)))
    x = 2 * inputs(2)
    variables = model.init(jax.random.key(3), x)
    norms = hidden_state_gradient_norms(model, variables, x, last_step_loss)["h"].per_example
    k = np.arange(T)[::-1]
    bound = sigma**k * norms[:, -1:]
    assert np.all(norms <= bound * (1 + 1e-5))
    assert np.all(norms[:, 0] < 0.5 * bound[:, 0])  # tanh' < 1 makes it strictly faster


def sum_of_squares_loss(w):
    """A loss over every step's output: mean_b sum_t (w . y_bt)^2 / T."""

    def loss(out):
        _, outputs = out
        return jnp.mean(jnp.sum(jnp.square(outputs @ w), axis=1)) / outputs.shape[1]

    return loss


@pytest.mark.parametrize("cell", [SimpleRNNCell(H), GRUCell(H), LSTMCell(H)], ids=type)
def test_one_pass_equals_separate_gradients_at_every_step(cell):
    """dL/dcarry_t from the perturbation trick against T separate jax.grad calls, each on the
    loss written as a function of carry_t (the prefix run to t, the rest run from carry_t)."""
    time = 8
    x = inputs(4, time)
    model = Recurrent(cell)
    variables = model.init(jax.random.key(5), x)
    w = jax.random.normal(jax.random.key(6), (H,))
    loss = sum_of_squares_loss(w)
    one_pass = hidden_state_gradient_norms(model, variables, x, loss)
    _, _, carries = model.apply(variables, x, return_carries=True)

    def loss_from_carry(carry, t):  # t is 0-based: carry is the state after step t
        h_t = cell.hidden_state(carry)
        total = jnp.mean(jnp.square(h_t @ w)) / time
        if t + 1 < time:
            _, later = model.apply(variables, x[:, t + 1 :], initial_carry=carry)
            total += jnp.mean(jnp.sum(jnp.square(later @ w), axis=1)) / time
        return total  # + terms of steps before t, constant in carry_t

    grad = jax.jit(jax.grad(loss_from_carry), static_argnums=1)  # one program per t
    for t in range(time):
        carry_t = jax.tree.map(lambda c, t=t: c[:, t], carries)
        grads = grad(carry_t, t)
        if isinstance(cell, LSTMCell):
            # The split holds h_t fixed when moving C_t; the total derivative adds the path
            # h_t = o_t tanh(C_t): dL/dC_t = partial + dL/dh_t * o_t * (1 - tanh(C_t)^2).
            h_prev = carries[1][:, t - 1] if t else jnp.zeros((B, H))
            p = variables["params"]["cells_0"]
            gates = x[:, t] @ p["input_dense"]["kernel"] + p["input_dense"]["bias"]
            gates = gates + h_prev @ p["recurrent_kernel"]
            o_t = 1 / (1 + np.exp(-np.asarray(gates[:, 3 * H :])))
            dc, dh = grads
            dc = dc + dh * o_t * (1 - np.tanh(np.asarray(carry_t[0])) ** 2)
            separate = {"c": dc, "h": dh}
        else:
            separate = {"h": grads}
        for name, g in separate.items():
            np.testing.assert_allclose(
                one_pass[name].per_example[:, t], np.linalg.norm(g, axis=-1), rtol=2e-4, atol=1e-9
            )


def test_lstm_cell_state_decays_more_slowly_than_a_tanh_rnn():
    x = inputs(7, 50)
    ratios = {}
    for name, cell, key in [("tanh", SimpleRNNCell(H), "h"), ("lstm", LSTMCell(H), "c")]:
        model = ManyToOne(cell, 1)
        variables = model.init(jax.random.key(8), x)
        norms = hidden_state_gradient_norms(
            model, variables, x, lambda y: jnp.mean((y[:, 0] - 1.0) ** 2)
        )[key].mean
        ratios[name] = norms[0] / norms[-1]
    assert ratios["lstm"] > 10 * ratios["tanh"], ratios


def test_gradient_norms_respect_padding():
    x = inputs(9, 12)
    lengths = jnp.array([12, 5, 1, 8])
    model = ManyToOne(GRUCell(H), 1)
    variables = model.init(jax.random.key(10), x)
    norms = hidden_state_gradient_norms(
        model, variables, x, lambda y: jnp.mean(y**2), seq_lengths=lengths
    )["h"].per_example
    for b, length in enumerate(lengths):
        assert np.all(norms[b, length:] == 0.0)  # padded steps do not touch the loss
        assert np.all(norms[b, :length] > 0.0)


@pytest.mark.parametrize("sigma", [0.5, 1.3])
def test_step_jacobian_of_a_linear_rnn_is_sigma(sigma):
    cell = SimpleRNNCell(H, activation="identity", recurrent_kernel_init=orthogonal(sigma))
    model = Recurrent(cell)
    x = inputs(11)
    variables = model.init(jax.random.key(12), x)
    np.testing.assert_allclose(step_jacobian_norms(model, variables, x), sigma, rtol=1e-5)


# Power iteration converges at the rate of the gap between the top two singular values, which
# an orthogonal W_h closes; a Gaussian W_h keeps them apart.
GAUSSIAN = jax.nn.initializers.normal(0.5)


@pytest.mark.parametrize(
    "cell",
    [
        SimpleRNNCell(H, recurrent_kernel_init=GAUSSIAN),
        LSTMCell(H, recurrent_kernel_init=GAUSSIAN),
        GRUCell(H, recurrent_kernel_init=GAUSSIAN),
    ],
    ids=type,
)
def test_step_jacobian_exact_matches_power_iteration_and_numpy(cell):
    model = Recurrent(cell)
    x = inputs(13, 6)
    variables = model.init(jax.random.key(14), x)
    exact = step_jacobian_norms(model, variables, x, exact=True)
    power = step_jacobian_norms(model, variables, x, exact=False, iterations=200)
    np.testing.assert_allclose(power, exact, rtol=1e-3)
    if isinstance(cell, SimpleRNNCell):  # dh_t/dh_{t-1} = diag(1 - h_t^2) W_h^T, from numpy
        _, hs = model.apply(variables, x)
        w = np.asarray(variables["params"]["cells_0"]["recurrent_kernel"])
        for t in range(6):
            jac = (1 - np.asarray(hs[0, t]) ** 2)[:, None] * w.T
            np.testing.assert_allclose(exact[0, t], np.linalg.norm(jac, 2), rtol=1e-4)


def test_gradient_is_bounded_by_the_product_of_step_jacobian_norms():
    model = Recurrent(SimpleRNNCell(H))
    x = inputs(15, 20)
    variables = model.init(jax.random.key(16), x)
    norms = hidden_state_gradient_norms(model, variables, x, last_step_loss)["h"].per_example
    jac = np.asarray(step_jacobian_norms(model, variables, x))  # jac[:, t] = ||dh_t/dh_{t-1}||
    # ||dL/dh_t|| <= prod_{s=t+1..T} ||dh_s/dh_{s-1}|| ||dL/dh_T||
    products = np.cumprod(jac[:, :0:-1], axis=1)[:, ::-1]  # [B, T-1]: product for t=0..T-2
    assert np.all(norms[:, :-1] <= products * norms[:, -1:] * (1 + 1e-4))


def test_scaled_norm_survives_where_squaring_underflows():
    tiny = jnp.full((2, 4), 1e-30, jnp.float32)  # (1e-30)^2 is below float32's range
    assert float(jnp.linalg.norm(tiny[0])) == 0.0
    np.testing.assert_allclose(scaled_norm(tiny), [2e-30, 2e-30], rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_allclose(scaled_norm(x), np.linalg.norm(x, axis=-1), rtol=1e-6)
    np.testing.assert_array_equal(scaled_norm(jnp.zeros((2, 3))), [0.0, 0.0])


@pytest.mark.parametrize("bias", [0.0, 1.0, 3.0])
def test_with_zero_weights_the_cell_state_gradient_decays_as_sigmoid_of_the_forget_bias(bias):
    """Zero weights: f = sigmoid(b), i = 1/2, C~ = tanh(0) = 0, so C_t = sigmoid(b) C_{t-1} and
    h_t reaches nothing later (W_h = 0): dL/dC_{T-k} = sigmoid(b)^k dL/dC_T exactly."""
    zeros = jax.nn.initializers.zeros
    cell = LSTMCell(H, forget_bias=bias, kernel_init=zeros, recurrent_kernel_init=zeros)
    model = Recurrent(cell)
    x = inputs(time=20)
    norms = hidden_state_gradient_norms(model, model.init(jax.random.key(0), x), x, last_step_loss)
    k = np.arange(20)[::-1]
    forget = 1 / (1 + np.exp(-bias))
    np.testing.assert_allclose(
        norms["c"].per_example, forget**k * norms["c"].per_example[:, -1:], rtol=1e-5
    )


def test_with_zero_weights_the_gru_state_decays_as_sigmoid_of_the_update_bias():
    """Zero weights: z = sigmoid(b_z), n = tanh(0) = 0, so h_t = z h_{t-1}: the ratio is z^k."""
    zeros = jax.nn.initializers.zeros
    model = Recurrent(GRUCell(H, update_bias=2.0, kernel_init=zeros, recurrent_kernel_init=zeros))
    x = inputs(time=12)
    norms = hidden_state_gradient_norms(model, model.init(jax.random.key(0), x), x, last_step_loss)
    z = 1 / (1 + np.exp(-2.0))
    np.testing.assert_allclose(
        norms["h"].per_example, z ** np.arange(12)[::-1] * norms["h"].per_example[:, -1:], rtol=1e-5
    )
