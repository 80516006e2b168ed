"""XLA:CPU's compiler flags, each measured on every bench row against the defaults.

    python scripts/xla_flags.py --json xla_flags.json      # every candidate below
    python scripts/xla_flags.py --only LSTM --rounds 9    # fewer rows, fewer rounds

Each candidate runs ``scripts/bench.py --xla``: a row's own program compiled with the flag,
interleaved with the same program compiled with the defaults, in one process. The table holds
the median ratio default / flagged (above 1: the flag is faster); ``=`` marks a row whose
optimised HLO the flag did not change: a fusion flag there fused nothing, and only a flag that
picks the library a thunk calls (oneDNN, Eigen's threads) can still act. Every candidate keeps
float32 semantics (no fast math); whether one is adopted is decided from this table.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    label: str
    flags: tuple[str, ...]
    what: str  # what XLA's sources say the flag does


CANDIDATES = (
    Candidate("onednn", ("xla_cpu_use_onednn=true",),
              "oneDNN thunks for matmul and convolution fusions"),
    Candidate("onednn-fusion", ("xla_cpu_use_onednn=true",
                                "xla_cpu_experimental_onednn_fusion_type=LIBRARY_FUSION_TYPE_DOT,"
                                "LIBRARY_FUSION_TYPE_ELTWISE"),
              "oneDNN fusions of a dot with its elementwise neighbours"),
    Candidate("xnn-dot", ("xla_cpu_experimental_xnn_fusion_type=LIBRARY_FUSION_TYPE_DOT",),
              "XNNPACK fusions around dots"),
    Candidate("xnn-dot-eltwise", ("xla_cpu_experimental_xnn_fusion_type=LIBRARY_FUSION_TYPE_DOT,"
                                  "LIBRARY_FUSION_TYPE_ELTWISE",),
              "XNNPACK fusions around dots and elementwise ops"),
    Candidate("xnn-graph", ("xla_cpu_experimental_xnn_graph_fusion_mode="
                            "XNN_GRAPH_FUSION_MODE_GREEDY",),
              "greedy extraction of XNNPACK-compatible subgraphs"),
    Candidate("ynn-dot", ("xla_cpu_experimental_ynn_fusion_type="
                          "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",),
              "YNNPACK (XNNPACK's successor) for each dot"),
    Candidate("ynn-dot-eltwise", ("xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_DOT,"
                                  "LIBRARY_FUSION_TYPE_ELTWISE",),
              "YNNPACK fusions around dots and elementwise ops"),
    Candidate("sched-concurrency", ("xla_cpu_scheduler_type="
                                    "CPU_SCHEDULER_TYPE_CONCURRENCY_OPTIMIZED",),
              "instruction order that lets independent thunks run at once"),
    Candidate("sched-memory", ("xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED",),
              "instruction order that lowers peak memory"),
    Candidate("fast-runtime", ("xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_RUNTIME",),
              "the optimisation preset for run time over compile time"),
    Candidate("no-eigen-threads", ("xla_cpu_multi_thread_eigen=false",),
              "single-threaded Eigen matmuls and convolutions"),
)  # fmt: skip


def measure(candidate: Candidate, rounds: int, steps: int, only: str | None) -> dict | str:
    """The bench's JSON (machine and rows) for one candidate, run in its own process (its
    table is printed as it runs): an experimental flag can crash XLA's compiler, and that is a
    result too, returned as the line that says how."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "rows.json"
        command = [sys.executable, str(Path(__file__).parent / "bench.py"), "--rounds",
                   str(rounds), "--steps", str(steps), "--json", str(path)]  # fmt: skip
        command += [part for flag in candidate.flags for part in ("--xla", flag)]
        finished = subprocess.run(command + (["--only", only] if only else []))
        if finished.returncode != 0:
            status = finished.returncode
            return f"crashed ({f'signal {-status}' if status < 0 else f'status {status}'})"
        return json.loads(path.read_text())


def table(results: dict[str, list[dict] | str]) -> str:
    """Markdown: one row per workload, one column per candidate, default / flagged."""
    labels = list(results)
    measured = [rows for rows in results.values() if not isinstance(rows, str)]
    workloads = [row["workload"] for row in measured[0]] if measured else []
    lines = ["| workload | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for index, workload in enumerate(workloads):
        cells = []
        for label in labels:
            rows = results[label]
            if isinstance(rows, str):
                cells.append(rows)
                continue
            row = rows[index]
            mark = "" if row["program_changed"] else "="
            busy = "*" if row["busy"] else ""
            cells.append(f"{row['ratio_reference_over_ours']:.2f}{mark}{busy}")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="also write every row of every candidate here")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--only", help="bench rows whose name contains this text")
    parser.add_argument("--candidates", help="comma-separated labels (default: all)")
    args = parser.parse_args(argv)
    chosen = CANDIDATES
    if args.candidates:
        known = {candidate.label: candidate for candidate in CANDIDATES}
        unknown = sorted(set(args.candidates.split(",")) - known.keys())
        if unknown:
            parser.error(f"unknown candidates {unknown}; known: {', '.join(known)}")
        chosen = tuple(known[label] for label in args.candidates.split(","))
    measured = {}
    for candidate in chosen:
        print(f"\n{candidate.label}: {' '.join(candidate.flags)}", flush=True)
        measured[candidate.label] = measure(candidate, args.rounds, args.steps, args.only)
    results = {label: out if isinstance(out, str) else out["results"]
               for label, out in measured.items()}  # fmt: skip
    machines = [out["machine"] for out in measured.values() if not isinstance(out, str)]
    print("default / flagged step time (above 1: the flag is faster; '=': the same optimised "
          "HLO; '*': busy machine)\n")  # fmt: skip
    print(table(results))
    if args.json:
        described = {c.label: {"flags": c.flags, "what": c.what} for c in chosen}
        with open(args.json, "w") as f:
            json.dump({"machine": machines[0] if machines else None, "candidates": described,
                       "results": results}, f, indent=1)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
