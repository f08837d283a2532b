"""Speed of the PIM model: configs/second of ``estimate_many`` on ResNet-20, and throughput of
the bit-wise functional engine vs ``torch.nn.functional.conv2d`` on the same integer layer.

Single thread (torch and numpy/BLAS). Writes benchmarks/results/pim_speed.json (machine info,
versions) and prints Markdown tables. Expected run time: ~30 s on 2 CPU cores.

    python benchmarks/pim_speed.py
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _common import add_provenance_args, md_table, start_run, write_result  # noqa: E402

from dynpim import pim  # noqa: E402
from dynpim.models import create_model  # noqa: E402


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_provenance_args(ap)
    start_run(ap.parse_args().allow_dirty)
    torch.set_num_threads(1)
    model = create_model("resnet20", num_classes=10, in_channels=1)
    hw = pim.load_preset("sot-mram")
    size = (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    rows = []
    for n in (1_000, 10_000, 100_000):
        cfgs = np.array([model.random_config(g).widths for _ in range(n)])
        pim.estimate_many(model, cfgs[:10], hw, input_size=size)  # warm caches
        t = best_of(lambda c=cfgs: pim.estimate_many(model, c, hw, input_size=size), 3)
        rows.append({"what": f"estimate_many, ResNet-20, {n} configs", "seconds": t,
                     "configs_per_s": n / t})
    cfg = model.max_config()
    t = best_of(lambda: pim.estimate(model, cfg, hw, input_size=size), 20)
    rows.append({"what": "estimate (one config, per-layer rows), ResNet-20", "seconds": t,
                 "configs_per_s": 1 / t})

    engine = []
    for bits, (b, c, m, hwd) in [(8, (1, 16, 16, 32)), (4, (1, 16, 16, 32)),
                                 (8, (1, 64, 64, 8)), (2, (1, 64, 64, 8))]:
        x = torch.randint(0, 2**bits, (b, c, hwd, hwd), generator=g)
        w = torch.randint(-(2 ** (bits - 1)), 2 ** (bits - 1), (m, c, 3, 3), generator=g)
        y = pim.bitwise_conv2d(x, w, bits, bits, padding=1)
        ref = F.conv2d(x.double(), w.double(), padding=1).long()
        assert torch.equal(y, ref)
        t_eng = best_of(lambda x=x, w=w, bits=bits: pim.bitwise_conv2d(x, w, bits, bits,
                                                                       padding=1), 3)
        xf, wf = x.double(), w.double()
        t_ref = best_of(lambda xf=xf, wf=wf: F.conv2d(xf, wf, padding=1), 20)
        macs = m * c * 9 * hwd * hwd * b
        engine.append({"layer": f"conv3x3 {c}->{m}, {hwd}x{hwd}, W{bits}/A{bits}",
                       "macs": macs, "engine_s": t_eng, "conv2d_float64_s": t_ref,
                       "slowdown": t_eng / t_ref, "exact": True})

    md = md_table(["PIM cost model (sot-mram, 1 thread)", "time", "configs/s"],
                  [[r["what"], f"{r['seconds'] * 1e3:.2f} ms", f"{r['configs_per_s']:,.0f}"]
                   for r in rows])
    md += "\n\n" + md_table(
        ["bit-wise engine layer", "MACs", "engine", "F.conv2d (float64)", "slowdown", "exact"],
        [[e["layer"], f"{e['macs'] / 1e6:.2f} M", f"{e['engine_s'] * 1e3:.1f} ms",
          f"{e['conv2d_float64_s'] * 1e3:.2f} ms", f"{e['slowdown']:.0f}x", "yes"]
         for e in engine])
    path = write_result("pim_speed", {"estimate": rows, "engine": engine}, markdown=md)
    print(md)
    print(f"\nwrote {path}")

if __name__ == "__main__":
    main()
