"""A real multi-process job: two JAX processes on this machine, 4 CPU devices each, joined by
JAX's distributed runtime (gloo collectives over 127.0.0.1), run ``python -m experiments.train``
as ``scripts/launch_multi_gpu.sh`` and ``launch_tpu_pod.sh`` do on a cluster. Against one
process with 8 devices: the same parameters, disjoint shards that together are its batches, one
writer, and a checkpoint of the 2-process job resumed by it."""

import json
import os
import socket
import subprocess
import sys
import zlib
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.configs import mnist1d_cnn
from nets.data import batches, registry
from nets.training import run_driver

ROOT = Path(__file__).parent.parent

# One process of the job: experiments.train's own command line, with the batches it reads and
# every file it writes (Python's audit hook sees each open, mkdir, rename and delete) recorded.
PROCESS = """
import json, os, sys
workdir, record = os.path.realpath(sys.argv[1]), sys.argv[2]
writes = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT

def audit(event, args):
    writing = event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir") or (
        event == "open" and (set(args[1] or "") & set("wax+") or (args[2] or 0) & WRITE_FLAGS)
    )
    if writing and isinstance(args[0], (str, os.PathLike)):
        path = os.path.realpath(os.fspath(args[0]))
        if path.startswith(workdir):
            writes.append(f"{event} {path}")

sys.addaudithook(audit)
from tests.test_multiprocess import record_batches
from experiments import cli, train
batches = record_batches()
sys.argv = ["train", *sys.argv[3:]]
try:
    cli.main(train.run, "", "")
finally:
    with open(record, "w") as f:
        json.dump({"batches": batches, "writes": writes}, f)
"""


def record_batches() -> list:
    """Make the run driver record, for each batch it reads, a checksum of each example."""
    read, original = [], run_driver.train_batches

    class Recording:
        def __init__(self, batches):
            self.batches = batches

        def __next__(self):
            batch = next(self.batches)
            read.append([zlib.crc32(row.tobytes()) for row in batch["inputs"]])
            return batch

        def get_state(self):
            return self.batches.get_state()

        def set_state(self, state):
            self.batches.set_state(state)

    run_driver.train_batches = lambda *args, **kwargs: Recording(original(*args, **kwargs))
    return read


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def overrides(data_dir: str, num_steps: int) -> list[str]:
    return [f"--config.data.data_dir={data_dir}", f"--config.num_steps={num_steps}"]


def job(workdir: Path, data_dir: str, num_steps: int, records: Path) -> list[dict]:
    """Run the 2-process job to ``num_steps``; each process's record."""
    port = free_port()
    config = f"{ROOT}/experiments/configs/mnist1d_cnn.py:tiny"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, str(workdir), str(records / f"{index}.json")]
            + ["--config", config, "--workdir", str(workdir), *overrides(data_dir, num_steps)],
            cwd=ROOT,
            env={
                **os.environ,
                "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
                "JAX_NUM_PROCESSES": "2",
                "JAX_PROCESS_ID": str(index),
                "JAX_NUM_CPU_DEVICES": "4",
                "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
                "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",  # as the tests' own process compiles
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in range(2)
    ]
    outputs = []
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
        outputs.append(output)
    return [
        {**json.loads((records / f"{index}.json").read_text()), "output": outputs[index]}
        for index in range(2)
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="gloo collectives over TCP on Linux")
@pytest.mark.slow
def test_two_processes_of_four_devices_train_as_one_of_eight(tmp_path, data_dir):
    registry.load_split("mnist1d", "train", data_dir)  # prepared before two processes race to it
    # the reference: this test process, 8 devices, the same config and data
    one_batches = record_batches()
    try:
        config = mnist1d_cnn.get_config("tiny")
        config.data.data_dir = data_dir
        config.num_steps = 4
        one = run_driver.train(config, tmp_path / "one")
    finally:
        run_driver.train_batches = batches.train_batches

    # the 2-process job, stopped after its checkpoint at step 2, then resumed to step 4
    two = tmp_path / "two"
    (tmp_path / "records").mkdir()
    first = job(two, data_dir, 2, tmp_path / "records")
    second = job(two, data_dir, 4, tmp_path / "records")

    # each process read its own examples; together they are the 8-device run's batches
    for step in range(4):
        record = first if step < 2 else second
        shards = [set(record[p]["batches"][step % 2]) for p in range(2)]
        assert len(shards[0]) == len(shards[1]) == config.batch_size // 2
        assert not shards[0] & shards[1]
        assert shards[0] | shards[1] == set(one_batches[step])

    # only process 0 wrote into the work directory
    assert first[1]["writes"] == second[1]["writes"] == []
    assert any("metrics.jsonl" in w for w in second[0]["writes"])
    assert not list(two.rglob("*process_1*"))
    # and only process 0 reports the result
    assert "after 4 steps" in second[0]["output"] and "after 4 steps" not in second[1]["output"]

    # the same training: each step logged once, the same test metrics and final parameters
    steps = [json.loads(line)["step"] for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]
    results = json.loads((two / "results.json").read_text())
    assert results["devices"] == 8 and results["resumed_from_step"] == 2
    for name, value in one["test"].items():
        assert results["test"][name] == pytest.approx(value, rel=1e-5)
    state, _ = run_driver.Checkpoints(two / "checkpoints", 3).restore_latest(one["state"])
    assert int(state.step) == 4
    for a, b in zip(
        jax.tree.leaves(one["state"].params), jax.tree.leaves(state.params), strict=True
    ):
        # the gradients' sums run in another order; Adam moves a weight by up to the learning
        # rate, 1e-2, per step, so a different step would be a thousand times outside this
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
