"""Where a run's results go: a work directory whose files are written whole.

A run builds every output in memory and hands it to ``write_outputs``, which writes each file
to a temporary name in the work directory and renames it into place: a reader (or a crash)
never sees a half-written file, and a run that fails before the end leaves nothing. The run
driver writes metrics.jsonl and results.json here; the experiments add their figures.
"""

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np


def environment() -> dict:
    """Library versions and the device, so a number can be traced to what produced it."""
    import flax
    import optax

    device = jax.devices()[0]
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "device_count": jax.device_count(),
    }


def prepare_workdir(workdir: str | os.PathLike) -> Path:
    """Create ``workdir`` and check that it is writable, before any long computation starts."""
    path = Path(workdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(f"workdir {str(path)!r} is not writable: {error.strerror}") from None
    return path


def json_bytes(data) -> bytes:
    """``data`` as indented JSON; numpy and JAX arrays and scalars become lists and numbers."""

    def default(value):
        if isinstance(value, np.ndarray | jax.Array):
            return np.asarray(value).tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(data, indent=1, default=default, allow_nan=True).encode()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_outputs(workdir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each ``name -> content`` into ``workdir`` atomically (temporary file, then rename)."""
    written = []
    for name, content in files.items():
        target = workdir / name
        handle, temporary = tempfile.mkstemp(dir=workdir, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(content)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would hide results
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def run_header(experiment: str, config, start: float) -> dict:
    """What every results.json starts with: the experiment, its settings, the environment and
    the seconds since ``start`` (a ``time.perf_counter()`` reading)."""
    import time

    return {
        "experiment": experiment,
        "settings": config.to_dict(),
        "environment": environment(),
        "elapsed_s": time.perf_counter() - start,
    }
