"""Experiment scripts: thin wiring of ``nets`` pieces, run with ``python -m experiments.<name>``."""

import os
import signal
import sys


def _interrupted(*_):
    print("interrupted; every file written is complete (a run resumes from its last "
          "checkpoint)", file=sys.stderr, flush=True)  # fmt: skip
    os._exit(130)


# Run as a script (``python -m`` sets argv[0] to '-m' while the package is imported), Ctrl-C
# is one line and status 130 at any moment. Python's KeyboardInterrupt is not enough: raised
# inside a garbage-collection callback (JAX has one) it is printed and ignored, and the run
# goes on to finish with status 0. Files are written whole (a temporary name, then a rename),
# so exiting at once leaves none half-written; training replaces this handler with its own,
# which saves a checkpoint first (nets.training.preemption).
if sys.argv[:1] == ["-m"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted)
# grain's worker processes leave their last shared-memory buffers for multiprocessing's
# resource tracker to unlink when the run exits (it does, on every exit but a kill -9 of the
# whole process group), and the tracker warns about each on stderr: two lines after a run's
# last one. Its process takes its warning filters from these options.
if sys.argv[:1] == ["-m"]:
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
