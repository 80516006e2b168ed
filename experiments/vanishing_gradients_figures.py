"""The vanishing-gradient experiment's three figures, from its results records."""

import numpy as np

from experiments.plotting import CELL_COLOURS as COLOURS
from experiments.plotting import CELL_LABELS as LABELS
from experiments.plotting import plt

STAGES = (("init", "at initialisation"), ("trained", "after short training"))


def _geometric_mean_over_seeds(per_step) -> np.ndarray:
    """[seeds, T] -> [T]; a step where any seed underflowed to 0 is left out of the plot."""
    per_step = np.asarray(per_step, np.float64)
    with np.errstate(divide="ignore"):
        logs = np.log(per_step)
    return np.where(np.all(per_step > 0, axis=0), np.exp(logs.mean(axis=0)), np.nan)


# each state nets.gradients measures: its line style and symbol (x_t: the LRU's complex state)
STATES = {"h": ("-", "h_t"), "c": (":", "C_t"), "x": ("-", "x_t")}


def _components(record: dict, stage: str = "init"):
    """(name, line style, symbol) of each state measured in ``record`` (h_t, C_t, x_t)."""
    return [(name, *STATES[name]) for name in record[stage]]


def gradient_decay(sweep: list, length: int):
    """||dL/dh_{T-k}|| against k at one (long) T, one line per cell, log y."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    records = [r for r in sweep if r["length"] == length]
    for ax, (stage, title) in zip(axes, STAGES, strict=True):
        for r in records:
            if stage not in r:
                continue
            for component, style, symbol in _components(r, stage):
                norms = _geometric_mean_over_seeds(r[stage][component]["per_step"])
                k = np.arange(len(norms))[::-1]  # step t = T - k
                ax.plot(
                    k,
                    norms,
                    style,
                    color=COLOURS.get(r["cell"]),
                    label=f"{LABELS.get(r['cell'], r['cell'])} {symbol}",
                )
        ax.set_yscale("log")
        ax.set_xlabel("k (steps back from the loss at step T)")
        ax.set_title(f"T = {length}, {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"$\|\partial L / \partial h_{T-k}\|$ (geometric mean over seeds)")
    axes[0].legend()
    figure.suptitle("Gradient decay through time on the adding problem")
    return figure


def ratio_vs_length(sweep: list):
    """||dL/dh_1|| / ||dL/dh_T|| against T, log-log, one line per cell."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    cells = list(dict.fromkeys(r["cell"] for r in sweep))
    for ax, (stage, title) in zip(axes, STAGES, strict=True):
        for cell in cells:
            records = sorted(
                (r for r in sweep if r["cell"] == cell and stage in r), key=lambda r: r["length"]
            )
            for component, style, symbol in _components(records[0], stage) if records else ():
                lengths = [r["length"] for r in records]
                ratios = [r[stage][component]["ratio_geometric_mean"] or np.nan for r in records]
                ax.plot(
                    lengths,
                    ratios,
                    style,
                    marker="o",
                    color=COLOURS.get(cell),
                    label=f"{LABELS.get(cell, cell)} {symbol}",
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"$\|\partial L/\partial h_1\| \,/\, \|\partial L/\partial h_T\|$")
    axes[0].legend()
    figure.suptitle("How much gradient reaches the first step (missing: exactly 0 in float64)")
    return figure


def spectral_norm(spectral: list):
    """tanh RNN, W_h = sigma Q: ||dL/dh_{T-k}|| / ||dL/dh_T|| against k, with sigma^k dashed."""
    figure, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.cm.coolwarm(np.linspace(0, 1, len(spectral)))
    for record, colour in zip(spectral, colours, strict=True):
        per_step = np.asarray(record["h"]["per_step"], np.float64)
        relative = _geometric_mean_over_seeds(per_step / per_step[:, -1:])
        k = np.arange(len(relative))[::-1]
        sigma = record["sigma"]
        ax.plot(k, relative, color=colour, label=rf"$\sigma$ = {sigma}")
        ax.plot(k, float(sigma) ** k, "--", color=colour, alpha=0.5, linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("k (steps back)")
    ax.set_ylabel(r"$\|\partial L/\partial h_{T-k}\| \,/\, \|\partial L/\partial h_T\|$")
    ax.set_title(rf"tanh RNN, $W_h = \sigma Q$, T = {spectral[0]['length']} (dashed: $\sigma^k$)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return figure
