"""Side-by-side training-step timings: nets (JAX) against the identical PyTorch model.

    python scripts/bench.py                            # table
    python scripts/bench.py --json out.json --experiment

Each workload times one step on fixed data, warm-up steps excluded (compilation). The reference
runs in the same process: the identical PyTorch model when torch is importable
(``pip install -e '.[bench]'``), or a plain ``jax.grad`` of the same loss for the per-step
gradient norms. The two sides are measured interleaved, so that other work on a shared machine
meets both alike: ``--rounds`` rounds of ``--steps`` steps of ours and as many of the
reference, alternating which goes first, one ratio reference / ours per round. The table
prints each side's median step and the median ratio with its interquartile range (above 1
means nets is faster); a row whose ratios spread by more than ``BUSY_SPREAD`` of their median
is flagged, as is one during which other processes used more than ``BUSY_OTHERS`` of the CPUs
(from /proc/stat, on Linux): the machine was busy, rerun it. ``--experiment`` also times the
README's main command end to end.

``--xla FLAG=VALUE`` (repeatable) measures an XLA compiler flag instead: each row's own
program compiled with the flag against the same program compiled with XLA's defaults,
interleaved in one process (flags set through ``XLA_FLAGS`` would need two processes, and a
machine's load between them would decide). The ratio is then default / flagged, and a row
whose optimised HLO the flag did not change says so: such a flag can still act on how XLA
runs that HLO (which library a matmul calls), but a fusion flag that changes no HLO fused
nothing.

    python scripts/bench.py --xla xla_cpu_use_onednn=true --json onednn.json
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nets.data.synthetic import adding_problem
from nets.data.text import CHARACTERS
from nets.data.translation import SEQUENCE_CHARACTERS
from nets.gradients import hidden_state_gradient_norms
from nets.models import get_model
from nets.runtime import reuse_freed_memory
from nets.training import objectives
from nets.training.state import TrainState, train_step

try:
    import torch
except ImportError:  # the comparison is optional; nets never depends on torch
    torch = None


@dataclass
class Workload:
    name: str
    ours: Callable[[], Callable[[], None]]  # builds state, returns a blocking step
    reference: Callable[[], Callable[[], None]] | None
    reference_name: str = "torch"  # the reference runs only when torch is importable


BUSY_SPREAD = 0.25  # interquartile range of the round ratios over their median
# other processes' CPU time over the measurement, as a share of all the CPUs' time: above it the
# two sides competed with other work, and a side that uses more threads loses more to it (a
# ratio can then be off although the rounds agree: 2.91 measured for a true 2.0, spread 19%)
BUSY_OTHERS = 0.10


def cpu_seconds() -> tuple[float, float] | None:
    """(every process's CPU seconds, this process's) so far, from /proc/stat's first line and
    ``os.times``; None where there is no /proc/stat (not Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    mine = os.times()
    return (user + nice + system + irq + softirq + steal) / ticks, mine.user + mine.system


def others_share(before, after, wall_s: float, cpus: int) -> float | None:
    """Other processes' share of the machine between two ``cpu_seconds`` readings: (all CPU
    seconds - ours) / (wall seconds x CPUs), 0 when ours account for all of it."""
    if before is None or after is None or wall_s <= 0:
        return None
    everyone, mine = after[0] - before[0], after[1] - before[1]
    return max(everyone - mine, 0.0) / (wall_s * cpus)


def _step_ms(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 1e3 * (time.perf_counter() - start) / steps


def median_ms(step: Callable[[], None], warmup: int, rounds: int, steps: int) -> float:
    """One side alone (a row without a reference): the median over rounds of its step."""
    for _ in range(warmup):
        step()
    return statistics.median(_step_ms(step, steps) for _ in range(rounds))


def interleaved(ours, reference, warmup: int, rounds: int, steps: int) -> dict:
    """Rounds of ``steps`` steps of each side, alternating which goes first (a load that
    starts or stops mid-round then favours neither); per round the ratio reference / ours of
    the mean step. Returns each side's median step (ms), the median ratio, its quartiles and
    whether their spread says the machine was busy."""
    for _ in range(warmup):
        ours()
        reference()
    ours_ms, reference_ms, ratios = [], [], []
    start, before = time.perf_counter(), cpu_seconds()
    for index in range(rounds):
        sides = [(ours, ours_ms), (reference, reference_ms)]
        for step, times in sides if index % 2 == 0 else sides[::-1]:
            times.append(_step_ms(step, steps))
        ratios.append(reference_ms[-1] / ours_ms[-1])
    others = others_share(before, cpu_seconds(), time.perf_counter() - start, os.cpu_count())
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {
        "ours_ms": statistics.median(ours_ms),
        "reference_ms": statistics.median(reference_ms),
        "ratio_reference_over_ours": float(median),
        "ratio_quartiles": [float(q1), float(q3)],
        "rounds": rounds,
        "others_cpu_share": others,
        "busy": bool((q3 - q1) / median > BUSY_SPREAD or (others or 0.0) > BUSY_OTHERS),
    }


def compiled(function, *args, compiler_options: dict | None = None, **jit):
    """``function`` jitted and compiled for ``args`` with XLA ``compiler_options`` (the
    ``--xla_*`` flags as keys without the dashes; None: the defaults), for this program only."""
    return jax.jit(function, **jit).lower(*args).compile(compiler_options=compiler_options)


def optimised_hlo(program) -> str:
    """A compiled program's HLO after XLA's passes, less the source locations (which name the
    line that built it, so the same program built twice would differ)."""
    lines = [
        line
        for line in program.as_text().splitlines()
        if not re.match(r"(\d+ |FileNames|FunctionNames|FileLocations|StackFrames)", line)
    ]
    return "\n".join(re.sub(r", metadata=\{[^}]*\}|, stack_frame_id=\d+", "", line)
                     for line in lines)  # fmt: skip


def _blocking(program, *args) -> Callable[[], None]:
    def step():
        jax.block_until_ready(program(*args))

    step.compiled = program
    return step


def jax_runner(model, loss_fn, optimizer, batch: dict, compiler_options=None):
    """The codebase's own ``train_step`` (the one every driver runs), jitted with the state
    donated as the run driver does."""
    example = jax.tree.map(lambda a: a[:2], batch["inputs"])  # inputs may nest (seq2seq)
    state = [TrainState.create(model, optimizer, example, seed=0)]
    train = compiled(partial(train_step, loss_fn=loss_fn), state[0], batch,
                     compiler_options=compiler_options, donate_argnums=(0,))  # fmt: skip

    def step():
        state[0], metrics = train(state[0], batch)
        jax.block_until_ready(metrics)

    step.compiled = train  # for --xla: did a flag change the program?
    return step


# --- LSTM: B=64, T=100, X=32, H=128, regression on the last step's hidden state ---------------
B_LSTM, T_LSTM, X_LSTM, H_LSTM = 64, 100, 32, 128


def lstm_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B_LSTM, T_LSTM, X_LSTM)).astype(np.float32)
    return x, rng.normal(size=(B_LSTM,)).astype(np.float32)


