"""Checkpoints with orbax: save every N steps and at the end, keep the last k, resume the latest.

A checkpoint holds the TrainState's arrays (step, parameters, BatchNorm statistics, optimiser
state, RNG) and the data iterator's position, so a resumed run continues exactly where the saved
one was. orbax writes each checkpoint into a temporary directory and renames it into place when
it is complete; saving is synchronous and Ctrl-C is held back until the save returns, so an
interrupted run leaves either the whole checkpoint or none. A checkpoint that cannot be read, or
that does not fit the model being trained, is an error naming its path: the run never starts
over on top of it.

After the rename, the SHA-256 of each of the checkpoint's files is written beside them
(``CHECKSUMS``) and checked before a restore: a flipped bit in the array data, which orbax
reads back as other numbers without complaint, is refused by name and the checkpoint before it
offered. A checkpoint without the file (older, or cut off between the rename and its write) is
restored unchecked.
"""

import contextlib
import hashlib
import json
import signal
import threading
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from nets.checks import check_positive
from nets.files import write_whole

CHECKSUMS = "sha256.json"  # in each checkpoint's directory: {relative path: SHA-256}


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be restored into the current run."""


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt if one came."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def orbax_quiet():
    """orbax's threads log each failure with its traceback at ERROR through absl (a full disk
    printed over 100 lines, for one cause); the CheckpointError raised here says it once."""
    import logging

    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _is_closed_loop(error: BaseException | None) -> bool:
    return isinstance(error, RuntimeError) and "Event loop is closed" in str(error)


def _never_retrieved(record) -> bool:
    return not record.getMessage().startswith("Task exception was never retrieved")


@contextlib.contextmanager
def failed_save_echoes_dropped():
    """When a save fails, orbax closes its event loop while tensorstore's writer threads still
    call back into it, and the writes it abandoned are collected later: each printed its own
    traceback (a full disk: dozens, some before the failure reaches us, some after), for the
    one cause the CheckpointError names. From the block's start and, if it fails, for the rest
    of the process, 'Event loop is closed' (tensorstore prints it through ``sys.excepthook``,
    Python's callbacks through ``sys.unraisablehook``) and asyncio's 'Task exception was never
    retrieved' are dropped; anything else reaches the hooks it reached before."""
    import logging
    import sys

    hooks = sys.excepthook, sys.unraisablehook

    def excepthook(kind, error, traceback):
        if not _is_closed_loop(error):
            hooks[0](kind, error, traceback)

    def unraisablehook(unraisable):
        if not _is_closed_loop(unraisable.exc_value):
            hooks[1](unraisable)

    sys.excepthook, sys.unraisablehook = excepthook, unraisablehook
    logging.getLogger("asyncio").addFilter(_never_retrieved)
    yield  # on failure all stay: the abandoned writes echo after the error
    sys.excepthook, sys.unraisablehook = hooks
    logging.getLogger("asyncio").removeFilter(_never_retrieved)


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


def _shapes(tree) -> list:
    return [(np.shape(x), np.asarray(x).dtype.name) for x in jax.tree.leaves(tree)]


def _digests(path: Path) -> dict[str, str]:
    """The SHA-256 of every file under checkpoint ``path`` but the checksums themselves."""
    digests = {}
    for file in sorted(f for f in path.rglob("*") if f.is_file() and f.name != CHECKSUMS):
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[str(file.relative_to(path))] = digest.hexdigest()
    return digests


def write_checksums(path: Path) -> None:
    write_whole(path / CHECKSUMS, json.dumps(_digests(path), indent=1).encode())


def check_intact(path: Path) -> None:
    """Raise CheckpointError naming the files of checkpoint ``path`` that differ from (or are
    missing against) the checksums written when it was saved, and the checkpoint before it."""
    recorded = path / CHECKSUMS
    if not recorded.is_file():
        return
    try:
        expected = json.loads(recorded.read_bytes())
    except ValueError:  # the checksums themselves damaged
        expected = None
    found = _digests(path)
    if expected == found:
        return
    damaged = (
        [CHECKSUMS]
        if not isinstance(expected, dict)
        else sorted(
            name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name)
        )
    )
    earlier = sorted(int(p.name) for p in path.parent.iterdir()
                     if p.name.isdigit() and int(p.name) < int(path.name))  # fmt: skip
    offer = (f"delete it to resume from checkpoint {earlier[-1]}" if earlier
             else "delete it to start the run again")  # fmt: skip
    raise CheckpointError(f"checkpoint {path} is damaged: {', '.join(damaged[:3])} "
                          f"{'differs' if len(damaged) == 1 else 'differ'} from the checksums "
                          f"written when it was saved; {offer}")  # fmt: skip


class Checkpoints:
    """The checkpoints of one run in ``directory``, of which the last ``keep`` are kept."""

    def __init__(self, directory, keep: int):
        check_positive("checkpoints kept", keep)
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def path(self, step: int) -> Path:
        return self.directory / str(step)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, data_state: dict, config: dict | None = None) -> None:
        """Save ``state`` (host arrays), the iterator's ``data_state`` and the run's ``config``
        (a JSON-ready dict: what a resume is checked against, even without config.json) as
        step ``step``."""
        items = {"state": ocp.args.StandardSave(state), "data": ocp.args.JsonSave(data_state)}
        if config is not None:
            items["config"] = ocp.args.JsonSave(config)
        args = ocp.args.Composite(**items)
        with sigint_deferred(), orbax_quiet(), failed_save_echoes_dropped():
            try:
                self.manager.save(step, args=args, force=True)
                if jax.process_index() == 0:  # the one process that writes the run's files
                    write_checksums(self.path(step))
            except Exception as error:  # a full disk or a lost mount surface as many types
                raise CheckpointError(
                    f"saving checkpoint {self.path(step)} failed ({_first_line(error)}); the "
                    f"earlier checkpoints are kept: free space under {self.directory} (or point "
                    f"--workdir elsewhere) and run the same command to resume"
                ) from error

    def saved_config(self, step: int) -> dict | None:
        """The config checkpoint ``step`` was saved with, or None for one written before
        checkpoints held their config."""
        if not (self.path(step) / "config").is_dir():
            return None
        check_intact(self.path(step))
        try:
            with orbax_quiet():
                restored = self.manager.restore(
                    step, args=ocp.args.Composite(config=ocp.args.JsonRestore())
                )
        except Exception as error:  # orbax raises many types for unreadable files
            raise CheckpointError(
                f"checkpoint {self.path(step)}: its config cannot be read ({_first_line(error)})"
            ) from error
        return restored.config

    def restore_latest(self, template):
        """``(state, data_state)`` of the latest checkpoint, or None when there is none.

        ``template``: a state of the right structure (the freshly initialised one); what is
        restored must match its every shape and dtype, or CheckpointError names the path.
        """
        step = self.latest_step()
        if step is None:
            return None
        path = self.path(step)
        check_intact(path)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            with orbax_quiet():
                restored = self.manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore()
                    ),
                )
            if _shapes(restored.state) != _shapes(template):
                raise ValueError("its arrays have other shapes than this run's")
        except Exception as error:  # orbax raises many types for unreadable or foreign files
            raise CheckpointError(
                f"checkpoint {path} cannot be restored into this run ({_first_line(error)}); it is "
                f"kept: resume it with the config it was saved with, or use another --workdir"
            ) from error
        return restored.state, restored.data

    def close(self) -> None:
        self.manager.close()
