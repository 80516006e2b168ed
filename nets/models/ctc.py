"""Speech recognition with connectionist temporal classification (CTC, Graves et al. 2006).

    model = get_model("ctc", num_outputs=11, cell="lstm", bidirectional=True, num_layers=2)
    logits, lengths = model.apply(variables, features, frames)   # [B, T', 11], [B]
    labels = greedy_decode(logits, lengths)                        # [[4, 1, 8], ...]

A recogniser emits one distribution per (subsampled) frame over the labels and a **blank**
(label 0). CTC's probability of a label sequence y is the sum over every alignment a (one
symbol per frame) that collapses to y (merge repeated symbols, then drop blanks):
p(y | x) = sum_{a -> y} prod_t p(a_t | x); the loss is -log p(y | x) (``optax.ctc_loss``
computes it by the forward recursion). A repeated label ("4 4") needs a blank between its two
frames, so an utterance needs at least len(y) + repeats frames.

Decoding: ``greedy_decode`` takes the best symbol per frame and collapses; ``beam_search`` is
CTC prefix beam search (Hannun et al. 2014), which sums the alignments of each prefix, so it
finds labellings that no single best path spells out.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nets.cnn.convolution import Conv
from nets.cnn.layers import TIME_FILTER, TIME_PADDING, TIME_STRIDE, subsampled_lengths
from nets.models.sequence import SequenceHead, cell_by_name
from nets.padding import valid_steps

BLANK = 0


class CTCRecognizer(SequenceHead):
    """Features [batch, frames, features] -> (logits [batch, T', num_outputs], lengths [batch]).

    1. An optional convolutional front end: log2(``subsample``) convolutions over time (3
       frames wide, stride 2, ``front_end_features`` filters, ReLU), each halving the frames
       (``subsampled_lengths``); ``subsample`` = 1 has none. Frames past each utterance's end
       are zeroed before every convolution, so padding never leaks into real frames.
    2. The ``Recurrent`` (a stacked, usually bidirectional, cell) over the subsampled frames,
       with their lengths as ``seq_lengths``.
    3. A dense layer per frame over ``num_outputs`` = the labels + the blank (label 0).
    """

    subsample: int = 4
    front_end_features: int = 64

    @nn.compact
    def __call__(self, inputs, seq_lengths=None, *, train: bool = False, **recurrent_kwargs):
        if self.subsample not in (1, 2, 4):
            raise ValueError(f"subsample must be 1, 2 or 4, got {self.subsample}")
        batch, time = jnp.shape(inputs)[:2]
        lengths = jnp.full((batch,), time) if seq_lengths is None else jnp.asarray(seq_lengths)
        x = inputs
        for layer in range(int(math.log2(self.subsample))):
            x = jnp.where(valid_steps(lengths, x.shape[1])[..., None], x, 0.0)
            conv = Conv(
                self.front_end_features,
                (TIME_FILTER,),
                strides=(TIME_STRIDE,),
                padding=((TIME_PADDING, TIME_PADDING),),
                name=f"front_end_{layer}",
            )
            x = nn.relu(conv(x))
            lengths = subsampled_lengths(lengths, TIME_STRIDE)
        _, outputs = self.read(x, lengths, train, recurrent_kwargs)
        logits = nn.Dense(self.num_outputs, name="head")(self.drop(outputs, train))
        return logits, lengths


def collapse(best: jax.Array, lengths: jax.Array) -> tuple[jax.Array, jax.Array]:
    """CTC's collapse of symbol paths [batch, T] (their first ``lengths`` frames): merge runs
    of a symbol, drop blanks. -> (labels [batch, T], zero after each row's ``count`` [batch])."""
    time = best.shape[1]
    previous = jnp.pad(best, ((0, 0), (1, 0)), constant_values=BLANK)[:, :-1]
    keep = (best != BLANK) & (best != previous) & valid_steps(lengths, time)
    position = jnp.where(keep, jnp.cumsum(keep, axis=1) - 1, time)  # time: dropped
    rows = jnp.arange(best.shape[0])[:, None]
    labels = jnp.zeros_like(best).at[rows, position].set(best, mode="drop")
    return labels, keep.sum(axis=1)


def greedy_decode(logits: jax.Array, lengths: jax.Array) -> list[list[int]]:
    """The best path's labelling of each utterance: argmax per frame, then ``collapse``."""
    labels, counts = collapse(jnp.argmax(logits, axis=-1), lengths)
    return [
        row[:count].tolist()
        for row, count in zip(np.asarray(labels), np.asarray(counts), strict=True)
    ]


def logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b) of two Python floats, as ``np.logaddexp`` computes it (the larger plus
    log1p of the exponential of the difference), in a fifth of a NumPy scalar call's time."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _extend(candidates: dict, prefix: tuple, blank=-math.inf, label=-math.inf) -> None:
    """Add the probabilities of more alignments (ending in a blank, in a label) to a prefix."""
    old = candidates.setdefault(prefix, [-math.inf, -math.inf])
    old[0], old[1] = logaddexp(old[0], blank), logaddexp(old[1], label)


def beam_search(log_probs: np.ndarray, beam_width: int) -> list[int]:
    """CTC prefix beam search over one utterance's per-frame log-probabilities [T, symbols]
    (its real frames only): keep the ``beam_width`` most probable prefixes, each with the
    probability of its alignments ending in a blank and ending in its last label, and return
    the most probable labelling. With a beam as wide as every prefix it is exact.

    Python floats throughout: a frame's candidates are beam_width × symbols scalar updates,
    where NumPy's per-call overhead was most of the time.
    """
    labels = [s for s in range(np.shape(log_probs)[1]) if s != BLANK]
    beams = {(): (0.0, -math.inf)}  # prefix -> (log p ending in blank, log p ending in label)
    for frame in np.asarray(log_probs, np.float64).tolist():
        candidates: dict[tuple, list[float]] = {}
        add = functools.partial(_extend, candidates)
        for prefix, (p_blank, p_label) in beams.items():
            total = logaddexp(p_blank, p_label)
            add(prefix, blank=total + frame[BLANK])  # a blank: the prefix stays
            last = prefix[-1] if prefix else None
            if prefix:  # the last label again, merged: the prefix stays
                add(prefix, label=p_label + frame[last])
            for symbol in labels:  # a repeat is a new label only after a blank
                add((*prefix, symbol), label=(p_blank if symbol == last else total) + frame[symbol])
        ranked = sorted(candidates.items(), key=lambda item: -logaddexp(*item[1]))
        beams = {prefix: tuple(p) for prefix, p in ranked[:beam_width]}
    return list(max(beams, key=lambda prefix: logaddexp(*beams[prefix])))


def beam_decode(logits, lengths, beam_width: int, progress: str = "") -> list[list[int]]:
    """``beam_search`` over each utterance's real frames of logits [batch, T', K] with
    ``lengths`` [batch]; ``progress`` labels a progress bar on stderr ('' for none)."""
    log_probs = np.asarray(jax.nn.log_softmax(logits, axis=-1))
    rows = range(len(lengths))
    if progress:  # tqdm only where asked: the core models import jax, flax and numpy alone
        import sys

        from tqdm import tqdm

        rows = tqdm(rows, desc=f"beam search, {progress}", unit="utt", file=sys.stderr)
    return [beam_search(log_probs[i, : lengths[i]], beam_width) for i in rows]


MODELS = {"ctc": cell_by_name(CTCRecognizer)}
