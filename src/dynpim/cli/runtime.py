"""``dynpim runtime``: simulate run-time tuning under a budget trace, show a table, make traces."""

from __future__ import annotations

import argparse
import csv
import json
import os

from dynpim.rundir import check_output_file, check_run_dir, claim_run_dir

# Hysteresis defaults, spelled here so that `dynpim --help` does not import torch (every
# sub-command registers on each start); tests/cli check them against dynpim.runtime.controller.
DEFAULT_MIN_DWELL_S = 0.1
DEFAULT_MARGIN = 0.05


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runtime", help="run-time tuning: simulate traces, show operating tables",
                       description="Run-time tuning of accuracy, power and latency.")
    rs = p.add_subparsers(dest="runtime_command", metavar="ACTION", required=True)

    s = rs.add_parser("simulate", help="simulate a policy on a budget trace",
                      description="Discrete-event simulation of the accelerator serving requests "
                      "under a power-cap / arrival-rate trace; writes timeline.csv, windows.csv, "
                      "decisions.csv, summary.json, plots and comparison.json (vs every static "
                      "operating point).")
    s.add_argument("--table", required=True, help="operating table JSON")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--trace", help="trace CSV (time_s,power_cap_w,arrival_rate_hz[,deadline_s])")
    src.add_argument("--generate", metavar="SPEC",
                     help="generated trace, e.g. ramp:duration_s=10,start_w=0.5,end_w=0.05,"
                     "rate_hz=100 (kinds: step, ramp, walk, sine, battery)")
    s.add_argument("--policy", default="budget", choices=("budget", "feedback", "all"))
    s.add_argument("--deadline-s", type=float, default=None,
                   help="per-request deadline in s (overrides the trace column)")
    s.add_argument("--min-accuracy", type=float, default=None, help="accuracy floor (0..1)")
    s.add_argument("--min-dwell-s", type=float, default=DEFAULT_MIN_DWELL_S,
                   help=f"hysteresis: least time between upgrades (default {DEFAULT_MIN_DWELL_S})")
    s.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                   help=f"hysteresis: relative margin in [0, 1) (default {DEFAULT_MARGIN})")
    s.add_argument("--switch-energy-j", type=float, default=0.0)
    s.add_argument("--switch-latency-s", type=float, default=0.0)
    s.add_argument("--cap-mode", default="active", choices=("active", "average"))
    s.add_argument("--miss-target", type=float, default=0.01,
                   help="tolerated fraction of deadline misses from queueing (0..1)")
    s.add_argument("--idle-power-w", type=float, default=0.0)
    s.add_argument("--queue-limit", type=int, default=64, help="max waiting requests (-1: none)")
    s.add_argument("--arrivals", default="poisson", choices=("poisson", "deterministic"))
    s.add_argument("--window-s", type=float, default=None,
                   help="cap-violation window (default: the trace's smallest step)")
    s.add_argument("--latency-error", type=float, default=1.0,
                   help="actual/modelled latency ratio of the simulated hardware")
    s.add_argument("--power-error", type=float, default=1.0,
                   help="actual/modelled power ratio of the simulated hardware")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-plots", action="store_true")
    s.add_argument("--out", required=True, help="output directory (a new or empty one, or a "
                   "simulate run with --overwrite)")
    s.add_argument("--overwrite", action="store_true",
                   help="replace the simulate run already in --out")
    s.set_defaults(func=run_simulate)

    sh = rs.add_parser("show", help="summarise an operating table")
    sh.add_argument("--table", required=True)
    sh.add_argument("--json", action="store_true", help="print the summary as JSON")
    sh.set_defaults(func=run_show)

    g = rs.add_parser("trace", help="write a generated trace to CSV")
    g.add_argument("spec", help="e.g. walk:duration_s=60,min_w=0.05,max_w=0.5,seed=1")
    g.add_argument("--out", required=True, help="CSV path")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    g.set_defaults(func=run_trace)


SIMULATE_OUTPUTS = ("timeline.csv", "windows.csv", "decisions.csv", "summary.json",
                    "timeline.png", "comparison.json", "comparison.png")


