"""The lecture's losses against independent numpy arithmetic and optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nets import losses

rng = np.random.default_rng(0)
PRED = rng.normal(size=(16, 5)).astype(np.float32)
TARGET = rng.normal(size=(16, 5)).astype(np.float32)
LOGITS = 3 * rng.normal(size=(16, 5)).astype(np.float32)
PROBS = 1 / (1 + np.exp(-LOGITS))
BINARY = (rng.random(size=(16, 5)) < 0.5).astype(np.float32)
LABELS = rng.integers(0, 5, size=16)
ONE_HOT = np.eye(5, dtype=np.float32)[LABELS]


def test_mse_and_mae_match_numpy():
    np.testing.assert_allclose(losses.mse(PRED, TARGET), np.mean((TARGET - PRED) ** 2), rtol=1e-6)
    np.testing.assert_allclose(losses.mae(PRED, TARGET), np.mean(np.abs(TARGET - PRED)), rtol=1e-6)


def test_mse_gradient_is_the_lectures_formula():
    n = PRED.size
    grad = jax.grad(losses.mse)(PRED, TARGET)
    np.testing.assert_allclose(grad, -2 * (TARGET - PRED) / n, rtol=1e-5, atol=1e-8)


def test_mae_gradient_has_constant_size():
    grad = jax.grad(losses.mae)(PRED, TARGET)
    np.testing.assert_allclose(np.abs(grad), 1 / PRED.size, rtol=1e-6)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_is_quadratic_inside_delta_and_linear_beyond(delta):
    error = np.linspace(-4, 4, 81).astype(np.float32)
    expected = np.where(
        np.abs(error) <= delta, 0.5 * error**2, delta * (np.abs(error) - 0.5 * delta)
    )
    per_point = jax.vmap(lambda e: losses.huber(jnp.zeros(1), e[None], delta))(error)
    np.testing.assert_allclose(per_point, expected, rtol=1e-6, atol=1e-7)
    # the slope: e inside delta, delta * sign(e) beyond
    slope = jax.vmap(jax.grad(lambda e: losses.huber(jnp.zeros(1), e[None], delta)))(error)
    np.testing.assert_allclose(slope, np.clip(error, -delta, delta), rtol=1e-6)
    np.testing.assert_allclose(
        losses.huber(PRED, TARGET, delta),
        np.mean(optax.losses.huber_loss(PRED, TARGET, delta=delta)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("delta", [0.0, -1.0])
def test_huber_rejects_non_positive_delta(delta):
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.huber(PRED, TARGET, delta)


def test_binary_cross_entropy_matches_numpy_and_optax():
    expected = -np.mean(BINARY * np.log(PROBS) + (1 - BINARY) * np.log(1 - PROBS))
    np.testing.assert_allclose(losses.binary_cross_entropy(PROBS, BINARY), expected, rtol=1e-5)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(LOGITS, BINARY, from_logits=True), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.binary_cross_entropy(LOGITS, BINARY, from_logits=True),
        np.mean(optax.losses.sigmoid_binary_cross_entropy(LOGITS, BINARY)),
        rtol=1e-6,
    )


def test_categorical_cross_entropy_matches_numpy_and_optax():
    shifted = LOGITS - LOGITS.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(16), LABELS])
    cce = losses.categorical_cross_entropy
    np.testing.assert_allclose(cce(LOGITS, ONE_HOT, from_logits=True), expected, rtol=1e-5)
    np.testing.assert_allclose(cce(LOGITS, LABELS, from_logits=True), expected, rtol=1e-5)
    np.testing.assert_allclose(cce(np.exp(log_softmax), LABELS), expected, rtol=1e-5)
    np.testing.assert_allclose(
        cce(LOGITS, ONE_HOT, from_logits=True),
        np.mean(optax.losses.softmax_cross_entropy(LOGITS, ONE_HOT)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        cce(LOGITS, LABELS, from_logits=True),
        np.mean(optax.losses.softmax_cross_entropy_with_integer_labels(LOGITS, LABELS)),
        rtol=1e-6,
    )


def test_multi_label_binary_cross_entropy_is_per_unit():
    # each unit is its own binary problem: the loss is the mean of per-column losses
    per_column = [
        losses.binary_cross_entropy(LOGITS[:, j], BINARY[:, j], from_logits=True) for j in range(5)
    ]
    np.testing.assert_allclose(
        losses.binary_cross_entropy(LOGITS, BINARY, from_logits=True),
        np.mean(per_column),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "from_logits, extreme", [(False, 0.0), (False, 1.0), (True, 1e4), (True, -1e4)]
)
def test_cross_entropies_stay_finite_at_the_extremes(from_logits, extreme):
    predictions = jnp.full((4, 3), extreme)
    targets = jnp.array([[1.0, 0.0, 0.0]] * 4)
    for loss in (losses.binary_cross_entropy, losses.categorical_cross_entropy):
        value, grad = jax.value_and_grad(loss)(predictions, targets, from_logits=from_logits)
        assert np.isfinite(value), (loss.__name__, value)
        assert np.all(np.isfinite(grad)), (loss.__name__, grad)
    # a confidently wrong logit costs about its size, not inf
    wrong = losses.binary_cross_entropy(jnp.array([-1e4]), jnp.array([1.0]), from_logits=True)
    np.testing.assert_allclose(wrong, 1e4, rtol=1e-6)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(16, 5\) and \(16,\)"):
        losses.mse(PRED, TARGET[:, 0])
    with pytest.raises(ValueError, match="integer labels of shape"):
        losses.categorical_cross_entropy(LOGITS, LABELS.astype(np.float32))
