"""Feeding training with grain: shuffled, sharded, augmented batches that a checkpoint can resume.

    batches = train_batches(arrays, batch_size=64, seed=0)
    batch = next(batches); state = batches.get_state()  # checkpoint it; set_state resumes

grain does the work: a shuffle that is a pure function of (seed, epoch), so the order is the
same on every run and every machine; sharding of that order by ``jax.process_index()``;
batching; prefetching; worker processes; and an iterator state (the index of the next batch)
that a checkpoint stores. The arrays are a split in memory ({'inputs': [N, ...], ...}) or
``Records`` streamed from the files (``nets.data.tfds_reader``).
"""

import functools
from collections.abc import Callable, Iterator

import grain
import jax
import numpy as np

from nets.checks import check_positive
from nets.data.tfds_reader import Records


def size(data) -> int:
    """The number of examples of ``data``: arrays [N, ...] or ``Records``."""
    return len(data) if isinstance(data, Records) else len(jax.tree.leaves(data)[0])


def stack(examples) -> dict:
    """Examples (each a dict of arrays, maybe nested) stacked into one batch, leaf by leaf."""
    return jax.tree.map(lambda *values: np.stack(values), *examples)


def take(arrays, rows):
    """The ``rows`` (a slice or an index array) of every leaf of ``arrays`` [N, ...]: a batch
    may nest ({'inputs': {'source', 'decoder_inputs'}, ...}). ``Records`` are read and stacked."""
    if isinstance(arrays, Records):
        if np.ndim(rows) == 0 and not isinstance(rows, slice):  # one example, once per record
            return arrays[rows]
        # a range slices lazily: no index array the size of the split per call
        indices = range(len(arrays))[rows] if isinstance(rows, slice) else rows
        return stack(arrays[i] for i in indices)
    return jax.tree.map(lambda value: value[rows], arrays)


