"""Measured latency of exported sub-nets on the machine at hand (CPU or CUDA): the second
hardware target beside the PIM model (DAC'20 reports measured CPU and GPU latency per sub-net).

Every config is exported as a plain static module (``DynamicNet.export_subnet``), run in eval
mode under ``torch.inference_mode`` on a fixed random input; ``warmup`` untimed runs, then
``repeats`` timed runs (``time.perf_counter``; CUDA synchronised around each run); the median
is the latency. Threads, device, processor and versions are recorded with the numbers.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

from dynpim.nn import DynamicNet, SubnetConfig, calibrate_bn

SCHEMA = "dynpim.latency/1"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    model: DynamicNet,
    configs: Sequence[SubnetConfig],
    *,
    device: str = "cpu",
    threads: Sequence[int] | None = None,
    batch_size: int = 1,
    warmup: int = 10,
    repeats: int = 50,
    calib: Sequence[torch.Tensor] | None = None,
) -> dict[str, Any]:
    """``{"schema", "device", "threads", "batch_size", "warmup", "repeats", "machine",
    "points": [{"widths", "key", "macs", "threads", "median_s", "p10_s", "p90_s", "min_s"}]}``
    for every config (and every CPU thread count of ``threads``; default: torch's current).

    Exporting needs BN statistics: a config not yet banked is calibrated on ``calib`` (or, when
    none is given, on one random batch -- latency does not depend on the statistics' values)."""
    if warmup < 0 or repeats < 1 or batch_size < 1:
        raise ValueError(f"latency needs warmup >= 0, repeats >= 1, batch_size >= 1; got "
                         f"{warmup}, {repeats}, {batch_size}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda but CUDA is not available on this machine")
    before = torch.get_num_threads()
    counts = list(threads) if threads else [before]
    if any(t < 1 for t in counts):
        raise ValueError(f"thread counts must be >= 1, got {counts}")
    configs = list(dict.fromkeys(model.validate(c) for c in configs))
    x = torch.randn(batch_size, *model.input_size, generator=torch.Generator().manual_seed(0))
    x = x.to(dev)
    points = []
    try:
        banked = {c.key for c in model.banked_configs()}
        for cfg in configs:
            if cfg.key not in banked:
                batches = list(calib) if calib else [torch.randn(
                    8, *model.input_size, generator=torch.Generator().manual_seed(1))]
                home = next(model.parameters()).device
                calibrate_bn(model, cfg, [b.to(home) for b in batches])
            static = model.export_subnet(cfg).to(dev).eval()
            macs = int(model.macs(cfg))
            for t in counts:
                torch.set_num_threads(int(t))
                times = []
                with torch.inference_mode():
                    for i in range(warmup + repeats):
                        _sync(dev)
                        t0 = time.perf_counter()
                        static(x)
                        _sync(dev)
                        if i >= warmup:
                            times.append(time.perf_counter() - t0)
                q = statistics.quantiles(times, n=10) if len(times) >= 2 else times * 9
                points.append({"widths": list(cfg.widths), "key": cfg.key, "macs": macs,
                               "threads": int(t), "median_s": statistics.median(times),
                               "p10_s": q[0], "p90_s": q[-1], "min_s": min(times)})
    finally:
        torch.set_num_threads(before)
    return {"schema": SCHEMA, "model": model.name, "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
            (platform.processor() or platform.machine()),
            "threads": counts, "batch_size": batch_size, "warmup": warmup, "repeats": repeats,
            "input_size": list(model.input_size),
            "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__,
                        "platform": platform.platform(),
                        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg")
                        else None},
            "points": points}
