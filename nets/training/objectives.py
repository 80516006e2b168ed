"""The training objectives: ``loss_fn(outputs, batch) -> {'loss': [batch], ...}``.

An objective turns the model's outputs and the batch into per-example values: 'loss', which
training minimises (its batch mean), and any other metric worth logging ('accuracy'). Per
example, so that the train step averages them, the evaluation sums them over the rows that are
real (the last batch of a split is padded) and the data-parallel step averages equal shards.
Sequence targets [batch, time] are averaged over each sequence's valid steps (``'lengths'`` or
``'mask'`` in the batch), so padded steps count for nothing and get zero gradient.
"""

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax

from nets import losses
from nets.checks import check_choice
from nets.models.ctc import BLANK, collapse
from nets.padding import valid_steps


def step_mask(batch: dict, targets: jax.Array) -> jax.Array | None:
    """[batch, time] booleans of the valid steps of sequence targets, or None if all are."""
    if targets.ndim < 2:
        return None
    if "mask" in batch:
        return batch["mask"].astype(bool)
    if "lengths" in batch:
        return valid_steps(batch["lengths"], targets.shape[1])
    return None


def per_example_mean(terms: jax.Array, where: jax.Array | None = None) -> jax.Array:
    """[batch, ...] -> [batch]: each example's mean over its (valid) terms."""
    terms = terms.reshape(terms.shape[0], -1)
    if where is None:
        return terms.mean(axis=1)
    where = where.reshape(where.shape[0], -1)
    return jnp.sum(jnp.where(where, terms, 0.0), axis=1) / jnp.maximum(where.sum(axis=1), 1)


def cross_entropy(
    logits: jax.Array, batch: dict, label_smoothing: float = 0.0
) -> dict[str, jax.Array]:
    """Categorical cross-entropy from logits [batch, (time,) classes] against integer labels
    [batch, (time)], and the fraction of (valid) predictions whose argmax is the label. With
    ``label_smoothing`` a the loss is against (1 - a) y + a / K (``nets.losses``): a training
    objective; evaluation scores the labels themselves. Logits computed in bfloat16 are
    scored in float32."""
    targets = batch["targets"]
    where = step_mask(batch, targets)
    logits = logits.astype(jnp.float32)
    loss = losses.categorical_cross_entropy(
        logits, targets, from_logits=True, reduction="none", label_smoothing=label_smoothing
    )
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return {"loss": per_example_mean(loss, where), "accuracy": per_example_mean(correct, where)}


def binary_cross_entropy(logits: jax.Array, batch: dict) -> dict[str, jax.Array]:
    """Binary cross-entropy of a one-logit head [batch, 1] (p = sigmoid(z)) against labels 0/1
    [batch], and the fraction of predictions on the right side of p = 1/2 (z = 0)."""
    targets = batch["targets"].astype(jnp.float32)
    logits = logits.reshape(targets.shape)
    loss = losses.binary_cross_entropy(logits, targets, from_logits=True, reduction="none")
    correct = ((logits > 0) == (targets > 0.5)).astype(jnp.float32)
    return {"loss": loss, "accuracy": correct}


def mse(predictions: jax.Array, batch: dict) -> dict[str, jax.Array]:
    """Mean squared error of real targets; a scalar target [batch] is read from predictions
    [batch, 1] (a one-output head)."""
    targets = batch["targets"]
    if predictions.shape not in (targets.shape, (*targets.shape, 1)):
        raise ValueError(
            f"mse: predictions of shape {predictions.shape} for targets of shape "
            f"{targets.shape}: expected {targets.shape} or {(*targets.shape, 1)}"
        )
    predictions = predictions.reshape(targets.shape)
    terms = losses.mse(predictions, targets, reduction="none")
    return {"loss": per_example_mean(terms, step_mask(batch, targets))}


