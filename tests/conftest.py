"""Eight simulated CPU devices for the data-parallel tests, set before JAX initialises."""

import os
import tempfile
from pathlib import Path

import jax
import pytest

from nets.runtime import compilation_cache

# One persistent compilation cache for the tests, in the system's temporary directory (the
# experiments' own is ~/.cache/nets): many tests compile the same tiny programs, in both
# xdist workers and in the command-line runs they start, and a program compiled once is then
# loaded (test_train.py: 204 s -> 167 s on a cold cache). JAX keys each entry on the program,
# its options and the library versions, so an entry is never served for anything else.
CACHE = str(Path(tempfile.gettempdir()) / "nets-tests-compilation-cache")
os.environ["NETS_COMPILATION_CACHE"] = CACHE
compilation_cache(CACHE)

jax.config.update("jax_num_cpu_devices", 8)
# Compilation dominates these tiny tests; XLA's expensive optimisations do not pay for themselves.
jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One tfds data directory per test process: each offline data set is prepared once, and
    nothing is written to the user's ~/tensorflow_datasets."""
    return str(tmp_path_factory.mktemp("tensorflow_datasets"))


@pytest.fixture
def optimized():
    """XLA's optimisations back on for one test whose steps cost more than compiling them (a
    ResNet's step runs 7 times slower unoptimised: ImageNet's recipe test, 39 s -> 25 s)."""
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(autouse=True)
def device_to_host_guard(monkeypatch):
    """On an accelerator, reading an array's value inside
    ``jax.transfer_guard_device_to_host('disallow')`` (where the training loops run their
    steps, ``nets.training.steady``) raises; the CPU backend copies nothing, so its guard never
    fires. Here every read of a ``jax.Array``'s value (float(), np.asarray, jax.device_get,
    .tolist()) honours the guard as an accelerator's runtime would, in every test."""
    from jax._src import array
    from jax._src import config as jax_config

    read = array.ArrayImpl._value

    def guarded(self):
        if jax_config.transfer_guard_device_to_host.value == "disallow":
            raise RuntimeError(
                f"Disallowed device-to-host transfer: {self.aval} read back inside "
                "jax.transfer_guard_device_to_host('disallow')"
            )
        return read.fget(self)

    monkeypatch.setattr(array.ArrayImpl, "_value", property(guarded))
