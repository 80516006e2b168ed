"""Peak memory of backpropagation through a long sequence, with and without rematerialisation.

    /usr/bin/time -v python scripts/bptt_memory.py --length 10000            # stores every gate
    /usr/bin/time -v python scripts/bptt_memory.py --length 10000 --remat    # stores the carry

One training step (forward, backward through all T steps, Adam update) of a many-to-one LSTM
on random data, B=32, H=256 by default. Prints the step time and this process's peak resident
memory; /usr/bin/time -v reports the same peak as "Maximum resident set size".
"""

import argparse
import resource
import sys
import time

import jax
import jax.numpy as jnp
import optax

from nets import losses
from nets.rnn import LSTMCell, ManyToOne
from nets.training.step import make_train_step, supervised_objective


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--remat", action="store_true", help="rematerialise each step")
    args = parser.parse_args(argv)
    for name in ("length", "batch", "hidden", "features"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    model = ManyToOne(LSTMCell(args.hidden), 1, remat=args.remat)
    inputs = jax.random.normal(jax.random.key(0), (args.batch, args.length, args.features))
    targets = jnp.zeros(args.batch)
    params = model.init(jax.random.key(1), inputs[:, :2])
    optimizer = optax.adam(1e-3)
    loss = lambda predictions, y: losses.mse(predictions[:, 0], y)  # noqa: E731
    step = make_train_step(supervised_objective(model, loss), optimizer)
    start = time.perf_counter()
    params, _, metrics = step(params, optimizer.init(params), (inputs, targets))
    jax.block_until_ready(metrics)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"T={args.length} B={args.batch} H={args.hidden} remat={args.remat}: first step "
          f"(with compilation) {seconds:.1f} s, loss {float(metrics['loss']):.4f}, "
          f"peak resident memory {peak_mib:.0f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
