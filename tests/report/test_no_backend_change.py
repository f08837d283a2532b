"""Importing and using the report never chooses matplotlib's backend (notebooks keep theirs)."""

import subprocess
import sys

CODE = """
import sys
from pathlib import Path
import matplotlib
matplotlib.use("svg")                       # the user's (or notebook's) choice
import dynpim.report
from dynpim.report.plots import accuracy_vs_cost
from dynpim.runtime.plots import plot_comparison  # noqa: F401
pts = [{"family": "uniform", "macs": m, "latency_s": m * 1e-12, "energy_j": m * 1e-13,
        "accuracy": a} for m, a in ((1e6, 0.5), (2e6, 0.7))]
out = accuracy_vs_cost(pts, Path(sys.argv[1]) / "a.png")
assert Path(out).stat().st_size > 0
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""


def test_report_keeps_the_backend(tmp_path):
    r = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["svg", "False"]
