"""Vanishing and exploding gradients, measured: d loss / d h_t at every step in one backward pass,
and the norms of the step Jacobians d h_t / d h_{t-1} whose product carries it back in time.

Backpropagation through time (the lecture):

    dL/dh_k = dL/dh_T  *  prod_{t=k+1..T} dh_t/dh_{t-1}

For the vanilla RNN, dh_t/dh_{t-1} = diag(f'(a_t)) W_h, so when the largest singular value of W_h
is sigma < 1 and |f'| <= 1 (tanh), ||dL/dh_{T-k}|| <= sigma^k ||dL/dh_T||: the gradient vanishes
at least geometrically (Pascanu, Mikolov and Bengio 2013). The LSTM's cell state adds a path
dC_t/dC_{t-1} = diag(f_t) that a forget gate near 1 keeps open.

Both functions take a ``model`` that runs one ``nets.rnn.Recurrent`` and forwards the keyword
``carry_perturbations`` to it, and exposes the scanned cell as ``model.cell``: a ``Recurrent``
itself, or a ``nets.models.ManyToOne``. Everything here is traceable: wrap the call in ``jax.jit``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


class StepNorms(NamedTuple):
    """Per-step gradient norms: ``mean`` [time], the batch mean of ``per_example`` [batch, time]."""

    mean: jax.Array
    per_example: jax.Array


def scaled_norm(x: jax.Array) -> jax.Array:
    """The Euclidean norm over the last axis, computed as m * ||x / m|| with m = max |x_i|.

    The plain sqrt(sum x_i^2) squares first, so it returns 0 once the entries fall below the
    square root of the smallest float (1e-19 in float32, 1e-154 in float64): exactly the range
    a vanishing gradient reaches. Complex entries (the LRU's states) count by their modulus.
    """
    scale = jnp.max(jnp.abs(x), axis=-1, keepdims=True)
    safe = jnp.where(scale > 0, scale, 1.0)
    return scale[..., 0] * jnp.sqrt(jnp.sum(jnp.square(jnp.abs(x / safe)), axis=-1))


def hidden_state_gradient_norms(model, variables, inputs, loss_fn, seq_lengths=None):
    """||dL/dh_t|| for every step t = 1..T, from ONE backward pass.

    A zero perturbation eps_t is added to the state as each step computes it, inside the scan;
    since h_t + eps_t feeds everything downstream, dL/d eps_t = dL/dh_t, and one ``jax.grad``
    with respect to all T perturbations gives every step's gradient at the cost of a single
    backward pass (not T separate gradients). For the LSTM, C_t is perturbed before
    h_t = o_t tanh(C_t) reads it, so dL/dC_t is the total derivative, through h_t as well.

    Args:
      model: a Flax module as described in the module docstring.
      variables: its variables.
      inputs: [batch, time, features].
      loss_fn: ``loss_fn(output) -> scalar`` of whatever the model returns (for a
        ``Recurrent``, ``(final_carry, outputs)``; for a ``ManyToOne``, its predictions).
      seq_lengths: optional [batch] lengths, passed to the model.

    Returns:
      A dict from the carry's component names to ``StepNorms``: ``{'h': ...}`` for the RNN and
      GRU, ``{'c': ..., 'h': ...}`` for the LSTM (C_t and h_t). ``per_example[b, t]`` is the
      norm of example b's slice of dL/dh_t (for a batch-mean loss, 1/batch times the gradient
      of that example's own loss).
    """
    batch, time = inputs.shape[:2]
    template = model.cell.initialize_carry(batch, inputs.dtype)
    zeros = jax.tree.map(lambda c: jnp.zeros((batch, time) + c.shape[1:], c.dtype), template)

    def loss_of_perturbations(perturbations):
        kwargs = {} if seq_lengths is None else {"seq_lengths": seq_lengths}
        return loss_fn(model.apply(variables, inputs, carry_perturbations=perturbations, **kwargs))

    grads = jax.grad(loss_of_perturbations)(zeros)
    norms = [scaled_norm(g) for g in jax.tree.leaves(grads)]
    return {
        name: StepNorms(n.mean(axis=0), n)
        for name, n in zip(model.cell.carry_names, norms, strict=True)
    }


def step_jacobian_norms(model, variables, inputs, *, exact: bool | None = None, iterations=50):
    """The spectral norm of the step Jacobian d carry_t / d carry_{t-1} along the trajectory.

    The carry is h_t for the RNN and GRU, and (C_t, h_t) for the LSTM (a 2H x 2H Jacobian). With
    ``exact`` the Jacobian is formed and its largest singular value taken from an SVD (the
    default when the carry has at most 256 units); otherwise ``iterations`` steps of power
    iteration on J^T J, using one Jacobian-vector and one vector-Jacobian product per step.

    ``model`` must be a single-layer, one-direction ``nets.rnn.Recurrent``. Returns [batch, time].
    """
    batch = inputs.shape[0]
    cell = model.cell
    final, _, carries = model.apply(variables, inputs, return_carries=True)
    del final
    initial = cell.initialize_carry(batch, inputs.dtype)
    previous = jax.tree.map(
        lambda c0, cs: jnp.concatenate([c0[:, None], cs[:, :-1]], axis=1), initial, carries
    )
    projected = model.apply(variables, inputs, method=lambda m, x: m.cells[0].input_projection(x))
    cell_params = {"params": variables["params"]["cells_0"]}

    def step_norm(carry, gx):  # one example, one step: carry leaves [hidden], gx [gates]
        flat, unravel = ravel_pytree(carry)

        def step(v):
            batched = jax.tree.map(lambda a: a[None], unravel(v))
            new = cell.apply(cell_params, batched, gx[None], method=cell.step)
            return ravel_pytree(jax.tree.map(lambda a: a[0], new))[0]

        use_svd = flat.size <= 256 if exact is None else exact
        if use_svd:
            return jnp.linalg.norm(jax.jacfwd(step)(flat), ord=2)
        _, vjp = jax.vjp(step, flat)
        v = jnp.ones_like(flat) / jnp.sqrt(flat.size)

        def power(v, _):
            w = vjp(jax.jvp(step, (flat,), (v,))[1])[0]  # J^T J v
            return w / jnp.linalg.norm(w), None

        v, _ = jax.lax.scan(power, v, None, length=iterations)
        return jnp.linalg.norm(jax.jvp(step, (flat,), (v,))[1])

    per_step = jax.vmap(jax.vmap(step_norm))
    return per_step(previous, projected)
