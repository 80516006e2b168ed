"""Regenerate every figure and table of the README into one folder, and check its numbers.

    python scripts/reproduce.py [--profile quick|full] [--out runs/reproduce] [--only a,b]

Each experiment runs in its own process with the command the README names, writing into
OUT/<name>/ (results.json, its figures, and what it printed in stdout.txt); its wall time is
printed when it ends. Each number the README shows is then read back from the results.json and
compared with the README's value (``EXPERIMENTS``: the value, how the README prints it, and the
tolerance); OUT/numbers.md tables them. The exit status is 1 if an experiment failed or a
number left its tolerance.

Profiles: 'quick' (about 35 minutes on a 2-core CPU) regenerates every figure and every number
the README measured with the experiments' quick profiles and the training configs; 'full' adds
the README's full-profile column (the MNIST-1D anchor at 8,000 steps, 5 minutes more).

Tolerances. A command gives the same numbers every time on one machine with one set of library
versions; on another CPU, XLA sums in another order and a few thousand steps of training carry
that difference into the result. So an accuracy may move by about its seed-to-seed spread: the
tolerance is about twice the spread the README reports, and at least one point; the MSEs of
solved tasks must stay far below the unsolved baseline; gradient ratios, which span hundreds of
decades, may move by half a decade.
"""

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parent.parent


@dataclasses.dataclass(frozen=True)
class Number:
    """One number of the README: ``read`` takes the results.json of the experiment's runs."""

    label: str
    shown: str  # as the README prints it
    documented: float  # in the units ``read`` returns
    tolerance: float  # absolute; in decades (of log10) when ``log``
    read: Callable[[list[dict]], float]
    log: bool = False

    def within(self, value: float) -> bool:
        if self.log:
            return value > 0 and abs(math.log10(value / self.documented)) <= self.tolerance
        return abs(value - self.documented) <= self.tolerance


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    commands: tuple[tuple[str, ...], ...]  # python arguments; each gets --workdir appended
    numbers: tuple[Number, ...]
    profile: str = "quick"  # 'full': run only by --profile full


def log_ratio(cell: str, length: int, component: str = "h", when: str = "init"):
    """||dL/dh_1|| / ||dL/dh_T||, the geometric mean over seeds (vanishing gradients)."""

    def read(runs):
        (row,) = [r for r in runs[0]["sweep"] if (r["cell"], r["length"]) == (cell, length)]
        return row[when][component]["ratio_geometric_mean"]

    return read


def ratio(label: str, shown: str, *reading) -> Number:
    return Number(label, shown, float(shown), 0.5, log_ratio(*reading), log=True)


def row(part: str, key: str, value: str, field: str, scale: float = 100.0, index=None):
    """``field`` (times ``scale``) of the row of ``results[part]`` whose ``key`` is ``value``
    (``value`` 'a/b' matches two keys, model then loss)."""

    def read(runs):
        keys = key.split("/")
        wanted = value.split("/")
        (match,) = [r for r in runs[0][part] if [r[k] for k in keys] == wanted]
        number = match[field] if index is None else match[field][index]
        return scale * number

    return read


def percent(label: str, shown: str, tolerance: float, read) -> Number:
    """An accuracy in percent; ``shown`` as the README prints it, the value first."""
    return Number(label, shown, float(shown.split()[0].rstrip("%")), tolerance, read)


def test_metric(name: str, scale: float = 100.0):
    """The mean over the runs of their final test ``name`` (experiments.train)."""
    return lambda runs: scale * sum(r["test"][name] for r in runs) / len(runs)


def sentiment_accuracy(model: str, distance: int):
    """A model's test accuracy (%) at one longest filler D (experiments.sentiment)."""
    return lambda runs: 100 * runs[0]["models"][model][str(distance)]["accuracy"]


def natural_accuracy(model: str, distance: int):
    """A model's accuracy (%) on the hand-written natural test set (experiments.sentiment)."""
    return lambda runs: 100 * runs[0]["models"][model][str(distance)]["natural"]["accuracy"]


def translation_accuracy(model: str, data: str, decoding: str = "greedy"):
    """A model's exact-sequence accuracy (%) on a task (experiments.translation)."""
    return lambda runs: 100 * runs[0]["models"][model][data][decoding]


def forecast_rmse(series: str, model: str, horizon: str):
    """A forecaster's test RMSE ('one_step' or 'horizon') on a series (experiments.forecasting)."""
    return lambda runs: runs[0]["series"][series]["scores"][model][horizon]["rmse"]


