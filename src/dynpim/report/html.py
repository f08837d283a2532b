"""The self-contained HTML report of a demo run directory (PNGs embedded as data URIs)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from . import plots

# Files a run directory must hold for the report; a missing one is an error that names it.
REQUIRED = {
    "evaluation.json": "sub-net accuracy and cost (written by the demo's evaluate stage)",
    "pim_layers.json": "per-layer PIM cost of the largest and smallest sub-net",
    "knob.json": "latency/power per active-sub-array level",
    "table.json": "the operating table",
    "runtime.json": "the run-time simulation windows and its comparison with static points",
}


def _load(run_dir: Path, name: str) -> Any:
    path = run_dir / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {REQUIRED.get(name, '')}; re-run "
                                f"`dynpim demo --out {run_dir}` (it resumes) to produce it")
    return json.loads(path.read_text())


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if v is None else f"{v * scale:.{digits}g}"


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0;}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right;}
th{background:#f3f3f3;} code{background:#f6f6f6;padding:0 .2em;}"""


def render_report(run_dir: str | Path) -> Path:
    """Render ``RUN_DIR/report/index.html`` and its PNGs from the run's JSON files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    ev, layers = _load(run_dir, "evaluation.json"), _load(run_dir, "pim_layers.json")
    knob, table = _load(run_dir, "knob.json"), _load(run_dir, "table.json")
    rt = _load(run_dir, "runtime.json")
    summary = json.loads((run_dir / "summary.json").read_text()) \
        if (run_dir / "summary.json").exists() else {}
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    figs = {
        "accuracy_vs_cost.png": plots.accuracy_vs_cost(
            ev["points"], out / "accuracy_vs_cost.png",
            note=f", {ev['active_subarrays']} active sub-arrays" if "active_subarrays" in ev
            else ""),
        "layer_breakdown.png": plots.layer_breakdown(layers, out / "layer_breakdown.png"),
        "power_latency_knob.png": plots.power_latency_knob(knob["points"],
                                                           out / "power_latency_knob.png"),
        "runtime_trace.png": plots.runtime_trace(rt["windows"], rt.get("static_windows"),
                                                 out / "runtime_trace.png",
                                                 static_label=rt.get("static_label", "static")),
    }
    ev_rows = [[p["family"], p.get("label", ""), " ".join(map(str, p["config"]["widths"])),
                _fmt(p["accuracy"], 100, 4), _fmt(p.get("accuracy_quantized"), 100, 4),
                _fmt(p.get("macs"), 1e-6), _fmt(p.get("latency_s"), 1e6),
                _fmt(p.get("energy_j"), 1e6)] for p in ev["points"]]
    tb_rows = [[i, " ".join(map(str, p["config"]["widths"])), p["active_subarrays"],
                _fmt(p["accuracy"], 100, 4), _fmt(p["latency_s"], 1e6), _fmt(p["energy_j"], 1e6),
                _fmt(p["avg_power_w"], 1e3), _fmt(p.get("peak_power_w"), 1e3)]
               for i, p in enumerate(table["points"])]
    cmp_rows = [[r["name"], _fmt(r.get("mean_accuracy_served"), 100, 4),
                 r.get("served", "—"), r.get("deadline_misses", "—"),
                 r.get("cap_violation_windows", "—"), _fmt(r.get("energy_j"), 1e3),
                 r.get("switches", "—")] for r in rt.get("comparison", [])]
    headline = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                       for k, v in summary.get("headline", {}).items())
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>dynpim report — {html.escape(run_dir.name)}</title><style>{CSS}</style></head><body>
<h1>dynpim report</h1>
<p>Run directory <code>{html.escape(str(run_dir))}</code>.
{html.escape(summary.get('what', ''))}</p>
<ul>{headline}</ul>
<h2>Accuracy vs cost: uniform vs non-uniform sub-nets</h2>
{_img(figs['accuracy_vs_cost.png'], 'accuracy vs cost')}
{_table(['family', 'label', 'widths per slot', 'top-1 float (%)', 'top-1 quantized (%)',
         'MACs (M)', 'PIM latency (µs)', 'PIM energy (µJ)'], ev_rows)}
<h2>Where the energy and time go (SOT-MRAM PIM, per layer)</h2>
{_img(figs['layer_breakdown.png'], 'per-layer breakdown')}
<h2>Power vs latency: the active-sub-array knob</h2>
{_img(figs['power_latency_knob.png'], 'power latency knob')}
<h2>Run-time tuning on a changing power cap</h2>
{_img(figs['runtime_trace.png'], 'runtime trace')}
{_table(['policy / static point', 'mean accuracy served (%)', 'served', 'deadline misses',
         'cap-violation windows', 'energy (mJ)', 'switches'], cmp_rows)}
<h2>Operating table</h2>
{_table(['#', 'widths per slot', 'active sub-arrays', 'accuracy (%)', 'latency (µs)',
         'energy (µJ)', 'avg power (mW)', 'peak power (mW)'], tb_rows)}
</body></html>"""
    index = out / "index.html"
    index.write_text(page)
    return index
