"""Re-check the search's conclusions under PIM model v2 (issue 14, item 6).

Takes the recorded uniform and non-uniform ResNet-20 sub-nets of ``search_fmnist.json`` (their
recorded accuracies: test split, one seed; see that section), costs every config on the
default preset with all sub-arrays powered at W8/A8, once with the cost model of this commit
and once with the v1 numbers given by ``--before`` (made by running this script with ``--raw``
on a checkout of the last v1 commit), and reports which sub-nets are Pareto-optimal on
latency and on energy, and the non-uniform minus uniform accuracy gap at equal cost.

    python benchmarks/pim_v2_recheck.py --raw /tmp/v1.json        # on the v1 checkout
    python benchmarks/pim_v2_recheck.py --before /tmp/v1.json     # here

The recorded recheck read the single-seed search_fmnist result of commit d63cc29; to read that
file again: ``git show d63cc29:benchmarks/results/search_fmnist.json > /tmp/s.json`` and
``--search /tmp/s.json``. On a multi-seed result, ``--seed`` picks the seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dynpim import pim
from dynpim.models import create_model

HERE = Path(__file__).resolve().parent
FAMILIES = ("uniform", "nonuniform")


def load_points(path: Path, seed: int | None = None) -> list[dict]:
    """The uniform and non-uniform points of a search_fmnist result: a one-seed file holds
    them at the top level (the recorded v1/v2 recheck used such a file, at commit d63cc29), a
    multi-seed file per seed (``seed`` picks one; default: the first)."""
    data = json.loads(path.read_text())
    if "per_seed" in data and not all(fam in data for fam in FAMILIES):
        runs = data["per_seed"]
        run = runs[0] if seed is None else next((r for r in runs if r["seed"] == seed), None)
        if run is None:
            raise SystemExit(f"{path}: no seed {seed}; it holds {[r['seed'] for r in runs]}")
        data = run["curves"]
    return [{"family": fam, "label": f"{fam[0]}{i}", "config": p["config"],
             "accuracy": 100 * p["accuracy"], "macs": p["macs"]}
            for fam in FAMILIES for i, p in enumerate(data[fam])]


def cost(points: list[dict]) -> dict[str, list[float]]:
    """Latency (s) and energy (J) of every point on the default preset, all sub-arrays."""
    model = create_model("resnet20", num_classes=10, in_channels=1)
    r = pim.estimate_many(model, [p["config"] for p in points], pim.load_preset("sot-mram"),
                          input_size=(1, 28, 28), wbits=8, abits=8)
    return {"latency_s": [float(v) for v in r["latency_s"]],
            "energy_j": [float(v) for v in r["energy_j"]]}


def pareto(acc: np.ndarray, c: np.ndarray) -> list[int]:
    """Indices not dominated (another point at least as accurate and strictly cheaper, or
    cheaper-or-equal and strictly more accurate)."""
    keep = []
    for i in range(len(acc)):
        dominated = np.any(((acc >= acc[i]) & (c < c[i])) | ((acc > acc[i]) & (c <= c[i])))
        if not dominated:
            keep.append(i)
    return keep


def gap(points: list[dict], c: np.ndarray) -> dict[str, float | int]:
    """Non-uniform accuracy minus the uniform curve interpolated at the same cost, over the
    cost range both families cover."""
    acc = np.array([p["accuracy"] for p in points])
    fam = np.array([p["family"] for p in points])
    u = np.argsort(c[fam == "uniform"])
    uc, ua = c[fam == "uniform"][u], acc[fam == "uniform"][u]
    nu = np.where(fam == "nonuniform")[0]
    inside = [i for i in nu if uc[0] <= c[i] <= uc[-1]]
    g = np.array([acc[i] - np.interp(c[i], uc, ua) for i in inside])
    return {"points": len(inside), "mean": float(g.mean()), "min": float(g.min()),
            "at_or_above": int((g >= 0).sum())}


def analyse(points: list[dict], costs: dict[str, list[float]]) -> dict:
    acc = np.array([p["accuracy"] for p in points])
    uni = [i for i, p in enumerate(points) if p["family"] == "uniform"]
    small = min(uni, key=lambda i: points[i]["macs"])
    large = max(uni, key=lambda i: points[i]["macs"])
    out = {}
    for key in ("latency_s", "energy_j"):
        c = np.array(costs[key])
        out[key] = {"pareto": [points[i]["label"] for i in pareto(acc, c)], "gap": gap(points, c),
                    "ratio_smallest_to_largest": float(c[small] / c[large])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--search", default=str(HERE / "results" / "search_fmnist.json"))
    ap.add_argument("--seed", type=int, help="the seed to take from a multi-seed result")
    ap.add_argument("--raw", help="only write this checkout's costs to this JSON file")
    ap.add_argument("--before", help="JSON of the v1 costs (from --raw on the v1 checkout)")
    ap.add_argument("--allow-dirty", action="store_true")
    args = ap.parse_args()
    points = load_points(Path(args.search), args.seed)
    now = cost(points)
    if args.raw:
        Path(args.raw).write_text(json.dumps(now))
        return
    from _common import md_table, write_result

    runs = {"v2": now}
    if args.before:
        runs = {"v1": json.loads(Path(args.before).read_text()), "v2": now}
    result = {name: analyse(points, c) for name, c in runs.items()}
    rows = []
    for i, p in enumerate(points):
        row = [p["label"], f"{p['macs'] / 1e6:.2f}", f"{p['accuracy']:.2f}"]
        for c in runs.values():
            row += [f"{c['latency_s'][i] * 1e6:.1f}", f"{c['energy_j'][i] * 1e6:.2f}"]
        rows.append(row)
    head = ["sub-net", "MACs (M)", "top-1 % (test)"]
    for name in runs:
        head += [f"{name} latency (µs)", f"{name} energy (µJ)"]
    md = md_table(head, rows) + "\n\n"
    md += md_table(
        ["model", "Pareto on latency", "Pareto on energy", "NU-U gap at equal latency "
         "(mean / min, points)", "NU-U gap at equal energy (mean / min, points)",
         "smallest / largest uniform: latency / energy"],
        [[name, ", ".join(r["latency_s"]["pareto"]), ", ".join(r["energy_j"]["pareto"]),
          "{mean:+.2f} / {min:+.2f} ({at_or_above} of {points} >= 0)".format(
              **r["latency_s"]["gap"]),
          "{mean:+.2f} / {min:+.2f} ({at_or_above} of {points} >= 0)".format(
              **r["energy_j"]["gap"]),
          f"{r['latency_s']['ratio_smallest_to_largest']:.2f} / "
          f"{r['energy_j']['ratio_smallest_to_largest']:.2f}"]
         for name, r in result.items()])
    md += ("\n\nu* = uniform, n* = non-uniform (hardware-aware search) sub-nets of "
           "search_fmnist (one seed; accuracy on the test split, as recorded there). Costs: "
           "ResNet-20, 1x28x28, W8/A8, default sot-mram preset and mapping, all sub-arrays "
           "powered; v1 = the cost model and preset before issue 14 (2,048 sub-arrays, one "
           "pixel per sensed row, per-used-bit energy).")
    path = write_result("pim_v2_recheck", {"points": points, "costs": runs, "analysis": result,
                                           "accuracy_split": "test (recorded by search_fmnist; "
                                           "not used to select anything here)"}, markdown=md)
    print(md)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