def digit_error(model: str, decoding: str):
    """A recogniser's digit error rate (%), 'greedy' or 'beam' (experiments.speech)."""
    return lambda runs: 100 * runs[0]["models"][model][decoding]["error_rate"]


def source_error(model: str, source: str):
    """A recogniser's beam digit error (%) on one held-out source (experiments.speech_sources)."""
    return lambda runs: 100 * runs[0]["models"][model][source]["beam"]["error_rate"]


def train(config: str, *overrides: str) -> tuple[str, ...]:
    return ("-m", "experiments.train", "--config", f"experiments/configs/{config}.py", *overrides)


def seeds(config: str, count: int = 3) -> tuple[tuple[str, ...], ...]:
    return tuple(train(config, f"--config.seed={seed}") for seed in range(count))


ANCHOR_FULL = (
    "--config",
    "experiments/configs/compare_losses.py:full",
    "--config.parts=('anchor',)",
    "--config.seeds=3",
)

MLP_256 = ("--config.anchor.models=('mnist1d_mlp',)", "--config.mnist1d.mlp_hidden_size=256")


def kept(variant: str, length: int):
    """The long-memory gradient ratio of ``variant`` at ``length``, at initialisation."""

    def read(runs):
        (r,) = [
            r for r in runs[0]["forget_gate"] if (r["variant"], r["length"]) == (variant, length)
        ]
        return r["init"]["c" if "c" in r["init"] else "h"]["ratio_geometric_mean"]

    return read


def longest(variant: str):
    return lambda runs: runs[0]["adding"]["longest_solved"][variant] or 0


def clipped(index: int, field: str):
    return lambda runs: runs[0]["clipping"]["runs"][index][field]


