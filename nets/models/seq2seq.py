"""The lecture's encoder-decoder for translation, with and without attention.

An encoder RNN reads the source x_1..x_S into outputs h_1..h_S and a final state; a decoder
RNN starts from that state (Sutskever et al. 2014) and predicts the target one token at a time
from the token before it (y_0 = START):

    s_0 = encoder final state,   s_t = cell(s_{t-1}, [E y_{t-1}; c_t]),   z_t = W [s_t; c_t] + b

Without attention c_t is empty: everything the decoder knows of the source passes through the
fixed-size s_0. With ``attention`` (Bahdanau et al. 2015, additive) c_t is a fresh weighted
mean of all encoder outputs at every step, the weights read from the state before it:

    e_tj = v^T tanh(W_a s_{t-1} + U_a h_j),   a_tj = softmax_j(e_tj) over j < source length,
    c_t = sum_j a_tj h_j

Call contract: ``model.apply(variables, inputs, seq_lengths)`` with inputs {'source' [batch,
S] ids of ``num_tokens`` symbols, 'decoder_inputs' [batch, T] ids of the ``num_outputs``
target symbols}, seq_lengths [batch] the sources' lengths (padded source steps are never read,
and never attended to) -> logits [batch, T, num_outputs] (teacher forcing: the decoder reads
the true previous token). ``encode`` and ``decode`` are the two halves, for the decoders of
``nets.models.decoding`` that feed back their own predictions; one layer each.
"""

import functools
import inspect

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from nets.checks import check_rank
from nets.models.sequence import cell_parameters
from nets.padding import valid_steps
from nets.rnn import Recurrent, RecurrentCell, make_cell


class Memory(struct.PyTreeNode):
    """What the decoder reads of the encoded source: outputs h_j [batch, S, H], their attention
    keys U_a h_j [batch, S, A] (computed once, not once per decoder step) and the valid source
    steps [batch, S]."""

    outputs: jax.Array
    keys: jax.Array
    valid: jax.Array


class AdditiveAttention(nn.Module):
    """Bahdanau's score e_tj = v^T tanh(W_a s + U_a h_j) and the context c = sum_j a_j h_j, the
    keys U_a h_j given in the Memory."""

    size: int

    @nn.compact
    def __call__(self, query, memory: Memory):
        """query s [batch, H] -> (context [batch, H], weights [batch, S])."""
        scores = nn.Dense(1, use_bias=False, name="score")(
            jnp.tanh(memory.keys + nn.Dense(self.size, name="query")(query)[:, None, :])
        )[..., 0]
        weights = jax.nn.softmax(
            jnp.where(memory.valid, scores, jnp.finfo(scores.dtype).min), axis=-1
        )
        return jnp.einsum("bs,bsh->bh", weights, memory.outputs), weights


class DecoderStep(nn.Module):
    """One decoder step: (s_{t-1}, y_{t-1}) -> (s_t, (z_t, a_t)), a_t the attention weights
    [batch, S] (zeros without attention)."""

    cell: RecurrentCell
    num_outputs: int
    embedding_size: int
    attention_size: int  # 0: no attention

    @nn.compact
    def __call__(self, carry, token, memory: Memory):
        x = nn.Embed(self.num_outputs, self.embedding_size, name="embedding")(token)
        readout = []
        weights = jnp.zeros(memory.valid.shape, x.dtype)
        if self.attention_size:
            attention = AdditiveAttention(self.attention_size, name="attention")
            context, weights = attention(self.cell.hidden_state(carry), memory)
            x, readout = jnp.concatenate([x, context], -1), [context]
        carry, hidden = self.cell(carry, x)
        logits = nn.Dense(self.num_outputs, name="head")(jnp.concatenate([hidden, *readout], -1))
        return carry, (logits, weights)


class EncoderDecoder(nn.Module):
    """The encoder-decoder of the module docstring; ``attention_size`` > 0 adds attention."""

    cell: RecurrentCell
    num_outputs: int
    num_tokens: int
    embedding_size: int = 32
    attention_size: int = 0

    def setup(self):
        if not self.num_tokens:
            raise ValueError("EncoderDecoder reads integer source tokens: give it num_tokens")
        self.source_embedding = nn.Embed(self.num_tokens, self.embedding_size)
        self.encoder = Recurrent(self.cell)
        if self.attention_size:
            self.attention_keys = nn.Dense(self.attention_size, use_bias=False)
        self.decoder = nn.scan(
            DecoderStep,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=(1, nn.broadcast),
            out_axes=1,
        )(self.cell.clone(), self.num_outputs, self.embedding_size, self.attention_size)

    def encode(self, source, seq_lengths=None):
        """source [batch, S] -> (Memory, s_0 the encoder's final carry)."""
        check_rank("source", jnp.shape(source), 2, "[batch, time]")
        carry, outputs = self.encoder(self.source_embedding(source), seq_lengths)
        batch, time = source.shape
        lengths = jnp.full((batch,), time) if seq_lengths is None else seq_lengths
        keys = self.attention_keys(outputs) if self.attention_size else outputs[..., :0]
        return Memory(outputs, keys, valid_steps(lengths, time)), carry

    def decode(self, memory: Memory, carry, tokens):
        """Read target tokens [batch, T] from ``carry``: -> (carry, logits [batch, T, V],
        attention weights [batch, T, S])."""
        check_rank("decoder_inputs", jnp.shape(tokens), 2, "[batch, time]")
        carry, (logits, weights) = self.decoder(carry, tokens, memory)
        return carry, logits, weights

    def __call__(self, inputs, seq_lengths=None, *, train: bool = False):
        del train  # no dropout or BatchNorm
        if not isinstance(inputs, dict) or {"source", "decoder_inputs"} - set(inputs):
            raise ValueError(
                "EncoderDecoder reads inputs {'source': [batch, S], 'decoder_inputs': [batch, T]}"
            )
        memory, carry = self.encode(inputs["source"], seq_lengths)
        return self.decode(memory, carry, inputs["decoder_inputs"])[1]


def encoder_decoder(
    num_outputs,
    cell: str = "lstm",
    hidden_size: int = 128,
    *,
    num_tokens: int = 0,
    embedding_size: int = 32,
    attention_size: int = 0,
    **cell_options,
):
    """Sutskever's encoder-decoder of a cell named by ``cell`` ('lstm', 'gru', 'tanh'),
    ``hidden_size`` units and the cell options (``nets.rnn.make_cell``); no attention unless
    ``attention_size`` is set."""
    return EncoderDecoder(
        make_cell(cell, hidden_size, **cell_options),
        num_outputs,
        num_tokens,
        embedding_size,
        attention_size,
    )


encoder_decoder.__signature__ = inspect.Signature(
    [*list(inspect.signature(encoder_decoder).parameters.values())[:-1], *cell_parameters()]
)

MODELS = {
    "encoder_decoder": encoder_decoder,
    # Bahdanau's: the same model with additive attention of 128 units by default
    "attention_encoder_decoder": functools.partial(encoder_decoder, attention_size=128),
}
