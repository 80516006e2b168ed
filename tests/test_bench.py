"""The bench's interleaved timing (scripts/bench.py) against fake workloads of known cost."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# on and off every 150 ms: other work that comes and goes, as on a shared machine
LOAD = """
import time
while True:
    end = time.perf_counter() + 0.15
    while time.perf_counter() < end:
        pass
    time.sleep(0.15)
"""


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def work(n: int):
    def step():
        sum(range(n))

    return step


def test_interleaved_rounds_find_a_known_cost_ratio_under_a_coming_and_going_load(bench):
    loads = [subprocess.Popen([sys.executable, "-c", LOAD]) for _ in range(4)]
    try:  # the reference does twice our work: the ratio reference / ours is 2
        row = bench.interleaved(work(100_000), work(200_000), warmup=2, rounds=21, steps=2)
    finally:
        for load in loads:
            load.kill()
            load.wait()
    assert row["ratio_reference_over_ours"] == pytest.approx(2.0, rel=0.15)
    q1, q3 = row["ratio_quartiles"]
    assert q1 <= row["ratio_reference_over_ours"] <= q3 and row["rounds"] == 21
    assert row["reference_ms"] > row["ours_ms"] > 0
    if row["others_cpu_share"] is not None:  # Linux: the four loads' CPU time is seen
        assert row["others_cpu_share"] > bench.BUSY_OTHERS and row["busy"]


def test_other_processes_share_of_the_machine_by_hand(bench):
    # 4 s of wall time on 2 CPUs: 8 CPU-seconds; everyone used 5, this process 3 -> 2 / 8
    assert bench.others_share((100.0, 10.0), (105.0, 13.0), 4.0, 2) == pytest.approx(0.25)
    assert bench.others_share((100.0, 10.0), (103.0, 13.0), 4.0, 2) == 0.0  # ours, all of it
    assert bench.others_share(None, (1.0, 1.0), 4.0, 2) is None  # no /proc/stat
    reading = bench.cpu_seconds()
    if reading is not None:
        assert reading[0] >= reading[1] > 0  # every process's CPU time includes ours


def test_ratios_that_spread_say_the_machine_was_busy(bench):
    # after its warm-up step, ours takes 1x or 6x its work from one round (2 steps) to the next
    costs = iter([1] + [1, 1, 6, 6] * 4)

    def erratic():
        sum(range(20_000 * next(costs)))

    row = bench.interleaved(erratic, work(20_000), warmup=1, rounds=8, steps=2)
    q1, q3 = row["ratio_quartiles"]
    assert row["busy"] and (q3 - q1) / row["ratio_reference_over_ours"] > bench.BUSY_SPREAD


def test_xla_flags_parse_into_compiler_options_and_a_bad_one_is_named(bench):
    options = bench.compiler_options(
        ["xla_cpu_use_onednn=TRUE", "--xla_cpu_parallel_codegen_split_count=8",
         "xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"]
    )  # fmt: skip
    assert options == {
        "xla_cpu_use_onednn": True,
        "xla_cpu_parallel_codegen_split_count": 8,
        "xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",
    }
    for bad in ("xla_cpu_use_onednn", "cpu_use_onednn=true", "xla_cpu_use_onednn="):
        with pytest.raises(ValueError, match=repr(bad)):
            bench.compiler_options([bad])


def test_the_optimised_hlo_leaves_out_source_locations_and_shows_a_reordering_flag(bench):
    """Source locations name the lines that built a program (the bench's rows, built twice,
    differed only there), so they are left out of what is compared, the program is not; the
    memory-optimising scheduler changes the optimised HLO, and the result stays exact."""
    import jax.numpy as jnp

    def step(x):
        return jnp.tanh(x.T @ x).sum(0) + jnp.cos(x).sum(0)

    x = jnp.linspace(-1, 1, 64 * 32).reshape(64, 32)
    first = bench.compiled(step, x)
    reordered = bench.compiled(
        step, x, compiler_options={"xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"}
    )
    for located in ("metadata={", "stack_frame_id=", "FileLocations"):
        assert located in first.as_text() and located not in bench.optimised_hlo(first)
    assert bench.optimised_hlo(first).count(" tanh(") == first.as_text().count(" tanh(") == 1
    assert bench.optimised_hlo(first) != bench.optimised_hlo(reordered)
    assert (first(x) == reordered(x)).all()


def test_the_flags_table_marks_unchanged_programs_busy_rows_and_a_crashed_candidate():
    spec = importlib.util.spec_from_file_location("xla_flags", ROOT / "scripts" / "xla_flags.py")
    xla_flags = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(xla_flags)

    def row(name, ratio, changed, busy):
        return {"workload": name, "ratio_reference_over_ours": ratio,
                "program_changed": changed, "busy": busy}  # fmt: skip

    table = xla_flags.table({
        "a": [row("LSTM", 1.234, True, False), row("LeNet", 0.9, False, True)],
        "b": "crashed (signal 4)",
    })  # fmt: skip
    assert table.splitlines() == [
        "| workload | a | b |",
        "|---|---|---|",
        "| LSTM | 1.23 | crashed (signal 4) |",
        "| LeNet | 0.90=* | crashed (signal 4) |",
    ]
    with pytest.raises(SystemExit):
        xla_flags.main(["--candidates", "onednn,nope"])