EXPERIMENTS = (
    Experiment(
        "vanishing_gradients",
        (("-m", "experiments.vanishing_gradients"),),
        (
            ratio("tanh RNN, T = 100, init", "5.3e-11", "tanh", 100),
            ratio("tanh RNN, T = 100, trained", "2.2e-15", "tanh", 100, "h", "trained"),
            ratio("tanh RNN, T = 1000, init", "2.7e-102", "tanh", 1000),
            ratio("IRNN, T = 1000, init", "7.9e-01", "irnn", 1000),
            ratio("LSTM C_t, T = 100, init", "4.2e-07", "lstm", 100, "c"),
            ratio("LSTM C_t, T = 1000, init", "1.3e-64", "lstm", 1000, "c"),
            ratio("GRU, T = 100, init", "1.2e-17", "gru", 100),
        ),
    ),
    Experiment(
        "adding_problem",
        (("-m", "experiments.adding_problem"),),
        (
            Number(
                "tanh RNN test MSE",
                "0.1839",
                0.1839,
                0.02,
                row("table", "cell", "tanh", "final_test_mse_mean", 1.0),
            ),
            Number(
                "LSTM test MSE",
                "0.0007",
                0.0007,
                0.003,
                row("table", "cell", "lstm", "final_test_mse_mean", 1.0),
            ),
            Number(
                "GRU test MSE",
                "0.0004",
                0.0004,
                0.003,
                row("table", "cell", "gru", "final_test_mse_mean", 1.0),
            ),
        ),
    ),
    Experiment(
        "compare_losses",
        (("-m", "experiments.compare_losses"),),
        (
            Number(
                "saturation: MSE's |dL/dz|",
                "0.0099",
                0.0099,
                1e-4,
                lambda runs: runs[0]["saturation"]["mse"]["y=1"][0],
            ),
            Number(
                "saturation: cross-entropy's |dL/dz|",
                "0.995",
                0.995,
                1e-3,
                lambda runs: runs[0]["saturation"]["bce"]["y=1"][0],
            ),
            percent(
                "MLP, softmax + cross-entropy",
                "62.2 ± 0.6%",
                2.0,
                row(
                    "classification", "model/loss", "mnist1d_mlp/softmax_cce", "final_accuracy_mean"
                ),
            ),
            percent(
                "MLP, sigmoid + MSE",
                "57.0 ± 4.8%",
                9.6,
                row(
                    "classification", "model/loss", "mnist1d_mlp/sigmoid_mse", "final_accuracy_mean"
                ),
            ),
            percent(
                "CNN, softmax + cross-entropy",
                "92.1 ± 0.4%",
                1.5,
                row(
                    "classification", "model/loss", "mnist1d_cnn/softmax_cce", "final_accuracy_mean"
                ),
            ),
            percent(
                "CNN, sigmoid + MSE",
                "10.8 ± 0.8%",
                3.0,
                row(
                    "classification", "model/loss", "mnist1d_cnn/sigmoid_mse", "final_accuracy_mean"
                ),
            ),
            Number(
                "regression, MSE at 5% outliers",
                "0.0446",
                0.0446,
                0.015,
                row("regression", "loss", "mse", "clean_test_mse_mean", 1.0, index=1),
            ),
            Number(
                "regression, MAE at 5% outliers",
                "0.0087",
                0.0087,
                0.003,
                row("regression", "loss", "mae", "clean_test_mse_mean", 1.0, index=1),
            ),
            percent(
                "anchor, logistic regression, quick",
                "31.5 ± 1.1%",
                2.2,
                row("anchor", "model", "mnist1d_logistic", "test_accuracy_mean"),
            ),
            percent(
                "anchor, bidirectional GRU, quick",
                "85.2 ± 0.7%",
                1.5,
                row("anchor", "model", "mnist1d_gru", "test_accuracy_mean"),
            ),
        ),
    ),
    Experiment(
        "sentiment",
        (("-m", "experiments.sentiment"),),
        (
            percent("LSTM, D = 10", "97.2%", 2.0, sentiment_accuracy("lstm", 10)),
            percent("LSTM, D = 40", "61.3%", 10.0, sentiment_accuracy("lstm", 40)),
            percent(
                "bag of embeddings, D = 10",
                "52.5%",
                5.0,
                sentiment_accuracy("bag_of_embeddings", 10),
            ),
            # 220 sentences, one training run: seeds moved the 80-sentence validation set by 5
            percent("LSTM, D = 10, natural", "81.4%", 5.0, natural_accuracy("lstm", 10)),
            percent(
                "VADER, natural",
                "86.8%",
                0.0,
                lambda runs: 100 * runs[0]["natural"]["vader"]["accuracy"],
            ),
        ),
    ),
    Experiment(
        "char_lm",
        (("-m", "experiments.char_lm"),),
        (
            Number(
                "unigram bpc",
                "4.728",
                4.728,
                0.01,
                lambda runs: runs[0]["baselines"]["rows"][0]["test"],
            ),
            Number(
                "best n-gram bpc",
                "1.939",
                1.939,
                0.01,
                lambda runs: runs[0]["baselines"]["best"]["test"],
            ),
            Number("LSTM bpc", "1.922", 1.922, 0.05, lambda runs: runs[0]["lstm"]["test"]),
        ),
    ),
    Experiment(
        "translation",
        (("-m", "experiments.translation"),),
        (
            percent("dates, attention", "100.0%", 1.0, translation_accuracy("attention", "dates")),
            percent(
                "dates, no attention", "90.3%", 3.0, translation_accuracy("no_attention", "dates")
            ),
            percent(
                "reversal, attention",
                "100.0%",
                2.0,
                translation_accuracy("attention", "reversal/30"),
            ),
            percent(
                "reversal, no attention",
                "44.6%",
                8.0,
                translation_accuracy("no_attention", "reversal/30"),
            ),
        ),
    ),
    Experiment(
        "forecasting",
        (("-m", "experiments.forecasting"),),
        (
            # one training run on 215 windows: a different CPU may move it by a few units
            Number(
                "sunspots LSTM, one step",
                "19.9",
                19.9,
                3.0,
                forecast_rmse("sunspots", "LSTM", "one_step"),
            ),
            Number(
                "sunspots ARIMA, horizon",
                "31.5",
                31.5,
                0.1,
                forecast_rmse("sunspots", "ARIMA(9, 0, 0)", "horizon"),
            ),
            Number(
                "CO2 LSTM, one step", "0.42", 0.42, 0.1, forecast_rmse("co2", "LSTM", "one_step")
            ),
            Number(
                "CO2 persistence, one step",
                "0.52",
                0.52,
                0.01,
                forecast_rmse("co2", "persistence", "one_step"),
            ),
        ),
    ),
    Experiment(
        "speech",
        (("-m", "experiments.speech"),),
        (
            # one training run each on generated audio: a fraction of a percent moves with the CPU
            percent("BiLSTM, greedy", "0.47%", 0.5, digit_error("bilstm", "greedy")),
            percent("LSTM, greedy", "0.97%", 1.0, digit_error("lstm", "greedy")),
            percent("tanh RNN, greedy", "4.10%", 2.0, digit_error("tanh", "greedy")),
        ),
    ),
    Experiment(
        "speech_sources",
        (("-m", "experiments.speech_sources"),),
        (
            # one training run each; 600 utterances per held-out source
            percent("held-out espeak-ng, beam", "1.75%", 1.5, source_error("both", "espeak")),
            percent("held-out synthetic, beam", "0.66%", 0.7, source_error("both", "synthetic")),
            percent(
                "synthesiser only on espeak-ng", "62.2%", 15.0, source_error("synthetic", "espeak")
            ),
        ),
    ),
    Experiment(
        "long_memory",
        (("-m", "experiments.long_memory"),),
        (
            Number(
                "LSTM b_f = 1, T = 1000", "2.5e-61", 2.5e-61, 0.5, kept("lstm_b1", 1000), log=True
            ),
            Number(
                "LSTM chrono, T = 1000", "2.0e-01", 0.2, 0.5, kept("lstm_chrono", 1000), log=True
            ),
            Number("GRU, T = 1000", "9.6e-161", 9.6e-161, 0.5, kept("gru", 1000), log=True),
            # the longest T of 50, 100, 200 solved: one length more or less is a real change
            Number("LSTM b_f = 1, longest T solved", "100", 100, 0, longest("lstm_b1")),
            Number("LSTM chrono, longest T solved", "200", 200, 0, longest("lstm_chrono")),
            Number(
                "loss spikes per run, unclipped",
                "12 loss spikes",
                12,
                6,
                clipped(0, "loss_spikes_mean"),
            ),
            Number(
                "final test MSE, clipped", "0.182", 0.182, 0.05, clipped(1, "final_test_mse_mean")
            ),
            percent(
                "tanh RNN, 8x8 digits pixel by pixel",
                "93.6%",
                3.0,
                row("pixels", "cell/order", "tanh/plain", "final_accuracy_mean"),
            ),
            percent(
                "LSTM, 8x8 digits permuted",
                "81.1%",
                4.0,
                row("pixels", "cell/order", "lstm/permuted", "final_accuracy_mean"),
            ),
        ),
    ),
    Experiment(
        "visualize_filters",
        (("-m", "experiments.visualize_filters"),),
        (percent("LeNet-5 on digits", "98.1%", 1.0, test_metric("accuracy")),),
    ),
    Experiment(
        "lenet5_digits",
        (train("lenet5_digits"),),
        (percent("LeNet-5 on digits", "98.1%", 1.0, test_metric("accuracy")),),
    ),
    Experiment(
        "resnet20_digits",
        (train("resnet20_digits"),),
        (percent("ResNet-20 on digits", "99.7%", 0.6, test_metric("accuracy")),),
    ),
    Experiment(
        "mnist1d_cnn",
        seeds("mnist1d_cnn"),
        (percent("1-D CNN, mean of seeds 0-2", "92.8 ± 1.5%", 1.5, test_metric("accuracy")),),
    ),
    Experiment(
        "mnist1d_gru",
        seeds("mnist1d_gru"),
        (
            percent(
                "bidirectional GRU, mean of seeds 0-2", "90.5 ± 0.9%", 1.5, test_metric("accuracy")
            ),
        ),
    ),
    Experiment(
        "lstm_adding",
        (train("lstm_adding"),),
        (Number("LSTM adding test MSE", "0.0005", 0.0005, 0.003, test_metric("loss", 1.0)),),
    ),
    Experiment(
        "lstm_copy",
        (train("lstm_copy"),),
        (
            Number("copy task cross-entropy", "0.348", 0.348, 0.05, test_metric("loss", 1.0)),
            percent("copy task steps right", "85.2%", 3.0, test_metric("accuracy")),
        ),
    ),
    Experiment(
        "anchor_full",
        (("-m", "experiments.compare_losses", *ANCHOR_FULL),),
        tuple(
            percent(
                f"anchor, {label}, full",
                shown,
                tolerance,
                row("anchor", "model", model, "test_accuracy_mean"),
            )
            for label, shown, tolerance, model in (
                ("logistic regression", "32.5 ± 0.5%", 1.0, "mnist1d_logistic"),
                ("MLP", "65.3 ± 1.2%", 2.4, "mnist1d_mlp"),
                ("1-D CNN", "94.0 ± 0.9%", 1.8, "mnist1d_cnn"),
                ("bidirectional GRU", "89.9 ± 1.3%", 2.6, "mnist1d_gru"),
            )
        ),
        profile="full",
    ),
    Experiment(
        "mlp_256",
        (("-m", "experiments.compare_losses", *ANCHOR_FULL, *MLP_256),),
        (
            percent(
                "anchor, MLP of 256 units, full",
                "67.6 ± 1.5%",
                3.0,
                row("anchor", "model", "mnist1d_mlp", "test_accuracy_mean"),
            ),
        ),
        profile="full",
    ),
)


