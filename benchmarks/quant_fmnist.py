"""Quantization-aware dynamic ResNet-20 on Fashion-MNIST, executed on the bit-wise PIM engine.

1. Train a float dynamic ResNet-20 (sandwich rule, uniform widths in [0.25, 1]).
2. Fine-tune it quantized (QAT from the float weights) at 8/8 and 4/4 bits (W/A); as the fair
   baseline, fine-tune the float model the same number of epochs at the same learning rate.
3. Test top-1 per width (0.25, 0.5, 0.75, 1.0) of the fake-quant models (BN calibrated per width
   on training batches), and the agreement of the integer path with the fake-quant predictions.
4. Run the smallest and largest sub-net through ``dynpim.pim.execute`` (every conv/linear on
   bit-planes: AND + popcount + shift-add) on the full test set; check it equals the integer path
   and report its throughput.
5. Accuracy of the 4/4 largest sub-net vs sensing bit-flip probability.

    python benchmarks/quant_fmnist.py --device cuda               # real run (~5 min on a H100)
    python benchmarks/quant_fmnist.py --device cpu --quick        # smoke run (~2 min on 2 CPUs)

The whole dataset lives on the device as one tensor (no DataLoader workers). Writes
``benchmarks/results/quant_fmnist.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from dataclasses import replace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    add_provenance_args,
    md_table,
    part_stamp,
    start_run,
    write_result,
)

from dynpim.data import load_dataset  # noqa: E402
from dynpim.models import create_model  # noqa: E402
from dynpim.nn import SubnetConfig, calibrate_bn  # noqa: E402
from dynpim.pim import estimate, execute, load_preset  # noqa: E402
from dynpim.quant import exact_float32, integer_forward, load_float_weights, quantized_subnet  # noqa: E402  # noqa: E402
from dynpim.train import TrainConfig, calibration_batches, load_checkpoint, train  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=4, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=None,
                   help="quantized fine-tuning epochs per bit-width (default: epochs // 2)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--qat-lr", type=float, default=0.02)
    p.add_argument("--bits", default="8/8,4/4", help="W/A pairs, comma separated")
    p.add_argument("--widths", default="0.25,0.5,0.75,1.0")
    p.add_argument("--flip-probs", default="1e-5,1e-4,1e-3,1e-2")
    p.add_argument("--flip-images", type=int, default=2000, help="test images per flip level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 512 training / 128 test images, 1 epoch, 32 PIM images")
    p.add_argument("--name", default=None, help="result name (default quant_fmnist[_quick])")
    p.add_argument("--float-checkpoint", default=None,
                   help="start from this trained float dynamic ResNet-20 (e.g. the one "
                   "accuracy_fmnist.py trains) instead of training one")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the float fine-tune baseline (run it in another process)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="combine results of parallel runs from one float model into --name")
    add_provenance_args(p)
    return p.parse_args()


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return round(100.0 * float((logits.argmax(1).cpu() == y.cpu()).float().mean()), 3)


@torch.no_grad()
def fake_quant_logits(model, cfg, x, batch=1000) -> torch.Tensor:
    model.eval()
    with model.subnet(cfg):
        return torch.cat([model(xb) for xb in x.split(batch)])


def merge(paths: list[str], name: str) -> None:
    """Combine runs that started from the same float checkpoint (e.g. baseline and QAT in
    parallel processes) into one result."""
    parts = [json.load(open(p)) for p in paths]
    bases = {p["settings"].get("float_checkpoint") for p in parts}
    if len(bases) != 1 or None in bases:
        raise SystemExit(f"can only merge runs from one --float-checkpoint, got {bases}")
    res = {**parts[0], "top1": {}, "time_s": {}, "pim": [], "flip": [], "agreement": {},
           "merged_from": [p.get("command", "?") for p in parts]}
    for p in parts:
        for k in ("top1", "time_s", "agreement"):
            res[k].update(p.get(k, {}))
        res["pim"] += p.get("pim", [])
        res["flip"] += p.get("flip", [])
    for k in ("benchmark", "command", "machine", "markdown", "partial"):
        res.pop(k, None)
    widths = [float(w) for w in res["macs"]]
    md = markdown(res, widths)
    print(md)
    res["parts"] = [part_stamp(path, p) for path, p in zip(paths, parts)]
    res["accuracy_split"] = "test"
    dirty = any(p.get("dirty") or p.get("machine", {}).get("dirty") for p in parts)
    res["dirty"] = dirty
    path = write_result(name, res, markdown=md, command=" ; ".join(res["merged_from"]),
                        machine=parts[0].get("machine"),
                        quick=bool(res.get("settings", {}).get("quick")),
                        allow_dirty=True if dirty else None)
    print(f"wrote {path}")


def main() -> None:
    a = parse()
    if a.merge:
        merge(a.merge, a.name or "quant_fmnist")
        return
    with exact_float32():  # fake-quant on a GPU in true float32, comparable with integers
        run(a)


def run(a: argparse.Namespace) -> None:
    """The benchmark proper (see the module docstring)."""
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    torch.backends.cudnn.benchmark = dev.type == "cuda"
    start_run(a.allow_dirty)
    t_start = time.perf_counter()
    splits = load_dataset("fashion-mnist", data_dir=a.data_dir, holdout=0)
    epochs, qat_epochs = a.epochs, a.qat_epochs or max(1, a.epochs // 2)
    pim_images, flip_images = len(splits.test_y), a.flip_images
    if a.quick:
        splits = replace(splits, train_x=splits.train_x[:512], train_y=splits.train_y[:512],
                         test_x=splits.test_x[:128], test_y=splits.test_y[:128])
        epochs = qat_epochs = 1
        pim_images, flip_images = 32, 32
    splits = splits.to(dev)
    widths = [float(w) for w in a.widths.split(",")]
    bits = [] if a.bits == "none" else [tuple(int(b) for b in s.split("/"))
                                        for s in a.bits.split(",")]
    calib_n = 4 if a.quick else 50
    runs = tempfile.mkdtemp(prefix="quant_fmnist_")
    base = TrainConfig(model="resnet20", dataset="fashion-mnist", holdout=0, epochs=epochs,
                       batch_size=a.batch_size if not a.quick else 64, lr=a.lr,
                       warmup_epochs=min(1.0, epochs / 4), seed=a.seed, eval_widths=widths,
                       device=a.device, progress=False, calib_batches=calib_n)
    res: dict = {"accuracy_split": "test (trained on all training images, nothing selected)",
                 "settings": {**base.to_dict(), "qat_epochs": qat_epochs, "qat_lr": a.qat_lr,
                              "quick": a.quick, "float_checkpoint": a.float_checkpoint,
                              "train_images": len(splits.train_y),
                              "test_images": len(splits.test_y)},
                 "top1": {}, "time_s": {}, "pim": [], "flip": [], "agreement": {}}
    kw = {"in_channels": 1, "image_size": 28, "num_classes": 10}
    name = a.name or ("quant_fmnist_quick" if a.quick else "quant_fmnist")

    def save_partial(stage: str) -> None:  # a run cut short still leaves what it measured
        write_result(name, {**res, "partial": stage}, markdown=f"(partial run: {stage})",
                     partial=True)

    # -- 1. float ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if a.float_checkpoint:
        ck = load_checkpoint(a.float_checkpoint)
        float_model, rows = ck.model.to(dev), ck.meta["test"]
        res["settings"]["float_run"] = ck.meta.get("train_config", {})
    else:
        float_model = create_model("resnet20", **kw)
        rows = train(replace(base, out=os.path.join(runs, "float")), model=float_model,
                     splits=splits).final["test"]
        res["time_s"]["train_float"] = round(time.perf_counter() - t0, 1)
    res["top1"]["float"] = {f"{r['ratio']:g}": r["top1_test"] for r in rows}
    res["macs"] = {f"{r['ratio']:g}": r["macs"] for r in rows}
    print(f"float: {res['top1']['float']} ({res['time_s'].get('train_float')} s)", flush=True)
    float_state = copy.deepcopy(float_model.state_dict())
    if not a.no_baseline:
        # same extra fine-tuning as the quantized models get, in float: the fair baseline
        t0 = time.perf_counter()
        ft = train(replace(base, epochs=qat_epochs, lr=a.qat_lr, warmup_epochs=0.0,
                           out=os.path.join(runs, "float_ft")), model=float_model, splits=splits)
        res["time_s"]["train_float_ft"] = round(time.perf_counter() - t0, 1)
        res["top1"]["float_ft"] = {f"{r['ratio']:g}": r["top1_test"] for r in ft.final["test"]}
        print(f"float fine-tuned: {res['top1']['float_ft']}", flush=True)
        save_partial("float done")

    calib = calibration_batches(splits, batch_size=256, num_batches=calib_n)
    hw = load_preset("sot-mram")
    x_test, y_test = splits.test_x, splits.test_y
    for wb, ab in bits:
        tag = f"w{wb}a{ab}"
        # -- 2. QAT from the float weights -------------------------------------------------------
        t0 = time.perf_counter()
        model = create_model("resnet20", wbits=wb, abits=ab, **kw)
        load_float_weights(model, float_state)
        qcfg = replace(base, epochs=qat_epochs, lr=a.qat_lr, warmup_epochs=0.0,
                       out=os.path.join(runs, tag))
        out = train(qcfg, model=model, splits=splits)
        res["time_s"][f"train_{tag}"] = round(time.perf_counter() - t0, 1)
        res["top1"][tag] = {f"{r['ratio']:g}": r["top1_test"] for r in out.final["test"]}
        print(f"{tag}: {res['top1'][tag]} ({res['time_s'][f'train_{tag}']} s)", flush=True)
        save_partial(f"{tag} trained")
        # -- 3. integer path vs fake-quant, per width -------------------------------------------
        model.eval()
        res["agreement"][tag] = {}
        cfgs = {w: SubnetConfig.uniform(model, w) for w in widths}
        for w, cfg in cfgs.items():
            calibrate_bn(model, cfg, calib)
            fq = fake_quant_logits(model, cfg, x_test)
            ip = integer_forward(model, cfg, x_test)
            res["agreement"][tag][f"{w:g}"] = {
                "prediction_agreement_pct": accuracy(ip, fq.argmax(1)),
                "integer_top1": accuracy(ip, y_test),
                "max_abs_logit_diff": float((ip.cpu() - fq.double().cpu()).abs().max())}
        # -- 4. PIM execution of the smallest and largest sub-net ------------------------------
        for w in (min(widths), max(widths)):
            cfg = cfgs[w]
            calibrate_bn(model, cfg, calib)
            qs = quantized_subnet(model, cfg)
            xs, ys = x_test[:pim_images], y_test[:pim_images]
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            logits = execute(model, cfg, xs, hw, batch_size=500 if dev.type == "cuda" else 64,
                             qs=qs)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            ref = integer_forward(model, cfg, xs, qs=qs)
            fq = fake_quant_logits(model, cfg, xs)
            cost = estimate(model, cfg, hw, input_size=(1, 28, 28), wbits=wb, abits=ab)
            row = {"bits": tag, "width": w, "images": len(ys), "pim_top1": accuracy(logits, ys),
                   "fake_quant_top1": accuracy(fq, ys),
                   "equals_integer_path": bool(torch.equal(logits.cpu(), ref.cpu())),
                   "agreement_with_fake_quant_pct": accuracy(logits, fq.argmax(1)),
                   "execute_s": round(dt, 2), "images_per_s": round(len(ys) / dt, 1),
                   "latency_s": cost.latency_s, "energy_j": cost.energy_j,
                   "avg_power_w": cost.avg_power_w}
            res["pim"].append(row)
            print(f"PIM {tag} width {w}: {row}", flush=True)
            save_partial(f"{tag} width {w:g} executed")
    # -- 5. bit flips on the last (lowest-precision) model, largest width -----------------------
    if not bits:
        res["time_s"]["total"] = round(time.perf_counter() - t_start, 1)
        print(f"wrote {write_result(name, res, markdown='(float baseline only)', quick=a.quick)}")
        return
    cfg = cfgs[max(widths)]
    calibrate_bn(model, cfg, calib)
    qs = quantized_subnet(model, cfg)
    xs, ys = x_test[:flip_images], y_test[:flip_images]
    clean = accuracy(execute(model, cfg, xs, qs=qs), ys)
    res["flip"].append({"bits": tag, "width": max(widths), "flip_prob": 0.0, "top1": clean})
    for p in (float(v) for v in a.flip_probs.split(",")):
        t0 = time.perf_counter()
        acc = accuracy(execute(model, cfg, xs, flip_prob=p, generator=a.seed, qs=qs,
                               batch_size=500 if dev.type == "cuda" else 64), ys)
        res["flip"].append({"bits": tag, "width": max(widths), "flip_prob": p, "top1": acc,
                            "images": len(ys), "time_s": round(time.perf_counter() - t0, 1)})
        print(f"flip p={p:g}: top-1 {acc}", flush=True)
    res["time_s"]["total"] = round(time.perf_counter() - t_start, 1)
    md = markdown(res, widths)
    print(md)
    print(f"wrote {write_result(name, res, markdown=md, quick=a.quick)}")


TARGETS = {"w8a8": 0.3, "w4a4": 1.5}  # the targets: points below float (+ fine-tune)


def verdict(res: dict, widths: list[float]) -> str:
    """Each bit-width's worst drop against the float baseline, checked against its target."""
    base = res["top1"].get("float_ft", res["top1"]["float"])
    out = []
    for tag, limit in TARGETS.items():
        if tag in res["top1"]:
            drop = max(base[f"{w:g}"] - res["top1"][tag][f"{w:g}"] for w in widths)
            out.append(f"{tag}: worst drop {drop:+.2f} points vs float + fine-tune, target "
                       f"<= {limit} -> {'met' if drop <= limit else 'NOT met'}")
    return "Targets: " + ("; ".join(out) if out else "n/a") + "."


