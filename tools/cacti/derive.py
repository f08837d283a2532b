"""Derive DRAM activate / precharge energies with CACTI for the dram-ambit preset.

CACTI 7 (HewlettPackard/cacti; CACTI-3DD main-memory mode, Chen et al., DATE 2012) is run on
``ddr3_4gb_x8.cfg``: one DDR3-1333 4 Gb x8 die, 8 banks, 1 KB page, sub-arrays of 512 rows,
30 nm comm-dram technology. Its activation, precharge, read and write energies, their
components and timings go to ``derived.json`` with the CACTI commit and the command, together
with the DRAM cell capacitance and array voltage of CACTI's technology tables at that node
(interpolated between the 32 nm and 22 nm tables the way CACTI interpolates them).
``ambit.py`` turns them into Ambit bulk-operation energies and preset numbers.

    make -C /path/to/cacti opt                                   # build CACTI once
    CACTI=/path/to/cacti/cacti CACTI_COMMIT=<sha> python tools/cacti/derive.py

Nothing is downloaded: CACTI is found through the CACTI environment variable (its technology
tables in the ``tech_params`` folder next to the binary).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ambit  # noqa: E402

CFG = HERE / "ddr3_4gb_x8.cfg"
NODE_NM = 30  # the node of ddr3_4gb_x8.cfg (the dram-ambit preset's node)
SENSITIVITY_NM = (45, 32, 22)  # the same die at other CACTI nodes: docs only, never a preset
_FIELDS = {  # figure -> (label in CACTI's report, scale to SI)
    "activation_j": ("Activation energy", 1e-9), "precharge_j": ("Precharge energy", 1e-9),
    "read_j": ("Read energy", 1e-9), "write_j": ("Write energy", 1e-9),
    "row_bus_j": ("row activation bus energy (nJ)", 1e-9),
    "row_predecoder_j": ("row predecoder energy (nJ)", 1e-9),
    "row_decoder_j": ("row decoder energy (nJ)", 1e-9),
    "wordline_j": ("local wordline energy (nJ)", 1e-9),
    "bitline_j": ("bitline energy (nJ)", 1e-9), "senseamp_j": ("sense amp energy (nJ)", 1e-9),
    "t_rcd_s": ("t_RCD (Row to column command delay)", 1e-9),
    "t_ras_s": ("t_RAS (Row access strobe latency)", 1e-9),
    "t_rp_s": ("t_RP (Row precharge latency)", 1e-9), "t_rc_s": ("t_RC (Row cycle)", 1e-9),
    "core_area_m2": ("DRAM core area", 1e-6),
    "node_nm": ("Technology size (nm)", 1.0), "page_bits": ("Page size (bits)", 1.0),
    "banks": ("Number of banks", 1.0), "rows_per_subarray": ("# rows in subarray", 1.0),
    "cols_per_subarray": ("# columns in subarray", 1.0),
}
# column of CACTI's technology tables: itrs-hp, itrs-lstp, itrs-lop, lp-dram, comm-dram
COMM_DRAM = 4


def parse(text: str) -> dict:
    out = {}
    for key, (label, scale) in _FIELDS.items():
        m = re.search(re.escape(label) + r"\s*:?\s*([-+0-9.eE]+)", text)
        if m is None:
            raise ValueError(f"CACTI output has no {label!r}")
        v = float(m.group(1)) * scale
        out[key] = int(v) if scale == 1.0 and v.is_integer() else v
    return out


def tech_value(tech_dir: Path, node_nm: float, name: str) -> float:
    """A comm-dram value of CACTI's technology tables at node_nm (linear between the two
    table nodes around it, as CACTI's parameter.cc does)."""
    nodes = sorted(int(p.stem[:-2]) for p in tech_dir.glob("*nm.dat"))
    lo = max(n for n in nodes if n <= node_nm)
    hi = min(n for n in nodes if n >= node_nm)

    def read(n: int) -> float:
        for line in (tech_dir / f"{n}nm.dat").read_text().splitlines():
            if line.startswith(f"-{name} "):
                return float(line.split()[-5 + COMM_DRAM])
        raise ValueError(f"{name} not in {n}nm.dat")
    if lo == hi:
        return read(lo)
    alpha = (node_nm - lo) / (hi - lo)
    return (1 - alpha) * read(lo) + alpha * read(hi)


def run(binary: Path, node_nm: int) -> dict:
    """CACTI on ddr3_4gb_x8.cfg at node_nm; its figures plus the cell C and V of that node."""
    cfg = CFG.read_text()
    line = f"-technology (u) {NODE_NM / 1000:.3f}"
    if line not in cfg:
        raise ValueError(f"{CFG.name} has no line {line!r}")
    cfg = cfg.replace(line, f"-technology (u) {node_nm / 1000:.3f}")
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(cfg)
    try:
        res = subprocess.run([str(binary), "-infile", f.name], cwd=binary.parent,
                             capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    if res.returncode != 0:
        sys.exit(f"cacti failed ({res.returncode}) at {node_nm} nm: {res.stderr[-2000:]}")
    fig = parse(res.stdout)
    if fig["node_nm"] != node_nm:
        raise ValueError(f"CACTI ran at {fig['node_nm']} nm, asked {node_nm} nm")
    tech = binary.parent / "tech_params"
    fig["cell_c_f"] = tech_value(tech, node_nm, "dram_cell_C")
    fig["cell_vdd_v"] = tech_value(tech, node_nm, "dram_cell_Vdd")
    return fig


def main() -> None:
    binary = os.environ.get("CACTI")
    if not binary or not Path(binary).is_file():
        sys.exit("set CACTI to the cacti binary (make -C <cacti> opt); nothing is downloaded")
    binary = Path(binary).resolve()
    fig = run(binary, NODE_NM)
    cmds = ambit.commands(fig)
    nodes = {}
    for nm in SENSITIVITY_NM:
        other = run(binary, nm)
        nodes[str(nm)] = {"activation_j": other["activation_j"],
                          "precharge_j": other["precharge_j"],
                          "ops_j_per_kb": {op: ambit.op_j_per_kb(other, op)
                                           for op in ambit.SEQUENCES}}
    data = {
        "tool": "CACTI 7 (HewlettPackard/cacti), CACTI-3DD main-memory DRAM model",
        "cacti_commit": os.environ.get("CACTI_COMMIT", "unknown"),
        "command": "CACTI=... CACTI_COMMIT=... python tools/cacti/derive.py",
        "build": "make opt (g++, CACTI's own makefile)",
        "config": CFG.name,
        "cacti": fig,
        "ambit": {
            "formula": "tools/cacti/ambit.py (AAP = A + A2 + P, AP = A + P, TRA = 1.22 A)",
            "commands_j": cmds,
            "aap_j_per_kb": ambit.aap_j(fig) * ambit.BITS_PER_KB / fig["page_bits"],
            "ap_j_per_kb": ambit.ap_j(fig) * ambit.BITS_PER_KB / fig["page_bits"],
            "ops_j_per_kb": {op: ambit.op_j_per_kb(fig, op) for op in ambit.SEQUENCES},
            "and_or_variants_j_per_kb": ambit.variants(fig),
        },
        "sensitivity_other_nodes": nodes,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = HERE / "derived.json"
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps({k: data[k] for k in ("ambit", "sensitivity_other_nodes")}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
