"""A training loop's steady state: what it must not do between log intervals, made checkable.

On an accelerator the host queues steps ahead of the device; two things silently serialise
them. A device-to-host transfer (a ``float(loss)``, an ``int(state.step)``, a NumPy call on a
device array) makes the host wait for the step that produces it. A compilation (a new shape,
dtype or static argument reaching a jitted function) stops everything for seconds. Both
drivers run their steps inside ``steady()``: a device-to-host transfer there raises at once,
naming the line, and ``Compilations`` counts what is compiled, so a loop can say when a step
compiled again after its first.
"""

import contextlib
import logging
import threading
import warnings

import jax
from jax import monitoring

# fired once per program lowered to XLA (a jit cache miss), with the function's name; a program
# then served by the persistent compilation cache is still lowered, so it still counts
LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"

log = logging.getLogger(__name__)
_open: list[list[str]] = []  # the programs of every open Compilations, innermost last
_lock = threading.Lock()


def _record(event: str, duration: float, **kwargs) -> None:
    del duration
    if event == LOWERING_EVENT:
        with _lock:
            for programs in _open:
                programs.append(kwargs.get("fun_name", "?"))


monitoring.register_event_duration_secs_listener(_record)


class RecompilationWarning(UserWarning):
    """A training step compiled again after its loop's first step (or block of steps)."""


class Compilations:
    """The names of the programs JAX compiles while it is open, in order (a context manager;
    several may be open at once, each sees every compilation).

        with Compilations() as compiled:
            step(state, batch)
        compiled.programs  # ['jit(train_step)'] the first time, [] after
    """

    def __init__(self):
        self.programs: list[str] = []

    def __enter__(self) -> "Compilations":
        with _lock:
            _open.append(self.programs)
        return self

    def __exit__(self, *exc) -> None:
        with _lock:
            _open.remove(self.programs)

    def since(self, count: int) -> list[str]:
        """The programs compiled after the first ``count``."""
        return self.programs[count:]


@contextlib.contextmanager
def steady():
    """Device-to-host transfers raise inside (host-to-device ones, the batches, are allowed);
    code that means to read results back opens ``jax.transfer_guard_device_to_host('allow')``."""
    with jax.transfer_guard_device_to_host("disallow"):
        yield


def warn_recompiled(where: str, programs: list[str]) -> None:
    """Log and warn (``RecompilationWarning``) that ``where`` ('step 40') compiled ``programs``
    after the loop's first step."""
    message = (
        f"{where} compiled {', '.join(programs)} after the loop's first step: something "
        "reaching it changed shape, dtype or a static argument"
    )
    log.warning(message)
    warnings.warn(message, RecompilationWarning, stacklevel=2)