def markdown(res: dict, widths: list[float]) -> str:
    tags = [t for t in res["top1"] if not t.startswith("float")]
    rows = []
    for w in widths:
        k = f"{w:g}"
        fl = res["top1"].get("float_ft", res["top1"]["float"])[k]  # no baseline: vs float
        row = [k, f"{res['macs'][k] / 1e6:.2f}", f"{res['top1']['float'][k]:.2f}", f"{fl:.2f}"]
        for t in tags:
            q = res["top1"][t][k]
            agree = res["agreement"][t][k]["prediction_agreement_pct"]
            row += [f"{q:.2f} ({q - fl:+.2f})", f"{agree:.2f}"]
        rows.append(row)
    head = ["width", "MMACs", "float top-1", "float + fine-tune top-1"]
    for t in tags:
        head += [f"{t} top-1 (vs float+ft)", f"{t} int-path agreement %"]
    s = res["settings"]
    fr = s.get("float_run") or s
    src = (f" (the dynamic network of accuracy_fmnist: batch {fr.get('batch_size')}, lr "
           f"{fr.get('lr')})" if s.get("float_checkpoint") else "")
    parts = [f"ResNet-20 dynamic on Fashion-MNIST: float {fr['epochs']} epochs{src}, then QAT "
             f"{s['qat_epochs']} epochs per bit-width from the float weights (and the same "
             f"fine-tuning in float as the baseline); "
             f"{s['train_images']} train / {s['test_images']} test images.", "",
             md_table(head, rows), ""]
    prow = [[r["bits"], r["width"], r["images"], f"{r['fake_quant_top1']:.2f}",
             f"{r['pim_top1']:.2f}", r["equals_integer_path"],
             f"{r['agreement_with_fake_quant_pct']:.2f}", f"{r['images_per_s']:.0f}",
             f"{r['latency_s'] * 1e6:.1f}", f"{r['energy_j'] * 1e6:.2f}"] for r in res["pim"]]
    parts += [md_table(["bits", "width", "images", "fake-quant top-1", "PIM top-1",
                        "PIM == integer path", "PIM/fake-quant agreement %", "execute img/s",
                        "latency (us)", "energy (uJ)"], prow), ""]
    parts += [verdict(res, widths), ""]
    frow = [[r["bits"], f"{r['flip_prob']:g}", f"{r['top1']:.2f}"] for r in res["flip"]]
    parts.append(md_table(["bits", "bit-flip probability", "PIM top-1"], frow))
    return "\n".join(parts)


if __name__ == "__main__":
    main()
