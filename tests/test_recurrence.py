"""The hand-written backward pass of the recurrence against JAX's automatic differentiation of
the same forward scan, for every cell and every way ``Recurrent`` runs it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nets import recurrence
from nets.rnn import GRUCell, LSTMCell, Recurrent, SimpleRNNCell

# T = 10 with remat runs chunks of ceil(sqrt(10)) = 4 steps: the last one is padded.
B, T, X, H = 3, 10, 5, 4
CELLS = [SimpleRNNCell(H), LSTMCell(H), GRUCell(H)]
LENGTHS = np.array([10, 7, 1])


def autodiff_segment(scanned: recurrence.Recurrence):
    """The same forward scan, differentiated by JAX: the reference."""

    def plain(params, carry, xs, mask, perturbations):
        inputs = (params, carry, xs, mask, perturbations)
        final, hidden, carries, _ = recurrence._forward(scanned, *inputs, save=False)
        return final, hidden, carries

    return plain


def random_like(tree, seed):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return treedef.unflatten(
        [jax.random.normal(k, a.shape) for k, a in zip(keys, leaves, strict=True)]
    )


def assert_trees_close(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)  # noqa: E731
    jax.tree.map(close, actual, expected)


def single_layer_gradients(model, variables, inputs, initial, perturbations):
    """d loss / d (parameters, inputs, initial carry, perturbations), with every output used:
    the final carry, the per-step outputs and the per-step carries."""

    def loss(variables, inputs, initial, perturbations):
        final, outputs, carries = model.apply(
            variables, inputs, LENGTHS, initial_carry=initial,
            carry_perturbations=perturbations, return_carries=True,
        )  # fmt: skip
        weights = jnp.cos(jnp.arange(outputs.size).reshape(outputs.shape))
        terms = [jnp.sum(outputs * weights), jnp.sum(jnp.sin(jnp.stack(jax.tree.leaves(final))))]
        terms += [jnp.sum(c**2) for c in jax.tree.leaves(carries)]
        return sum(terms)

    return jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(variables, inputs, initial, perturbations)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: type(c).__name__)
def test_one_layer_with_lengths_initial_carry_and_perturbations(cell, monkeypatch):
    inputs = jax.random.normal(jax.random.key(0), (B, T, X))
    variables = Recurrent(cell).init(jax.random.key(1), inputs)
    initial = random_like(cell.initialize_carry(B), 2)
    perturbations = jax.tree.map(
        lambda c: 0.1 * jax.random.normal(jax.random.key(3), (B, T, H)), initial
    )
    args = (variables, inputs, initial, perturbations)
    ours = single_layer_gradients(Recurrent(cell), *args)
    rematerialised = single_layer_gradients(Recurrent(cell, remat=True), *args)
    monkeypatch.setattr(recurrence, "_segment", autodiff_segment)
    reference = single_layer_gradients(Recurrent(cell), *args)
    assert_trees_close(ours, reference)
    assert_trees_close(rematerialised, reference)
    # a padded step discards its update, perturbation included: no gradient reaches it
    assert np.all(np.asarray(jax.tree.leaves(ours[3])[0][2, 1:]) == 0.0)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: type(c).__name__)
def test_stacked_bidirectional_with_lengths(cell, monkeypatch):
    model = Recurrent(cell, num_layers=2, bidirectional=True)
    inputs = jax.random.normal(jax.random.key(4), (B, T, X))
    variables = model.init(jax.random.key(5), inputs)
    initial = random_like(tuple(cell.initialize_carry(B) for _ in range(4)), 6)

    def gradients():
        def loss(variables, inputs, initial):
            final, outputs = model.apply(variables, inputs, LENGTHS, initial_carry=initial)
            weights = jnp.sin(jnp.arange(outputs.size).reshape(outputs.shape))
            return jnp.sum(outputs * weights) + sum(jnp.sum(c**3) for c in jax.tree.leaves(final))

        return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(variables, inputs, initial)

    ours = gradients()
    monkeypatch.setattr(recurrence, "_segment", autodiff_segment)
    assert_trees_close(ours, gradients())


def test_gradients_under_vmap_equal_each_example_alone():
    model = Recurrent(LSTMCell(H), remat=True)
    inputs = jax.random.normal(jax.random.key(7), (2, B, T, X))
    variables = model.init(jax.random.key(8), inputs[0])

    def grad(x):
        return jax.grad(lambda v: jnp.sum(model.apply(v, x, LENGTHS)[1] ** 2))(variables)

    batched = jax.jit(jax.vmap(grad))(inputs)
    for k, x in enumerate(inputs):
        assert_trees_close(jax.tree.map(lambda a, k=k: a[k], batched), jax.jit(grad)(x))
