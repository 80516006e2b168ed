"""What every experiment script shares: fast compilation and the command line.

Flags are defined only when a script runs as ``__main__``, so tests can import several
experiments into one process.
"""

import contextlib
import sys
from collections.abc import Callable

import jax


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


def main(run: Callable, config_file: str, default_workdir: str) -> None:
    """``python -m experiments.<name> [--config file.py[:profile]] [--config.x=y] --workdir d``.

    A bad config or workdir ends the run with one line, ``error: ...``, and exit status 1.
    """
    from absl import app, flags, logging
    from ml_collections import config_flags

    config_flags.DEFINE_config_file("config", config_file, "configuration file[:profile]")
    flags.DEFINE_string("workdir", default_workdir, "where results.json and the figures go")

    def run_from_flags(argv):
        logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        try:
            run(flags.FLAGS.config, flags.FLAGS.workdir)
        except ValueError as error:
            sys.exit(f"error: {error}")
        except KeyboardInterrupt:
            print("interrupted; every file written is complete", file=sys.stderr)
            sys.exit(130)

    app.run(run_from_flags)
