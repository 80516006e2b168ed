"""What every experiment script shares: fast compilation, the compilation cache, the host
allocator's settings and the command line.

Flags are defined only when a script runs as ``__main__``, so tests can import several
experiments into one process.
"""

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

import jax

from nets.training.preemption import Preempted


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


def last_line(error: BaseException) -> str:
    """The line of an error that says what is wrong: absl and ml_collections wrap a config
    file's own error (a missing file, a syntax error, an unknown profile) in a traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _config_file(argv: list[str], default: str) -> str:
    """The --config file[:profile] the command line names, else ``default``."""
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.partition("=")[2]
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
    return default


def _fields(config, prefix: str = "") -> list[str]:
    """Every field of a config, nested ones dotted: 'optimizer', 'optimizer.learning_rate'."""
    names = []
    for key, value in config.items():
        names.append(prefix + key)
        if hasattr(value, "items"):
            names += _fields(value, f"{prefix}{key}.")
    return names


def unknown_field(argv: list[str], default_file: str) -> str:
    """One line for an override of a field the config does not have, with the closest valid
    names (the config loaded again without the overrides)."""
    import difflib
    import importlib.util

    path, _, profile = _config_file(argv, default_file).partition(":")
    spec = importlib.util.spec_from_file_location("config_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(profile) if profile else module.get_config()
    fields = _fields(config)
    for arg in argv:
        if arg.startswith("--config."):
            field = arg[len("--config.") :].partition("=")[0]
            if field not in fields:
                close = difflib.get_close_matches(field, fields, n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                return f"error: the config has no field {field!r}{hint} (--config.FIELD=VALUE)"
    return "error: an override names a field the config does not have"


def parse_or_exit(flag_values, argv, config_file: str) -> list[str]:
    """Parse the command line and load the config (its file, profile and overrides), or exit
    with one line, ``error: ...``, and status 1, before anything is written. Returns the
    arguments that are not flags."""
    try:
        remaining = flag_values(argv)
        flag_values.config.to_dict()  # a file that failed to load raises here
    except (AttributeError, KeyError):
        sys.exit(unknown_field(argv, config_file))
    except Exception as error:  # absl, ml_collections and the file itself raise many types
        sys.exit(f"error: {last_line(error)}")
    if not flag_values.workdir.strip():
        sys.exit("error: --workdir must name a directory, got ''")
    return remaining


def main(run: Callable, config_file: str, default_workdir: str) -> None:
    """``python -m experiments.<name> [--config file.py[:profile]] [--config.x=y] --workdir d``.

    A bad config or workdir ends the run with one line, ``error: ...``, and exit status 1.
    """
    from absl import app, flags, logging
    from ml_collections import config_flags

    try:  # defining the config flag already reads the overrides on the command line
        config_flags.DEFINE_config_file("config", config_file, "configuration file[:profile]")
    except (AttributeError, KeyError):
        sys.exit(unknown_field(sys.argv, config_file))
    except Exception as error:  # absl, ml_collections and the file itself raise many types
        sys.exit(f"error: {last_line(error)}")
    flags.DEFINE_string("workdir", default_workdir, "where results.json and the figures go")
    flags.DEFINE_string(
        "compilation_cache", DEFAULT_CACHE, "compiled programs kept between runs; '' for none"
    )
    remaining = parse_or_exit(flags.FLAGS, sys.argv, config_file)

    def run_from_flags(argv):
        logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        compilation_cache(flags.FLAGS.compilation_cache)
        reuse_freed_memory()
        try:
            run(flags.FLAGS.config, flags.FLAGS.workdir)
        except ValueError as error:
            sys.exit(f"error: {error}")
        except OSError as error:  # a data or work directory the file system refuses: its path
            sys.exit(f"error: {error}")
        except Preempted as stopped:
            print(f"stopped: {stopped}", file=sys.stderr)
            sys.exit(stopped.exit_status)
        except KeyboardInterrupt:  # imported, not run as a script (experiments/__init__.py)
            print("interrupted; every file written is complete", file=sys.stderr)
            sys.exit(130)

    app.run(run_from_flags, flags_parser=lambda _: remaining)  # parsed once, above