def _remove_simulate_outputs(out: str) -> None:
    """The files a simulate run wrote into ``out`` (and its per-policy folders)."""
    for d in (out, *(os.path.join(out, pol) for pol in ("budget", "feedback"))):
        for name in SIMULATE_OUTPUTS:
            if os.path.isfile(os.path.join(d, name)):
                os.remove(os.path.join(d, name))
        if d != out and os.path.isdir(d) and not os.listdir(d):
            os.rmdir(d)


CONTROLLER_OPTIONS = ("min_dwell_s", "margin", "cap_mode", "miss_target", "switch_energy_j",
                      "switch_latency_s")


def run_show(args: argparse.Namespace) -> int:
    from dynpim.runtime import OperatingTable

    table = OperatingTable.load(args.table)
    print(json.dumps(table.summary(), indent=1) if args.json else table.describe())
    return 0


def run_trace(args: argparse.Namespace) -> int:
    from dynpim.runtime import parse_spec

    check_output_file(args.out, overwrite=args.overwrite)
    trace = parse_spec(args.spec)
    trace.save_csv(args.out)
    print(f"wrote {args.out}: {len(trace)} rows, {trace.duration_s:g} s")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from dynpim.runtime import Controller, OperatingTable, Trace, parse_spec
    from dynpim.runtime.comparison import best_static, compare, comparison_markdown
    from dynpim.runtime.simulator import REQUEST_COLUMNS, arrival_times, check_options, simulate

    previous = check_run_dir(args.out, "simulate", overwrite=args.overwrite,
                             resume_option=None)
    table = OperatingTable.load(args.table)
    trace = Trace.load_csv(args.trace) if args.trace else parse_spec(args.generate)
    policies = ("budget", "feedback") if args.policy == "all" else (args.policy,)
    kw = dict(deadline_s=args.deadline_s, min_accuracy=args.min_accuracy,
              arrivals=args.arrivals, seed=args.seed,
              queue_limit=None if args.queue_limit < 0 else args.queue_limit,
              window_s=args.window_s, idle_power_w=args.idle_power_w,
              actual_latency_scale=args.latency_error, actual_power_scale=args.power_error,
              min_dwell_s=args.min_dwell_s, margin=args.margin, cap_mode=args.cap_mode,
              miss_target=args.miss_target,
              switch_energy_j=args.switch_energy_j, switch_latency_s=args.switch_latency_s)
    Controller(table, policies[0], **{k: kw[k] for k in CONTROLLER_OPTIONS})  # validates them
    check_options(**{k: kw[k] for k in ("queue_limit", "idle_power_w", "actual_latency_scale",
                                        "actual_power_scale", "deadline_s", "window_s",
                                        "min_accuracy")})
    arrival_times(trace, args.arrivals, args.seed)  # the trace's size is within bounds
    if previous is not None:  # --overwrite: what a simulate run wrote, nothing else
        _remove_simulate_outputs(args.out)
    claim_run_dir(args.out, "simulate", {"table": os.path.abspath(args.table),
                                         "trace": args.trace or args.generate,
                                         "policy": args.policy, **kw},
                  overwrite=args.overwrite, resume_option=None)
    rows = []
    for pol in policies:
        d = args.out if len(policies) == 1 else os.path.join(args.out, pol)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "timeline.csv"), "w", newline="") as f:
            timeline = csv.DictWriter(f, fieldnames=list(REQUEST_COLUMNS))
            timeline.writeheader()
            res = simulate(table, trace, policy=pol, name=f"dynamic:{pol}",
                           request_sink=timeline.writerow, **kw)
        res.write(d)
        if not args.no_plots:
            from dynpim.runtime.plots import plot_simulation

            plot_simulation(res, os.path.join(d, "timeline.png"))
        rows.append(res.summary)
        print(f"{pol}: wrote {d}/summary.json")
    rows += compare(table, trace, policies=(), **kw)
    with open(os.path.join(args.out, "comparison.json"), "w") as f:
        json.dump({"rows": rows,
                   "best_static": (best_static(rows, args.cap_mode) or {}).get("name")}, f,
                  indent=1)
    if not args.no_plots:
        from dynpim.runtime.plots import plot_comparison

        plot_comparison(rows, os.path.join(args.out, "comparison.png"))
    print(comparison_markdown(rows))
    b = best_static(rows, args.cap_mode)
    if b:
        print(f"\nbest static point (least over the cap, then accuracy): {b['name']}")
    return 0
