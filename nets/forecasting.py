"""Forecasting baselines and scores: what a recurrent forecaster has to beat.

    forecasts = persistence(series, origins, horizon)          # [N, horizon]
    forecasts = seasonal_naive(series, origins, horizon, period=11)
    forecasts, fit = arima(series, origins, horizon, train_size, orders=((2, 0, 0), (9, 0, 0)))
    scores = forecast_scores(forecasts, truth, history=series[:train_size])

Every forecast from origin o uses only y[:o]:

- persistence: y^_{o+h} = y_{o-1} for every h (the last value, the "naive" method);
- seasonal naive: y^_{o+h} = y_{o+h-m*k}, the value one period m back (k the fewest whole
  periods that reach before o);
- ARIMA(p, d, q) fitted by maximum likelihood with statsmodels on the training part only,
  the order chosen by AIC among ``orders``; optional regressors (Fourier terms of the season
  for a long period, ``fourier_terms``: dynamic harmonic regression, Hyndman & Athanasopoulos,
  FPP3 section 12.1, since a seasonal ARIMA with m = 52 is impractical). The fitted
  parameters are then held fixed and each forecast is made from the data before its origin
  (``results.apply``: filtered, not refitted).

Scores over all forecasts (in the series' units): RMSE, MAE and MASE = MAE / (in-sample MAE
of the one-step naive forecast on the training part) (Hyndman & Koehler 2006): below 1, the
forecast beats what persistence did one step ahead on the history.
"""

import numpy as np

from nets.checks import check_positive


def _checked(series, origins, horizon: int, history: int) -> tuple[np.ndarray, np.ndarray]:
    """``series`` [T] and ``origins`` [N] as arrays, refused unless every origin o has the
    ``history`` values y[o - history:o] it reads and lies within the series (no forecast may
    read y[o:], its own future: a negative index would wrap round to the series' end)."""
    check_positive("horizon", horizon)
    series, origins = np.asarray(series), np.asarray(origins)
    if series.ndim != 1:
        raise ValueError(f"series must be 1-D [T], got shape {series.shape}")
    if origins.ndim != 1 or not np.issubdtype(origins.dtype, np.integer):
        raise ValueError(f"origins must be 1-D integer time indices, got {origins.dtype} "
                         f"{origins.shape}")  # fmt: skip
    early = origins[(origins < history) | (origins > len(series))]
    if early.size:
        raise ValueError(f"origin {early[0]}: a forecast from origin o reads y[o - {history}:o], "
                         f"so origins must be in {history}..{len(series)}")  # fmt: skip
    return series, origins


def _indices(origins: np.ndarray, horizon: int) -> np.ndarray:
    """[N, horizon] time indices o + h for h = 0..horizon-1."""
    return np.asarray(origins)[:, None] + np.arange(horizon)[None, :]


def persistence(series: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """y_{o-1} repeated over the horizon: [N, horizon] (origins from 1)."""
    series, origins = _checked(series, origins, horizon, 1)
    return np.repeat(series[origins - 1][:, None], horizon, axis=1)


def seasonal_naive(series: np.ndarray, origins: np.ndarray, horizon: int, period: int):
    """y_{o+h-m*k}, k = ceil((h+1)/m): the same point of the season in the last period before
    the origin: [N, horizon] (origins from one whole period)."""
    check_positive("period", period)
    series, origins = _checked(series, origins, horizon, period)
    targets = _indices(origins, horizon)
    back = period * ((np.arange(horizon) // period) + 1)
    return series[targets - back[None, :]]


def fourier_terms(length: int, period: float, harmonics: int) -> np.ndarray:
    """[length, 2 * harmonics] regressors sin(2 pi k t / period), cos(2 pi k t / period)."""
    t = np.arange(length)[:, None] * np.arange(1, harmonics + 1)[None, :] * 2 * np.pi / period
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def arima(
    series: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    train_size: int,
    orders,
    exog: np.ndarray | None = None,
    trend: str = "n",
):
    """ARIMA forecasts [N, horizon] from each origin and a summary of the fit ({'order', 'aic',
    'aics'}): the order of least AIC among ``orders``, fitted on ``series[:train_size]``."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fits = {}
    with warnings.catch_warnings():  # convergence chatter of the orders AIC rejects
        warnings.simplefilter("ignore")
        for order in orders:
            train_exog = None if exog is None else exog[:train_size]
            model = SARIMAX(series[:train_size], exog=train_exog, order=tuple(order), trend=trend)
            fits[tuple(order)] = model.fit(disp=False)
    order = min(fits, key=lambda o: fits[o].aic)
    whole = fits[order].apply(series, exog=exog)  # the fitted parameters, all the data
    forecasts = np.stack(
        [
            whole.get_prediction(start=o, end=o + horizon - 1, dynamic=True).predicted_mean
            for o in np.asarray(origins)
        ]
    )
    aics = {str(o): float(f.aic) for o, f in fits.items()}
    return forecasts, {"order": list(order), "aic": float(fits[order].aic), "aics": aics}


def forecast_scores(forecasts: np.ndarray, truth: np.ndarray, history: np.ndarray) -> dict:
    """RMSE, MAE and MASE of ``forecasts`` [N, horizon] against ``truth`` [N, horizon], one
    step ahead (the first column) and over the whole horizon; ``history`` is the training
    part that scales MASE (at least two values, not all equal)."""
    forecasts, truth = np.asarray(forecasts), np.asarray(truth)
    if forecasts.ndim != 2 or forecasts.shape != truth.shape:
        raise ValueError(f"forecasts and truth must both be [N, horizon], got shapes "
                         f"{forecasts.shape} and {truth.shape}")  # fmt: skip
    scale = np.mean(np.abs(np.diff(history))) if len(history) > 1 else 0.0
    if not scale > 0:
        raise ValueError("history: MASE's scale (the naive forecast's in-sample mean absolute "
                         "error) needs two values or more that are not all equal")  # fmt: skip
    scores = {}
    for name, columns in (("one_step", slice(0, 1)), ("horizon", slice(None))):
        errors = forecasts[:, columns] - truth[:, columns]
        mae = float(np.mean(np.abs(errors)))
        scores[name] = {
            "rmse": float(np.sqrt(np.mean(errors**2))),
            "mae": mae,
            "mase": mae / scale,
        }
    return scores
