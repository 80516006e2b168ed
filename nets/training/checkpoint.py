"""Checkpoints with orbax: save every N steps and at the end, keep the last k, resume the latest.

A checkpoint holds the TrainState's arrays (step, parameters, BatchNorm statistics, optimiser
state, RNG) and the data iterator's position, so a resumed run continues exactly where the saved
one was. orbax writes each checkpoint into a temporary directory and renames it into place when
it is complete; saving is synchronous and Ctrl-C is held back until the save returns, so an
interrupted run leaves either the whole checkpoint or none. A checkpoint that cannot be read, or
that does not fit the model being trained, is an error naming its path: the run never starts
over on top of it.
"""

import contextlib
import signal
import threading
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from nets.checks import check_positive


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


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


def _shapes(tree) -> list:
    return [(np.shape(x), np.asarray(x).dtype.name) for x in jax.tree.leaves(tree)]


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

    def save(self, step: int, state, data_state: dict) -> None:
        """Save ``state`` (host arrays) and the iterator's ``data_state`` as step ``step``."""
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)
        )
        with sigint_deferred():
            try:
                self.manager.save(step, args=args, force=True)
            except Exception as error:  # a full disk or a lost mount surface as many types
                raise CheckpointError(
                    f"saving checkpoint {self.path(step)} failed ({_first_line(error)}); the "
                    f"earlier checkpoints are kept: free space under {self.directory} (or point "
                    f"--workdir elsewhere) and run the same command to resume"
                ) from error

    def restore_latest(self, template):
        """``(state, data_state)`` of the latest checkpoint, or None when there is none.

        ``template``: a state of the right structure (the freshly initialised one); what is
        restored must match its every shape and dtype, or CheckpointError names the path.
        """
        step = self.latest_step()
        if step is None:
            return None
        path = self.path(step)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
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
                f"kept: delete it or use another --workdir"
            ) from error
        return restored.state, restored.data

    def close(self) -> None:
        self.manager.close()
