"""The experiments' persistent compilation cache: a rerun compiles nothing, a changed program
(here a new shape) compiles afresh and answers correctly, and '' turns the cache off."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# One run of a jitted program under the cache: its value and the cache's hits and misses.
PROGRAM = """
import json, sys
import jax, jax.numpy as jnp
from nets.runtime import compilation_cache
events = []
jax.monitoring.register_event_listener(lambda event, **_: events.append(event))
compilation_cache(sys.argv[1])
x = jnp.arange(int(sys.argv[2]), dtype=jnp.float32)
value = float(jax.jit(lambda x: jnp.sum(jnp.sin(x) ** 2))(x))
count = lambda name: events.count(f"/jax/compilation_cache/{name}")
print(json.dumps({"value": value, "hits": count("cache_hits"), "misses": count("cache_misses")}))
"""


def run(cache: str, width: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, cache, str(width)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
def test_a_rerun_hits_the_cache_and_a_new_shape_compiles_afresh(tmp_path):
    cache = tmp_path / "cache"
    first = run(str(cache), 3)
    assert first["misses"] >= 1 and first["hits"] == 0
    stored = sorted(p.name for p in cache.iterdir())
    assert stored
    again = run(str(cache), 3)  # a new process: the program comes from the cache
    assert again["hits"] >= 1 and again["misses"] == 0 and again["value"] == first["value"]
    wider = run(str(cache), 4)  # another shape is another program
    assert wider["misses"] >= 1
    assert wider["value"] == pytest.approx(sum(math.sin(i) ** 2 for i in range(4)), rel=1e-6)
    assert len(list(cache.iterdir())) > len(stored)
    off = run("", 3)
    assert off["hits"] == off["misses"] == 0


# Page faults of allocating a 32 MiB array again after freeing one, with or without the setting.
REALLOCATION = """
import resource, sys
import numpy as np
from nets.runtime import reuse_freed_memory
applied = sys.argv[1] == "1" and reuse_freed_memory()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(4 << 20)
del a
before = faults()
a = np.ones(4 << 20)
print(applied, faults() - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_freed_memory_is_reused_without_new_page_faults():
    def faults(apply: str) -> tuple[str, int]:
        result = subprocess.run(
            [sys.executable, "-c", REALLOCATION, apply],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        applied, count = result.stdout.split()
        return applied, int(count)

    assert faults("1") == ("True", 0)  # the freed pages served the new array
    applied, count = faults("0")
    assert applied == "False" and count >= 16  # unmapped on free, faulted in afresh


def test_the_compile_clock_counts_each_new_program_once():
    """``compiling()`` grows by one program (and its seconds) when a new function or shape is
    compiled, and not at all when a compiled program runs again."""
    import jax
    import numpy as np

    from nets.runtime import compiling

    def twice(x):
        return 2 * x

    step = jax.jit(twice)
    before = compiling()
    step(np.ones(7, np.float32)).block_until_ready()
    first = compiling()
    step(np.ones(7, np.float32)).block_until_ready()
    again = compiling()
    step(np.ones(8, np.float32)).block_until_ready()
    wider = compiling()
    assert first["programs"] == before["programs"] + 1 and first["seconds"] > before["seconds"]
    assert again == first
    assert wider["programs"] == first["programs"] + 1 and wider["seconds"] > first["seconds"]