def selected(profile: str, only: list[str] | None) -> list[Experiment]:
    """The experiments of ``profile`` ('full' includes 'quick'), or those named in ``only``."""
    names = [e.name for e in EXPERIMENTS]
    for name in only or ():
        if name not in names:
            raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(names)}")
    if only:
        return [e for e in EXPERIMENTS if e.name in only]
    return [e for e in EXPERIMENTS if profile == "full" or e.profile == "quick"]


def workdirs(experiment: Experiment, out: Path) -> list[Path]:
    folder = out / experiment.name
    if len(experiment.commands) == 1:
        return [folder]
    return [folder / f"run{index}" for index in range(len(experiment.commands))]


def run_experiment(experiment: Experiment, out: Path) -> tuple[float, str | None]:
    """Run the experiment's commands; its wall time and, if one failed, what went wrong."""
    start = time.perf_counter()
    for command, workdir in zip(experiment.commands, workdirs(experiment, out), strict=True):
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, *command, "--workdir", str(workdir)]
        with (workdir / "stdout.txt").open("w") as stdout:  # progress bars stay on stderr
            status = subprocess.run(argv, cwd=ROOT, stdout=stdout).returncode
        if status != 0:
            return time.perf_counter() - start, f"exit {status}: {' '.join(argv)}"
    return time.perf_counter() - start, None


