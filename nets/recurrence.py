"""Backpropagation through time written by hand: the scanned recurrence and its own backward pass.

Every cell's step is a matmul followed by elementwise work:

    r_t = h_{t-1} W_h + b_h                          the recurrent term, [batch, gates]
    carry_t = update(carry_{t-1}, p_t, r_t)          gates, nonlinearities, the new state

where p_t = W_x x_t + b is the input projection. Automatic differentiation of a scan forms
dL/dW_h inside the backward loop, one small [hidden, batch] x [batch, gates] matmul per step.
Here the backward scan does only what must be sequential:

    dL/dcarry_{t-1}, dL/dp_t, dL/dr_t = pullback of update at step t
    dL/dh_{t-1} += dL/dr_t W_h^T

and after the loop, as single large matmuls over all T*B rows (cuDNN and PyTorch do the same):

    dL/dW_h = sum_t h_{t-1}^T dL/dr_t,    dL/db_h = sum_t dL/dr_t,
    dL/dW_x, dL/dx = the projection's vjp over all steps at once.

The pullback comes from the cell (``Step``): the LSTM and GRU write theirs by hand from the gate
activations their forward step saves; any other cell gets ``jax.vjp`` of its update.

With ``chunk`` the forward pass keeps only the carry at every chunk boundary and the backward
pass recomputes one chunk at a time (input projection included): memory grows with the carries
of one chunk and the inputs and outputs, not with the gates or projections of all T steps.

Shapes are time-major: inputs [time, batch, features], outputs [time, batch, hidden].
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Carry = Any


class Step(NamedTuple):
    """A cell's elementwise step and its backward, both pure (they read no parameters).

    ``update(carry_{t-1}, p_t, r_t, perturbation_t) -> (carry_t, saved)``: ``perturbation_t``
      (like the carry, or None) is added to each component as it is computed.
    ``pullback(saved, dL/dcarry_t) -> (dL/dcarry_{t-1}, dL/dp_t, dL/dr_t, dL/dperturbation_t)``,
      dL/dcarry_{t-1} not counting the path through r_t (the scan adds dL/dr_t W_h^T). A cell
      whose gates are p_t + r_t returns the same array for dL/dp_t and dL/dr_t; it is then
      stored once.
    """

    update: Callable
    pullback: Callable


def autodiff_step(update: Callable) -> Step:
    """The Step of a plain ``update(carry, p, r, perturbation) -> carry_t``: its pullback is
    ``jax.vjp``'s, which saves whatever JAX's own differentiation of the update would."""
    return Step(lambda *args: jax.vjp(update, *args), lambda saved, d_carry: saved(d_carry))


class Recurrence(NamedTuple):
    """What every pass of one scan shares: the cell's functions (``scan``'s ``step``,
    ``hidden_state`` and ``project``) and the scan's options."""

    step: Step
    hidden_state: Callable[[Carry], jax.Array]
    project: Callable[[Any, jax.Array], jax.Array]
    return_carries: bool
    unroll: int
    perturbed: bool  # perturbations are given: their gradients are returned


def _where(mask, new, old):
    """Per example (mask [batch]), ``new`` where the step is real, ``old`` where padded."""
    return jax.tree.map(lambda n, o: jnp.where(mask[:, None], n, o), new, old)


def scan(
    step: Step,
    hidden_state: Callable[[Carry], jax.Array],
    project: Callable[[Any, jax.Array], jax.Array],
    params: tuple[Any, jax.Array, jax.Array | None],
    carry: Carry,
    xs: jax.Array,
    mask: jax.Array | None = None,
    perturbations: Carry | None = None,
    *,
    return_carries: bool = False,
    unroll: int = 1,
    chunk: int | None = None,
):
    """Scan a cell over time with the backward pass described in the module docstring.

    Args:
      step: the cell's ``Step``.
      hidden_state: h_t of a carry (the part W_h multiplies, and the per-step output).
      project: ``project(input_params, x) -> p``, the input projection of any number of steps.
      params: (input_params, W_h [hidden, gates], b_h [gates] or None).
      carry: carry_0, [batch, hidden] per leaf.
      xs: [time, batch, features], the inputs of ``project``.
      mask: [time, batch] booleans, False at padded steps: those keep the carry and output 0.
      perturbations: like the carry with a leading time axis, added to carry_t as it is
        computed; their gradient is dL/dcarry_t.
      return_carries: also return carry_t for every step.
      chunk: recompute the forward pass in the backward pass, ``chunk`` steps at a time.

    Returns:
      (carry_T, hidden [time, batch, hidden], carries or None).
    """
    recurrence = Recurrence(
        step, hidden_state, project, return_carries, unroll, perturbations is not None
    )
    if chunk is not None and chunk < xs.shape[0]:
        return _chunked(recurrence, chunk, params, carry, xs, mask, perturbations)
    return _segment(recurrence)(params, carry, xs, mask, perturbations)


