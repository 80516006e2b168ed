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


def test_ratios_that_spread_say_the_machine_was_busy(bench):
    # after its warm-up step, ours takes 1x or 6x its work from one round (2 steps) to the next
    costs = iter([1] + [1, 1, 6, 6] * 4)

    def erratic():
        sum(range(20_000 * next(costs)))

    row = bench.interleaved(erratic, work(20_000), warmup=1, rounds=8, steps=2)
    q1, q3 = row["ratio_quartiles"]
    assert row["busy"] and (q3 - q1) / row["ratio_reference_over_ours"] > bench.BUSY_SPREAD
