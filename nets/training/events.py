"""TensorBoard event files beside ``metrics.jsonl``, so ``tensorboard --logdir runs/`` shows
every run (one run per work directory).

Written with tensorboardX, which needs neither TensorFlow nor PyTorch (numpy and protobuf only).
Scalars go under ``train/`` (each logging interval's mean loss, accuracy, gradient norm,
learning rate and steps/s, at the interval's last step) and ``test/`` (the final evaluation);
figures are images. A resumed run's writer starts with a purge at the first step of the
metrics it kept (``purge_from``) and logs those rows again: TensorBoard drops whatever the
interrupted run had logged (or lost: tensorboardX's ``flush`` does not drain its writer
thread's queue, so a kill -9 can take the last rows with it) and shows each step once, as
metrics.jsonl does. Only process 0 of a multi-process job writes.
"""

import uuid
from pathlib import Path

import jax


class EventLog:
    """The TensorBoard log of the run in ``workdir``; ``purge_from``: the first step whose
    earlier events are dropped (a resume's)."""

    def __init__(self, workdir: Path, purge_from: int | None = None):
        self.writer = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter

            purge = purge_from
            # tensorboardX names a file by the second it opens: two writers opened within one
            # second (training's, then the figures') would share it, the second truncating it
            unique = f".{uuid.uuid4().hex[:8]}"
            self.writer = SummaryWriter(str(workdir), purge_step=purge, filename_suffix=unique)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        """Each ``name: value`` as the scalar ``prefix/name`` at ``step``, flushed (what the
        writer thread has taken from its queue reaches the disk)."""
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)
            self.writer.flush()

    def figure(self, tag: str, figure, step: int) -> None:
        """A matplotlib ``figure`` as the image ``tag`` at ``step`` (the figure stays open)."""
        if self.writer is not None:
            self.writer.add_figure(tag, figure, step, close=False)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
