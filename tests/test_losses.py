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
    per_point = losses.huber(jnp.zeros_like(error), error, delta, reduction="none")
    np.testing.assert_allclose(per_point, expected, rtol=1e-6, atol=1e-7)
    # the slope: e inside delta, delta * sign(e) beyond
    slope = jax.vmap(jax.grad(lambda e: losses.huber(jnp.zeros(1), e[None], delta)))(error)
    np.testing.assert_allclose(slope, np.clip(error, -delta, delta), rtol=1e-6)
    np.testing.assert_allclose(
        losses.huber(PRED, TARGET, delta),
        np.mean(optax.losses.huber_loss(PRED, TARGET, delta=delta)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), float("inf")])
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


@pytest.mark.parametrize("smoothing", [0.1, 0.5])
def test_label_smoothing_trains_against_the_smoothed_distribution(smoothing):
    """y' = (1 - a) y + a / K, by hand in numpy and by optax.smooth_labels."""
    shifted = LOGITS - LOGITS.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    smoothed = (1 - smoothing) * ONE_HOT + smoothing / 5
    expected = -np.mean(np.sum(smoothed * log_softmax, axis=1))
    cce = losses.categorical_cross_entropy
    for targets in (LABELS, ONE_HOT):
        value = cce(LOGITS, targets, from_logits=True, label_smoothing=smoothing)
        np.testing.assert_allclose(value, expected, rtol=1e-5)
    reference = optax.losses.softmax_cross_entropy(LOGITS, optax.smooth_labels(ONE_HOT, smoothing))
    np.testing.assert_allclose(expected, np.mean(reference), rtol=1e-5)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        cce(LOGITS, LABELS, from_logits=True, label_smoothing=1.0)


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


# --- reduction and where ---------------------------------------------------------------------
SEQ_LOGITS = rng.normal(size=(3, 7, 5)).astype(np.float32)  # [batch, time, classes]
SEQ_LABELS = rng.integers(0, 5, size=(3, 7))
SEQ_LENGTHS = np.array([7, 4, 1])
SEQ_MASK = np.arange(7)[None, :] < SEQ_LENGTHS[:, None]  # [batch, time]


def numpy_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_reduction_none_gives_the_numpy_terms():
    elementwise = {
        losses.mse: (TARGET - PRED) ** 2,
        losses.mae: np.abs(TARGET - PRED),
    }
    for loss, expected in elementwise.items():
        np.testing.assert_allclose(loss(PRED, TARGET, reduction="none"), expected, rtol=1e-6)
        np.testing.assert_allclose(loss(PRED, TARGET, reduction="sum"), expected.sum(), rtol=1e-5)
    bce = -(BINARY * np.log(PROBS) + (1 - BINARY) * np.log(1 - PROBS))
    np.testing.assert_allclose(
        losses.binary_cross_entropy(LOGITS, BINARY, from_logits=True, reduction="none"),
        bce,
        rtol=1e-4,
        atol=1e-6,
    )
    per_example = -numpy_log_softmax(LOGITS)[np.arange(16), LABELS]
    cce = losses.categorical_cross_entropy(LOGITS, LABELS, from_logits=True, reduction="none")
    assert cce.shape == (16,)
    np.testing.assert_allclose(cce, per_example, rtol=1e-5)


def test_masked_per_step_cross_entropy_is_the_mean_over_valid_steps_only():
    terms = -np.take_along_axis(numpy_log_softmax(SEQ_LOGITS), SEQ_LABELS[..., None], -1)[..., 0]
    expected = terms[SEQ_MASK].mean()  # 7 + 4 + 1 = 12 valid steps
    cce = losses.categorical_cross_entropy
    got = cce(SEQ_LOGITS, SEQ_LABELS, from_logits=True, where=SEQ_MASK)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(
        cce(SEQ_LOGITS, SEQ_LABELS, from_logits=True, where=SEQ_MASK, reduction="sum"),
        terms[SEQ_MASK].sum(),
        rtol=1e-5,
    )
    none = cce(SEQ_LOGITS, SEQ_LABELS, from_logits=True, where=SEQ_MASK, reduction="none")
    np.testing.assert_allclose(none, np.where(SEQ_MASK, terms, 0.0), rtol=1e-5)


