"""The lecture's sequence heads: a ``Recurrent`` read out many-to-one or many-to-many.

Both take every option of ``nets.rnn.Recurrent`` (``num_layers``, ``bidirectional``, ``unroll``,
``remat``, ``implementation``) and are called as

    model.apply(variables, inputs, seq_lengths=None, *, train=False, **recurrent_kwargs)

with inputs [batch, time, features], or integer tokens [batch, time] of ``num_tokens`` symbols,
read as one-hot vectors or, with ``embedding_size``, through a learned embedding (a lookup
table [num_tokens, embedding_size]). ``seq_lengths`` [batch] marks right-padded sequences:
padded steps leave the state unchanged and output zeros. ``dropout`` (in training only) drops
units of the recurrent network's input and of what the head reads. Extra keyword arguments
(``initial_carry``, ``carry_perturbations``) go to the ``Recurrent``, so ``nets.gradients``
measures d loss / d h_t through the whole model. ``dtype`` is the recurrence's computation
dtype (``nets.rnn.RecurrentCell``): 'bfloat16' runs the gates and the scan in bfloat16; the
parameters, the dense head that reads the recurrence and so the loss stay float32.
``BagOfEmbeddings`` is the order-blind baseline of the token heads.
"""

import inspect
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_rank
from nets.lru import LRUCell, LRUNetwork
from nets.padding import valid_steps
from nets.rnn import CELL_OPTIONS, Recurrent, RecurrentCell, make_cell


class SequenceHead(nn.Module):
    """What the heads share: the cell, the Recurrent's options and the token reading."""

    cell: RecurrentCell
    num_outputs: int
    num_layers: int = 1
    bidirectional: bool = False
    unroll: int = 1
    remat: bool = False
    implementation: str = "scan"
    num_tokens: int = 0
    embedding_size: int = 0
    dropout: float = 0.0
    dtype: Any = None

    def read(self, inputs, seq_lengths, train, recurrent_kwargs):
        """``(final_carry, outputs)`` of the Recurrent over ``inputs``."""
        if self.num_tokens:
            inputs = embed_tokens(self, inputs)
        inputs = self.drop(inputs, train)
        if isinstance(self.cell, LRUCell):  # run in parallel over time, not scanned
            scanned = dict(unroll=1, remat=False, implementation="scan")
            changed = [k for k, v in scanned.items() if getattr(self, k) != v]
            if self.dtype is not None and jnp.dtype(self.dtype) != jnp.float32:
                changed.append("dtype")  # complex64 states: no bfloat16 yet
            if changed:
                raise ValueError(f"cell 'lru' takes no {', '.join(changed)} (a scanned cell's)")
            recurrent = LRUNetwork(self.cell, self.num_layers, self.bidirectional, name="recurrent")
            return recurrent(inputs, seq_lengths, **recurrent_kwargs)
        recurrent = Recurrent(
            self.cell if self.dtype is None else self.cell.clone(dtype=self.dtype),
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            unroll=self.unroll,
            remat=self.remat,
            implementation=self.implementation,
            name="recurrent",
        )
        return recurrent(inputs, seq_lengths, **recurrent_kwargs)

    def drop(self, x, train: bool):
        """Dropout at rate ``dropout`` in training; the identity otherwise."""
        if not self.dropout:
            return x
        return nn.Dropout(self.dropout, deterministic=not train)(x)


def embed_tokens(module: nn.Module, tokens):
    """Integer tokens [batch, time] as vectors: a learned embedding [num_tokens,
    embedding_size] when ``module.embedding_size`` is set, else one-hot vectors."""
    check_rank(f"{type(module).__name__} token input", jnp.shape(tokens), 2, "[batch, time]")
    if module.embedding_size:
        return nn.Embed(module.num_tokens, module.embedding_size, name="embedding")(tokens)
    return jax.nn.one_hot(tokens, module.num_tokens)


class ManyToOne(SequenceHead):
    """The lecture's many-to-one RNN: read the whole sequence, predict from the last state.

        y = W h_T + b,   h_T the hidden state after each sequence's last valid step

    With ``bidirectional``, h_T is the top layer's forward state after the last valid step
    concatenated with its backward state after the first. Shapes: [batch, num_outputs] (logits
    for a classifier, values for a regression).
    """

    @nn.compact
    def __call__(self, inputs, seq_lengths=None, *, train: bool = False, **recurrent_kwargs):
        final_carry, _ = self.read(inputs, seq_lengths, train, recurrent_kwargs)
        if isinstance(self.cell, LRUCell) or (self.num_layers == 1 and not self.bidirectional):
            hidden = self.cell.hidden_state(final_carry)
        else:  # one carry per layer and direction; the top layer's are last
            top = final_carry[-2:] if self.bidirectional else final_carry[-1:]
            hidden = jnp.concatenate([self.cell.hidden_state(c) for c in top], axis=-1)
        return nn.Dense(self.num_outputs, name="head")(self.drop(hidden, train))


