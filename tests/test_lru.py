"""The Linear Recurrent Unit against a step-by-step numpy loop (complex128), its padding, its
ring, and its gradient decay in closed form."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets.lru import LRU, eigenvalues, linear_recurrence, state_gradient_decay
from nets.models import get_model

B, T, H, N = 3, 11, 4, 6


def numpy_lru(p: dict, inputs: np.ndarray):
    """x_t = lambda x_{t-1} + gamma (u_t B), y_t = Re(x_t C) + D u_t, one step at a time."""
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"])).astype(np.complex128)
    gamma = np.exp(np.asarray(p["gamma_log"], np.float64))
    b = np.asarray(p["B_re"], np.float64) + 1j * np.asarray(p["B_im"], np.float64)
    c = np.asarray(p["C_re"], np.float64) + 1j * np.asarray(p["C_im"], np.float64)
    x = np.zeros((inputs.shape[0], len(lam)), np.complex128)
    outputs = []
    for t in range(inputs.shape[1]):
        x = lam * x + gamma * (inputs[:, t] @ b)
        outputs.append((x @ c).real + np.asarray(p["D"]) * inputs[:, t])
    return x, np.stack(outputs, axis=1)


@pytest.fixture(scope="module")
def lru():
    model = LRU(N, r_min=0.5, r_max=0.95)
    inputs = np.random.default_rng(0).normal(size=(B, T, H)).astype(np.float32)
    variables = model.init(jax.random.key(0), inputs)
    return model, variables, inputs


def test_the_parallel_scan_is_the_recurrence_step_by_step(lru):
    model, variables, inputs = lru
    final, outputs = jax.jit(model.apply)(variables, inputs)
    expected_final, expected = numpy_lru(variables["params"], inputs.astype(np.float64))
    np.testing.assert_allclose(outputs, expected, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(final, expected_final, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("parallel", [True, False], ids=["associative", "sequential"])
def test_linear_recurrence_with_an_initial_state_by_hand(parallel):
    a = jnp.array([[[0.5], [2.0], [1.0]]])  # [batch 1, time 3, N 1]
    b = jnp.array([[[1.0], [0.0], [3.0]]])
    # x_1 = 0.5 * 4 + 1 = 3, x_2 = 2 * 3 + 0 = 6, x_3 = 1 * 6 + 3 = 9
    states = linear_recurrence(a, b, initial=jnp.array([[4.0]]), parallel=parallel)
    np.testing.assert_allclose(states[0, :, 0], [3.0, 6.0, 9.0])


@pytest.mark.parametrize("parallel", [True, False], ids=["associative", "sequential"])
def test_both_scans_are_the_complex_recurrence_of_a_numpy_loop(parallel):
    rng = np.random.default_rng(3)
    shape = (2, 37, 4)  # an odd T: the associative scan's tree has a ragged end
    a = 0.95 * np.exp(1j * rng.uniform(0, 6.28, shape)) * rng.uniform(0.5, 1, shape)
    b = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    initial = rng.normal(size=(2, 4)) + 1j * rng.normal(size=(2, 4))
    expected, x = np.zeros(shape, complex), initial
    for t in range(shape[1]):
        x = a[:, t] * x + b[:, t]
        expected[:, t] = x
    states = linear_recurrence(
        jnp.asarray(a, jnp.complex64),
        jnp.asarray(b, jnp.complex64),
        jnp.asarray(initial),
        parallel=parallel,
    )
    np.testing.assert_allclose(states, expected, rtol=1e-4, atol=1e-4)


def test_padding_changes_nothing(lru):
    """A sequence alone, and padded with garbage to T steps, ends in the same state with the
    same outputs; its padded outputs are zero."""
    model, variables, inputs = lru
    padded = inputs.copy()
    padded[1, 5:] = 100.0  # row 2 holds other garbage after step 5
    final, outputs = model.apply(variables, padded, np.array([T, 5, 5]))
    alone_final, alone = model.apply(variables, inputs[1:2, :5])
    np.testing.assert_allclose(outputs[1, :5], alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final[1], alone_final[0], rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(outputs[1:, 5:]) == 0.0)


def test_the_eigenvalues_start_on_the_ring_and_gamma_normalises_them():
    model = LRU(512, r_min=0.4, r_max=0.9, max_phase=math.pi / 10)
    params = model.init(jax.random.key(1), jnp.ones((1, 2, 3)))["params"]
    lam = np.asarray(eigenvalues(params))
    modulus, phase = np.abs(lam), np.angle(lam)
    assert 0.4 - 1e-6 <= modulus.min() and modulus.max() <= 0.9 + 1e-6
    assert 0 < phase.min() and phase.max() <= math.pi / 10 + 1e-6
    # uniform over the ring's area: |lambda|^2 uniform on [0.16, 0.81], mean 0.485
    assert abs(np.mean(modulus**2) - 0.485) < 0.03
    np.testing.assert_allclose(np.exp(params["gamma_log"]), np.sqrt(1 - modulus**2), rtol=1e-5)


def test_the_gradient_kept_over_k_steps_is_the_modulus_to_the_k(lru):
    """d x_T / d x_{T-k} = lambda^k per unit: the Jacobian of the final state with respect to
    an input injected at step T - k, read by autodiff, against |lambda|^k in closed form."""
    model, variables, inputs = lru
    params = variables["params"]
    lam = eigenvalues(params)

    def final_state(bump, step):  # a perturbation of u_step along B's first row direction
        u = jnp.asarray(inputs).at[:, step, 0].add(bump)
        return model.apply(variables, u)[0][0]

    decay = state_gradient_decay(params, [0, 3, 7])
    gamma_b = jnp.exp(params["gamma_log"]) * (params["B_re"][0] + 1j * params["B_im"][0])
    for row, k in enumerate((0, 3, 7)):
        step = T - 1 - k
        jac = jax.jacfwd(final_state, holomorphic=False)(0.0, step)
        np.testing.assert_allclose(jac, lam**k * gamma_b, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(decay[row], np.abs(lam) ** k, rtol=1e-5)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(r_min=0.9, r_max=0.5), r"0 <= r_min < r_max <= 1 .*r_min=0.9, r_max=0.5"),
        (dict(r_min=0.5, r_max=0.5), r"r_min=0.5, r_max=0.5"),
        (dict(r_max=1.2), r"r_max=1.2"),
        (dict(r_min=-0.1), r"r_min=-0.1"),
        (dict(max_phase=0.0), r"max_phase must be in \(0, 2 pi\], got 0.0"),
        (dict(r_max=float("nan")), "LRU r_max must be a number, got nan"),
    ],
)
def test_a_bad_ring_is_refused_naming_the_value(fields, message):
    with pytest.raises(ValueError, match=message):
        LRU(4, **fields)
    with pytest.raises(ValueError, match="LRU state_size must be a positive integer, got 0"):
        LRU(0)


def test_a_sequence_head_of_lrus_honours_padding_in_both_directions_and_takes_the_ring():
    """get_model('many_to_one', cell='lru'): two bidirectional layers read a right-padded
    sequence as they read it alone, and the ring given reaches every layer's eigenvalues."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 9, 2)).astype(np.float32)
    x[2, :5] = x[1, :5]
    x[2, 5:] = 50.0  # the same sequence as row 1, other padding
    lengths = np.array([9, 5, 5])
    for name in ("many_to_one", "many_to_many"):
        model = get_model(
            name, 2, cell="lru", hidden_size=6, num_layers=2, bidirectional=True,
            r_min=0.8, r_max=0.99, state_size=5,
        )  # fmt: skip
        variables = jax.jit(model.init)(jax.random.key(0), x)
        padded = jax.jit(model.apply)(variables, x, lengths)
        alone = model.apply(variables, x[1:2, :5])[0]
        for row in (1, 2):
            got = padded[row] if name == "many_to_one" else padded[row, :5]
            np.testing.assert_allclose(got, alone, rtol=2e-5, atol=2e-6)
    network = variables["params"]["recurrent"]
    layers = [k for k in network if k.startswith("lru_")]
    assert sorted(layers) == ["lru_0", "lru_0_backward", "lru_1", "lru_1_backward"]
    for layer in layers:
        modulus = np.abs(eigenvalues(network[layer]))
        assert modulus.shape == (5,) and 0.8 - 1e-6 <= modulus.min() <= modulus.max() <= 0.99


