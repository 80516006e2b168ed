"""Figure conventions shared by the experiments (a file backend, one colour per cell) and the
saving of a run's results with its figures."""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

from nets.training.workdir import json_bytes, write_outputs  # noqa: E402

CELL_COLOURS = {
    "tanh": "tab:red",
    "irnn": "tab:orange",
    "lstm": "tab:blue",
    "gru": "tab:green",
    "exprnn": "tab:brown",
    "lru": "black",
}
CELL_LABELS = {
    "tanh": "tanh RNN",
    "irnn": "IRNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "exprnn": "expRNN",
    "lru": "LRU",
}


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes (then closed, so long sweeps do not leak figures)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def save_run(workdir: Path, results: dict, figures: dict) -> None:
    """Write ``figures`` (name -> matplotlib figure) as PNG and ``results`` as results.json,
    atomically, and say where they went."""
    files = {name: figure_png(figure) for name, figure in figures.items()}
    write_outputs(workdir, {**files, "results.json": json_bytes(results)})
    seconds = results["elapsed_s"]
    print(f"wrote {workdir}/results.json and {len(files)} figures in {seconds:.0f} s")
