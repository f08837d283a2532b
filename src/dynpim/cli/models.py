"""``dynpim models``: list the model zoo, or show one model's slots and costs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models or show one model's slots",
                       description="List the registered dynamic models, or show the slots, "
                       "MACs and parameters of one of them.")
    p.add_argument("name", nargs="?", help="model to show (default: list all)")
    p.add_argument("--in-channels", type=int, default=None,
                   help="input channels (default: each model's own)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="output classes (default: each model's own)")
    p.add_argument("--image-size", type=int, default=None,
                   help="input height = width, pixels (default: each model's own)")
    p.set_defaults(func=run)


def _kwargs(args: argparse.Namespace) -> dict:
    """Only the model arguments given on the command line (each model keeps its defaults)."""
    given = {"in_channels": args.in_channels, "num_classes": args.num_classes,
             "image_size": args.image_size}
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    from dynpim.models import create_model, list_models
    from dynpim.nn import SubnetConfig

    if args.name is None:
        print(f"{'model':<24}{'input':>12}{'classes':>8}{'slots':>6}{'MACs (max)':>14}"
              f"{'params (max)':>14}")
        for name in list_models():
            m = create_model(name, **_kwargs(args))
            macs, params = m.macs() / 1e6, m.params() / 1e6
            size = "x".join(map(str, m.input_size))
            classes = [layer.out_features for _, layer in m.dynamic_layers()
                       if hasattr(layer, "out_features")][-1]
            print(f"{name:<24}{size:>12}{classes!s:>8}{len(m.slots):>6}{macs:>12.2f} M"
                  f"{params:>12.3f} M")
        return 0
    m = create_model(args.name, **_kwargs(args))
    print(f"{m.name}: input {m.input_size} (C, H, W), {len(m.slots)} slots")
    print(f"{'slot':<22}{'min':>6}{'max':>6}{'step':>6}")
    for s in m.slots:
        print(f"{s.name:<22}{s.min_channels:>6}{s.max_channels:>6}{s.step:>6}")
    print(f"{'config':<10}{'MACs':>14}{'params':>14}")
    for label, cfg in (("min", m.min_config()), ("0.5", SubnetConfig.uniform(m, 0.5)),
                       ("max", m.max_config())):
        print(f"{label:<10}{m.macs(cfg) / 1e6:>12.3f} M{m.params(cfg) / 1e6:>12.4f} M")
    return 0
