"""TensorBoard event files beside ``metrics.jsonl``, so ``tensorboard --logdir runs/`` shows
every run (one run per work directory).

Written with tensorboardX, which needs neither TensorFlow nor PyTorch (numpy and protobuf only).
Scalars go under ``train/`` (each logging interval's mean loss, accuracy, gradient norm,
learning rate and steps/s, at the interval's last step) and ``test/`` (the final evaluation);
figures are images. A resumed run redoes the steps after its checkpoint: its writer starts
with a purge at the first of them, so TensorBoard drops what the interrupted run had logged
from there on and shows each step once. Only process 0 of a multi-process job writes.
"""

import uuid
from pathlib import Path

import jax


class EventLog:
    """The TensorBoard log of the run in ``workdir``; ``resumed_from`` the checkpoint's step."""

    def __init__(self, workdir: Path, resumed_from: int | None = None):
        self.writer = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter

            purge = None if resumed_from is None else resumed_from + 1
            # tensorboardX names a file by the second it opens: two writers opened within one
            # second (training's, then the figures') would share it, the second truncating it
            unique = f".{uuid.uuid4().hex[:8]}"
            self.writer = SummaryWriter(str(workdir), purge_step=purge, filename_suffix=unique)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        """Each ``name: value`` as the scalar ``prefix/name`` at ``step``, on disk when this
        returns (as metrics.jsonl's line is): a killed run keeps every interval it logged."""
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
