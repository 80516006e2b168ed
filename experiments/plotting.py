"""Figure conventions shared by the experiments: a file backend and one colour per cell."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402

CELL_COLOURS = {"tanh": "tab:red", "irnn": "tab:orange", "lstm": "tab:blue", "gru": "tab:green"}
CELL_LABELS = {"tanh": "tanh RNN", "irnn": "IRNN", "lstm": "LSTM", "gru": "GRU"}

__all__ = ["CELL_COLOURS", "CELL_LABELS", "plt"]