def test_padded_steps_get_exactly_zero_gradient():
    def loss(logits):
        return losses.categorical_cross_entropy(
            logits, SEQ_LABELS, from_logits=True, where=SEQ_MASK
        )

    grad = np.asarray(jax.grad(loss)(SEQ_LOGITS))
    assert np.all(grad[~SEQ_MASK] == 0.0)
    assert np.all(np.abs(grad[SEQ_MASK]).sum(-1) > 0)
    # a leading-axes mask broadcasts over the features: MSE on [batch, time, features]
    features = rng.normal(size=(3, 7, 2)).astype(np.float32)
    grad = np.asarray(
        jax.grad(lambda p: losses.mse(p, np.zeros_like(features), where=SEQ_MASK))(features)
    )
    assert np.all(grad[~SEQ_MASK] == 0.0)
    np.testing.assert_allclose(grad[SEQ_MASK], 2 * features[SEQ_MASK] / (12 * 2), rtol=1e-6)


def test_bad_reduction_and_mask_shape_say_what_is_valid():
    with pytest.raises(ValueError, match="unknown reduction 'avg'; valid: mean, none, sum"):
        losses.mse(PRED, TARGET, reduction="avg")
    with pytest.raises(ValueError, match=r"leading part of it, got \(5,\)"):
        losses.mse(PRED, TARGET, where=np.ones(5, bool))


def test_labels_outside_the_classes_are_never_scored_as_another_class():
    logits = np.zeros((3, 4), np.float32)
    cce = losses.categorical_cross_entropy
    for labels, bad in (([0, 1, 4], 4), ([0, -1, 2], -1)):
        with pytest.raises(ValueError, match=rf"labels must be in 0..3 .*, got {bad}"):
            cce(logits, np.array(labels), from_logits=True)
    # traced (inside jit): a NaN loss, which the run driver's non-finite guard stops on
    traced = jax.jit(lambda t: cce(logits, t, from_logits=True))(np.array([0, -1, 2]))
    assert np.isnan(traced)
    # a masked-out label may be anything (the padding of a sequence): it counts for nothing
    mask = np.array([True, False, True])
    np.testing.assert_allclose(
        cce(logits, np.array([0, -1, 2]), from_logits=True, where=mask), np.log(4), rtol=1e-6
    )
    grad = jax.jit(jax.grad(lambda z: cce(z, np.array([0, -1, 2]), from_logits=True, where=mask)))
    assert np.all(np.isfinite(grad(logits))) and np.all(grad(logits)[1] == 0)


def test_probabilities_and_targets_outside_0_1_are_refused_not_clipped():
    bce, cce = losses.binary_cross_entropy, losses.categorical_cross_entropy
    probs = np.full((2, 3), 0.5, np.float32)
    for call, message in [
        (lambda: bce(probs, np.array([[0, 1, 2.0]] * 2)), r"targets must lie in \[0, 1\].* to 2"),
        (lambda: bce(probs, np.array([[0, -1.0, 1]] * 2)), r"targets .* from -1 to 1"),
        (lambda: bce(probs + 0.6, np.ones((2, 3))), r"probabilities \(from_logits=False\)"),
        (lambda: bce(probs - 0.6, np.ones((2, 3))), "from -0.1 to -0.1"),
        (lambda: cce(probs * 3, np.eye(3)[[0, 1]]), r"probabilities .* from 1.5 to 1.5"),
        (lambda: cce(probs, np.array([[1.2, -0.2, 0]] * 2)), r"target distributions .* -0.2"),
        (lambda: bce(probs, np.array([[0, np.nan, 1]] * 2)), "from nan to nan"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    # from logits, any real prediction is a logit; a target of 2.0 is still refused
    with pytest.raises(ValueError, match="targets must lie"):
        bce(probs, np.full((2, 3), 2.0), from_logits=True)
    # traced: NaN (the run driver's non-finite guard stops on it), never a number
    traced = jax.jit(lambda t: bce(probs, t))(np.array([[0, 1, 2.0]] * 2))
    assert np.isnan(traced)
    assert np.isnan(jax.jit(lambda p: cce(p, np.eye(3)[[0, 1]]))(probs * 3))
    # a masked-out term may hold anything (the padding): it counts for nothing
    mask = np.array([[True, True, False]] * 2)
    np.testing.assert_allclose(bce(probs, np.array([[0, 1, 2.0]] * 2), where=mask), np.log(2),
                               rtol=1e-6)  # fmt: skip
