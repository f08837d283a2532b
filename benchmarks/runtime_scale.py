"""Runtime simulator at scale (issue 20, item 5): a 10^6-row random-walk power-cap trace with
10^5 Poisson requests on the 35-point ResNet-20 Pareto table of runtime_trace.py (SOT-MRAM, the
synthetic accuracy curve; accuracy is not what is measured here), budget policy, deadline 10 ms,
default hysteresis, pinned to one CPU core.

Measured: CPU time (``time.process_time``: the simulation is one thread, so this is its time on
a core of its own) and wall time of ``simulate`` (trace generation excluded; best of
``--best-of`` rounds),
peak memory of trace generation + simulation with ``tracemalloc`` (every Python and numpy
allocation, in a separate round because tracing slows it down), and the process's peak resident
set (``resource.getrusage``) beside the resident set before the first simulation (importing
torch, which the table needs, is most of it). A 10x smaller run (10^5 rows, 10^4 requests) shows
how the cost scales. Targets: <= 20 s and <= 300 MB.

Expected run time: ~1-2 minutes on one core.

    python benchmarks/runtime_scale.py [--rows 1000000] [--requests 100000] [--best-of 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

from _common import add_provenance_args, best_of, md_table, start_run, write_result
from runtime_trace import build_table

from dynpim.runtime import parse_spec, simulate

TIME_LIMIT_S = 20.0
MEMORY_LIMIT_MB = 300.0
DT_S = 0.001


def spec(rows: int, requests: int) -> str:
    """A random-walk cap over the table's power range, ``rows`` rows of 1 ms, Poisson arrivals
    at the rate giving ``requests`` requests in expectation."""
    duration = rows * DT_S
    return (f"walk:duration_s={duration:g},dt_s={DT_S:g},min_w=0.035,max_w=0.40,sigma_w=0.002,"
            f"rate_hz={requests / duration:g},seed=1")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(table, rows: int, requests: int, k: int) -> dict:
    trace = parse_spec(spec(rows, requests))
    kw = dict(deadline_s=0.01, seed=1)
    res = {}

    cpu: list[float] = []

    def once() -> float:
        t0, c0 = time.perf_counter(), time.process_time()
        res["r"] = simulate(table, trace, **kw)
        cpu.append(time.process_time() - c0)
        return time.perf_counter() - t0

    timing = best_of(once, k)
    del trace
    tracemalloc.start()
    trace = parse_spec(spec(rows, requests))
    simulate(table, trace, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    s = res["r"].summary
    return {"rows": len(trace), "requests_arrived": s["requests_arrived"],
            "requests_served": s["requests_served"], "windows": s["windows"],
            "decisions_recorded": len(res["r"].decision_rows), "switches": s["switches"],
            "infeasible_decisions": s["infeasible_decisions"], "time_s": timing["best"],
            "cpu_s": min(cpu), "cpu_rounds_s": cpu,
            "time_rounds_s": timing["rounds"], "load_1min": timing["load_1min"],
            "tracemalloc_peak_mb": peak / 2**20, "spec": spec(rows, requests)}


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--best-of", type=int, default=2)
    add_provenance_args(ap)
    args = ap.parse_args()
    start_run(args.allow_dirty)
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = [cpu]
    except (AttributeError, OSError):
        pinned = None
    import torch

    torch.set_num_threads(1)
    table, _ = build_table()
    rss_before = rss_mb()
    small = measure(table, args.rows // 10, args.requests // 10, args.best_of)
    big = measure(table, args.rows, args.requests, args.best_of)
    rss_peak = rss_mb()
    ok_time = big["cpu_s"] <= TIME_LIMIT_S  # CPU time: what one core of its own would take
    ok_wall = big["time_s"] <= TIME_LIMIT_S
    ok_mem = big["tracemalloc_peak_mb"] <= MEMORY_LIMIT_MB
    rows = [[f"{r['rows'] - 1:,}", f"{r['requests_arrived']:,}", f"{r['windows']:,}",
             f"{r['decisions_recorded']:,}", f"{r['cpu_s']:.2f}", f"{r['time_s']:.2f}",
             f"{r['tracemalloc_peak_mb']:.1f}"] for r in (small, big)]
    md = (f"Operating table: {len(table)} Pareto points (ResNet-20, SOT-MRAM, synthetic "
          f"accuracy). Trace: `{big['spec']}` (one row marks the end), Poisson arrivals, budget "
          f"policy, deadline 10 ms, default hysteresis; one CPU core (affinity {pinned}), "
          f"1 torch thread.\n\n"
          + md_table(["trace rows", "requests", "windows", "decisions kept", "CPU time (s)",
                      "wall time (s)", "tracemalloc peak (MB)"], rows)
          + f"\n\nTimes are the best of {args.best_of} rounds. The simulation is one thread: "
          f"its CPU time (`time.process_time`) is the time it takes on a core of its own; the "
          f"wall time also holds the waits for the other jobs on this machine. The large run's "
          f"rounds took {', '.join(f'{t:.1f}' for t in big['cpu_rounds_s'])} s of CPU and "
          f"{', '.join(f'{t:.1f}' for t in big['time_rounds_s'])} s of wall time at a 1-minute "
          f"load of "
          f"{', '.join(f'{v:g}' for v in big['load_1min'] if v is not None)} on "
          f"{os.cpu_count()} cores shared with other jobs. 10x the rows and requests cost "
          f"{big['cpu_s'] / small['cpu_s']:.1f}x the CPU time. Process peak "
          f"resident set {rss_peak:.0f} MB, of which {rss_before:.0f} MB "
          f"before the first simulation (Python, torch, the table). Targets: time <= "
          f"{TIME_LIMIT_S:g} s on one core: **{'met' if ok_time else 'NOT met'}** "
          f"({big['cpu_s']:.1f} s CPU; wall time {big['time_s']:.1f} s, "
          f"{'within' if ok_wall else 'over'} the limit on this shared machine); "
          f"memory <= {MEMORY_LIMIT_MB:g} MB (tracemalloc peak of trace + simulation): "
          f"**{'met' if ok_mem else 'NOT met'}** ({big['tracemalloc_peak_mb']:.0f} MB). Before "
          f"the streaming simulator (issue 20): 10^6 rows took 132 s with 10^4 requests and "
          f"715 s with 10^5, at ~1 GB.")
    data = {"small": small, "large": big, "rss_before_mb": rss_before, "rss_peak_mb": rss_peak,
            "cpu_affinity_pinned": pinned, "time_limit_s": TIME_LIMIT_S,
            "memory_limit_mb": MEMORY_LIMIT_MB, "time_met": ok_time, "wall_time_met": ok_wall,
            "memory_met": ok_mem,
            "accuracy_split": "none: timing and memory only (synthetic accuracy curve)"}
    write_result("runtime_scale", data, markdown=md)
    print(md)


if __name__ == "__main__":
    main()
