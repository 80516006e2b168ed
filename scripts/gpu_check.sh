#!/usr/bin/env bash
# The accelerator check, at most about 8 minutes: device and library versions, the fast tests on
# the accelerator, the training-step benchmarks, and the full vanishing-gradient sweep's wall time.
#
#   bash scripts/gpu_check.sh [output folder]      # default: $OUT if set, else runs/gpu_check
#   bash scripts/gpu_check.sh --dry-run [folder]   # the same stages at tiny sizes, any machine
#
# The dry run (one test file, one benchmark workload with 2 timed steps, the sweep's tiny
# profile) runs in the test suite, so the script a user first runs on a GPU is known to work
# end to end except for the device.
# Works on an image with only jax, flax, optax, numpy (and optionally torch, pytest, tqdm,
# matplotlib, ml_collections): nets is imported from this checkout, nothing is installed or
# downloaded. Each stage has its own time limit; a stage that cannot run says why and the
# script goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
out="${1:-${OUT:-runs/gpu_check}}"
if [ $dry = 1 ]; then
  tests=(tests/test_losses.py)
  bench=(--only "GRU train step" --warmup 1 --rounds 2 --steps 1)
  profile=tiny
else
  tests=(tests/test_losses.py tests/test_cnn.py tests/test_rnn.py tests/test_gradients.py
         tests/test_synthetic.py tests/test_parallel.py tests/test_mnist1d_models.py)
  bench=(--rounds 15 --steps 3)
  profile=full
fi
mkdir -p "$out"
has() { python -c "import $1" 2>/dev/null; }

echo "== device and versions"
python - <<'PY' | tee "$out/versions.txt"
import importlib, platform
import jax
print("python", platform.python_version(), "| backend", jax.default_backend())
for device in jax.devices():
    print("device", device.id, getattr(device, "device_kind", device))
for name in ("jax", "jaxlib", "flax", "optax", "numpy", "torch", "orbax.checkpoint"):
    try:
        print(name, importlib.import_module(name).__version__)
    except ImportError:
        print(name, "not installed")
PY

echo "== fast tests on the accelerator (3 min limit)"
if has pytest; then
  timeout 180 python -m pytest -q -p no:cacheprovider "${tests[@]}" 2>&1 | tail -n 15 \
    | tee "$out/tests.txt"
else
  echo "pytest is not installed here: tests skipped" | tee "$out/tests.txt"
fi

echo "== training-step benchmarks (2 min limit; torch side by side when installed)"
timeout 120 python scripts/bench.py "${bench[@]}" --json "$out/bench.json" 2>&1 | tee "$out/bench.txt"

echo "== full vanishing-gradient sweep, wall time (3 min limit)"
if has ml_collections && has tqdm && has matplotlib && has absl; then
  start=$(date +%s)
  timeout 180 python -m experiments.vanishing_gradients --workdir "$out/vanishing_gradients" \
    --config "experiments/configs/vanishing_gradients.py:$profile" 2>"$out/sweep.log" | tail -n 12
  status=$?
  echo "exit status $status after $(( $(date +%s) - start )) s (124: stopped at the limit)"
else
  echo "ml_collections, absl, tqdm or matplotlib missing: the sweep cannot run here"
fi