def check(experiment: Experiment, out: Path) -> list[dict]:
    """Each of the experiment's numbers as regenerated, beside the README's, with a verdict."""
    from nets.training.workdir import read_json  # here: the script starts without JAX

    runs = [read_json(d / "results.json") for d in workdirs(experiment, out)]
    rows = []
    for number in experiment.numbers:
        value = number.read(runs)
        rows.append(
            {
                "experiment": experiment.name,
                "number": number.label,
                "readme": number.shown,
                "regenerated": value,
                "tolerance": f"{number.tolerance:g} decades"
                if number.log
                else f"{number.tolerance:g}",
                "ok": number.within(value),
            }
        )
    return rows


def numbers_table(rows: list[dict], times: dict[str, float]) -> str:
    lines = [
        "| experiment | number | README | regenerated | tolerance | within |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"{r['regenerated']:.4g}"
        within = "yes" if r["ok"] else "**NO**"
        lines.append(
            f"| {r['experiment']} | {r['number']} | {r['readme']} | {value} | "
            f"± {r['tolerance']} | {within} |"
        )
    lines += ["", "| experiment | wall time (s) |", "|---|---|"]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in times.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", default="runs/reproduce", help="folder for every output")
    parser.add_argument("--only", default="", help="comma-separated experiment names")
    args = parser.parse_args(argv)
    try:
        experiments = selected(args.profile, [n for n in args.only.split(",") if n])
    except ValueError as error:
        parser.error(str(error))
    out = Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    rows, times, failures = [], {}, []
    for index, experiment in enumerate(experiments, start=1):
        print(f"[{index}/{len(experiments)}] {experiment.name} ...", flush=True)
        times[experiment.name], failure = run_experiment(experiment, out)
        if failure is None:
            rows += check(experiment, out)
            missed = [
                r["number"] for r in rows if r["experiment"] == experiment.name and not r["ok"]
            ]
            verdict = (
                f"outside tolerance: {', '.join(missed)}" if missed else "numbers as documented"
            )
        else:
            failures.append(f"{experiment.name}: {failure}")
            verdict = f"FAILED ({failure})"
        print(
            f"[{index}/{len(experiments)}] {experiment.name}: {times[experiment.name]:.0f} s, "
            f"{verdict}",
            flush=True,
        )
    table = numbers_table(rows, times)
    (out / "numbers.md").write_text(table)
    print(table)
    print(f"figures, results and this table are in {out}")
    missed = [f"{r['experiment']}: {r['number']}" for r in rows if not r["ok"]]
    for problem in failures + [f"{m} is outside its tolerance" for m in missed]:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if failures or missed else 0


if __name__ == "__main__":
    sys.exit(main())