def trim_padding(batch: dict, multiple: int) -> dict:
    """``batch`` with its 'inputs' [B, T, ...] cut to the longest of its 'lengths' [B], rounded
    up to a multiple of ``multiple`` steps (never past T): the steps cut are padding that every
    model reading 'lengths' masks out, so each example's outputs stay as they were, and a batch
    of short sequences runs fewer steps. One program is compiled per length it is cut to."""
    time = batch["inputs"].shape[1]
    keep = min(time, -(-int(np.max(batch["lengths"])) // multiple) * multiple)
    return batch if keep == time else {**batch, "inputs": batch["inputs"][:, :keep]}


def train_batches(
    arrays: "dict[str, np.ndarray] | Records",
    batch_size: int,
    seed: int,
    *,
    shard_index: int | None = None,
    shard_count: int | None = None,
    prefetch: int = 2,
    augment: Callable[[dict, np.random.Generator], dict] | None = None,
    workers: int = 0,
    trim_to: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """An endless grain iterator of shuffled batches of ``arrays`` (leaves [N, ...]), or of
    ``Records`` read from their files example by example.

    Every epoch is a fresh permutation, a function of ``seed`` and the epoch only. Process
    ``shard_index`` of ``shard_count`` (default: this JAX process of all of them) takes every
    ``shard_count``-th example of that order, so the processes' batches never overlap and
    together form the global batch of ``batch_size * shard_count``. The iterator's
    ``get_state()`` is a small JSON-able dict; ``set_state`` on a new iterator continues exactly.

    ``augment(example, rng)`` (``nets.data.augment.augmentation``) transforms each example with
    a generator that grain seeds from ``seed`` and the example's position in the endless order:
    the same position is augmented the same way on every run, resumed or not. ``workers`` > 0
    reads, decodes and augments in that many processes (grain's ``mp_prefetch``), in the same
    order. ``trim_to`` > 0 cuts each batch's padding (``trim_padding``); one process only, as
    every process's batch must have the same shape.
    """
    check_positive("batch_size", batch_size)
    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
    count = size(arrays)
    if count < batch_size * shard_count:
        raise ValueError(
            f"a batch of {batch_size * shard_count} needs at least that many "
            f"examples; the data set has {count}"
        )
    order = grain.MapDataset.range(count).seed(seed).shuffle().repeat(None)
    order = order[shard_index::shard_count]
    if augment is None and not isinstance(arrays, Records):  # whole batches sliced at once
        batches = order.batch(batch_size, drop_remainder=True).map(functools.partial(take, arrays))
    else:  # example by example: read (and decode) each, augment it, then batch
        examples = order.map(functools.partial(take, arrays))
        if augment is not None:
            examples = examples.random_map(augment)
        batches = examples.batch(batch_size, drop_remainder=True)
    if trim_to:
        if shard_count > 1:
            raise ValueError(
                f"config.data.trim_to cuts each batch to its own length: it needs one process, "
                f"not {shard_count} (their batches would differ in shape)"
            )
        batches = batches.map(functools.partial(trim_padding, multiple=trim_to))
    options = grain.ReadOptions(num_threads=1, prefetch_buffer_size=prefetch)
    dataset = batches.to_iter_dataset(options)
    return iter(_in_processes(dataset, workers) if workers else dataset)


def stream_batches(
    arrays: dict[str, np.ndarray],
    batch_size: int,
    *,
    shard_index: int | None = None,
    shard_count: int | None = None,
    prefetch: int = 2,
) -> Iterator[dict[str, np.ndarray]]:
    """An endless grain iterator of consecutive chunks, for truncated backpropagation through
    time with the carry passed on (a stateful run).

    The N windows of ``arrays`` (in text order: ``nets.data.text.windows``) are cut into
    B = batch_size * shard_count streams of S = N // B consecutive windows. Batch k holds
    window k mod S of each of this process's streams, so row b of batch k + 1 continues the
    text where row b of batch k stopped; 'reset' [batch] is true when the streams start over
    (k mod S = 0) and the carry must start from zeros. No shuffling: order is the point.
    ``get_state`` / ``set_state`` as for ``train_batches``.
    """
    check_positive("batch_size", batch_size)
    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
    streams = batch_size * shard_count
    length = len(jax.tree.leaves(arrays)[0]) // streams
    if length < 1:
        raise ValueError(
            f"{streams} streams need at least that many windows; the data set has "
            f"{len(jax.tree.leaves(arrays)[0])}"
        )
    starts = np.arange(shard_index, streams, shard_count) * length  # this process's streams

    def chunk(k: int) -> dict[str, np.ndarray]:
        batch = take(arrays, starts + k)
        return {**batch, "reset": np.full(batch_size, k == 0)}

    chunks = grain.MapDataset.range(length).repeat(None).map(chunk)
    options = grain.ReadOptions(num_threads=1, prefetch_buffer_size=prefetch)
    return iter(chunks.to_iter_dataset(options))


def eval_batches(
    arrays: "dict[str, np.ndarray] | Records",
    batch_size: int,
    rows=None,
    *,
    view: Callable[[dict], dict] | None = None,
    workers: int = 0,
) -> Iterator[dict]:
    """The whole split in order (or its ``rows``, an index array), in batches of exactly
    ``batch_size`` (one compiled shape): each batch has 'valid' [batch_size], 0 on the rows
    that pad the last batch. No rows give one batch with nothing valid, so that every process
    of a sharded evaluation has sums to add. ``view(example)`` is applied to each example
    before the batch is stacked (ImageNet's centre crop: ``nets.data.augment.evaluation_view``);
    ``workers`` > 0 reads, decodes and views the batches in that many processes."""
    check_positive("batch_size", batch_size)
    rows = np.arange(size(arrays)) if rows is None else np.asarray(rows, int)
    count = -(-max(len(rows), 1) // batch_size)
    batch = functools.partial(_eval_batch, arrays, rows, batch_size, view)
    if not workers:
        return map(batch, range(count))
    dataset = grain.MapDataset.range(count).map(batch).to_iter_dataset()
    return iter(_in_processes(dataset, workers))


def _eval_batch(arrays, rows: np.ndarray, batch_size: int, view, number: int) -> dict:
    """Batch ``number`` of ``eval_batches``: rows past the end repeat the last one, marked
    invalid."""
    window = np.arange(number * batch_size, (number + 1) * batch_size)
    real = window < len(rows)
    indices = rows[np.minimum(window, len(rows) - 1)] if len(rows) else window * 0
    if view is None:
        batch = take(arrays, indices)
    else:  # one example at a time: the records may differ in size until viewed
        batch = stack(view(take(arrays, i)) for i in indices)
    return {**batch, "valid": real.astype(np.float32)}


def _in_processes(dataset: grain.IterDataset, workers: int) -> grain.IterDataset:
    """``dataset`` read by ``workers`` processes (grain's ``mp_prefetch``), in the same order."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        # grain's workers read an absl flag, which fails outside an absl app until the flags
        # count as parsed (google/grain issue 1355, fixed after grain 0.2.18)
        flags.FLAGS.mark_as_parsed()
    _spawn_ignoring_signals()
    options = grain.MultiprocessingOptions(num_workers=workers)
    return dataset.mp_prefetch(options, worker_init_fn=_worker_init)


@functools.cache
def _spawn_ignoring_signals() -> None:
    """Have multiprocessing start its processes through a shell that ignores SIGTERM and
    Ctrl-C before it execs Python (an ignored signal stays ignored across exec), so grain's
    workers never see a group signal, not even while they import their modules. One killed
    there hung the run: CPython's spawn was still writing the pickled dataset into the dead
    worker's pipe, whose read end the parent itself holds. ``_worker_init`` says the same
    again in Python. Not on Windows, which has neither."""
    import atexit
    import multiprocessing
    import os
    import shlex
    import tempfile

    if os.name != "posix":
        return
    python = shlex.quote(os.fsdecode(multiprocessing.spawn.get_executable()))
    handle, path = tempfile.mkstemp(prefix="nets-worker-", suffix=".sh")
    with os.fdopen(handle, "w") as script:
        script.write(f"#!/bin/sh\ntrap '' TERM INT\nexec {python} \"$@\"\n")
    os.chmod(path, 0o700)
    atexit.register(os.unlink, path)
    multiprocessing.set_executable(path)


def _worker_init(index: int, count: int) -> None:
    """In each worker process: leave SIGTERM and Ctrl-C to the parent (a scheduler signals the
    whole process group; the parent saves a checkpoint, then stops its workers, where a worker
    that died first made grain raise in the parent before it could save), and exit when the
    parent is gone (after a kill -9 the workers were left running)."""
    import os
    import signal
    import threading
    import time

    del index, count
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
