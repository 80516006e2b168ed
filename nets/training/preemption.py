"""Preemption: SIGTERM (what SLURM, Kubernetes and TPU maintenance send before they kill a job)
and SIGINT (Ctrl-C) become a request that the run driver honours after its current step: it
saves that step, says so, and exits with the signal's status; the same command resumes it."""

import contextlib
import signal
import threading
from pathlib import Path


class Preempted(Exception):
    """SIGTERM (a cluster's preemption notice) or SIGINT stopped the run after it saved the step
    it was on; the same command resumes it from there."""

    def __init__(self, signal_number: int, step: int, path: Path):
        self.exit_status = 128 + signal_number  # what the signal itself would have given
        name = signal.Signals(signal_number).name
        super().__init__(f"{name} at step {step}: saved {path}; run the same command to resume")


@contextlib.contextmanager
def stop_requests():
    """Inside the block SIGTERM and SIGINT append their number to the yielded list instead of
    ending the process, so the loop can finish its step and save first."""
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return
    wanted = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, lambda number, _: received.append(number)) for s in wanted}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
