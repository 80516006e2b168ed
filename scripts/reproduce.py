"""Regenerate every figure and table of the README into one folder, and check its numbers.

    python scripts/reproduce.py [--profile quick|full] [--out runs/reproduce] [--only a,b]
                                [--jobs 2]

Each experiment runs in its own process with the command the README names, writing into
OUT/<name>/ (results.json, its figures, and what it printed in stdout.txt); its wall time is
printed when it ends. Each number the README shows is then read back from the results.json and
compared with the README's value: experiments/configs/readme_numbers.json lists, beside the
configs that produce them, each experiment's commands and numbers (the value, how the README
prints it, the tolerance, and which reader finds it in results.json); OUT/numbers.md tables
them. The exit status is 1 if an experiment failed or a
number left its tolerance.

Profiles: 'quick' regenerates every figure and every number the README measured with the
experiments' quick profiles and the training configs: 2,731 s (46 minutes) with ``--jobs 2`` on a
2-core CPU and an empty compilation cache (2026-12-04; the experiments' times on one core add up
to 5,459 s, 468 s of it compiling; 2,985 s in an earlier run, partly this CPU's drift, partly
two levers; 3,095 s in a later one while this CPU ran 1.22 times slower: scripts/README.md);
'full' adds the README's full-profile column (the MNIST-1D anchor at 8,000 steps, 5 minutes
more).

``--jobs N`` runs N experiments at once, each pinned to its own share of the CPUs (its XLA
thread pools are sized by it), the longest first by the times readme_numbers.json records (one
core each, from that run). The recurrent steps use two cores poorly, so two one-core experiments
do more than one two-core one: lenet5_digits, mnist1d_gru, lstm_copy and lstm_adding took 135 s
with ``--jobs 2`` against 198 s with one job; their numbers within tolerance both ways (one core
sums in another order, like another machine).

Tolerances. A command gives the same numbers every time on one machine with one set of library
versions; on another CPU, XLA sums in another order and a few thousand steps of training carry
that difference into the result. So an accuracy may move by about its seed-to-seed spread: the
tolerance is about twice the spread the README reports, and at least one point; the MSEs of
solved tasks must stay far below the unsolved baseline; gradient ratios, which span hundreds of
decades, may move by half a decade.
"""

import argparse
import concurrent.futures
import dataclasses
import json
import math
import os
import queue
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
    seconds: float = 0.0  # its last measured wall time: several jobs start the longest first


def log_ratio(cell: str, length: int, component: str = "h", when: str = "init"):
    """||dL/dh_1|| / ||dL/dh_T||, the geometric mean over seeds (vanishing gradients)."""

    def read(runs):
        (row,) = [r for r in runs[0]["sweep"] if (r["cell"], r["length"]) == (cell, length)]
        return row[when][component]["ratio_geometric_mean"]

    return read


def row(part: str, key: str, value: str, field: str, scale: float = 100.0, index=None):
    """``field`` (times ``scale``) of the row of ``results[part]`` whose ``key`` is ``value``
    (``value`` 'a/b' matches two keys, model then loss)."""

    def read(runs):
        keys = key.split("/")
        wanted = value.split("/")
        (match,) = [r for r in runs[0][part] if [str(r[k]) for k in keys] == wanted]
        number = match[field] if index is None else match[field][index]
        return scale * number

    return read


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


def path(keys: list, scale: float = 1.0):
    """The value at ``keys`` (dict keys and list indices) of the first run's results, scaled."""

    def read(runs):
        value = runs[0]
        for key in keys:
            value = value[key]
        return scale * value

    return read


# the readers the expected numbers name ('read': {'reader': name, **its arguments})
READERS = {
    reader.__name__: reader
    for reader in (
        path,
        log_ratio,
        row,
        test_metric,
        sentiment_accuracy,
        natural_accuracy,
        translation_accuracy,
        forecast_rmse,
        digit_error,
        source_error,
        kept,
        longest,
        clipped,
    )
}
# every number the README shows, with the commands that produce it: data, kept beside the
# configs of those commands
NUMBERS_FILE = ROOT / "experiments" / "configs" / "readme_numbers.json"


def load_experiments(path: Path = NUMBERS_FILE) -> tuple[Experiment, ...]:
    """The experiments and their expected numbers as ``path`` lists them."""
    experiments = []
    for entry in json.loads(path.read_text()):
        numbers = []
        for number in entry["numbers"]:
            reading = dict(number["read"])
            read = READERS[reading.pop("reader")](**reading)
            fields = {k: v for k, v in number.items() if k != "read"}
            numbers.append(Number(**fields, read=read))
        commands = tuple(tuple(command) for command in entry["commands"])
        profile = entry.get("profile", "quick")
        experiments.append(
            Experiment(entry["name"], commands, tuple(numbers), profile, entry["seconds"])
        )
    return tuple(experiments)


EXPERIMENTS = load_experiments()


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