def recurrent_jax(cell: str, implementation="scan", compiler_options=None):
    x, y = lstm_data()
    model = get_model(
        "many_to_one", 1, cell=cell, hidden_size=H_LSTM, implementation=implementation
    )
    batch = {"inputs": jnp.asarray(x), "targets": jnp.asarray(y)}
    return jax_runner(model, objectives.mse, optax.adam(1e-3), batch, compiler_options)


def recurrent_torch(module_name: str):
    """torch.nn.LSTM or torch.nn.GRU with the same head, loss and optimiser."""
    x, y = (torch.from_numpy(a) for a in lstm_data())
    recurrent = getattr(torch.nn, module_name)(X_LSTM, H_LSTM, batch_first=True)
    head = torch.nn.Linear(H_LSTM, 1)
    params = list(recurrent.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        _, state = recurrent(x)
        h = state[0] if isinstance(state, tuple) else state  # the LSTM returns (h, c)
        torch.mean((head(h[-1])[:, 0] - y) ** 2).backward()
        optimizer.step()

    return step


# --- the LRU's parallel scan against the LSTM's loop, same hidden size, T = 100 ... 10,000 ------
B_LONG, X_LONG, H_LONG = 16, 2, 128
LONG_LENGTHS = (100, 1000, 10_000)


def long_sequence_jax(cell: str, length: int, compiler_options=None):
    """A many-to-one regression step of ``cell`` ('lru' or 'lstm', H = 128) on [16, T, 2]."""
    rng = np.random.default_rng(0)
    batch = {
        "inputs": jnp.asarray(rng.normal(size=(B_LONG, length, X_LONG)).astype(np.float32)),
        "targets": jnp.asarray(rng.normal(size=(B_LONG,)).astype(np.float32)),
    }
    model = get_model("many_to_one", 1, cell=cell, hidden_size=H_LONG)
    return jax_runner(model, objectives.mse, optax.adam(1e-3), batch, compiler_options)


# --- hidden_state_gradient_norms against a plain gradient of the same loss, T=1000 ---------------
B_NORMS, T_NORMS, H_NORMS = 32, 1000, 32


def norms_setup():
    batch = adding_problem(jax.random.key(0), B_NORMS, T_NORMS)
    model = get_model("many_to_one", 1, cell="lstm", hidden_size=H_NORMS)
    params = model.init(jax.random.key(1), batch["inputs"])
    return model, params, batch


def gradient_norms_step(compiler_options=None):
    model, params, batch = norms_setup()
    measure = compiled(
        lambda p, batch: hidden_state_gradient_norms(
            model, p, batch["inputs"], partial(objectives.batch_mean, objectives.mse, batch=batch)
        ),
        params,
        batch,
        compiler_options=compiler_options,
    )
    return _blocking(measure, params, batch)


def plain_gradient_step(compiler_options=None):
    model, params, batch = norms_setup()

    def loss(p, batch):
        return objectives.batch_mean(objectives.mse, model.apply(p, batch["inputs"]), batch)

    grad = compiled(jax.grad(loss), params, batch, compiler_options=compiler_options)
    return _blocking(grad, params, batch)


# --- LeNet-5: B=256, 32x32x1, cross-entropy, SGD ---------------------------------------------
B_LENET = 256


def lenet_data(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(B_LENET, 32, 32, 1)).astype(np.float32)
    return images, rng.integers(0, 10, size=B_LENET)


def lenet_jax(compiler_options=None):
    images, labels = lenet_data()
    batch = {"inputs": jnp.asarray(images), "targets": jnp.asarray(labels)}
    return jax_runner(
        get_model("lenet5", 10), objectives.cross_entropy, optax.sgd(0.01), batch, compiler_options
    )


def lenet_torch():
    images, labels = lenet_data()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # torch is channels-first
    y = torch.from_numpy(labels)
    nt = torch.nn
    model = nt.Sequential(
        nt.Conv2d(1, 6, 5),
        nt.ReLU(),
        nt.MaxPool2d(2),
        nt.Conv2d(6, 16, 5),
        nt.ReLU(),
        nt.MaxPool2d(2),
        nt.Flatten(),
        nt.Linear(400, 120),
        nt.ReLU(),
        nt.Linear(120, 84),
        nt.ReLU(),
        nt.Linear(84, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        nt.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


# --- CIFAR ResNet-20: B=128, 32x32x3, cross-entropy, SGD with momentum; ResNet-50 bf16 on GPU ---
B_RESNET = 128


def resnet_jax(name: str, size: int, batch: int, dtype=jnp.float32, compiler_options=None):
    """A BatchNorm network's training step (batch statistics updated and kept, as in training),
    computed in ``dtype`` with float32 parameters."""
    rng = np.random.default_rng(0)
    batch = {
        "inputs": jnp.asarray(rng.normal(size=(batch, size, size, 3)), dtype),
        "targets": jnp.asarray(rng.integers(0, 10, size=batch)),
    }
    model = get_model(name, 10, dtype=dtype)
    optimizer = optax.sgd(0.1, momentum=0.9)
    return jax_runner(model, objectives.cross_entropy, optimizer, batch, compiler_options)


def resnet20_torch():
    """The same CIFAR ResNet-20 (option-A shortcuts) in PyTorch."""
    nt = torch.nn

    class Block(nt.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nt.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nt.BatchNorm2d(cout)
            self.conv2 = nt.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nt.BatchNorm2d(cout)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            y = nt.functional.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            shortcut = x[:, :, :: self.stride, :: self.stride]
            if self.extra:
                half = self.extra // 2
                shortcut = nt.functional.pad(shortcut, (0, 0, 0, 0, half, self.extra - half))
            return nt.functional.relu(y + shortcut)

    layers = [nt.Conv2d(3, 16, 3, 1, 1, bias=False), nt.BatchNorm2d(16), nt.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for i in range(3):
            layers.append(Block(cin, cout, 2 if stage and i == 0 else 1))
            cin = cout
    layers += [nt.AdaptiveAvgPool2d(1), nt.Flatten(), nt.Linear(64, 10)]
    model = nt.Sequential(*layers)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(B_RESNET, 3, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, size=B_RESNET))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        nt.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


# --- character LSTM language model: B=32 windows of T=128 characters, char_lm's sizes ---
B_CHAR, T_CHAR, E_CHAR, H_CHAR = 32, 128, 32, 512
V_CHAR = len(CHARACTERS)


def char_data(seed=0):
    ids = np.random.default_rng(seed).integers(0, V_CHAR, size=(B_CHAR, T_CHAR + 1))
    return ids[:, :-1], ids[:, 1:]  # each step predicts the next character


def char_lm_jax(compiler_options=None):
    inputs, targets = char_data()
    batch = {"inputs": jnp.asarray(inputs), "targets": jnp.asarray(targets)}
    model = get_model(
        "many_to_many", V_CHAR, cell="lstm", hidden_size=H_CHAR, num_tokens=V_CHAR,
        embedding_size=E_CHAR,
    )  # fmt: skip
    return jax_runner(model, objectives.cross_entropy, optax.adam(1e-3), batch, compiler_options)


def char_lm_torch():
    """The same language model: torch.nn.Embedding, torch.nn.LSTM, a linear layer over the
    characters, cross-entropy averaged over every step."""
    inputs, targets = (torch.from_numpy(a) for a in char_data())
    nt = torch.nn
    embedding, lstm = nt.Embedding(V_CHAR, E_CHAR), nt.LSTM(E_CHAR, H_CHAR, batch_first=True)
    head = nt.Linear(H_CHAR, V_CHAR)
    params = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        hidden, _ = lstm(embedding(inputs))
        logits = head(hidden)
        nt.functional.cross_entropy(logits.reshape(-1, V_CHAR), targets.reshape(-1)).backward()
        optimizer.step()

    return step


# --- attention encoder-decoder: the dates config's sizes, B=64, source S=32, target T=11 ---
B_SEQ, S_SEQ, T_SEQ, H_SEQ, E_SEQ, A_SEQ = 64, 32, 11, 128, 32, 128
V_SEQ = len(SEQUENCE_CHARACTERS)


def seq2seq_data(seed=0):
    rng = np.random.default_rng(seed)
    source = rng.integers(2, V_SEQ, size=(B_SEQ, S_SEQ))
    targets = rng.integers(2, V_SEQ, size=(B_SEQ, T_SEQ))
    decoder_inputs = np.concatenate([np.zeros((B_SEQ, 1), np.int64), targets[:, :-1]], axis=1)
    return source, decoder_inputs, targets


def seq2seq_jax(compiler_options=None):
    source, decoder_inputs, targets = seq2seq_data()
    inputs = {"source": jnp.asarray(source), "decoder_inputs": jnp.asarray(decoder_inputs)}
    batch = {"inputs": inputs, "targets": jnp.asarray(targets)}
    model = get_model(
        "attention_encoder_decoder", V_SEQ, cell="lstm", hidden_size=H_SEQ, num_tokens=V_SEQ,
        embedding_size=E_SEQ, attention_size=A_SEQ,
    )  # fmt: skip
    return jax_runner(model, objectives.cross_entropy, optax.adam(1e-3), batch, compiler_options)


def seq2seq_torch():
    """The same model in PyTorch: an LSTM encoder, Bahdanau's additive attention read from the
    decoder state before each step, an LSTMCell decoder over [E y_{t-1}; c_t] and a linear
    readout of [s_t; c_t], cross-entropy over every target step (a Python loop over the 11)."""
    source, decoder_inputs, targets = (torch.from_numpy(a) for a in seq2seq_data())
    nt = torch.nn
    modules = nt.ModuleDict(
        {
            "source": nt.Embedding(V_SEQ, E_SEQ),
            "encoder": nt.LSTM(E_SEQ, H_SEQ, batch_first=True),
            "key": nt.Linear(H_SEQ, A_SEQ, bias=False),
            "query": nt.Linear(H_SEQ, A_SEQ),
            "score": nt.Linear(A_SEQ, 1, bias=False),
            "target": nt.Embedding(V_SEQ, E_SEQ),
            "decoder": nt.LSTMCell(E_SEQ + H_SEQ, H_SEQ),
            "head": nt.Linear(2 * H_SEQ, V_SEQ),
        }
    )
    optimizer = torch.optim.Adam(modules.parameters(), lr=1e-3)
    m = modules

    def step():
        optimizer.zero_grad(set_to_none=True)
        outputs, (h, c) = m["encoder"](m["source"](source))
        h, c, keys, logits = h[0], c[0], m["key"](outputs), []
        for t in range(T_SEQ):
            scores = m["score"](torch.tanh(keys + m["query"](h)[:, None]))[..., 0]
            context = torch.einsum("bs,bsh->bh", scores.softmax(-1), outputs)
            x = torch.cat([m["target"](decoder_inputs[:, t]), context], -1)
            h, c = m["decoder"](x, (h, c))
            logits.append(m["head"](torch.cat([h, context], -1)))
        loss = nt.functional.cross_entropy(torch.stack(logits, 1).reshape(-1, V_SEQ),
                                           targets.reshape(-1))  # fmt: skip
        loss.backward()
        optimizer.step()

    return step


# --- CTC recogniser: B=32, T=200 frames of 40 mel bands, two stride-2 convolutions, BiLSTM ---
B_CTC, T_CTC, MELS_CTC, H_CTC, LABELS_CTC = 32, 200, 40, 128, 5


def ctc_data(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(B_CTC, T_CTC, MELS_CTC)).astype(np.float32)
    return features, rng.integers(1, 11, size=(B_CTC, LABELS_CTC))  # digits 1..10; 0 = blank


def ctc_jax(compiler_options=None):
    features, labels = ctc_data()
    batch = {
        "inputs": jnp.asarray(features),
        "lengths": jnp.full(B_CTC, T_CTC),
        "targets": jnp.asarray(labels),
        "mask": jnp.ones(labels.shape, bool),
    }
    model = get_model(
        "ctc", 11, cell="lstm", hidden_size=H_CTC, bidirectional=True, num_layers=2,
        subsample=4, front_end_features=64,
    )  # fmt: skip
    return jax_runner(model, objectives.ctc, optax.adam(1e-3), batch, compiler_options)


def ctc_torch():
    """The same recogniser: Conv1d front end, a 2-layer bidirectional torch.nn.LSTM, a linear
    layer and torch.nn.CTCLoss (per label length, then the batch mean: our objective's loss)."""
    features, labels = ctc_data()
    x = torch.from_numpy(features).transpose(1, 2)  # [B, mels, T]: Conv1d is channels-first
    y = torch.from_numpy(labels)
    nt = torch.nn
    front = nt.Sequential(
        nt.Conv1d(MELS_CTC, 64, 3, stride=2, padding=1),
        nt.ReLU(),
        nt.Conv1d(64, 64, 3, stride=2, padding=1),
        nt.ReLU(),
    )
    lstm = nt.LSTM(64, H_CTC, num_layers=2, bidirectional=True, batch_first=True)
    head = nt.Linear(2 * H_CTC, 11)
    params = [*front.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    ctc_loss = nt.CTCLoss(blank=0, reduction="mean")
    label_lengths = torch.full((B_CTC,), LABELS_CTC, dtype=torch.long)

    def step():
        optimizer.zero_grad(set_to_none=True)
        hidden, _ = lstm(front(x).transpose(1, 2))
        log_probs = head(hidden).log_softmax(-1).transpose(0, 1)  # [T', B, 11]
        frames = torch.full((B_CTC,), log_probs.shape[0], dtype=torch.long)
        ctc_loss(log_probs, y, frames, label_lengths).backward()
        optimizer.step()

    return step


WORKLOADS = [
    Workload(
        f"LSTM train step B={B_LSTM} T={T_LSTM} X={X_LSTM} H={H_LSTM}",
        partial(recurrent_jax, "lstm"),
        partial(recurrent_torch, "LSTM"),
    ),
    *(
        [
            Workload(
                f"LSTM (cuDNN) train step B={B_LSTM} T={T_LSTM}",
                partial(recurrent_jax, "lstm", "cudnn"),
                partial(recurrent_torch, "LSTM"),
            )
        ]
        if jax.default_backend() == "gpu"
        else []
    ),
    Workload(
        f"GRU train step B={B_LSTM} T={T_LSTM} X={X_LSTM} H={H_LSTM}",
        partial(recurrent_jax, "gru"),
        partial(recurrent_torch, "GRU"),
    ),
    Workload(f"LeNet-5 train step B={B_LENET} 32x32x1", lenet_jax, lenet_torch),
    Workload(
        f"CIFAR ResNet-20 train step B={B_RESNET}",
        partial(resnet_jax, "cifar_resnet20", 32, B_RESNET),
        resnet20_torch,
    ),
    *(
        [
            Workload(
                "ResNet-50 bf16 train step B=256 224x224",
                partial(resnet_jax, "resnet50", 224, 256, jnp.bfloat16),
                None,
            )
        ]
        if jax.default_backend() == "gpu"
        else []
    ),
    Workload(f"char LSTM LM step B={B_CHAR} T={T_CHAR} H={H_CHAR}", char_lm_jax, char_lm_torch),
    Workload(f"attention seq2seq step B={B_SEQ} S={S_SEQ} T={T_SEQ}", seq2seq_jax, seq2seq_torch),
    Workload(f"CTC 2-layer BiLSTM step B={B_CTC} T={T_CTC}", ctc_jax, ctc_torch),
    *(
        Workload(
            f"LRU train step B={B_LONG} T={length} H={H_LONG}",
            partial(long_sequence_jax, "lru", length),
            partial(long_sequence_jax, "lstm", length),
            reference_name="our LSTM",
        )
        for length in LONG_LENGTHS
    ),
    Workload(
        f"gradient norms T={T_NORMS} (LSTM B={B_NORMS} H={H_NORMS})",
        gradient_norms_step,
        plain_gradient_step,
        reference_name="plain jax.grad",
    ),
]


def time_main_experiment() -> dict:
    """Wall time of the README's main command (default vanishing-gradient run), end to end."""
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "experiments.vanishing_gradients", f"--workdir={workdir}"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - start
    print(f"{'README main command (vanishing gradients)':<44} {1e3 * seconds:9.0f}", flush=True)
    return {"workload": "README main command, wall time", "ours_ms": 1e3 * seconds}


def compiler_options(flags: list[str]) -> dict:
    """``['xla_cpu_use_onednn=true', ...]`` as XLA compiler options: true/false as booleans,
    whole numbers as integers, anything else (an enum's name, a list of them) as text."""
    options = {}
    for flag in flags:
        name, equals, value = flag.removeprefix("--").partition("=")
        if not (equals and name.startswith("xla_") and value):
            raise ValueError(f"--xla takes FLAG=VALUE with FLAG an xla_* option, not {flag!r}")
        lowered = value.lower()
        if lowered in ("true", "false"):
            options[name] = lowered == "true"
        elif value.lstrip("-").isdigit():
            options[name] = int(value)
        else:
            options[name] = value
    return options


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
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per row")
    parser.add_argument("--steps", type=int, default=3, help="steps of each side per round")
    parser.add_argument("--only", help="run only workloads whose name contains this text")
    parser.add_argument(
        "--experiment", action="store_true", help="also time the README's main command"
    )
    parser.add_argument(
        "--xla", action="append", default=[], metavar="FLAG=VALUE",
        help="time ours compiled with this XLA flag (repeatable; e.g. "
        "xla_cpu_use_onednn=true) against ours with the defaults, instead of the reference",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.warmup, args.rounds, args.steps) < 1:
        parser.error("--warmup, --rounds and --steps must be at least 1")
    try:
        options = compiler_options(args.xla)
    except ValueError as error:
        parser.error(str(error))
    # as every experiment runs: process-wide, so the reference runs with it too
    reused = reuse_freed_memory()
    print(f"malloc keeps freed memory for reuse: {reused}")
    rows = []
    header = (f"{'workload':<44} {'ours ms':>9} {'ref ms':>9} {'ref/ours':>9} "
              f"{'quartiles':>11}  reference")  # fmt: skip
    print(header, "\n" + "-" * len(header), flush=True)
    for workload in WORKLOADS:
        if args.only and args.only not in workload.name:
            continue
        available = workload.reference_name != "torch" or torch is not None
        row = {"workload": workload.name, "reference": workload.reference_name}
        if options:  # the flags against the defaults: the same program, compiled twice
            flagged, default = workload.ours(compiler_options=options), workload.ours()
            row |= {"reference": "default XLA", "xla": options,
                    "program_changed": optimised_hlo(flagged.compiled)
                    != optimised_hlo(default.compiled)}  # fmt: skip
            row |= interleaved(flagged, default, args.warmup, args.rounds, args.steps)
        elif workload.reference is not None and available:
            row |= interleaved(
                workload.ours(), workload.reference(), args.warmup, args.rounds, args.steps
            )
        else:
            row["ours_ms"] = median_ms(workload.ours(), args.warmup, args.rounds, args.steps)
        if "ratio_quartiles" in row:
            q1, q3 = row["ratio_quartiles"]
            measured = (f"{row['reference_ms']:9.2f} {row['ratio_reference_over_ours']:9.2f} "
                        f"{q1:5.2f}-{q3:<5.2f}")  # fmt: skip
        else:
            measured = f"{'-':>9} {'-':>9} {'-':>11}"
        rows.append(row)
        if options and not row["program_changed"]:
            measured += "  (the same optimised HLO)"
        print(f"{workload.name:<44} {row['ours_ms']:9.2f} {measured}  {row['reference']}",
              flush=True)  # fmt: skip
        if row.get("busy"):
            q1, q3 = row["ratio_quartiles"]
            spread = (q3 - q1) / row["ratio_reference_over_ours"]
            others = row["others_cpu_share"] or 0.0
            print(f"  warning: the machine was busy during {workload.name!r}: its ratios spread "
                  f"by {100 * spread:.0f}% of their median (limit {100 * BUSY_SPREAD:.0f}%), "
                  f"other processes used {100 * others:.0f}% of the CPUs (limit "
                  f"{100 * BUSY_OTHERS:.0f}%); rerun when it is quiet", flush=True)  # fmt: skip
    if args.experiment:
        rows.append(time_main_experiment())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
