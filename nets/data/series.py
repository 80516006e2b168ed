"""Real time series that ship inside ``statsmodels`` (no download), cut into forecasting windows.

    series = load_series("sunspots")            # [309] yearly sunspot numbers, 1700-2008
    arrays = forecast_arrays(series, "test")    # inputs [N, window, 1], targets [N, horizon]

Each series keeps its last ``HELD_OUT`` part for the test split. A forecast from origin o
reads the ``window`` values before it and predicts the next ``horizon``:

    inputs = y[o - window : o],   targets = y[o : o + horizon]

Training origins have their whole target inside the training part; test origins are every o
in the held-out part with o + horizon <= len(y) (a rolling origin: the inputs may reach back
into the training part, as they would for anyone forecasting with the history they have).

The network reads and predicts changes from the last value it has seen, in units of the
training part's standard deviation s (``Normaliser``: nothing of the test part leaks in):

    inputs = (y[o - window : o] - y[o-1]) / s,   targets = (y[o : o + horizon] - y[o-1]) / s

so a forecast is y[o-1] + s * output, an output of zero is the persistence forecast, and a
trending series stays in the range training saw (CO2 rises by about 1.5 ppm a year: its
held-out values lie above every training value, where a network fed raw levels has never
been and extrapolates badly).

``SERIES``: 'sunspots' (yearly 1700-2008, period ~11 years, the Schwabe cycle) and 'co2'
(Mauna Loa CO2 in ppm, weekly from March 1958 to December 2001, period 52 weeks). The weekly
CO2 record has 59 missing weeks (instrument gaps); they are filled by linear interpolation
between the neighbouring weeks, the standard treatment of short gaps. A series of your own
with missing values is refused by ``check_series`` (fill it first: which filling is right
depends on why the values are missing).
"""

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from nets.checks import check_choice, check_positive

HELD_OUT = 0.2  # the last fifth of each series is the test part


def _sunspots() -> np.ndarray:
    import statsmodels.api as sm

    return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)


def _co2() -> np.ndarray:
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.interpolate(method="linear").to_numpy(np.float64)  # 59 missing weeks


@dataclasses.dataclass(frozen=True)
class Series:
    """A shipped series: how to read it, its seasonal period (the seasonal naive forecast
    repeats the value one period back), its default window and horizon, and its unit."""

    read: Callable[[], np.ndarray]
    period: int
    window: int
    horizon: int
    unit: str
    step: str


SERIES = {
    "sunspots": Series(_sunspots, period=11, window=22, horizon=11, unit="sunspots", step="year"),
    "co2": Series(_co2, period=52, window=104, horizon=52, unit="ppm", step="week"),
}


@functools.cache
def _read(name: str) -> np.ndarray:
    values = SERIES[name].read()
    values.setflags(write=False)  # shared by every caller
    return values


def load_series(name: str) -> np.ndarray:
    """The values of a shipped series, float64, read-only."""
    check_choice("series", name, SERIES)
    return _read(name)


def check_series(values: np.ndarray) -> np.ndarray:
    """``values`` as a 1-D float64 array; missing or infinite values are an error naming how
    many and where the first is."""
    values = np.asarray(values, np.float64)
    if values.ndim != 1:
        raise ValueError(f"a series must be 1-D [time], got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise ValueError(
            f"the series has {len(bad)} missing or infinite values (the first at index "
            f"{bad[0]}); fill them before forecasting"
        )
    return values


def train_size(length: int) -> int:
    """How many values of a series of ``length`` form its training part."""
    return length - round(HELD_OUT * length)


@dataclasses.dataclass(frozen=True)
class Normaliser:
    """Changes from the last value before each origin, in units of the training part's
    standard deviation (the module docstring)."""

    std: float

    @classmethod
    def fit(cls, values: np.ndarray) -> "Normaliser":
        std = float(values[: train_size(len(values))].std())
        if not std > 0:  # a constant (or NaN) training part would divide by zero
            raise ValueError(f"the series' training part has standard deviation {std:g}: a "
                             "constant series has nothing to forecast in its units")  # fmt: skip
        return cls(std)

    def __call__(self, values: np.ndarray, last: np.ndarray) -> np.ndarray:
        """values [N, k] seen from origins whose last values are ``last`` [N]."""
        return (values - last[:, None]) / self.std

    def invert(self, outputs: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Forecasts [N, horizon] in the series' units from the network's outputs."""
        return last[:, None] + outputs * self.std


def origins(length: int, split: str, window: int, horizon: int) -> np.ndarray:
    """The forecast origins of a split (the module docstring's rule)."""
    check_positive("window", window)
    check_positive("horizon", horizon)
    cut = train_size(length)
    if horizon > length - cut:
        raise ValueError(
            f"horizon {horizon} is longer than the held-out part ({length - cut} values)"
        )
    if window + horizon > cut:
        raise ValueError(
            f"window {window} + horizon {horizon} do not fit in the training part ({cut} values)"
        )
    if split == "train":
        return np.arange(window, cut - horizon + 1)
    return np.arange(cut, length - horizon + 1)


def forecast_arrays(values: np.ndarray, split: str, window: int, horizon: int) -> dict:
    """{'inputs' [N, window, 1], 'targets' [N, horizon], 'origins' [N]} of a split, as changes
    from each origin's last value (``Normaliser``)."""
    check_choice("split", split, ("train", "test"))
    values = check_series(values)
    starts = origins(len(values), split, window, horizon)
    normalise = functools.partial(Normaliser.fit(values), last=values[starts - 1])
    windows = np.stack([values[o - window : o] for o in starts])
    targets = np.stack([values[o : o + horizon] for o in starts])
    return {
        "inputs": normalise(windows)[..., None].astype(np.float32),
        "targets": normalise(targets).astype(np.float32),
        "origins": starts.astype(np.int32),
    }