def test_an_lru_head_learns_the_adding_problem_through_the_sweep_driver():
    from experiments.configs import sweep_config
    from nets.training.sweep import sweep_group

    group = sweep_config("adding_problem/t20", "many_to_one", test_size=256, hidden_size=16)
    group.model.cell = "lru"
    group.model.r_min = 0.5
    group.update(dict(batch_size=32, num_steps=200, eval_every=100, seeds=1))
    group.optimizer.learning_rate = 3e-3
    curve = sweep_group(group)["metric"][0, 0]
    assert curve[-1] < 0.5 * curve[0] and curve[-1] < 1 / 6  # below predicting 1


def test_the_measured_gradient_decay_of_an_lru_head_is_the_closed_form():
    """nets.gradients on a many-to-one LRU: the loss reads x_t only through x_T, so
    ||dL/dx_{T-k}|| = |lambda|^k ||dL/dx_T|| when every |lambda| is the same (a ring of
    width 1e-6 at 0.9): 0.9^k, measured in one backward pass."""
    from nets.gradients import hidden_state_gradient_norms

    model = get_model("many_to_one", 1, cell="lru", hidden_size=8, r_min=0.9, r_max=0.900001)
    x = jax.random.normal(jax.random.key(2), (4, 30, 3))
    variables = model.init(jax.random.key(3), x)
    norms = hidden_state_gradient_norms(model, variables, x, lambda y: jnp.sum(y**2))
    per_step = np.asarray(norms["x"].mean)
    k = np.arange(30)[::-1]
    np.testing.assert_allclose(per_step / per_step[-1], 0.9**k, rtol=1e-3)
    padded = hidden_state_gradient_norms(
        model, variables, x, lambda y: jnp.sum(y**2), seq_lengths=jnp.array([30, 20, 20, 20])
    )
    assert np.all(np.asarray(padded["x"].per_example)[1:, 20:] == 0.0)  # padding: no gradient
