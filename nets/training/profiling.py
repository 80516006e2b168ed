"""A ``jax.profiler`` trace of chosen training steps: ``--config.profile_steps=a:b``.

The steps a, a + 1, ..., b - 1 (a Python slice, counted from 1 like the logged steps) are
traced into ``workdir/profile/plugins/profile/<time>/``: ``*.xplane.pb`` for TensorBoard's
profile plugin (``tensorboard --logdir workdir/profile``, or xprof) and
``perfetto_trace.json.gz`` for https://ui.perfetto.dev. Each step is annotated as 'train' with
its number, so the trace viewer shows step boundaries. The trace ends after step b - 1 has
finished on the device (not only been dispatched), so its device work is inside.
"""

from pathlib import Path

import jax

PROFILE_DIR = "profile"


def parse_steps(steps: str, num_steps: int) -> tuple[int, int] | None:
    """(a, b) of 'a:b' with 1 <= a < b <= num_steps + 1, or None for ''; anything else raises
    ValueError naming config.profile_steps."""
    if not steps:
        return None
    first, _, stop = str(steps).partition(":")
    try:
        first, stop = int(first), int(stop)
    except ValueError:
        first = stop = None
    if first is None or not 1 <= first < stop <= num_steps + 1:
        raise ValueError(
            f"config.profile_steps must be 'a:b' with 1 <= a < b <= num_steps + 1 "
            f"({num_steps + 1}) to trace steps a..b-1, got {steps!r}"
        )
    return first, stop


class Profile:
    """Starts the trace before step a and stops it after step b - 1 (or when the loop ends,
    however it ends); does nothing for ''. A context manager around the loop."""

    def __init__(self, steps: str, workdir, num_steps: int):
        self.steps = parse_steps(steps, num_steps)
        self.directory = Path(workdir) / PROFILE_DIR
        self.active = False

    def __enter__(self) -> "Profile":
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            self._stop()

    def before(self, step: int) -> None:
        """Called before step ``step`` is dispatched (a resumed run starts mid-range too)."""
        if self.steps and not self.active and self.steps[0] <= step < self.steps[1]:
            self.directory.mkdir(parents=True, exist_ok=True)
            jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True)
            self.active = True

    def after(self, step: int, outputs) -> None:
        """Called after step ``step`` was dispatched, with what it returned."""
        if self.active and step == self.steps[1] - 1:
            jax.block_until_ready(outputs)  # the device's work, not only its dispatch
            self._stop()

    def _stop(self) -> None:
        jax.profiler.stop_trace()
        self.active = False
