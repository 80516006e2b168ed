"""Peak memory of backpropagation through a long sequence, with and without rematerialisation.

    /usr/bin/time -v python scripts/bptt_memory.py --length 10000            # stores every gate
    /usr/bin/time -v python scripts/bptt_memory.py --length 10000 --remat    # carries per chunk
    python scripts/bptt_memory.py --length 10000 --cell lru                  # the LRU instead

Two training steps (forward, backward through all T steps, Adam update) of a many-to-one LSTM
(or another cell of the registry) on random data, B=32, H=256 by default. Prints the step time,
the temporary memory XLA's compiled step allocates (its buffers of the forward pass kept for the
backward pass among them) and this process's peak resident memory; /usr/bin/time -v reports the
same peak as "Maximum resident set size".
"""

import argparse
import resource
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import optax

from nets.models import get_model
from nets.training import objectives
from nets.training.state import TrainState, train_step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--cell", default="lstm", help="a cell of nets.rnn.CELLS (default lstm)")
    parser.add_argument(
        "--remat", action="store_true", help="recompute the forward pass in sqrt(T)-step chunks"
    )
    args = parser.parse_args(argv)
    for name in ("length", "batch", "hidden", "features"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    inputs = jax.random.normal(jax.random.key(0), (args.batch, args.length, args.features))
    batch = {"inputs": inputs, "targets": jnp.zeros(args.batch)}
    try:  # an unknown cell, or remat for one that is not scanned: the model's own one line
        model = get_model(
            "many_to_one", 1, cell=args.cell, hidden_size=args.hidden, remat=args.remat
        )
        state = TrainState.create(model, optax.adam(1e-3), inputs[:, :2], seed=1)
    except ValueError as error:
        parser.error(str(error))
    step = jax.jit(partial(train_step, loss_fn=objectives.mse), donate_argnums=(0,))
    seconds = []
    start = time.perf_counter()
    step = step.lower(state, batch).compile()  # compiled once: its memory, then its steps
    temporary_mib = step.memory_analysis().temp_size_in_bytes / 2**20
    for _ in range(2):  # the first step's time includes compiling; the second is the step time
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.cell} T={args.length} B={args.batch} H={args.hidden} remat={args.remat}: first "
        f"step (with compilation) {seconds[0]:.1f} s, second {seconds[1]:.1f} s, loss "
        f"{float(metrics['loss']):.4f}, XLA temporaries {temporary_mib:.0f} MiB, peak resident "
        f"memory {peak_mib:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