def _forward(recurrence: Recurrence, params, carry, xs, mask, perturbations, *, save: bool):
    """The forward scan; with ``save`` also every step's h_{t-1} and the Step's saved values."""
    step, hidden_state, project, return_carries, unroll, _ = recurrence
    input_params, kernel, bias = params
    projected = project(input_params, xs)

    def body(carry, inputs):
        p, m, e = inputs
        r = hidden_state(carry) @ kernel
        r = r if bias is None else r + bias
        new, saved = step.update(carry, p, r, e)
        hidden = hidden_state(new)
        if m is not None:
            new, hidden = _where(m, new, carry), jnp.where(m[:, None], hidden, 0.0)
        saved = (hidden_state(carry), saved) if save else None
        return new, (hidden, new if return_carries else None, saved)

    final, (hidden, carries, saved) = jax.lax.scan(
        body, carry, (projected, mask, perturbations), unroll=unroll
    )
    return final, hidden, carries, saved


def _backward(recurrence: Recurrence, params, xs, mask, saved, d_final, d_hidden, d_carries):
    """Gradients of one forward segment from its saved steps: the sequential part in a reverse
    scan, the weight gradients after it over all of the segment's steps at once."""
    step, hidden_state, project, _, unroll, perturbed = recurrence
    input_params, kernel, bias = params
    h_previous, cell_saved = saved  # h_previous [time, batch, hidden]
    projected, project_vjp = jax.vjp(project, input_params, xs)
    # W_h^T laid out once: XLA:CPU multiplies by a transposed operand at half the speed.
    kernel_t = kernel.T
    shared = []  # whether the cell's dL/dp_t and dL/dr_t are one array (found when tracing)

    def body(d_carry, inputs):
        cell_saved, m, d_h, d_c = inputs
        if d_c is not None:  # dL/dcarry_t also reaches carry_t through return_carries
            d_carry = jax.tree.map(jnp.add, d_carry, d_c)
        # hidden_state is a selection: its pullback puts an h-gradient into a carry-shaped one
        _, into_carry = jax.vjp(hidden_state, d_carry)
        d_new = d_carry
        if m is not None:  # a padded step passed carry_{t-1} on and output zeros
            zeros = jax.tree.map(jnp.zeros_like, d_carry)
            d_new, passed_on = _where(m, d_carry, zeros), _where(m, zeros, d_carry)
            d_h = jnp.where(m[:, None], d_h, 0.0)
        d_new = jax.tree.map(jnp.add, d_new, into_carry(d_h)[0])
        d_previous, d_p, d_r, d_e = step.pullback(cell_saved, d_new)
        if m is not None:
            d_previous = jax.tree.map(jnp.add, d_previous, passed_on)
        (d_through_r,) = into_carry((d_r @ kernel_t).astype(h_previous.dtype))
        d_previous = jax.tree.map(jnp.add, d_previous, d_through_r)
        shared.append(d_p is d_r)
        return d_previous, (d_r, None if d_p is d_r else d_p, d_e if perturbed else None)

    d_initial, (d_recurrent, d_projected, d_perturbations) = jax.lax.scan(
        body, d_final, (cell_saved, mask, d_hidden, d_carries), reverse=True, unroll=unroll
    )
    d_projected = d_recurrent if shared[-1] else d_projected
    # sums over all T*B rows: accumulated in at least float32 (bfloat16 compute), rounded once
    wide = jnp.promote_types(kernel.dtype, jnp.float32)
    d_kernel = jnp.einsum("tbh,tbg->hg", h_previous, d_recurrent, preferred_element_type=wide)
    d_kernel = d_kernel.astype(kernel.dtype)
    d_bias = None if bias is None else d_recurrent.sum((0, 1), dtype=wide).astype(bias.dtype)
    d_input_params, d_xs = project_vjp(d_projected.astype(projected.dtype))
    return d_initial, (d_input_params, d_kernel, d_bias), d_xs, d_perturbations


