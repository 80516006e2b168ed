#!/usr/bin/env bash
# Train on a Cloud TPU pod slice: the same command on every host, started from a workstation.
#
#   scripts/launch_tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]
#   scripts/launch_tpu_pod.sh my-v4-32 us-central2-b experiments/configs/cifar10_resnet20.py \
#       /mnt/shared/runs/resnet20 --config.data_dir=/mnt/shared/tensorflow_datasets
#
# Every host runs one process over its local TPU chips; experiments.train sees the pod's
# TPU_WORKER_HOSTNAMES and calls jax.distributed.initialize(), and shard_map spans all chips.
# The checkout must be at ~/nets on every host (pip install -e ~/nets). WORKDIR and the data
# dir must be on a file system all hosts share (Filestore, NFS, a gcsfuse mount): checkpoints
# are written cooperatively and read back by every host on resume.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
tpu=$1 zone=$2 config=$3 workdir=$4
shift 4
printf -v overrides ' %q' "$@"
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command \
  "cd ~/nets && python -m experiments.train --config $config --workdir $workdir \
   --config.parallel=shard_map$overrides"
