"""Derive per-access sub-array figures of every memory technology with NVSim.

NVSim (Dong, Xu, Xie, Jouppi, IEEE TCAD 2012; BSD-licensed, github.com/SEAL-UCSB/NVSim) is run
on the cell files of ``cells/`` for one fixed organisation per run: one bank, one mat, one
sub-array of ``rows x cols`` cells, one sense amplifier per column (no column mux), 45 nm, LSTP
transistors (an IoT chip idles most of the time), 350 K. Each MRAM / ReRAM cell is also run as
its *two-row* equivalent (two cells in parallel on each bit line: R_on/2 and R_on || R_off),
which is what a two-row AND sense drives. The parsed figures go to ``derived.json`` with the
NVSim commit and the command; ``dynpim.pim.nvsim.preset_values`` turns them into preset
numbers (formulas in docs/pim-model.md section 4) and the tests check the presets against it.

    make -C /path/to/NVSim CXXFLAGS="-std=c++98 -w"        # build NVSim once
    NVSIM=/path/to/NVSim/nvsim NVSIM_COMMIT=<sha> python tools/nvsim/derive.py

Nothing is downloaded: the NVSim binary is found through the NVSIM environment variable.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TECHS = {"sot-mram": "sot-mram.cell", "stt-mram": "stt-mram.cell", "reram": "reram.cell",
         "sram": "sram.cell"}
# (rows, cols): the organisation the presets are derived at, and two NVSim was not used for
ORGS = {"derive": (512, 256), "check_256x256": (256, 256), "check_1024x512": (1024, 512)}

CONFIG = """-DesignTarget: RAM
-ProcessNode: 45
-Capacity (KB): {kb}
-WordWidth (bit): {cols}
-DeviceRoadmap: LSTP
-LocalWireType: LocalAggressive
-LocalWireRepeaterType: RepeatedNone
-LocalWireUseLowSwing: No
-GlobalWireType: GlobalAggressive
-GlobalWireRepeaterType: RepeatedNone
-GlobalWireUseLowSwing: No
-Routing: H-tree
-InternalSensing: true
-MemoryCellInputFile: {cell}
-Temperature (K): 350
-BufferDesignOptimization: latency
-OptimizationTarget: ReadEDP
-ForceBank (Total AxB, Active CxD): 1x1, 1x1
-ForceMat (Total AxB, Active CxD): 1x1, 1x1
-ForceMuxSenseAmp: 1
-ForceMuxOutputLev1: 1
-ForceMuxOutputLev2: 1
"""

_UNITS = {"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "fJ": 1e-15, "pJ": 1e-12,
          "nJ": 1e-9, "uJ": 1e-6, "pW": 1e-12, "nW": 1e-9, "uW": 1e-6, "mW": 1e-3, "W": 1.0,
          "um^2": 1e-12, "mm^2": 1e-6}
# (figure name, section of the report, label in NVSim's report)
_FIELDS = [
    ("read_latency_s", "read_t", "Subarray Latency"),
    ("read_row_decoder_latency_s", "read_t", "Row Decoder Latency"),
    ("read_bitline_latency_s", "read_t", "Bitline Latency"),
    ("read_senseamp_latency_s", "read_t", "Senseamp Latency"),
    ("read_precharge_latency_s", "read_t", "Precharge Latency"),
    ("write_latency_s", "write_t", "Subarray Latency"),
    ("read_subarray_j", "read_e", "Subarray Dynamic Energy"),
    ("write_subarray_j", "write_e", "Subarray Dynamic Energy"),
    ("predecoder_j", "read_e", "Predecoder Dynamic Energy"),
    ("row_decoder_j", "read_e", "Row Decoder Dynamic Energy"),
    ("mux_decoder_j", "read_e", "Mux Decoder Dynamic Energy"),
    ("bitline_cell_read_j", "read_e", "Bitline & Cell Read Energy"),
    ("senseamp_j", "read_e", "Senseamp Dynamic Energy"),
    ("precharge_j", "read_e", "Precharge Dynamic Energy"),
    ("bitline_cell_write_j", "write_e", "Bitline & Cell Write Energy"),
    ("leakage_w", "leak", "Mat Leakage Power"),
]


def two_row_cell(text: str) -> str:
    """The cell as a two-row AND sense sees it: two cells in parallel on a bit line, the
    lowest level (both on: R_on / 2) and the next (R_on || R_off)."""
    pairs: dict[str, dict[str, float]] = {}
    pat = re.compile(r"^-Resistance(On|Off)(\w*) \(ohm\): ([0-9.eE+-]+)\s*$", re.M)
    for state, suffix, value in pat.findall(text):
        pairs.setdefault(suffix, {})[state] = float(value)

    def repl(m: re.Match) -> str:
        state, suffix = m.group(1), m.group(2)
        r_on, r_off = pairs[suffix]["On"], pairs[suffix].get("Off", pairs[suffix]["On"])
        value = r_on / 2 if state == "On" else r_on * r_off / (r_on + r_off)
        return f"-Resistance{state}{suffix} (ohm): {value:.6g}"
    return pat.sub(repl, text)


def parse(report: str) -> dict[str, float]:
    """Figures of one NVSim report, in SI units."""
    sections = {"read_t": report.split(" -  Read Latency")[1].split(" - Write Latency")[0],
                "write_t": report.split(" - Write Latency")[1].split(" - Read Bandwidth")[0],
                "read_e": report.split(" -  Read Dynamic Energy")[1].split(
                    " - Write Dynamic Energy")[0],
                "write_e": report.split(" - Write Dynamic Energy")[1].split(" - Leakage")[0],
                "leak": report.split(" - Leakage Power")[1]}
    out: dict[str, float] = {}
    for name, sec, label in _FIELDS:
        m = re.search(re.escape(label) + r"\s*=\s*([0-9.]+)\s*([a-zA-Z^0-9]+)", sections[sec])
        if m is None:
            if name.startswith("bitline_cell"):
                continue  # SRAM: no line of its own; the residual of the sub-array energy below
            raise ValueError(f"NVSim report has no {label!r} in its {sec} section")
        out[name] = float(m.group(1)) * _UNITS[m.group(2)]
    listed = out["row_decoder_j"] + out["mux_decoder_j"]
    out.setdefault("bitline_cell_read_j", out["read_subarray_j"] - listed - out["senseamp_j"]
                   - out["precharge_j"])
    out.setdefault("bitline_cell_write_j", out["write_subarray_j"] - listed)
    size = re.search(r"Subarray Size\s*:\s*(\d+) Rows x (\d+) Columns", report)
    area = re.search(r"Subarray Area = [0-9.]+um x [0-9.]+um = ([0-9.]+)um\^2", report)
    if size is None or area is None:
        raise ValueError("NVSim report has no sub-array size or area")
    out["rows"], out["cols"] = int(size.group(1)), int(size.group(2))
    out["subarray_area_m2"] = float(area.group(1)) * 1e-12
    return out


def run(nvsim: str, cell: Path, rows: int, cols: int, work: Path) -> dict:
    """Figures of one organisation, or ``{"invalid": ...}`` when NVSim finds no valid design
    for it (recorded, so the JSON says which technologies it could not derive)."""
    cfg = work / f"{cell.stem}_{rows}x{cols}.cfg"
    cfg.write_text(CONFIG.format(kb=rows * cols // 8 // 1024, cols=cols, cell=cell))
    rep = subprocess.run([nvsim, str(cfg)], capture_output=True, text=True, check=True).stdout
    if "No valid solutions" in rep:
        return {"invalid": f"NVSim: no valid solution for a {rows}x{cols} sub-array"}
    fig = parse(rep)
    if (fig["rows"], fig["cols"]) != (rows, cols):
        raise RuntimeError(f"NVSim chose {fig['rows']}x{fig['cols']} for {cell.name}, "
                           f"asked {rows}x{cols}")
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "derived.json"))
    args = ap.parse_args()
    nvsim = os.environ.get("NVSIM")
    if not nvsim or not Path(nvsim).is_file():
        print("set NVSIM to the path of a built NVSim binary (see this script's docstring)",
              file=sys.stderr)
        return 2
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for tech, cell_name in TECHS.items():
            cell_text = (HERE / "cells" / cell_name).read_text()
            variants = {"one_row": cell_text}
            if "-MemCellType: SRAM" not in cell_text:
                variants["two_row"] = two_row_cell(cell_text)
            area = re.search(r"^-CellArea \(F\^2\): ([0-9.]+)", cell_text, re.M)
            results[tech] = {"cell_file": f"tools/nvsim/cells/{cell_name}",
                             "cell_area_f2": float(area.group(1)) if area else None}
            for variant, text in variants.items():
                cell = work / f"{tech}_{variant}.cell"
                cell.write_text(text)
                for org, (rows, cols) in ORGS.items():
                    results[tech].setdefault(variant, {})[org] = run(nvsim, cell, rows, cols,
                                                                     work)
    payload = {
        "tool": "NVSim (Dong, Xu, Xie, Jouppi, IEEE TCAD 31(7), 2012)",
        "nvsim_commit": os.environ.get("NVSIM_COMMIT", "unknown"),
        "command": "NVSIM=... python tools/nvsim/derive.py",
        "config": CONFIG.format(kb="<rows*cols/8192>", cols="<cols>", cell="<cell file>"),
        "organisations": {k: list(v) for k, v in ORGS.items()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
