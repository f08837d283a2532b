"""Operating-point switch time of ``DynamicRuntime`` vs re-loading a static sub-net from disk
(ResNet-20, CPU, one thread).

Measures, between two configs with banked BN statistics (uniform 0.5 and 1.0):
(a) ``model.set_subnet`` alone, (b) ``DynamicRuntime.switch_to`` and (c) ``set_budget`` with a
budget change that makes the controller switch (decision + switch), against (d) re-loading the
static exported sub-net's weights from disk into a pre-built module: safetensors and
``torch.save``/``torch.load(weights_only=True)`` state dicts (page-cache warm; a cold disk read
is slower still). Target (issue 7): switch <= 50 us. Every figure is the best of ``--best-of``
rounds (default 3), with the 1-minute load average before each round recorded.
Expected run time: ~1 minute on 2 CPU cores.

    python benchmarks/runtime_switch.py [--repeats 2000] [--best-of 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
from _common import add_provenance_args, best_of, md_table, start_run, write_result
from safetensors.torch import load_file, save_file

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.runtime import DynamicRuntime, OperatingPoint, OperatingTable


def per_call_us(fn, repeats: int, inner: int = 1) -> float:
    """Median over ``repeats`` batches of ``inner`` calls, in microseconds per call."""
    for _ in range(10):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter_ns() - t0) / inner / 1e3)
    return statistics.median(samples)


ROUNDS: dict[str, dict] = {}


def best_us(name: str, fn, repeats: int, inner: int, k: int) -> float:
    """Best of ``k`` rounds of :func:`per_call_us`; every round and its load kept in ROUNDS."""
    r = best_of(lambda: per_call_us(fn, repeats, inner), k)
    ROUNDS[name] = {"rounds_us": r["rounds"], "load_1min": r["load_1min"]}
    return r["best"]


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--best-of", type=int, default=3, help="rounds; the best is kept (default 3)")
    add_provenance_args(ap)
    args = ap.parse_args()
    start_run(args.allow_dirty)
    k = args.best_of
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model("resnet20")
    cfgs = [SubnetConfig.uniform(model, 0.5), model.max_config()]
    batches = [torch.randn(16, *model.input_size) for _ in range(2)]
    for c in cfgs:
        calibrate_bn(model, c, batches)
    # costs are placeholders: only the switch mechanics are measured here
    small = OperatingPoint(cfgs[0], 64, 0.85, 1e-3, 1e-4, 0.1)
    big = OperatingPoint(cfgs[1], 64, 0.90, 2e-3, 4e-4, 0.2)
    table = OperatingTable.from_points([small, big])
    rt = DynamicRuntime(model, table)

    state = {"i": 0}

    def raw():
        state["i"] ^= 1
        model.set_subnet(cfgs[state["i"]])

    def runtime_switch():
        state["i"] ^= 1
        rt.switch_to(table[state["i"]])

    def budget_switch():
        state["i"] ^= 1
        rt.set_budget(power_w=0.15 if state["i"] else None, now_s=0.0)

    res = {"set_subnet_us": best_us("set_subnet", raw, args.repeats, 10, k),
           "runtime_switch_to_us": best_us("switch_to", runtime_switch, args.repeats, 10, k),
           "runtime_set_budget_us": best_us("set_budget", budget_switch, args.repeats, 10, k)}

    reload_rows = {}
    with tempfile.TemporaryDirectory() as d:
        for c in cfgs:
            static = model.export_subnet(c)
            sd = {k: v.contiguous() for k, v in static.state_dict().items()}
            st_path, pt_path = os.path.join(d, f"{c.key}.safetensors"), os.path.join(d, "m.pt")
            save_file(sd, st_path)
            torch.save(sd, pt_path)
            mb = os.path.getsize(st_path) / 1e6

            def load_st(static=static, p=st_path):
                static.load_state_dict(load_file(p))

            def load_pt(static=static, p=pt_path):
                static.load_state_dict(torch.load(p, weights_only=True))

            n = max(20, args.repeats // 20)
            reload_rows[c.key] = {
                "size_mb": mb, "safetensors_us": best_us(f"{c.key} safetensors", load_st, n, 1, k),
                "torch_load_us": best_us(f"{c.key} torch.load", load_pt, n, 1, k)}
    res["reload"] = reload_rows
    worst_reload = max(r["safetensors_us"] for r in reload_rows.values())
    rows = [["model.set_subnet", f"{res['set_subnet_us']:.2f}", "-"],
            ["DynamicRuntime.switch_to", f"{res['runtime_switch_to_us']:.2f}", "-"],
            ["DynamicRuntime.set_budget (decide + switch)",
             f"{res['runtime_set_budget_us']:.2f}", "-"]]
    for key, r in reload_rows.items():
        label = "1.0" if key == cfgs[1].key else "0.5"
        base = res["set_subnet_us"]
        rows.append([f"reload static x{label} (safetensors, {r['size_mb']:.2f} MB)",
                     f"{r['safetensors_us']:.1f}", f"{r['safetensors_us'] / base:.0f}x"])
        rows.append([f"reload static x{label} (torch.load weights_only)",
                     f"{r['torch_load_us']:.1f}", f"{r['torch_load_us'] / base:.0f}x"])
    loads = [v for r in ROUNDS.values() for v in r["load_1min"] if v is not None]
    md = (f"Best of {k} rounds, each the median of its calls (1-minute load average "
          f"{f'{min(loads):.2f}-{max(loads):.2f}' if loads else 'unavailable'}).\n\n")
    md += md_table(["operation (ResNet-20, 1 thread)", "median us per switch", "vs set_subnet"],
                   rows)
    md += (f"\n\nTarget <= 50 us per switch: set_budget {res['runtime_set_budget_us']:.2f} us "
           f"({'met' if res['runtime_set_budget_us'] <= 50 else 'NOT met'}); reloading a static "
           f"sub-net from a warm page cache costs up to {worst_reload:.0f} us.")
    write_result("runtime_switch", {"results": res, "configs": [c.key for c in cfgs],
                                    "repeats": args.repeats, "best_of": k, "rounds": ROUNDS,
                                    "accuracy_split": "none: no accuracy measured"},
                 markdown=md)
    print(md)


if __name__ == "__main__":
    main()
