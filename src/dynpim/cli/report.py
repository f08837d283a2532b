"""``dynpim report RUN_DIR``: re-render the HTML report of a demo run."""

from __future__ import annotations

import argparse

from dynpim.report import render_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render the HTML/PNG report of a demo run directory",
                       description="Render RUN_DIR/report/index.html and its PNGs from the JSON "
                       "files a demo run wrote.")
    p.add_argument("run_dir", help="the demo's --out directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"written {render_report(args.run_dir)}")
    return 0
