#!/usr/bin/env bash
# Train on every GPU of one machine: one process, data parallel over its local devices.
#
#   scripts/launch_multi_gpu.sh CONFIG WORKDIR [--config.field=value ...]
#   scripts/launch_multi_gpu.sh experiments/configs/cifar10_resnet20.py runs/resnet20 \
#       --config.data_dir=/data/tensorflow_datasets --config.parallel=shard_map
#
# The config's batch_size is the global batch: it must divide by the number of GPUs. Run the
# same command again to resume from the latest checkpoint in WORKDIR.
#
# Several machines: run this on each with JAX_COORDINATOR_ADDRESS=<host 0>:<port>,
# JAX_NUM_PROCESSES=<machines> and JAX_PROCESS_ID=<0, 1, ...> set, and WORKDIR on a file system
# every machine shares; experiments.train then calls jax.distributed.initialize() itself.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
cd "$(dirname "$0")/.."
# let XLA allocate GPU memory as it needs it, so several jobs can share a machine
export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
python -c 'import jax; print(f"{jax.device_count()} devices: {jax.devices()}")'
exec python -m experiments.train --config "$config" --workdir "$workdir" "$@"