def _segment(recurrence: Recurrence):
    """The recurrence over one segment as a ``jax.custom_vjp`` function of
    (params, carry, xs, mask, perturbations)."""

    @jax.custom_vjp
    def segment(params, carry, xs, mask, perturbations):
        inputs = (params, carry, xs, mask, perturbations)
        final, hidden, carries, _ = _forward(recurrence, *inputs, save=False)
        return final, hidden, carries

    def forward(params, carry, xs, mask, perturbations):
        inputs = (params, carry, xs, mask, perturbations)
        final, hidden, carries, saved = _forward(recurrence, *inputs, save=True)
        return (final, hidden, carries), (params, xs, mask, saved)

    def backward(residuals, cotangents):
        d_initial, d_params, d_xs, d_perturbations = _backward(recurrence, *residuals, *cotangents)
        return d_params, d_initial, d_xs, None, d_perturbations

    segment.defvjp(forward, backward)
    return segment


def _chunked(recurrence: Recurrence, chunk: int, params, carry, xs, mask, perturbations):
    """The recurrence in chunks of ``chunk`` steps: the forward pass saves the carry at each
    chunk's start; the backward pass recomputes a chunk (saving its steps) and backpropagates
    through it, last chunk first, adding up the parameter gradients."""
    time, batch = xs.shape[:2]
    count = -(-time // chunk)
    padding = count * chunk - time
    if mask is None:
        mask = jnp.ones((time, batch), bool)

    def split(a):  # [time, ...] -> [count, chunk, ...]; padded steps are masked out
        a = jnp.concatenate([a, jnp.zeros((padding, *a.shape[1:]), a.dtype)]) if padding else a
        return a.reshape(count, chunk, *a.shape[1:])

    def merge(a):  # [count, chunk, ...] -> [time, ...]
        return a.reshape(count * chunk, *a.shape[2:])[:time]

    @jax.custom_vjp
    def chunked(params, carry, xs, mask, perturbations):
        return forward(params, carry, xs, mask, perturbations)[0]  # the chunk starts unused

    def forward(params, carry, xs, mask, perturbations):
        def body(carry, inputs):
            final, hidden, carries, _ = _forward(recurrence, params, carry, *inputs, save=False)
            return final, (carry, hidden, carries)

        final, (starts, hidden, carries) = jax.lax.scan(body, carry, (xs, mask, perturbations))
        return (final, hidden, carries), (params, starts, xs, mask, perturbations)

    def backward(residuals, cotangents):
        params, starts, xs, mask, perturbations = residuals
        d_final, d_hidden, d_carries = cotangents

        def body(accumulated, inputs):
            d_carry, d_params = accumulated
            start, x, m, e, d_h, d_c = inputs
            _, _, _, saved = _forward(recurrence, params, start, x, m, e, save=True)
            d_start, d_chunk_params, d_x, d_e = _backward(
                recurrence, params, x, m, saved, d_carry, d_h, d_c
            )
            d_params = jax.tree.map(jnp.add, d_params, d_chunk_params)
            return (d_start, d_params), (d_x, d_e)

        zero_params = jax.tree.map(jnp.zeros_like, params)
        (d_initial, d_params), (d_xs, d_perturbations) = jax.lax.scan(
            body,
            (d_final, zero_params),
            (starts, xs, mask, perturbations, d_hidden, d_carries),
            reverse=True,
        )
        return d_params, d_initial, d_xs, None, d_perturbations

    chunked.defvjp(forward, backward)
    final, hidden, carries = chunked(
        params, carry, split(xs), split(mask), jax.tree.map(split, perturbations)
    )
    return final, merge(hidden), jax.tree.map(merge, carries)
