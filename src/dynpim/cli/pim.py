"""``dynpim pim``: PIM latency / energy / power of a sub-net, or the list of hardware presets."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING

# option choices and defaults: dynpim.defaults imports no torch (`dynpim --help` registers every
# sub-command on each start); dynpim.pim re-exports the same objects
from dynpim.defaults import DEFAULT_MAPPING, DEFAULT_PRESET, MAPPINGS

if TYPE_CHECKING:
    from dynpim.pim import PimResult

_PREFIXES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
             (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]


def eng(value: float, unit: str, digits: int = 3) -> str:
    """``eng(2.5e-6, "s") == "2.50 µs"``: engineering prefix, ``digits`` significant digits."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    scale, prefix = next(((s, p) for s, p in _PREFIXES if abs(value) >= s), _PREFIXES[-1])
    v = value / scale
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{decimals}f} {prefix}{unit}"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pim", help="PIM cost of a sub-net (latency, energy, power, area) or list presets",
        description="Estimate one inference of a sub-net on a bit-wise PIM accelerator "
        "(default: SOT-MRAM): `dynpim pim [estimate] --model NAME ...`; or list the hardware "
        "presets with their sources: `dynpim pim presets`.")
    _estimate_options(p, suppress=False)
    actions = p.add_subparsers(dest="action", metavar="{estimate,presets}")
    est = actions.add_parser("estimate", help="cost of sub-nets of a model (the default)",
                             description="Estimate one inference of a sub-net on a bit-wise "
                             "PIM accelerator.")
    _estimate_options(est, suppress=True)
    actions.add_parser("presets", help="list the hardware presets with their sources",
                       description="List the hardware presets, their parameters and sources.")
    p.set_defaults(func=run, action="estimate")


