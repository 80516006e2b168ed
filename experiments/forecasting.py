"""Time-series prediction: do recurrent forecasters beat the simple methods on short real series?

    python -m experiments.forecasting --workdir runs/forecasting

For each series of ``config.series`` (yearly sunspots, weekly Mauna Loa CO2: they ship inside
statsmodels), trains each model of ``config.compare`` (LSTM, GRU) with the run driver (each in
--workdir/<model>_<series>/, checkpointed and resumable), forecasts the held-out part from
every origin, and scores it beside the baselines of ``nets.forecasting`` computed on the same
split: persistence, the seasonal naive forecast and ARIMA. RMSE, MAE and MASE one step ahead
and over the whole horizon, in the series' units. Writes results.json and forecasts.png (the
one-step forecasts against the truth, and every model's multi-step forecast from one origin).

The forecasting literature warns that simple statistical methods often beat neural networks
on short series (Makridakis, Spiliotis and Assimakopoulos 2018, on the M3 series): the table
says where ours wins and where ARIMA does.
"""

import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import cli
from experiments.configs import compared_run
from experiments.plotting import plt, save_run
from nets.data.registry import load_split, variant
from nets.data.series import SERIES, Normaliser, load_series, origins, train_size
from nets.forecasting import arima, forecast_scores, fourier_terms, persistence, seasonal_naive
from nets.training.config import validate_training
from nets.training.run_driver import predict, train
from nets.training.workdir import prepare_workdir, run_header

ANCHOR = (
    "Makridakis et al. 2018 (M3): statistical methods beat machine-learning ones on short "
    "series by every accuracy measure"
)
LABELS = {"lstm": "LSTM", "gru": "GRU", "tanh": "tanh RNN"}
EXPERIMENT_FIELDS = ("series", "compare", "arima")


def model_run(config: ml_collections.ConfigDict, name: str, series: str):
    """The training config of one compared model on one series."""
    return compared_run(config, name, series, EXPERIMENT_FIELDS)


def model_forecasts(state, arrays: dict, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """[N, horizon] forecasts in the series' units from the origins ``starts``."""
    return Normaliser.fit(values).invert(predict(state, arrays), values[starts - 1])


def baselines(name: str, values: np.ndarray, starts: np.ndarray, config) -> tuple[dict, dict]:
    """The baselines' forecasts [N, horizon] by name, and the ARIMA fit's summary."""
    spec = SERIES[name]
    settings = config.arima[name]
    exog = None
    if settings.harmonics:
        exog = fourier_terms(len(values), 365.25 / 7, settings.harmonics)
    forecasts, fit = arima(
        values,
        starts,
        spec.horizon,
        train_size(len(values)),
        settings.orders,
        exog=exog,
        trend="c" if settings.harmonics else "n",
    )
    label = f"ARIMA{tuple(fit['order'])}" + (" + Fourier" if exog is not None else "")
    return {
        "persistence": persistence(values, starts, spec.horizon),
        f"seasonal naive (m={spec.period})": seasonal_naive(
            values, starts, spec.horizon, spec.period
        ),
        label: forecasts,
    }, fit


def forecast_figure(series: dict):
    figure, axes = plt.subplots(len(series), 2, figsize=(12, 3.6 * len(series)), squeeze=False)
    for (left, right), (name, run) in zip(axes, series.items(), strict=True):
        spec = SERIES[name]
        values, starts = np.array(run["values"]), np.array(run["origins"])
        shown = np.arange(starts[0] - 2 * spec.horizon, len(values))
        for ax in (left, right):
            ax.plot(shown, values[shown], color="black", linewidth=1.2, label="truth")
            ax.axvline(starts[0], color="grey", linestyle=":")
            ax.set_xlabel(f"{spec.step}s since the start of the series")
            ax.set_ylabel(spec.unit)
            ax.grid(alpha=0.3)
        middle = len(starts) // 2
        for label, forecasts in run["forecasts"].items():
            forecasts = np.array(forecasts)
            left.plot(starts, forecasts[:, 0], linewidth=1, label=label)
            steps = starts[middle] + np.arange(spec.horizon)
            right.plot(steps, forecasts[middle], linewidth=1.2, label=label)
        left.set_title(f"{name}: one-step forecasts over the held-out part")
        right.set_title(f"{name}: {spec.horizon}-{spec.step} forecasts from one origin")
        right.set_xlim(starts[middle] - 2 * spec.horizon, starts[middle] + spec.horizon)
        left.legend(fontsize=7)
    figure.tight_layout()
    return figure


def validate(config: ml_collections.ConfigDict) -> None:
    if not config.get("compare"):
        raise ValueError("config.compare names no model to train")
    if not config.get("series"):
        raise ValueError("config.series names no series")
    for name in config.series:
        if name.partition("/")[0] not in config.arima:
            raise ValueError(f"config.arima has no orders for series {name!r}")
        for model in config.compare:  # every model and series is known before any training
            validate_training(model_run(config, model, name), jax.device_count())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    results, shown = {}, {}
    for data in config.series:
        name = data.partition("/")[0]
        spec, values = SERIES[name], load_series(name)
        starts = origins(len(values), "test", variant(data, spec.window), spec.horizon)
        truth = values[starts[:, None] + np.arange(spec.horizon)]
        history = values[: train_size(len(values))]
        forecasts, fit = baselines(name, values, starts, config)
        test = load_split(data, "test")
        for model in config.compare:
            print(f"training {LABELS.get(model, model)} on {data}", file=sys.stderr)
            outcome = train(model_run(config, model, data), workdir / f"{model}_{name}")
            forecasts[LABELS.get(model, model)] = model_forecasts(
                outcome["state"], test, values, starts
            )
        scores = {label: forecast_scores(f, truth, history) for label, f in forecasts.items()}
        results[name] = {"origins": len(starts), "arima": fit, "scores": scores}
        shown[name] = {
            "values": values.tolist(),
            "origins": starts.tolist(),
            "forecasts": {label: f.tolist() for label, f in forecasts.items()},
        }
        print(f"\n{name}: {len(starts)} held-out origins, horizon {spec.horizon} {spec.step}s")
        print(f"  {'model':<28}{'1-step RMSE':>12}{'MASE':>7}{'horizon RMSE':>14}{'MASE':>7}")
        for label, score in scores.items():
            one, whole = score["one_step"], score["horizon"]
            print(
                f"  {label:<28}{one['rmse']:12.2f}{one['mase']:7.2f}"
                f"{whole['rmse']:14.2f}{whole['mase']:7.2f}"
            )
    print(f"  published: {ANCHOR}")
    summary = {**run_header("forecasting", config, start), "series": results, "anchor": ANCHOR}
    save_run(workdir, summary, {"forecasts.png": forecast_figure(shown)})
    return summary


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "forecasting.py"), "runs/forecasting")
