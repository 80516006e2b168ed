"""Decoding an encoder-decoder (``nets.models.seq2seq``): greedy and beam search, compiled.

    tokens = greedy_decode(model, variables, source, lengths, max_length=11, start=2, end=3,
                           pad=0)
    tokens, scores = beam_search(model, variables, source, lengths, max_length=11, start=2,
                                 end=3, pad=0, beam_width=4, alpha=0.6)

Both encode the source once and then feed the decoder its own previous token, carrying its
state, inside one ``lax.while_loop`` that stops after ``max_length`` tokens or as soon as every
sequence has produced ``end`` (no Python loop per token). Tokens [batch, max_length]: each row
up to and including its ``end``, then ``pad``.

Greedy takes y_t = argmax_y p(y | y_<t, x). Beam search keeps the ``beam_width`` = k prefixes
of highest log-probability log p(y_1..y_t | x) = sum_i log p(y_i | y_<i, x): at each step every
live prefix is extended by every token and the k best of the k * V candidates stay; a prefix
that has produced ``end`` is finished and keeps its score. Among the k final hypotheses the
answer is the one of highest length-normalised score log p(y | x) / n^alpha, n its length
with ``end`` (alpha = 0: raw log-probability, which favours short outputs; alpha = 1: the mean
per token; Wu et al. 2016 use a penalty of this kind). With k = 1 it is greedy decoding.
"""

from functools import partial

import jax
import jax.numpy as jnp

from nets.checks import check_positive
from nets.models.seq2seq import EncoderDecoder


def _check(source, lengths, max_length):
    if jnp.ndim(source) != 2 or jnp.shape(lengths) != jnp.shape(source)[:1]:
        raise ValueError(
            f"source must be [batch, S] with lengths [batch], got {jnp.shape(source)} and "
            f"{jnp.shape(lengths)}"
        )
    check_positive("max_length", max_length)


def _step(model, variables, memory, carry, token):
    """The decoder's next-token log-probabilities [rows, V] after ``token`` [rows]."""
    carry, logits, _ = model.apply(
        variables, memory, carry, token[:, None], method=EncoderDecoder.decode
    )
    return carry, jax.nn.log_softmax(logits[:, 0])


@partial(jax.jit, static_argnames=("model", "max_length", "start", "end", "pad"))
def _greedy(model, variables, source, lengths, max_length, start, end, pad):
    memory, carry = model.apply(variables, source, lengths, method=EncoderDecoder.encode)
    batch = source.shape[0]

    def running(state):
        t, _, _, done, _ = state
        return (t < max_length) & ~jnp.all(done)

    def step(state):
        t, carry, token, done, tokens = state
        carry, log_probs = _step(model, variables, memory, carry, token)
        token = jnp.where(done, pad, jnp.argmax(log_probs, axis=-1))
        return t + 1, carry, token, done | (token == end), tokens.at[:, t].set(token)

    state = (
        0,
        carry,
        jnp.full((batch,), start),
        jnp.zeros((batch,), bool),
        jnp.full((batch, max_length), pad),
    )
    return jax.lax.while_loop(running, step, state)[-1]


def greedy_decode(
    model, variables, source, lengths, *, max_length: int, start: int, end: int, pad: int
):
    """[batch, max_length] greedy tokens for ``source`` [batch, S] of ``lengths`` [batch]:
    ``start`` begins the decoder's input, ``end`` stops a row, ``pad`` fills it after."""
    _check(source, lengths, max_length)
    return _greedy(model, variables, source, lengths, max_length, start, end, pad)


@partial(jax.jit, static_argnames=("model", "max_length", "start", "end", "pad", "beam_width"))
def _beam(model, variables, source, lengths, max_length, start, end, pad, beam_width, alpha):
    k = beam_width
    memory, carry = model.apply(variables, source, lengths, method=EncoderDecoder.encode)
    batch = source.shape[0]
    # every beam of a source starts as the same empty prefix: only the first is live, so the
    # k copies do not fill the beam with one hypothesis
    memory, carry = jax.tree.map(lambda x: jnp.repeat(x, k, axis=0), (memory, carry))
    scores = jnp.tile(jnp.where(jnp.arange(k) == 0, 0.0, -jnp.inf), (batch, 1))

    def running(state):
        t, _, _, _, done, _, _ = state
        return (t < max_length) & ~jnp.all(done)

    def step(state):
        t, carry, scores, token, done, steps, tokens = state
        carry, log_probs = _step(model, variables, memory, carry, token.reshape(-1))
        vocabulary = log_probs.shape[-1]
        log_probs = log_probs.reshape(batch, k, vocabulary)
        # a finished prefix has one continuation, padding, which keeps its score
        finished = jnp.where(jnp.arange(vocabulary) == pad, 0.0, -jnp.inf)
        log_probs = jnp.where(done[..., None], finished, log_probs)
        candidates = (scores[..., None] + log_probs).reshape(batch, k * vocabulary)
        scores, best = jax.lax.top_k(candidates, k)  # [batch, k]
        parent, token = best // vocabulary, best % vocabulary
        # each survivor continues its parent's carry, tokens, length and end
        rows = (jnp.arange(batch)[:, None] * k + parent).reshape(-1)
        carry = jax.tree.map(lambda c: c[rows], carry)
        tokens, done, steps = (
            x.reshape(batch * k, *x.shape[2:])[rows].reshape(x.shape) for x in (tokens, done, steps)
        )
        tokens = tokens.at[:, :, t].set(token)
        steps = steps + ~done  # n: the tokens up to and including end
        return t + 1, carry, scores, token, done | (token == end), steps, tokens

    state = (
        0,
        carry,
        scores,
        jnp.full((batch, k), start),
        jnp.zeros((batch, k), bool),
        jnp.zeros((batch, k), jnp.int32),
        jnp.full((batch, k, max_length), pad),
    )
    _, _, scores, _, _, steps, tokens = jax.lax.while_loop(running, step, state)
    normalised = scores / jnp.maximum(steps, 1) ** alpha
    best = jnp.argmax(normalised, axis=1)
    rows = jnp.arange(batch)
    return tokens[rows, best], normalised[rows, best]


def beam_search(
    model,
    variables,
    source,
    lengths,
    *,
    max_length: int,
    start: int,
    end: int,
    pad: int,
    beam_width: int = 4,
    alpha: float = 0.6,
):
    """(tokens [batch, max_length], normalised scores [batch]) of the best of ``beam_width``
    hypotheses per source (the module docstring's rule)."""
    _check(source, lengths, max_length)
    check_positive("beam_width", beam_width)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    return _beam(
        model, variables, source, lengths, max_length, start, end, pad, beam_width, float(alpha)
    )
