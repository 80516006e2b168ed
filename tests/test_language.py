"""Token models: embeddings, padding that changes nothing, the bag-of-embeddings baseline, the
binary objective and the sampler."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nets.data.batches import stream_batches
from nets.data.text import CHARACTERS, windows
from nets.models import get_model
from nets.models.sampling import generate
from nets.predict import sample_text
from nets.training import objectives
from nets.training.state import TrainState, initial_carry


def padded_and_alone(model, objective, tokens, lengths, targets):
    """(loss, grads, outputs) of the padded batch, and the same summed over each sequence alone
    (cut to its length, no padding)."""
    variables = jax.jit(model.init)(jax.random.key(0), tokens)

    def loss(params, x, y, seq_lengths=None):
        outputs = model.apply({"params": params}, x, seq_lengths)
        batch = {"targets": y} if seq_lengths is None else {"targets": y, "lengths": seq_lengths}
        return jnp.sum(objective(outputs, batch)["loss"]), outputs

    value_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True))  # one program per shape
    (batch_loss, outputs), grads = value_and_grad(variables["params"], tokens, targets, lengths)
    alone = []
    for row, length in enumerate(lengths):
        y = targets[row : row + 1, :length] if targets.ndim == 2 else targets[row : row + 1]
        alone.append(value_and_grad(variables["params"], tokens[row : row + 1, :length], y))
    return (batch_loss, grads, outputs), alone


@pytest.mark.parametrize(
    "name, options",
    [
        ("many_to_one", dict(cell="lstm")),  # bidirectional padding: tests/test_models.py
        ("bag_of_embeddings", {}),
    ],
)
def test_padded_positions_change_nothing_for_a_review_classifier(name, options):
    model = get_model(
        name,
        1,
        num_tokens=11,
        embedding_size=3,
        **options,
        **({"hidden_size": 4} if name == "many_to_one" else {}),
    )
    tokens = jnp.array([[3, 4, 5, 0, 0], [7, 8, 9, 10, 2]])
    lengths = jnp.array([3, 5])
    targets = jnp.array([1, 0])
    (loss, grads, outputs), alone = padded_and_alone(
        model, objectives.binary_cross_entropy, tokens, lengths, targets
    )
    np.testing.assert_allclose(loss, sum(a[0][0] for a in alone), rtol=1e-5)
    for row, ((_, output), _) in enumerate(alone):
        np.testing.assert_allclose(outputs[row], output[0], rtol=1e-5, atol=1e-6)
    summed = jax.tree.map(lambda *g: sum(g), *[a[1] for a in alone])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grads, summed)


def test_padded_steps_change_nothing_for_a_language_model():
    model = get_model("many_to_many", 7, num_tokens=7, embedding_size=3, hidden_size=4)
    tokens = jnp.array([[2, 3, 4, 5], [6, 2, 0, 0]])
    targets = jnp.array([[3, 4, 5, 6], [2, 3, 0, 0]])
    lengths = jnp.array([4, 2])
    (loss, grads, _), alone = padded_and_alone(
        model, objectives.cross_entropy, tokens, lengths, targets
    )
    np.testing.assert_allclose(loss, sum(a[0][0] for a in alone), rtol=1e-5)
    summed = jax.tree.map(lambda *g: sum(g), *[a[1] for a in alone])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grads, summed)


def test_bag_of_embeddings_is_the_mean_embedding_then_a_dense_layer():
    model = get_model("bag_of_embeddings", 2, num_tokens=6, embedding_size=3)
    tokens, lengths = jnp.array([[1, 2, 2, 0], [5, 4, 3, 1]]), jnp.array([3, 4])
    variables = model.init(jax.random.key(1), tokens)
    p = jax.tree.map(np.asarray, variables["params"])
    table, kernel, bias = p["embedding"]["embedding"], p["head"]["kernel"], p["head"]["bias"]
    expected = [
        table[[1, 2, 2]].mean(0) @ kernel + bias,
        table[[5, 4, 3, 1]].mean(0) @ kernel + bias,
    ]
    np.testing.assert_allclose(model.apply(variables, tokens, lengths), expected, rtol=1e-5)


def test_binary_cross_entropy_objective_against_the_formula():
    logits, labels = np.array([[2.0], [-1.0], [0.5]]), np.array([1, 1, 0])
    p = 1 / (1 + np.exp(-logits[:, 0]))
    expected = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    result = objectives.binary_cross_entropy(jnp.asarray(logits), {"targets": jnp.asarray(labels)})
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-6)
    np.testing.assert_array_equal(result["accuracy"], [1, 0, 0])


@pytest.fixture(scope="module")
def language_model():
    model = get_model(
        "many_to_many", 5, num_tokens=5, embedding_size=4, hidden_size=8, num_layers=2
    )
    variables = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))
    # larger weights than the initialisation, so the distributions are far from uniform
    variables = jax.tree.map(lambda w: 3 * w, variables)
    return model, variables


def test_the_sampler_draws_its_first_token_from_the_models_next_token_distribution(language_model):
    model, variables = language_model
    prompt = jnp.array([[2, 3, 4]])
    logits = model.apply(variables, prompt)[0, -1]
    for temperature in (0.5, 1.0):
        draws = generate(
            model,
            variables,
            jnp.repeat(prompt, 4000, 0),
            1,
            temperature=temperature,
            key=jax.random.key(7),
        )
        frequencies = np.bincount(np.asarray(draws[:, 0]), minlength=5) / 4000
        expected = np.asarray(jax.nn.softmax(logits / temperature))
        np.testing.assert_allclose(frequencies, expected, atol=0.03)


def test_the_sampler_carries_the_state_greedy_decoding_equals_rereading(language_model):
    """At a tiny temperature sampling is the argmax; the scan's carried state must give what
    re-reading the whole growing sequence gives at every step."""
    model, variables = language_model
    # re-read from scratch each step: one padded array and its length, so one compilation
    last_logits = jax.jit(lambda x, n: model.apply(variables, x, n[None])[0, n - 1])
    sequence = np.zeros(8, np.int32)
    sequence[:2] = [2, 3]
    for length in range(2, 8):
        sequence[length] = int(jnp.argmax(last_logits(sequence[None], length)))
    greedy = generate(
        model, variables, jnp.array([[2, 3]]), 6, temperature=1e-6, key=jax.random.key(0)
    )
    np.testing.assert_array_equal(greedy[0], sequence[2:])
    a = generate(model, variables, jnp.array([[2, 3]]), 6, temperature=1.0, key=jax.random.key(5))
    b = generate(model, variables, jnp.array([[2, 3]]), 6, temperature=1.0, key=jax.random.key(5))
    np.testing.assert_array_equal(a, b)  # deterministic for a key


def test_sampling_refuses_bad_prompts_temperatures_and_vocabularies(language_model):
    model, variables = language_model
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="temperature must be a number > 0, got 0"):
        generate(model, variables, jnp.array([[2]]), 3, temperature=0, key=key)
    with pytest.raises(ValueError, match="at least one token"):
        generate(model, variables, jnp.zeros((1, 0), jnp.int32), 3, key=key)
    with pytest.raises(ValueError, match="99 tokens but the model reads 5"):
        sample_text(model, variables, CHARACTERS, "a", 3, key=key)
    characters = get_model("many_to_many", 99, num_tokens=99, hidden_size=4)
    weights = characters.init(key, jnp.zeros((1, 2), jnp.int32))
    with pytest.raises(ValueError, match="outside the vocabulary: \\['é'\\]"):
        sample_text(characters, weights, CHARACTERS, "café", 3, key=key)
    with pytest.raises(ValueError, match="the prompt is empty"):
        sample_text(characters, weights, CHARACTERS, "", 3, key=key)
    text = sample_text(characters, weights, CHARACTERS, "ab", 5, key=key)
    assert text.startswith("ab") and len(text) > 2


def test_stream_batches_continue_each_row_where_the_last_batch_stopped():
    arrays = windows(np.arange(2, 103), 4)  # 25 windows of the stream 2, 3, ..., 102
    batches = stream_batches(arrays, 3, shard_index=0, shard_count=1)  # 3 streams of 8 windows
    seen = [next(batches) for _ in range(9)]
    np.testing.assert_array_equal(seen[0]["inputs"][:, 0], [2, 2 + 32, 2 + 64])
    for before, after in zip(seen[:7], seen[1:8], strict=True):
        np.testing.assert_array_equal(after["inputs"][:, 0], before["targets"][:, -1])
        assert not after["reset"].any()
    assert seen[0]["reset"].all() and seen[8]["reset"].all()  # the streams start over
    np.testing.assert_array_equal(seen[8]["inputs"], seen[0]["inputs"])
    resumed = stream_batches(arrays, 3, shard_index=0, shard_count=1)
    resumed.set_state(batches.get_state())
    np.testing.assert_array_equal(next(resumed)["inputs"], next(batches)["inputs"])


def test_a_carried_state_reads_two_chunks_as_one_sequence(language_model):
    model, variables = language_model
    state = TrainState.create(model, optax.sgd(0.1), jnp.zeros((2, 3), jnp.int32), 0)
    state = state.replace(params=variables["params"])
    tokens = jnp.array([[2, 3, 4, 1, 0, 2], [4, 4, 3, 2, 1, 0]])
    apply = jax.jit(state.apply)  # compiled, not op by op
    whole = jax.jit(model.apply)(variables, tokens)
    zeros = initial_carry(model, variables, tokens[:, :3])
    first, reset = {"inputs": tokens[:, :3], "reset": jnp.array([True, True])}, jnp.array([0, 1])
    (outputs, carry), _ = apply(first, carry=zeros)
    np.testing.assert_allclose(outputs, whole[:, :3], rtol=1e-5, atol=1e-6)
    second = {"inputs": tokens[:, 3:], "reset": reset.astype(bool)}
    (outputs, _), _ = apply(second, carry=carry)
    np.testing.assert_allclose(outputs[0], whole[0, 3:], rtol=1e-5, atol=1e-6)  # carried on
    alone = jax.jit(model.apply)(variables, tokens[1:, 3:])  # row 1 was reset: from zeros
    np.testing.assert_allclose(outputs[1], alone[0], rtol=1e-5, atol=1e-6)
