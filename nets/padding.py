"""Right-padded sequences: a batch of sequences of different lengths stored as one array
[batch, time, ...] (or time-major [time, batch, ...]), each followed by padding up to ``time``.
``lengths`` [batch] says where each one ends; every model, loss and feature extractor that reads
padded sequences asks these helpers which steps are real.
"""

import jax
import jax.numpy as jnp
import numpy as np

from nets.checks import concrete


def reverse_sequences(x: jax.Array, seq_lengths: jax.Array | None) -> jax.Array:
    """Reverse each sequence of time-major ``x`` [time, batch, ...] within its own length.

    Padding (steps t >= length) stays where it is, so a backward pass over the result reads the
    valid steps first. Applying it twice gives ``x`` back.
    """
    if seq_lengths is None:
        return jnp.flip(x, axis=0)
    time = jnp.arange(x.shape[0])[:, None]  # [time, 1]
    source = jnp.where(time < seq_lengths[None, :], seq_lengths[None, :] - 1 - time, time)
    source = source.reshape(source.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, source, axis=0)


def valid_steps(lengths: jax.Array, time: int) -> jax.Array:
    """[batch, time] booleans: step t of sequence b is real (t < lengths[b]), not padding."""
    return jnp.arange(time)[None, :] < lengths[:, None]


def check_lengths(seq_lengths, batch: int, time: int) -> jax.Array:
    """``seq_lengths`` [batch] as int32: known values must be integers in 1..``time``; traced
    ones are clipped to 0..``time`` (a wrong length then cannot read past the sequence)."""
    if jnp.shape(seq_lengths) != (batch,):
        raise ValueError(
            f"seq_lengths must have shape ({batch},) for a batch of {batch} sequences of "
            f"length {time}, got shape {jnp.shape(seq_lengths)}"
        )
    values = concrete(seq_lengths)
    if values is not None:
        bad = np.flatnonzero((values < 1) | (values > time) | (values != np.round(values)))
        if len(bad):
            raise ValueError(
                f"seq_lengths must be integers in 1..{time} (the input's time axis), got "
                f"{values[bad[0]].item()} for sequence {bad[0]}"
            )
    return jnp.clip(jnp.asarray(seq_lengths).astype(jnp.int32), 0, time)