def run_experiment(
    experiment: Experiment, out: Path, cpus: set[int] | None = None
) -> tuple[float, str | None]:
    """Run the experiment's commands (on ``cpus`` only, if given: Linux's CPU affinity, set as
    each process starts, before JAX sizes its thread pools by it); its wall time and, if one
    failed, what went wrong."""
    start = time.perf_counter()
    for command, workdir in zip(experiment.commands, workdirs(experiment, out), strict=True):
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, *command, "--workdir", str(workdir)]
        with (workdir / "stdout.txt").open("w") as stdout:  # progress bars stay on stderr
            process = subprocess.Popen(argv, cwd=ROOT, stdout=stdout)
            if cpus is not None:
                os.sched_setaffinity(process.pid, cpus)
            status = process.wait()
        if status != 0:
            return time.perf_counter() - start, f"exit {status}: {' '.join(argv)}"
    return time.perf_counter() - start, None


def cpu_groups(jobs: int) -> list[set[int]] | None:
    """This process's CPUs dealt into ``jobs`` disjoint groups, one per experiment running at
    once (None for one job: every experiment gets them all)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if jobs == 1:
        return None
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError("--jobs above 1 needs Linux's CPU affinity (os.sched_setaffinity)")
    cpus = sorted(os.sched_getaffinity(0))
    if jobs > len(cpus):
        raise ValueError(f"--jobs {jobs} is more than this process's {len(cpus)} CPUs")
    return [set(cpus[k::jobs]) for k in range(jobs)]


def results(experiment: Experiment, out: Path) -> list[dict]:
    """The results.json of each of the experiment's commands, in order."""
    from nets.training.workdir import read_json  # here: the script starts without JAX

    return [read_json(d / "results.json") for d in workdirs(experiment, out)]


def check(experiment: Experiment, runs: list[dict]) -> list[dict]:
    """Each of the experiment's numbers as regenerated in ``runs`` (its results), beside the
    README's, with a verdict."""
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


def compile_seconds(runs: list[dict]) -> float | None:
    """The seconds an experiment's processes spent compiling, as its ``runs`` (results) record
    them (``compile_s``, from ``nets.runtime.compiling``); None where one does not."""
    if all("compile_s" in run for run in runs):
        return sum(run["compile_s"] for run in runs)
    return None


def start_order(experiments: list[Experiment], jobs: int) -> list[Experiment]:
    """The order the experiments start in: the README's for one job; for several, the longest
    (by its last measured time) first, so that no long one starts last and runs alone."""
    return experiments if jobs == 1 else sorted(experiments, key=lambda e: -e.seconds)


def numbers_table(rows: list[dict], times: dict[str, tuple[float, float | None]]) -> str:
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
    lines += ["", "| experiment | wall time (s) | of it compiling (s) |", "|---|---|---|"]
    for name, (wall, compiling) in times.items():
        compiled = "–" if compiling is None else f"{compiling:.0f}"
        lines.append(f"| {name} | {wall:.0f} | {compiled} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", default="runs/reproduce", help="folder for every output")
    parser.add_argument("--only", default="", help="comma-separated experiment names")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="experiments run at once, each on its own share of the CPUs (Linux)",
    )
    args = parser.parse_args(argv)
    try:
        experiments = selected(args.profile, [n for n in args.only.split(",") if n])
        groups = cpu_groups(args.jobs)
    except ValueError as error:
        parser.error(str(error))
    out = Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    rows, times, failures = [], {}, []
    free = queue.SimpleQueue()  # the CPU groups no experiment holds
    for group in groups or [None]:
        free.put(group)

    def run_one(index: int, experiment: Experiment) -> tuple[float, str | None]:
        cpus = free.get()
        on = "" if cpus is None else f" on CPUs {sorted(cpus)}"
        print(f"[{index}/{len(experiments)}] {experiment.name}{on} ...", flush=True)
        try:
            return run_experiment(experiment, out, cpus)
        finally:
            free.put(cpus)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        running = {}
        for experiment in start_order(experiments, args.jobs):
            index = experiments.index(experiment) + 1  # its place in the README
            running[pool.submit(run_one, index, experiment)] = (index, experiment)
        for done in concurrent.futures.as_completed(running):
            index, experiment = running[done]
            wall, failure = done.result()
            compiling = None  # a failed experiment's results are not read
            if failure is None:
                runs = results(experiment, out)
                compiling = compile_seconds(runs)
                rows += check(experiment, runs)
                missed = [
                    r["number"] for r in rows if r["experiment"] == experiment.name and not r["ok"]
                ]
                verdict = (
                    f"outside tolerance: {', '.join(missed)}" if missed else "numbers as documented"
                )
            else:
                failures.append(f"{experiment.name}: {failure}")
                verdict = f"FAILED ({failure})"
            times[experiment.name] = (wall, compiling)
            print(
                f"[{index}/{len(experiments)}] {experiment.name}: {wall:.0f} s, {verdict}",
                flush=True,
            )
    # the tables in the README's order, whichever experiment ended first
    order = [e.name for e in experiments]
    rows.sort(key=lambda row: order.index(row["experiment"]))
    times = {name: times[name] for name in order}
    compiled = sum(c for _, c in times.values() if c is not None)
    times[f"all, {args.jobs} at once"] = (time.perf_counter() - start, compiled)
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
