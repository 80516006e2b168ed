"""Side-by-side training-step timings: nets (JAX) against the identical PyTorch model.

    python scripts/bench.py               # table
    python scripts/bench.py --json out.json

Each workload times one training step (forward, backward, optimiser update) on fixed random
data: warm-up steps excluded (compilation), then the median of ``--repeats`` steps. When torch is
importable (``pip install -e '.[bench]'``), the same model runs in the same process and the table
prints torch ms / jax ms: above 1 means nets is faster.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nets import losses
from nets.cnn import LeNet5
from nets.rnn import LSTMCell, ManyToOne
from nets.training.step import make_train_step

try:
    import torch
except ImportError:  # the comparison is optional; nets never depends on torch
    torch = None


@dataclass
class Workload:
    name: str
    jax_step: Callable[[], Callable[[], None]]  # builds state, returns a blocking step
    torch_step: Callable[[], Callable[[], None]] | None


def median_ms(step: Callable[[], None], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def jax_runner(loss_fn, params, optimizer, batch) -> Callable[[], None]:
    train_step = make_train_step(loss_fn, optimizer)
    state = {"params": params, "opt_state": optimizer.init(params)}

    def step():
        state["params"], state["opt_state"], metrics = train_step(
            state["params"], state["opt_state"], batch
        )
        jax.block_until_ready(metrics)

    return step


# --- LSTM: B=64, T=100, X=32, H=128, regression on the last step's hidden state ---------------
B_LSTM, T_LSTM, X_LSTM, H_LSTM = 64, 100, 32, 128


def lstm_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B_LSTM, T_LSTM, X_LSTM)).astype(np.float32)
    return x, rng.normal(size=(B_LSTM,)).astype(np.float32)


def lstm_jax():
    x, y = lstm_data()
    model = ManyToOne(LSTMCell(H_LSTM), 1)
    params = model.init(jax.random.key(0), x)
    loss_fn = lambda p, batch: losses.mse(model.apply(p, batch[0])[:, 0], batch[1])  # noqa: E731
    return jax_runner(loss_fn, params, optax.adam(1e-3), (jnp.asarray(x), jnp.asarray(y)))


def lstm_torch():
    x, y = (torch.from_numpy(a) for a in lstm_data())
    lstm = torch.nn.LSTM(X_LSTM, H_LSTM, batch_first=True)
    head = torch.nn.Linear(H_LSTM, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        _, (h, _) = lstm(x)
        loss = torch.mean((head(h[-1])[:, 0] - y) ** 2)
        loss.backward()
        optimizer.step()

    return step


# --- LeNet-5: B=256, 32x32x1, cross-entropy, SGD ---------------------------------------------
B_LENET = 256


def lenet_data(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(B_LENET, 32, 32, 1)).astype(np.float32)
    return images, rng.integers(0, 10, size=B_LENET)


def lenet_jax():
    images, labels = lenet_data()
    model = LeNet5()
    params = model.init(jax.random.key(0), images[:1])

    def loss_fn(p, batch):
        return losses.categorical_cross_entropy(
            model.apply(p, batch[0]), batch[1], from_logits=True
        )

    batch = (jnp.asarray(images), jnp.asarray(labels))
    return jax_runner(loss_fn, params, optax.sgd(0.01), batch)


def lenet_torch():
    images, labels = lenet_data()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # torch is channels-first
    y = torch.from_numpy(labels)
    nt = torch.nn
    model = nt.Sequential(
        nt.Conv2d(1, 6, 5), nt.ReLU(), nt.MaxPool2d(2),
        nt.Conv2d(6, 16, 5), nt.ReLU(), nt.MaxPool2d(2), nt.Flatten(),
        nt.Linear(400, 120), nt.ReLU(), nt.Linear(120, 84), nt.ReLU(), nt.Linear(84, 10),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        nt.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


WORKLOADS = [
    Workload(f"LSTM train step B={B_LSTM} T={T_LSTM} X={X_LSTM} H={H_LSTM}", lstm_jax, lstm_torch),
    Workload(f"LeNet-5 train step B={B_LENET} 32x32x1", lenet_jax, lenet_torch),
]


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "device": str(jax.devices()[0]),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "torch": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", help="run only workloads whose name contains this text")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.repeats < 1:
        parser.error("--warmup and --repeats must be at least 1")
    rows = []
    header = f"{'workload':<42} {'jax ms':>9} {'torch ms':>9} {'torch/jax':>9}"
    print(header, "\n" + "-" * len(header), flush=True)
    for workload in WORKLOADS:
        if args.only and args.only not in workload.name:
            continue
        jax_ms = median_ms(workload.jax_step(), args.warmup, args.repeats)
        torch_ms = None
        if torch is not None and workload.torch_step is not None:
            torch_ms = median_ms(workload.torch_step(), args.warmup, args.repeats)
        ratio = torch_ms / jax_ms if torch_ms else None
        rows.append({"workload": workload.name, "jax_ms": jax_ms, "torch_ms": torch_ms,
                     "ratio_torch_over_jax": ratio})  # fmt: skip
        t_ms = f"{torch_ms:9.2f}" if torch_ms else f"{'-':>9}"
        r = f"{ratio:9.2f}" if ratio else f"{'-':>9}"
        print(f"{workload.name:<42} {jax_ms:9.2f} {t_ms} {r}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