class ManyToMany(SequenceHead):
    """The lecture's synced many-to-many RNN: an output at every step from that step's state.

        y_t = W h_t + b   for t = 1..T

    Shapes: [batch, time, num_outputs]; padded steps (t >= length) output the bias alone.
    With ``return_carry`` the call returns ``(outputs, final_carry)``: a language model's
    sampler passes the carry back in as ``initial_carry`` to read one more step.
    """

    @nn.compact
    def __call__(
        self,
        inputs,
        seq_lengths=None,
        *,
        train: bool = False,
        return_carry: bool = False,
        **recurrent_kwargs,
    ):
        final_carry, outputs = self.read(inputs, seq_lengths, train, recurrent_kwargs)
        outputs = nn.Dense(self.num_outputs, name="head")(self.drop(outputs, train))
        return (outputs, final_carry) if return_carry else outputs


class BagOfEmbeddings(nn.Module):
    """The order-blind baseline of a token classifier: the mean of a sequence's token embeddings
    (its valid steps only), then a dense layer.

        y = W (1/L sum_{t<L} E[x_t]) + b,   E [num_tokens, embedding_size]

    It sees which tokens occur and how often, never in what order. Shapes: tokens [batch,
    time] -> [batch, num_outputs].
    """

    num_outputs: int
    num_tokens: int = 0
    embedding_size: int = 64

    @nn.compact
    def __call__(self, inputs, seq_lengths=None, *, train: bool = False):
        del train  # no dropout or BatchNorm
        if not self.num_tokens:
            raise ValueError("BagOfEmbeddings reads integer tokens: give it num_tokens")
        vectors = embed_tokens(self, inputs)
        time = vectors.shape[1]
        lengths = jnp.full(vectors.shape[:1], time) if seq_lengths is None else seq_lengths
        valid = valid_steps(lengths, time)[..., None]
        mean = jnp.sum(vectors * valid, axis=1) / jnp.maximum(lengths, 1)[:, None]
        return nn.Dense(self.num_outputs, name="head")(mean)


def cell_parameters() -> list[inspect.Parameter]:
    """The cell options (``nets.rnn.CELL_OPTIONS``) as keyword parameters of a registry
    builder, so ``get_model`` and a config know them: ``forget_bias=3.0``, ``chrono=1000``,
    ``recurrent_init='orthogonal'``, ``recurrent_scale=2.0``, ``update_bias=1.0``."""
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in CELL_OPTIONS.items()
    ]


def split_cell_options(options: dict) -> tuple[dict, dict]:
    """``(cell options, the rest)`` of a builder's keyword options."""
    cell = {k: v for k, v in options.items() if k in CELL_OPTIONS}
    return cell, {k: v for k, v in options.items() if k not in CELL_OPTIONS}


def cell_by_name(head: type[SequenceHead]):
    """A registry builder of ``head`` whose cell is given by name ('tanh', 'irnn', 'lstm',
    'gru'), ``hidden_size`` and the cell options (``nets.rnn.make_cell``), taking every other
    option of the head."""

    def builder(num_outputs, cell: str = "lstm", hidden_size: int = 128, **options):
        cell_options, head_options = split_cell_options(options)
        return head(make_cell(cell, hidden_size, **cell_options), num_outputs, **head_options)

    own = inspect.signature(builder).parameters
    fields = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for name, p in inspect.signature(head).parameters.items()
        if name not in ("cell", "num_outputs", "parent", "name")
    ]
    parameters = [*list(own.values())[:3], *cell_parameters(), *fields]
    builder.__signature__ = inspect.Signature(parameters)
    builder.__doc__ = (
        f"{head.__name__} of a cell named by ``cell``, ``hidden_size`` units, the cell options."
    )
    return builder


MODELS = {
    "many_to_one": cell_by_name(ManyToOne),
    "many_to_many": cell_by_name(ManyToMany),
    "bag_of_embeddings": BagOfEmbeddings,
}