def _estimate_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options of an estimate, on ``dynpim pim`` and on ``dynpim pim estimate`` (there
    with suppressed defaults, so options given before the sub-command are kept)."""
    def a(*flags: str, group=None, **kw) -> None:
        if suppress:
            kw["default"] = argparse.SUPPRESS
        (group or p).add_argument(*flags, **kw)

    a("--model", help="registered model name, e.g. resnet20")
    how = p.add_mutually_exclusive_group()
    a("--configs", "--config", dest="config", group=how, metavar="JSON",
      help="JSON file: one config {\"widths\": [...]} or a list (--config: the old name)")
    a("--width", type=float, group=how, help="uniform width ratio in (0, 1] (default 1)")
    a("--preset", default=DEFAULT_PRESET,
      help="hardware preset name or YAML path (default: %(default)s)")
    a("--wbits", type=int, help="weight bits (default: the preset's)")
    a("--abits", type=int, help="activation bits (default: the preset's)")
    a("--active-subarrays", type=int,
      help="power cap: at most this many computational sub-arrays powered at once; the rest "
      "are gated and the work is time-shared (default: all)")
    a("--mapping", choices=MAPPINGS, default=DEFAULT_MAPPING,
      help="what one sensed row holds: several output pixels' segments (pixel) or one "
      "(channel) (default: %(default)s)")
    a("--fit", action="store_true",
      help="size the chip to the model: the fewest banks that hold its max-width weights "
      "(x --fit-headroom), instead of the preset's bank count")
    a("--fit-headroom", type=float, default=1.0,
      help="with --fit: sub-arrays as a multiple of the densest packing, >= 1 (more room to "
      "spread channels: faster, larger) (default: %(default)s)")
    a("--rate", type=float,
      help="also report the average power at this many inferences per second (idle time "
      "between inferences included)")
    a("--per-layer", action="store_true", help="print the per-layer table")
    a("--json", help="also write the full result(s) to this JSON file")
    a("--input-size", help="C,H,W of one input (default: the model's)")
    a("--in-channels", type=int, help="model input channels (default: from --input-size, "
      "else the model's own)")
    a("--num-classes", type=int, help="model output classes (default: the model's own)")


def _input_size(args) -> tuple[int, int, int] | None:
    if not args.input_size:
        return None
    try:
        size = tuple(int(v) for v in args.input_size.split(","))
    except ValueError:
        size = ()
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"--input-size must be C,H,W positive ints, got {args.input_size!r}")
    return size


def _configs(args, model) -> list:
    from dynpim.nn import SubnetConfig, load_configs

    if args.config:
        with open(args.config) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{args.config}: not valid JSON: {e}") from None
        if isinstance(data, dict) and "widths" in data:
            return [model.validate(SubnetConfig.from_dict(data))]
        return [model.validate(c) for c in load_configs(args.config)]
    return [SubnetConfig.uniform(model, 1.0 if args.width is None else args.width)]


def _print_presets() -> None:
    from dynpim import pim

    for row in pim.list_presets():
        print(f"{row['name']}: {row['technology']}")
        print(f"  {row['description']}")
        print(f"  {row['parameters']} parameters, {row['assumed']} marked 'assumption'; "
              "cited / derived sources:")
        sources = row["sources"]
        assert isinstance(sources, (list, tuple))  # list_presets: dict[str, object] rows
        for s in sources:
            print(f"    - {s}")


def _print_result(r: PimResult, per_layer: bool, size, rate: float | None) -> None:
    first = r.layers[0]
    print(f"config {'-'.join(map(str, r.config))}  input {'x'.join(map(str, size))}  on "
          f"{r.preset}  W{r.wbits}/A{r.abits} (first layer reads {first.abits}-bit input), "
          f"{r.mapping} mapping, {r.active_subarrays}/{r.total_subarrays} sub-arrays powered")
    print(f"  latency      {eng(r.latency_s, 's')}")
    print(f"  energy       {eng(r.energy_j, 'J')}   "
          + ", ".join(f"{k} {eng(v, 'J')}" for k, v in r.energy_breakdown_j.items()))
    print(f"  power        while computing {eng(r.avg_power_w, 'W')}, peak layer "
          f"{eng(r.peak_power_w, 'W')}, idle {eng(r.idle_power_w, 'W')}")
    if rate is not None:
        print(f"  at {rate:g} inferences/s   average {eng(r.power_at(rate), 'W')}")
    print(f"  area         {r.area_mm2:.3g} mm²   MACs {r.macs / 1e6:.3f} M   "
          f"utilisation {100 * r.utilisation:.1f} % of powered sub-array time, "
          f"{100 * r.column_utilisation:.1f} % of sensed columns")
    print(f"  capacity     {r.mapped_subarrays} of {r.total_subarrays} sub-arrays hold weights, "
          f"{r.channels_per_subarray} channel(s)/sub-array, fits: {'yes' if r.fits else 'NO'}")
    print(f"  buffer       needs {r.buffer_bits_needed / 8192:.1f} KiB for the largest layer's "
          f"feature maps, fits: {'yes' if r.buffer_fits else 'NO'}")
    if not per_layer:
        return
    head = f"{'layer':<24}{'kind':<7}{'M':>5}{'K':>6}{'N':>6}{'W/A':>6}{'SA':>5}{'pass':>5}" \
           f"{'px/row':>7}{'cols %':>7}{'waves':>6}{'latency':>11}{'energy':>11}" \
           f"{'sense':>11}{'row':>11}{'write':>11}"
    print(head)
    for lc in r.layers:
        m, k, n = lc.gemm
        b = lc.energy_breakdown_j
        print(f"{lc.name[:23]:<24}{lc.kind:<7}{m:>5}{k:>6}{n:>6}{f'{lc.wbits}/{lc.abits}':>6}"
              f"{lc.active_subarrays:>5}{lc.passes:>5}{lc.pixels_per_row:>7}"
              f"{100 * lc.column_utilisation:>7.1f}{lc.waves:>6}{eng(lc.latency_s, 's'):>11}"
              f"{eng(lc.energy_j, 'J'):>11}{eng(b['sense'], 'J'):>11}{eng(b['row'], 'J'):>11}"
              f"{eng(b['write'], 'J'):>11}")


def run(args: argparse.Namespace) -> int:
    if args.action == "presets":
        _print_presets()
        return 0
    if not args.model:
        raise ValueError("--model is required (e.g. --model resnet20), or use `dynpim pim presets`")
    from dynpim import pim
    from dynpim.models import create_model

    if args.json:
        from dynpim.rundir import check_output_file

        check_output_file(args.json, "--json")  # before the estimate, not after it
    size = _input_size(args)
    in_ch = args.in_channels or (size[0] if size else None)
    if size and size[0] != in_ch:
        raise ValueError(f"--input-size has {size[0]} channels but --in-channels is {in_ch}")
    given = {"in_channels": in_ch, "num_classes": args.num_classes}
    model = create_model(args.model, **{k: v for k, v in given.items() if v is not None})
    hw = pim.load_preset(args.preset)
    if args.fit:
        table = model.layer_table(size)
        bits = pim.model_bits(model, table, hw, args.wbits, args.abits)
        hw = pim.fit_hardware(table, hw, bits.wbits, label=model.name,
                              headroom=args.fit_headroom)
        print(f"fitted chip: {hw.architecture.banks} banks x {hw.architecture.mats_per_bank} "
              f"mats x {hw.architecture.subarrays_per_mat} sub-arrays = "
              f"{hw.architecture.subarrays} sub-arrays, {hw.area_m2 * 1e6:.3g} mm² "
              f"({hw.sources['architecture.banks']})")
    elif args.fit_headroom != 1.0:
        raise ValueError("--fit-headroom needs --fit")
    results = [pim.estimate(model, cfg, hw, input_size=size,
                            active_subarrays=args.active_subarrays, wbits=args.wbits,
                            abits=args.abits, mapping=args.mapping)
               for cfg in _configs(args, model)]
    for r in results:
        _print_result(r, args.per_layer, size or model.input_size, args.rate)
    if args.json:
        payload = {"model": model.name, "input_size": list(size or model.input_size),
                   "preset": hw.name, "mapping": args.mapping,
                   "subarrays": hw.architecture.subarrays,
                   "results": [r.to_dict() for r in results]}
        if args.rate is not None:
            payload["rate_hz"] = args.rate
            payload["average_power_w"] = [r.power_at(args.rate) for r in results]
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
        print(f"wrote {args.json}")
    return 0
