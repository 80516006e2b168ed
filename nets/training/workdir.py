"""Where a run's results go: a work directory whose files are written whole.

A run builds every output in memory and hands it to ``write_outputs``, which writes each file
to a temporary name in the work directory and renames it into place: a reader (or a crash)
never sees a half-written file, and a run that fails before the end leaves nothing. The run
driver writes metrics.jsonl and results.json here; the experiments add their figures.
"""

import contextlib
import json
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from nets.files import write_whole
from nets.runtime import compiling


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
    """Create ``workdir`` and check that it is writable, before any long computation starts.
    In a multi-process job only process 0 writes (the others read the checkpoints it saves)."""
    path = Path(workdir)
    if jax.process_index() != 0:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(f"workdir {str(path)!r} is not writable: {error.strerror}") from None
    return path


LOCK_FILE = ".lock"


class WorkdirLocked(ValueError):
    """Another live process is running in the work directory."""


@contextlib.contextmanager
def exclusive(workdir: Path):
    """Hold ``workdir/.lock`` (it names the host and the process) for the block, so that a
    second run on the same work directory is refused with one line instead of interleaving
    its steps with the first. A lock left by a process that is gone (killed on this host) is
    stale and taken over; one held on another host is honoured (delete it by hand if that host
    is gone). Only process 0 of a multi-process job takes it."""
    if jax.process_index() != 0:
        yield
        return
    path, mine = workdir / LOCK_FILE, f"{socket.gethostname()} {os.getpid()}"
    deadline = time.time() + 2.0
    while True:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            text = path.read_text(errors="replace") if path.exists() else ""
            holder = text.split()
            if len(holder) == 2 and _gone(*holder):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            if len(holder) != 2 and time.time() < deadline:
                time.sleep(0.05)  # a run between creating the lock and writing its name
                continue
            raise WorkdirLocked(_lock_message(workdir, path, holder, text)) from None
        with os.fdopen(handle, "w") as f:
            f.write(mine)
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _lock_message(workdir: Path, path: Path, holder: list[str], text: str) -> str:
    """Why ``workdir`` is refused, what its lock holds and how to clear it."""
    if len(holder) != 2:
        return (f"workdir {workdir}: its lock {path} names no process (it holds "
                f"{text[:40]!r}): a run died while taking it; delete it if no run uses this "
                "work directory")  # fmt: skip
    host, pid = holder
    if host != socket.gethostname():
        return (f"workdir {workdir} is locked by process {pid} on host {host} ({path}), which "
                "this host cannot check: if that run has ended (or the host is gone), delete "
                "the lock; otherwise wait for it or use another --workdir")  # fmt: skip
    return (f"workdir {workdir} is in use by process {pid} on {host} ({path}); wait for it to "
            "finish or use another --workdir")  # fmt: skip


def _gone(host: str, pid: str) -> bool:
    """Whether the lock holder ``pid`` on ``host`` is known to have exited (this host only)."""
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def read_json(path: Path):
    """The JSON document in ``path``; a damaged one (cut short, not UTF-8) is a ValueError
    naming the file and the line, not the parser's bare message."""
    try:
        return json.loads(Path(path).read_bytes())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text at byte {error.start}") from None


def json_bytes(data) -> bytes:
    """``data`` as indented JSON; numpy and JAX arrays and scalars become lists and numbers."""

    def default(value):
        if isinstance(value, np.ndarray | jax.Array):
            return np.asarray(value).tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(data, indent=1, default=default, allow_nan=True).encode()


def write_outputs(workdir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each ``name -> content`` into ``workdir`` atomically (temporary file, then rename)."""
    return [write_whole(workdir / name, content) for name, content in files.items()]


def run_header(experiment: str, config, start: float) -> dict:
    """What every results.json starts with: the experiment, its settings, the environment and
    the seconds since ``start`` (a ``time.perf_counter()`` reading) and, of the process's, those
    spent compiling (``nets.runtime.compiling``)."""
    made = compiling()
    return {
        "experiment": experiment,
        "settings": config.to_dict(),
        "environment": environment(),
        "elapsed_s": time.perf_counter() - start,
        "compile_s": made["seconds"],
        "programs_compiled": made["programs"],
    }