def ctc(outputs: tuple[jax.Array, jax.Array], batch: dict) -> dict[str, jax.Array]:
    """CTC's -log p(y | x) of label sequences 'targets' [batch, L] ('mask' marks the real
    labels) under a recogniser's ``(logits [batch, T, labels + blank], lengths [batch])``
    (``nets.models.ctc``), divided by each label sequence's length; and the fraction of
    utterances whose greedy decoding is exactly the labels."""
    logits, lengths = outputs
    labels, label_mask = batch["targets"], batch["mask"].astype(bool)
    # a real label is a class 1..C-1: the blank (0) or an id past the logits is refused where
    # the labels are known, and makes the utterance's loss NaN where they are traced
    inside = losses.in_range("CTC labels (blank is 0)", labels, 1, logits.shape[-1] - 1, label_mask)
    valid = jnp.all(inside | ~label_mask, axis=1)
    logit_paddings = 1.0 - valid_steps(lengths, logits.shape[1]).astype(logits.dtype)
    label_paddings = 1.0 - label_mask.astype(logits.dtype)
    nll = optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=BLANK)
    label_lengths = label_mask.sum(axis=1)
    decoded, counts = collapse(jnp.argmax(logits, axis=-1), lengths)
    width = min(labels.shape[1], decoded.shape[1])
    same = jnp.all((decoded[:, :width] == labels[:, :width]) | ~label_mask[:, :width], axis=1)
    exact = same & (counts == label_lengths)
    loss = jnp.where(valid, nll / jnp.maximum(label_lengths, 1), jnp.nan)
    return {"loss": loss, "accuracy": exact.astype(jnp.float32)}


def from_terms(terms: Callable) -> Callable:
    """The objective of an unreduced loss ``terms(outputs, targets)`` (a loss of ``nets.losses``
    with ``reduction='none'``): each example's mean term. Predictions [batch, 1] are read
    against scalar targets [batch]."""

    def loss_fn(outputs, batch):
        targets = batch["targets"]
        if outputs.ndim == targets.ndim + 1 and outputs.shape[-1] == 1:
            outputs = outputs[..., 0]  # a one-output head against scalar targets
        return {"loss": per_example_mean(terms(outputs, targets))}

    return loss_fn


def _dense(targets, logits):
    """Integer labels as one-hot rows; 0/1 targets unchanged."""
    if targets.ndim < logits.ndim:
        return jax.nn.one_hot(targets, logits.shape[-1])
    return targets


# The lecture's losses compared as objectives, each from its unreduced terms(outputs, targets):
# a softmax or sigmoid output read by MSE or cross-entropy (labels, or 0/1 targets one per
# unit), and the regression losses that resist outliers (Huber's delta 1).
COMPARED = {
    "softmax_mse": lambda z, t: losses.mse(jax.nn.softmax(z), _dense(t, z), reduction="none"),
    "sigmoid_mse": lambda z, t: losses.mse(jax.nn.sigmoid(z), _dense(t, z), reduction="none"),
    "sigmoid_bce": lambda z, t: losses.binary_cross_entropy(
        z, _dense(t, z), from_logits=True, reduction="none"
    ),
    "mae": partial(losses.mae, reduction="none"),
    "huber": partial(losses.huber, delta=1.0, reduction="none"),
}


# the metrics each objective reports, by its name (the compared losses: 'loss' only)
METRICS = {
    "mse": ("loss",),
    "cross_entropy": ("loss", "accuracy"),
    "binary_cross_entropy": ("loss", "accuracy"),
    "ctc": ("loss", "accuracy"),
    **{name: ("loss",) for name in COMPARED},
}


def batch_mean(loss_fn: Callable, outputs, batch: dict, metric: str = "loss") -> jax.Array:
    """The batch mean of one of an objective's metrics: the scalar to differentiate or report."""
    return jnp.mean(loss_fn(outputs, batch)[metric])


OBJECTIVES: dict[str, Callable] = {
    "cross_entropy": cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "mse": mse,
    "ctc": ctc,
    **{name: from_terms(terms) for name, terms in COMPARED.items()},
}


def get_objective(loss: str | Callable) -> Callable:
    """The objective named ``loss`` (or ``loss`` itself if it is a function)."""
    if callable(loss):
        return loss
    check_choice("loss", loss, OBJECTIVES)
    return OBJECTIVES[loss]


def training_objective(loss: str | Callable, label_smoothing: float = 0.0) -> Callable:
    """What training minimises: the objective ``loss``, with its targets smoothed by
    ``label_smoothing`` (``config.label_smoothing``; a cross-entropy's only, checked here)."""
    objective = get_objective(loss)
    number = isinstance(label_smoothing, int | float) and not isinstance(label_smoothing, bool)
    if not number or not 0 <= label_smoothing < 1:
        raise ValueError(f"config.label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if not label_smoothing:
        return objective
    if objective is not cross_entropy:
        raise ValueError(
            f"config.label_smoothing smooths class labels: it needs the cross_entropy objective, "
            f"and this data set is trained with {loss!r}"
        )
    return partial(cross_entropy, label_smoothing=label_smoothing)
