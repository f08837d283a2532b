"""End to end: the README's main job, ``dynpim demo`` on its embedded default (digits), timed
from a fresh run directory. Issue target: under 10 minutes on 2 CPU cores.

    python benchmarks/demo_time.py            # ~8-9 min on 2 cores; run nothing else beside it
    python benchmarks/demo_time.py --quick    # the --quick demo (~1 min)

Writes ``benchmarks/results/demo_time[_quick].json``: wall time, the demo's headline numbers
and the summary it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import md_table, write_result  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="time `dynpim demo --quick`")
    p.add_argument("--keep", default=None, help="run directory to keep (default: a temp dir)")
    a = p.parse_args()
    run = a.keep or tempfile.mkdtemp(prefix="dynpim_demo_")
    cmd = [sys.executable, "-m", "dynpim", "demo", "--out", run] + (["--quick"] if a.quick else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"demo failed with exit code {proc.returncode}")
    summary = json.loads(open(os.path.join(run, "summary.json")).read())
    rows = [[k, v] for k, v in summary["headline"].items()]
    verdict = "met" if wall < 600 else "NOT met"
    md = (f"`dynpim demo{' --quick' if a.quick else ''}` ({summary['what']}), fresh run "
          f"directory: **{wall:.0f} s** wall time (target < 600 s on 2 cores: {verdict}).\n\n"
          + md_table(["headline", "value"], rows))
    print(md)
    name = "demo_time_quick" if a.quick else "demo_time"
    path = write_result(name, {"wall_s": round(wall, 1), "summary": summary}, markdown=md)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
