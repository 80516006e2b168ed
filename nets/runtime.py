"""How a process runs JAX here: fast compilation for many brief programs, the compilation cache
across runs, and the host allocator's settings. The experiments' command line sets them up;
scripts and tests call them directly.
"""

import contextlib
import ctypes
import os
import sys
from pathlib import Path

import jax
from jax import monitoring


@contextlib.contextmanager
def fast_compilation(enabled: bool):
    """Skip XLA's expensive optimisations inside the block (restored after it).

    Worth it on a CPU when a run compiles many small programs that each execute briefly: the
    default vanishing-gradient run compiles about 40 and spends most of its time compiling.
    """
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", previous)


# the phases of making one program: tracing to a jaxpr, lowering it to XLA, and XLA's compilation
# (or, with the persistent cache, reading the compiled program back)
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compiling = {"seconds": 0.0, "programs": 0}


def _clock(event: str, duration: float, **kwargs) -> None:
    if event in COMPILE_EVENTS:
        _compiling["seconds"] += duration
        _compiling["programs"] += event == COMPILE_EVENTS[-1]


monitoring.register_event_duration_secs_listener(_clock)


def compiling() -> dict:
    """What this process has spent making programs since ``nets`` was imported: 'seconds'
    (tracing, lowering and compiling, summed over threads) and 'programs' (XLA compilations,
    those the persistent cache served included). A run's time less this is its running time."""
    return dict(_compiling)


# where compiled programs are kept between runs; NETS_COMPILATION_CACHE or --compilation_cache
# moves it, '' turns it off
DEFAULT_CACHE = os.environ.get(
    "NETS_COMPILATION_CACHE", str(Path.home() / ".cache" / "nets" / "jax_compilation")
)


def compilation_cache(directory: str) -> None:
    """Keep every compiled program in ``directory`` across runs ('' keeps none), so a rerun skips
    compiling. JAX keys each entry on the program itself (its HLO with the shapes, the compile
    options, the jax and jaxlib versions, the device), so changed code, shapes or libraries
    compile afresh: a stale program is never served. Call before the first compilation."""
    if not directory:
        return
    jax.config.update("jax_compilation_cache_dir", directory)
    # every program, not only those over JAX's default 1 s: on a CPU the experiments compile
    # dozens that take a fraction of a second each, and together they are most of a short run
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def reuse_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for the next allocation instead of unmapping it.

    XLA:CPU allocates a step's intermediate arrays afresh at every call; glibc serves those
    above its mmap threshold (128 KiB, adapting up to 32 MiB) with new pages and returns them
    to the system on free, so every training step page-faults its large arrays in again.
    Raising the mmap and trim thresholds keeps them in the heap: the LSTM step of
    ``scripts/bench.py`` went from 94 to 71 ms (the process then holds its peak memory).
    Linux with glibc only; returns whether the setting took (elsewhere nothing changes).
    """
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # another C library (musl): leave its allocator alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt's parameter numbers (malloc.h)
    largest = 1 << 30  # anything under 1 GiB comes from the heap
    return bool(libc.mallopt(m_mmap_threshold, largest) and libc.mallopt(m_trim_threshold, largest))
