"""Eight simulated CPU devices for the data-parallel tests, set before JAX initialises."""

import os

import jax
import pytest

# The experiments keep compiled programs in ~/.cache/nets (experiments.cli); the tests' own
# command-line runs write nothing outside their temporary directories.
os.environ["NETS_COMPILATION_CACHE"] = ""

jax.config.update("jax_num_cpu_devices", 8)
# Compilation dominates these tiny tests; XLA's expensive optimisations do not pay for themselves.
jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One tfds data directory per test process: each offline data set is prepared once, and
    nothing is written to the user's ~/tensorflow_datasets."""
    return str(tmp_path_factory.mktemp("tensorflow_datasets"))
