"""The lecture's loss functions, each the mean over the batch.

Every loss takes ``(predictions, targets)`` in that order, as optax does. Which loss fits which
task (the lecture's table):

============  ==========================  ===================  ==========================
task          loss                        output activation    function
============  ==========================  ===================  ==========================
regression    MSE, MAE or Huber           identity             ``mse``, ``mae``, ``huber``
binary        binary cross-entropy        sigmoid              ``binary_cross_entropy``
multi-class   categorical cross-entropy   softmax              ``categorical_cross_entropy``
multi-label   binary cross-entropy/unit   sigmoid per unit     ``binary_cross_entropy``
============  ==========================  ===================  ==========================

The cross-entropies accept either probabilities (``from_logits=False``: clipped to
[epsilon, 1 - epsilon] so that p = 0 or 1 gives a finite loss) or logits (``from_logits=True``:
computed through log-sigmoid / log-softmax, exact and stable for any logit, the form to train
with). Why cross-entropy beats MSE for classification: with a sigmoid output p = sigma(z),
dBCE/dz = p - y stays large when the prediction is confidently wrong, while
dMSE/dz = 2 (p - y) p (1 - p) vanishes as p approaches 0 or 1 (flat gradients near 0 and 1).
"""

import jax
import jax.numpy as jnp

EPSILON = 1e-7  # Keras's clip for probabilities: log(1e-7) = -16.1 bounds the loss per unit.


def _check_same_shape(predictions: jax.Array, targets: jax.Array) -> None:
    if jnp.shape(predictions) != jnp.shape(targets):
        raise ValueError(
            f"predictions and targets must have the same shape, got {jnp.shape(predictions)} "
            f"and {jnp.shape(targets)}"
        )


def mse(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error, MSE = 1/n sum_i (y_i - y_hat_i)^2, over all n elements.

    Its gradient is dMSE/dy_hat_i = -2 (y_i - y_hat_i) / n. Shapes: any, identical.
    """
    _check_same_shape(predictions, targets)
    return jnp.mean(jnp.square(targets - predictions))


def mae(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean absolute error, MAE = 1/n sum_i |y_i - y_hat_i|, over all n elements.

    Its gradient has constant size 1/n, so one outlier pulls no harder than any other point.
    """
    _check_same_shape(predictions, targets)
    return jnp.mean(jnp.abs(targets - predictions))


def huber(predictions: jax.Array, targets: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss, the mean over all elements of (optax's convention, e = y - y_hat)

        L_delta(e) = 1/2 e^2                    if |e| <= delta   (quadratic, like MSE)
                   = delta (|e| - 1/2 delta)    otherwise         (linear, like MAE)

    The two pieces meet with equal value and slope at |e| = delta. ``delta`` must be positive.
    """
    _check_same_shape(predictions, targets)
    if isinstance(delta, int | float) and delta <= 0:
        raise ValueError(f"huber delta must be positive, got {delta}")
    abs_error = jnp.abs(targets - predictions)
    quadratic = jnp.minimum(abs_error, delta)
    # 1/2 q^2 + delta (|e| - q) equals both pieces above and has no branch to differentiate.
    return jnp.mean(0.5 * jnp.square(quadratic) + delta * (abs_error - quadratic))


def binary_cross_entropy(
    predictions: jax.Array,
    targets: jax.Array,
    *,
    from_logits: bool = False,
    epsilon: float = EPSILON,
) -> jax.Array:
    """Binary cross-entropy, BCE = -1/n sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)].

    Each unit is its own binary problem, so a [batch, labels] array is the multi-label loss
    (sigmoid per unit); the mean runs over all n elements. ``predictions`` are probabilities p,
    or logits z with p = sigmoid(z) when ``from_logits``; targets y in [0, 1], same shape.
    """
    _check_same_shape(predictions, targets)
    if from_logits:
        log_p = jax.nn.log_sigmoid(predictions)
        log_not_p = jax.nn.log_sigmoid(-predictions)  # log(1 - sigmoid(z)) = log sigmoid(-z)
    else:
        p = jnp.clip(predictions, epsilon, 1.0 - epsilon)
        log_p, log_not_p = jnp.log(p), jnp.log1p(-p)
    return -jnp.mean(targets * log_p + (1.0 - targets) * log_not_p)


def categorical_cross_entropy(
    predictions: jax.Array,
    targets: jax.Array,
    *,
    from_logits: bool = False,
    epsilon: float = EPSILON,
) -> jax.Array:
    """Categorical cross-entropy, CCE = -1/N sum_n sum_c y_nc log p_nc, over N examples.

    ``predictions`` [..., classes]: probabilities p, or logits z with p = softmax(z) when
    ``from_logits``. ``targets``: one-hot (or any distribution) [..., classes], or integer
    class labels [...], for which the inner sum is -log p of the labelled class.
    """
    pred_shape, target_shape = jnp.shape(predictions), jnp.shape(targets)
    if from_logits:
        log_p = jax.nn.log_softmax(predictions, axis=-1)
    else:
        log_p = jnp.log(jnp.clip(predictions, epsilon, 1.0))
    if target_shape == pred_shape:
        return -jnp.mean(jnp.sum(targets * log_p, axis=-1))
    if target_shape == pred_shape[:-1] and jnp.issubdtype(jnp.result_type(targets), jnp.integer):
        labelled = jnp.take_along_axis(log_p, jnp.expand_dims(targets, -1), axis=-1)
        return -jnp.mean(labelled)
    raise ValueError(
        f"targets must be one-hot with the predictions' shape {pred_shape} or integer labels of "
        f"shape {pred_shape[:-1]}, got shape {target_shape} and dtype {jnp.result_type(targets)}"
    )
