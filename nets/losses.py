"""The lecture's loss functions, each the mean over its elements unless told otherwise.

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

Reduction. ``reduction='mean'`` (the default: the lecture defines the losses as means) averages
the per-element terms, ``'sum'`` adds them, ``'none'`` returns them: one term per element for
MSE, MAE, Huber and BCE (the predictions' shape), one per example for the categorical
cross-entropy (the predictions' shape without the class axis). ``where`` (booleans, of the
unreduced shape or a leading part of it, e.g. [batch, time] for [batch, time, features])
keeps only the terms where it is true: the mean runs over those terms alone, 'none' puts zeros
elsewhere, and the padded terms get exactly zero gradient. A per-step cross-entropy over padded
sequences is one call: ``categorical_cross_entropy(logits, labels, from_logits=True,
where=mask)`` with logits [batch, time, classes], labels and mask [batch, time].
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from nets.checks import check_choice, concrete

EPSILON = 1e-7  # Keras's clip for probabilities: log(1e-7) = -16.1 bounds the loss per unit.
REDUCTIONS = ("mean", "sum", "none")


def _check_same_shape(predictions: jax.Array, targets: jax.Array) -> None:
    if jnp.shape(predictions) != jnp.shape(targets):
        raise ValueError(
            f"predictions and targets must have the same shape, got {jnp.shape(predictions)} "
            f"and {jnp.shape(targets)}"
        )


def reduce(terms: jax.Array, reduction: str = "mean", where: jax.Array | None = None):
    """Reduce per-element loss ``terms`` as the module docstring says."""
    check_choice("reduction", reduction, REDUCTIONS)
    if where is not None:
        where_shape, shape = jnp.shape(where), jnp.shape(terms)
        if where_shape != shape[: len(where_shape)]:
            raise ValueError(
                f"where must have the loss terms' shape {shape} or a leading part of it, got "
                f"{where_shape}"
            )
        where = jnp.broadcast_to(
            jnp.reshape(where, where_shape + (1,) * (len(shape) - len(where_shape))), shape
        ).astype(bool)
        # zeros, not the terms, where masked: the padded terms then get exactly zero gradient
        terms = jnp.where(where, terms, 0.0)
    if reduction == "none":
        return terms
    total = jnp.sum(terms)
    if reduction == "sum":
        return total
    count = terms.size if where is None else jnp.sum(where)
    return total / count


def in_range(name: str, values, low: float, high: float, where, axes: int = 0) -> jax.Array:
    """Booleans of the loss terms' shape (``values``' shape less its last ``axes`` axes): True
    where the term's values all lie in [low, high]. Where the values are known (not traced) a
    value outside, or NaN, in a term that ``where`` keeps is a ValueError naming the range;
    where they are traced the caller makes those terms NaN: never silently clipped."""
    inside = (values >= low) & (values <= high)  # False for NaN
    inside = jnp.all(inside, axis=tuple(range(inside.ndim - axes, inside.ndim)))
    known, keep = concrete(inside), concrete(where)
    if known is not None:
        outside = ~known
        if keep is not None:
            keep = keep.reshape(keep.shape + (1,) * (outside.ndim - keep.ndim)).astype(bool)
            outside &= np.broadcast_to(keep, outside.shape)
        if outside.any():
            given = np.asarray(values)
            raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got values from "
                             f"{given.min():g} to {given.max():g}")  # fmt: skip
    return inside


def _labelled(log_p: jax.Array, labels: jax.Array, where) -> jax.Array:
    """-log p of each integer label. A label outside 0..classes-1 is an error where the labels
    are known (unless ``where`` masks it out) and a NaN term where they are traced: never
    silently another class (a plain gather would score -1 as the last class)."""
    classes = log_p.shape[-1]
    known, keep = concrete(labels), concrete(where)
    if known is not None:
        outside = (known < 0) | (known >= classes)
        if keep is not None:
            keep = keep.reshape(keep.shape + (1,) * (known.ndim - keep.ndim)).astype(bool)
            outside &= np.broadcast_to(keep, known.shape)
        if outside.any():
            raise ValueError(
                f"integer labels must be in 0..{classes - 1} (the predictions' classes), got "
                f"{known[outside].flat[0]}"
            )
    index = jnp.clip(labels, 0, classes - 1)[..., None]
    terms = -jnp.take_along_axis(log_p, index, axis=-1)[..., 0]
    return jnp.where((labels >= 0) & (labels < classes), terms, jnp.nan)


def mse(predictions, targets, *, reduction="mean", where=None) -> jax.Array:
    """Mean squared error, MSE = 1/n sum_i (y_i - y_hat_i)^2, over all n elements.

    Its gradient is dMSE/dy_hat_i = -2 (y_i - y_hat_i) / n. Shapes: any, identical.
    """
    _check_same_shape(predictions, targets)
    return reduce(jnp.square(targets - predictions), reduction, where)


def mae(predictions, targets, *, reduction="mean", where=None) -> jax.Array:
    """Mean absolute error, MAE = 1/n sum_i |y_i - y_hat_i|, over all n elements.

    Its gradient has constant size 1/n, so one outlier pulls no harder than any other point.
    """
    _check_same_shape(predictions, targets)
    return reduce(jnp.abs(targets - predictions), reduction, where)


def huber(predictions, targets, delta: float = 1.0, *, reduction="mean", where=None):
    """Huber loss, the mean over all elements of (optax's convention, e = y - y_hat)

        L_delta(e) = 1/2 e^2                    if |e| <= delta   (quadratic, like MSE)
                   = delta (|e| - 1/2 delta)    otherwise         (linear, like MAE)

    The two pieces meet with equal value and slope at |e| = delta. ``delta`` must be positive.
    """
    _check_same_shape(predictions, targets)
    if isinstance(delta, int | float) and not 0 < delta < math.inf:  # NaN fails both
        raise ValueError(f"huber delta must be positive and finite, got {delta}")
    abs_error = jnp.abs(targets - predictions)
    quadratic = jnp.minimum(abs_error, delta)
    # 1/2 q^2 + delta (|e| - q) equals both pieces above and has no branch to differentiate.
    terms = 0.5 * jnp.square(quadratic) + delta * (abs_error - quadratic)
    return reduce(terms, reduction, where)


def binary_cross_entropy(
    predictions,
    targets,
    *,
    from_logits: bool = False,
    epsilon: float = EPSILON,
    reduction: str = "mean",
    where=None,
) -> jax.Array:
    """Binary cross-entropy, BCE = -1/n sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)].

    Each unit is its own binary problem, so a [batch, labels] array is the multi-label loss
    (sigmoid per unit); the mean runs over all n elements. ``predictions`` are probabilities p,
    or logits z with p = sigmoid(z) when ``from_logits``; targets y in [0, 1], same shape.
    Probabilities and targets outside [0, 1] are refused (``in_range``), not clipped.
    """
    _check_same_shape(predictions, targets)
    valid = in_range("binary cross-entropy targets", targets, 0.0, 1.0, where)
    if from_logits:
        log_p = jax.nn.log_sigmoid(predictions)
        log_not_p = jax.nn.log_sigmoid(-predictions)  # log(1 - sigmoid(z)) = log sigmoid(-z)
    else:
        valid &= in_range("probabilities (from_logits=False)", predictions, 0.0, 1.0, where)
        p = jnp.clip(predictions, epsilon, 1.0 - epsilon)
        log_p, log_not_p = jnp.log(p), jnp.log1p(-p)
    terms = -(targets * log_p + (1.0 - targets) * log_not_p)
    return reduce(jnp.where(valid, terms, jnp.nan), reduction, where)


def categorical_cross_entropy(
    predictions,
    targets,
    *,
    from_logits: bool = False,
    epsilon: float = EPSILON,
    reduction: str = "mean",
    where=None,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Categorical cross-entropy, CCE = -1/N sum_n sum_c y_nc log p_nc, over N examples.

    ``predictions`` [..., classes]: probabilities p, or logits z with p = softmax(z) when
    ``from_logits``. ``targets``: one-hot (or any distribution) [..., classes], or integer
    class labels [...], for which the inner sum is -log p of the labelled class. The unreduced
    terms have the shape [...] (one per example, or per step of a sequence). Probabilities or
    target distributions with entries outside [0, 1] are refused (``in_range``).

    ``label_smoothing`` a (Szegedy et al. 2016) trains against y' = (1 - a) y + a / K over the
    K classes: CCE = (1 - a) CCE(y) + a * (-1/K sum_c log p_c), which keeps the logits from
    growing without bound to reach a one-hot target.
    """
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    pred_shape, target_shape = jnp.shape(predictions), jnp.shape(targets)
    if from_logits:
        log_p = jax.nn.log_softmax(predictions, axis=-1)
    else:
        log_p = jnp.log(jnp.clip(predictions, epsilon, 1.0))
    valid = True
    if target_shape == pred_shape:
        valid = in_range("target distributions", targets, 0.0, 1.0, where, 1)
        terms = -jnp.sum(targets * log_p, axis=-1)
    elif target_shape == pred_shape[:-1] and jnp.issubdtype(jnp.result_type(targets), jnp.integer):
        terms = _labelled(log_p, targets, where)
    else:
        raise ValueError(
            f"targets must be one-hot with the predictions' shape {pred_shape} or integer labels "
            f"of shape {pred_shape[:-1]}, got shape {target_shape} and dtype "
            f"{jnp.result_type(targets)}"
        )
    if not from_logits:
        valid &= in_range("probabilities (from_logits=False)", predictions, 0.0, 1.0, where, 1)
    if label_smoothing:
        terms = (1 - label_smoothing) * terms - label_smoothing * jnp.mean(log_p, axis=-1)
    return reduce(jnp.where(valid, terms, jnp.nan), reduction, where)
