"""Time-series forecasting: the shipped series and their windows, the baselines and scores
against hand arithmetic, and the experiment end to end."""

import json

import numpy as np
import pytest

from experiments import forecasting
from experiments.configs import forecasting as forecasting_config
from nets import forecasting as baselines
from nets.data import series as data
from nets.data.registry import load_split


def test_the_shipped_series_are_whole_and_cut_at_their_held_out_part():
    sunspots, co2 = data.load_series("sunspots"), data.load_series("co2")
    assert len(sunspots) == 309 and sunspots[0] == 5.0  # 1700-2008
    assert len(co2) == 2284 and np.isfinite(co2).all()  # 59 missing weeks filled
    assert 310 < co2.min() and co2.max() < 380  # ppm
    arrays = load_split("co2", "test")
    cut = data.train_size(2284)
    count = 2284 - cut - 52 + 1
    assert arrays["inputs"].shape == (count, 104, 1) and arrays["targets"].shape == (count, 52)
    std = co2[:cut].std()  # changes from the last value seen, in the training part's units
    first, last = co2[cut - 104 : cut], co2[-52:]
    np.testing.assert_allclose(arrays["inputs"][0, :, 0], (first - co2[cut - 1]) / std, atol=1e-5)
    np.testing.assert_allclose(arrays["targets"][-1], (last - co2[-53]) / std, atol=1e-5)


def test_windows_and_normalisation_never_read_the_held_out_part():
    values = np.arange(50.0)
    train = data.forecast_arrays(values, "train", window=4, horizon=3)
    changed = values.copy()
    changed[data.train_size(50) :] = 1e6  # the held-out part changes nothing in training
    np.testing.assert_array_equal(
        train["inputs"], data.forecast_arrays(changed, "train", 4, 3)["inputs"]
    )
    assert train["origins"][-1] + 3 == data.train_size(50)  # the last target ends at the cut
    std = np.arange(40.0).std()  # the first origin is 4: its last value seen is 3
    np.testing.assert_allclose(train["targets"][0], (np.arange(4, 7) - 3) / std, rtol=1e-6)
    np.testing.assert_allclose(train["inputs"][0, :, 0], (np.arange(4) - 3) / std, rtol=1e-6)
    normaliser = data.Normaliser.fit(values)  # forecasts come back in the series' units
    np.testing.assert_allclose(
        normaliser.invert(train["targets"][:1], np.array([3.0])), [[4, 5, 6]]
    )


@pytest.mark.parametrize(
    "values, horizon, message",
    [
        (
            np.array([1.0, np.nan, 3.0] * 20),
            2,
            "20 missing or infinite values \\(the first at index 1\\)",
        ),
        (np.arange(50.0), 11, "horizon 11 is longer than the held-out part"),
        (np.arange(50.0).reshape(5, 10), 2, "must be 1-D"),
        (np.full(60, 3.0), 2, "standard deviation 0: a constant series"),
    ],
)
def test_bad_series_are_refused(values, horizon, message):
    with pytest.raises(ValueError, match=message):
        data.forecast_arrays(values, "test", window=4, horizon=horizon)


def test_naive_forecasts_and_scores_by_hand():
    values = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0])
    origins = np.array([4, 5])
    np.testing.assert_array_equal(baselines.persistence(values, origins, 2), [[8, 8], [5, 5]])
    # period 2: y_{o+h} from y_{o+h-2}; h = 2 reaches back 4
    np.testing.assert_array_equal(
        baselines.seasonal_naive(values, origins, 3, 2), [[2, 8, 2], [8, 5, 8]]
    )
    forecasts, truth = np.array([[6.0, 6.0], [5.0, 1.0]]), np.array([[5.0, 7.0], [7.0, 3.0]])
    scores = baselines.forecast_scores(forecasts, truth, history=values[:4])
    scale = (3 + 2 + 6) / 3  # mean |y_t - y_{t-1}| over the history
    assert scores["one_step"]["mae"] == pytest.approx((1 + 2) / 2)
    assert scores["one_step"]["rmse"] == pytest.approx(np.sqrt((1 + 4) / 2))
    assert scores["horizon"]["mae"] == pytest.approx((1 + 1 + 2 + 2) / 4)
    assert scores["horizon"]["mase"] == pytest.approx(1.5 / scale)
    # a forecast never reads its own future: origin 0 has no last value, origin 1 no period
    for call, message in [
        (lambda: baselines.persistence(values, np.array([0, 4]), 2), r"origin 0: .* in 1..7"),
        (lambda: baselines.seasonal_naive(values, np.array([1]), 2, 2), r"y\[o - 2:o\]"),
        (lambda: baselines.persistence(values, np.array([8]), 2), "origin 8"),
        (lambda: baselines.persistence(values, np.array([4]), 0), "horizon must be a positive"),
        (lambda: baselines.seasonal_naive(values, origins, 2, 0), "period must be a positive"),
        (lambda: baselines.persistence(values, np.array([4.0]), 2), "integer time indices"),
        (lambda: baselines.forecast_scores(forecasts, truth[:, :1], values), r"\(2, 2\) and"),
        (lambda: baselines.forecast_scores(forecasts, truth, np.ones(5)), "not all equal"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_arima_forecasts_from_each_origin_with_the_parameters_fixed():
    rng = np.random.default_rng(0)
    values = np.zeros(300)
    for t in range(1, 300):  # AR(1), phi = 0.8
        values[t] = 0.8 * values[t - 1] + rng.normal()
    origins = np.array([250, 260, 290])
    forecasts, fit = baselines.arima(values, origins, 3, 240, orders=((1, 0, 0), (3, 0, 0)))
    assert fit["order"] == [1, 0, 0] and fit["aic"] == min(fit["aics"].values())
    # an AR(1) without constant forecasts phi^h y_{o-1}: the same phi from every origin
    phi = forecasts[:, 0] / values[origins - 1]
    np.testing.assert_allclose(phi, phi[0], rtol=1e-6)
    assert 0.7 < phi[0] < 0.9
    np.testing.assert_allclose(forecasts[:, 2], phi**3 * values[origins - 1], rtol=1e-6)


@pytest.mark.slow
def test_forecasting_experiment_scores_models_beside_the_baselines(tmp_path):
    results = forecasting.run(forecasting_config.get_config("tiny"), str(tmp_path))
    sunspots = results["series"]["sunspots"]
    assert sunspots["origins"] == 309 - data.train_size(309) - 11 + 1
    labels = set(sunspots["scores"])
    assert {"persistence", "seasonal naive (m=11)", "LSTM", "GRU"} < labels
    assert any(label.startswith("ARIMA(") for label in labels)
    for score in sunspots["scores"].values():
        assert score["one_step"]["rmse"] >= score["one_step"]["mae"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["anchor"] == forecasting.ANCHOR
    assert (tmp_path / "forecasts.png").stat().st_size > 10_000
