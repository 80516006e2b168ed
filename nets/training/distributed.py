"""Multi-host jobs: call ``jax.distributed.initialize()`` when the environment describes one.

A single machine (one process, any number of local GPUs) needs nothing. A job of several
processes needs every process to call ``jax.distributed.initialize()`` before it touches a
device; JAX then finds the coordinator itself from the cluster's variables (SLURM, Open MPI, a
Cloud TPU pod slice); a hand-launched job names it in JAX_COORDINATOR_ADDRESS (host:port),
JAX_NUM_PROCESSES and JAX_PROCESS_ID, as ``scripts/launch_multi_gpu.sh`` does.
"""

import os
from collections.abc import Mapping

import jax


def describes_multihost(env: Mapping[str, str]) -> bool:
    """Whether ``env`` (the process environment) describes a job of more than one process."""

    def count(name: str) -> int:
        return int(env.get(name, "1") or "1")

    if "JAX_COORDINATOR_ADDRESS" in env:
        return count("JAX_NUM_PROCESSES") > 1
    if count("SLURM_NTASKS") > 1 or count("OMPI_COMM_WORLD_SIZE") > 1:
        return True
    # a Cloud TPU pod slice lists its hosts, comma-separated, on every host
    return "," in env.get("TPU_WORKER_HOSTNAMES", "")


def initialize_if_multihost(env: Mapping[str, str] = os.environ) -> bool:
    """Initialise JAX's distributed runtime if ``env`` describes a multi-process job; returns
    whether it did. Call it first, before any other JAX call."""
    if not describes_multihost(env):
        return False
    if "JAX_COORDINATOR_ADDRESS" in env:
        jax.distributed.initialize(
            env["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(env["JAX_NUM_PROCESSES"]),
            process_id=int(env["JAX_PROCESS_ID"]),
        )
    else:
        jax.distributed.initialize()  # JAX reads the cluster's own variables
    return True
