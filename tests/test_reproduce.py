"""``python scripts/reproduce.py``: its numbers are the README's, and it fails when a
regenerated number leaves its tolerance or an experiment fails (with stand-in experiments that
write a results.json in a fraction of a second)."""

import dataclasses
import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# a script, not a module of the package: loaded from its file, as bench.py's tests do
_spec = importlib.util.spec_from_file_location("reproduce", ROOT / "scripts" / "reproduce.py")
reproduce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reproduce)
# the numbers the README reports, some of them in the experiments' own README it links to
README = (ROOT / "README.md").read_text() + (ROOT / "experiments" / "README.md").read_text()


@pytest.mark.parametrize(
    "number",
    [n for e in reproduce.EXPERIMENTS for n in e.numbers],
    ids=lambda n: n.label,
)
def test_each_checked_number_is_the_one_the_readme_prints(number):
    assert number.shown in README
    assert number.documented == float(number.shown.split()[0].rstrip("%"))


def adding_problem(mse: dict[str, float]) -> tuple[str, ...]:
    """A stand-in for the adding problem's command: its results.json table with these MSEs."""
    table = [{"cell": cell, "final_test_mse_mean": value} for cell, value in mse.items()]
    results = {"table": table, "compile_s": 12.25}
    script = (
        "import json, sys; "
        f"open(sys.argv[-1] + '/results.json', 'w').write(json.dumps({results!r}))"
    )
    return ("-c", script)


def with_commands(*commands) -> reproduce.Experiment:
    (real,) = [e for e in reproduce.EXPERIMENTS if e.name == "adding_problem"]
    return dataclasses.replace(real, commands=commands)


def test_numbers_within_tolerance_pass_and_one_outside_fails(tmp_path, monkeypatch, capsys):
    documented = {"tanh": 0.1839, "lstm": 0.0007, "gru": 0.0004}
    monkeypatch.setattr(reproduce, "EXPERIMENTS", (with_commands(adding_problem(documented)),))
    assert reproduce.main(["--out", str(tmp_path / "a")]) == 0
    output = capsys.readouterr().out
    assert re.search(r"\[1/1\] adding_problem: \d+ s, numbers as documented", output)
    table = (tmp_path / "a" / "numbers.md").read_text()
    assert table.count("| yes |") == 3 and "**NO**" not in table
    assert re.search(r"\| adding_problem \| \d+ \| 12 \|", table)  # wall, compiling (s)

    # the LSTM no longer solves the task: 0.05 is 0.0493 from 0.0007, beyond its 0.003
    monkeypatch.setattr(
        reproduce, "EXPERIMENTS", (with_commands(adding_problem({**documented, "lstm": 0.05})),)
    )
    assert reproduce.main(["--out", str(tmp_path / "b")]) == 1
    captured = capsys.readouterr()
    assert "outside tolerance: LSTM test MSE" in captured.out
    assert "error: adding_problem: LSTM test MSE is outside its tolerance" in captured.err
    assert (
        "| LSTM test MSE | 0.0007 | 0.05 | ± 0.003 | **NO** |"
        in (tmp_path / "b" / "numbers.md").read_text()
    )


def test_a_failing_experiment_fails_the_run_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    good = with_commands(adding_problem({"tanh": 0.1839, "lstm": 0.0007, "gru": 0.0004}))
    broken = dataclasses.replace(good, name="broken", commands=(("-c", "raise SystemExit(3)"),))
    monkeypatch.setattr(reproduce, "EXPERIMENTS", (broken, good))
    assert reproduce.main(["--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "[1/2] broken" in captured.out and "FAILED (exit 3" in captured.out
    assert "[2/2] adding_problem" in captured.out and "numbers as documented" in captured.out
    assert "error: broken: exit 3" in captured.err
    times = (tmp_path / "numbers.md").read_text().split("wall time")[1]
    assert re.search(r"\| broken \| \d+ \| – \|", times)  # no results.json: no compile time
    assert "| adding_problem |" in times


def test_several_jobs_start_the_longest_experiments_first():
    quick = reproduce.selected("quick", None)
    assert reproduce.start_order(quick, 1) == quick  # one job: the README's order
    order = reproduce.start_order(quick, 2)
    assert sorted(order, key=quick.index) == quick
    assert [e.seconds for e in order] == sorted((e.seconds for e in quick), reverse=True)
    assert order[0].name == "speech_sources"


def waits_for(other: str, table: list[dict]) -> tuple[str, ...]:
    """A stand-in that marks its start, waits until experiment ``other`` has started too (it
    fails after a minute: run one after the other, the first would), then writes ``table``."""
    script = f"""
import json, pathlib, sys, time
workdir = pathlib.Path(sys.argv[-1])
(workdir / "started").touch()
deadline = time.time() + 60
while not (workdir.parent / {other!r} / "started").exists():
    if time.time() > deadline:
        sys.exit(5)
    time.sleep(0.05)
(workdir / "results.json").write_text(json.dumps({{"table": {table!r}}}))
"""
    return ("-c", script)


def test_jobs_run_experiments_at_once_each_on_its_own_cpus(tmp_path, monkeypatch, capsys):
    # four CPUs and the pinning recorded, on any machine: which CPUs each process was given
    pinned = {}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", pinned.__setitem__, raising=False)
    table = [
        {"cell": cell, "final_test_mse_mean": mse}
        for cell, mse in {"tanh": 0.1839, "lstm": 0.0007, "gru": 0.0004}.items()
    ]
    one = dataclasses.replace(with_commands(waits_for("two", table)), name="one")
    two = dataclasses.replace(with_commands(waits_for("one", table)), name="two")
    monkeypatch.setattr(reproduce, "EXPERIMENTS", (one, two))
    assert reproduce.main(["--out", str(tmp_path), "--jobs", "2"]) == 0
    assert sorted(map(sorted, pinned.values())) == [[0, 2], [1, 3]]  # two processes, disjoint
    output = capsys.readouterr().out
    assert output.count("numbers as documented") == 2 and "on CPUs [0, 2]" in output
    assert "| all, 2 at once |" in (tmp_path / "numbers.md").read_text()


@pytest.mark.parametrize("jobs", ["0", "100000"])
def test_jobs_beyond_the_cpus_are_refused(jobs, capsys):
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--jobs", jobs])
    assert stopped.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_profiles_and_names_select_the_experiments(capsys):
    quick = {e.name for e in reproduce.selected("quick", None)}
    full = {e.name for e in reproduce.selected("full", None)}
    assert "anchor_full" in full - quick and quick < full
    assert [e.name for e in reproduce.selected("quick", ["lstm_copy"])] == ["lstm_copy"]
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--only", "nonexistent"])
    assert stopped.value.code == 2
    assert "unknown experiment 'nonexistent'; valid: vanishing_gradients" in capsys.readouterr().err


def test_every_readme_figure_is_regenerated():
    """Each figure the README shows comes from an experiment that reproduce runs."""
    figures = re.findall(r"\(experiments/results/(\w+)/\w+\.png\)", README)
    names = {e.name for e in reproduce.EXPERIMENTS}
    assert figures and set(figures) <= names
