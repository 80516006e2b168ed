"""What every experiment script shares: the command line (the runtime it sets up is
``nets.runtime``'s).

Flags are defined only when a script runs as ``__main__``, so tests can import several
experiments into one process.
"""

import sys
from collections.abc import Callable

from nets.runtime import DEFAULT_CACHE, compilation_cache, reuse_freed_memory
from nets.training.preemption import Preempted


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
