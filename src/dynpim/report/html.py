"""The self-contained HTML report of a demo run directory (PNGs embedded as data URIs)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from . import plots
from .precision import width_precision_heatmap

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


def _img(path: Path, alt: str, caption: str = "") -> str:
    """The PNG inlined, with its caption under it."""
    data = base64.b64encode(path.read_bytes()).decode()
    img = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
    return f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(header: list[str], rows: list[list[Any]], *, mark_rows: AbstractSet[int] = frozenset(),
           mark_cols: AbstractSet[int] = frozenset()) -> str:
    """An HTML table; rows in ``mark_rows`` and columns in ``mark_cols`` are highlighted."""
    def cls(row: bool, col: bool) -> str:
        names = [n for n, on in (("mark-row", row), ("mark-col", col)) if on]
        return f' class="{" ".join(names)}"' if names else ""
    head = "".join(f"<th{cls(False, j in mark_cols)}>{html.escape(h)}</th>"
                   for j, h in enumerate(header))
    body = "".join(f"<tr{cls(i in mark_rows, False)}>" + "".join(
        f"<td{cls(False, j in mark_cols)}>{html.escape(str(c))}</td>" for j, c in enumerate(r))
        + "</tr>" for i, r in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "—" if v is None else f"{v * scale:.{digits}g}"


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0;}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right;}
th{background:#f3f3f3;} code{background:#f6f6f6;padding:0 .2em;}
figure{margin:1em 0;} figcaption{color:#444;font-size:.9em;max-width:60em;}
tr.mark-row td{background:#fff6cc;font-weight:600;} th.mark-col{background:#ffe58a;}"""


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
    if ev.get("precision_grid"):
        figs["width_precision.png"] = width_precision_heatmap(ev["precision_grid"],
                                                              out / "width_precision.png")
    index = out / "index.html"
    index.write_text(_page(run_dir, summary, figs, ev, table, rt))
    return index


def _switches(row: dict[str, Any]) -> str:
    """Switches, and which knob they moved (width / precision / sub-arrays) when recorded."""
    n, knobs = row.get("switches", "—"), row.get("switches_by_knob")
    if not knobs:
        return str(n)
    return f"{n} (width {knobs['width']}, precision {knobs['precision']}, " \
           f"sub-arrays {knobs['subarrays']})"


def _precision_section(figs: dict[str, Path]) -> str:
    """The width x precision heat map, when the run trained run-time precisions."""
    if "width_precision.png" not in figs:
        return ""
    return "<h2>Two knobs: width x precision</h2>\n" + _img(
        figs["width_precision.png"], "width x precision",
        "The jointly trained network at every uniform width (columns) and run-time precision "
        "(rows): test top-1 (left; reported, nothing selects on it) and modelled PIM energy per "
        "image (right; all sub-arrays powered). Lower precision shortens every bit-serial "
        "pass; narrower widths need fewer passes.")


def _page(run_dir: Path, summary: dict[str, Any], figs: dict[str, Path], ev: dict[str, Any],
          table: dict[str, Any], rt: dict[str, Any]) -> str:
    """The HTML page: headline, figures with captions, and the tables."""
    ev_rows = [[p["family"], p.get("label", ""), " ".join(map(str, p["config"]["widths"])),
                _fmt(p["accuracy"], 100, 4), _fmt(p.get("accuracy_quantized"), 100, 4),
                _fmt(p.get("macs"), 1e-6), _fmt(p.get("latency_s"), 1e6),
                _fmt(p.get("energy_j"), 1e6)] for p in ev["points"]]
    tb_rows = [[i, " ".join(map(str, p["config"]["widths"])), p["active_subarrays"],
                _fmt(p["accuracy"], 100, 4), _fmt(p["latency_s"], 1e6), _fmt(p["energy_j"], 1e6),
                _fmt(p["avg_power_w"], 1e3), _fmt(p.get("peak_power_w"), 1e3)]
               for i, p in enumerate(table["points"])]
    comparison = rt.get("comparison", [])
    cmp_rows = [[r["name"], r.get("inferences_over_cap", "—"),
                 _fmt(r.get("effective_accuracy"), 100, 4),
                 _fmt(r.get("effective_accuracy_test"), 100, 4),
                 _fmt(r.get("mean_accuracy_served"), 100, 4), r.get("served", "—"),
                 r.get("deadline_misses", "—"), r.get("cap_violation_windows", "—"),
                 _fmt(r.get("energy_j"), 1e3), _switches(r)] for r in comparison]
    best_name = (rt.get("best_static") or {}).get("name")
    best_rows = {i for i, r in enumerate(comparison) if r["name"] == best_name}
    headline = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                       for k, v in summary.get("headline", {}).items())
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>dynpim report — {html.escape(run_dir.name)}</title><style>{CSS}</style></head><body>
<h1>dynpim report</h1>
<p>Run directory <code>{html.escape(str(run_dir))}</code>.
{html.escape(summary.get('what', ''))}</p>
<ul>{headline}</ul>
<h2>Accuracy vs cost: uniform vs non-uniform sub-nets</h2>
{_img(figs['accuracy_vs_cost.png'], 'accuracy vs cost',
      'Test top-1 of every evaluated sub-net against its modelled PIM latency and energy per '
      'image: uniform widths and the searched non-uniform configs. Up and to the left is '
      'better.')}
{_table(['family', 'label', 'widths per slot', 'top-1 float (%)', 'top-1 quantized (%)',
         'MACs (M)', 'PIM latency (µs)', 'PIM energy (µJ)'], ev_rows)}
{_precision_section(figs)}
<h2>Where the energy and time go (SOT-MRAM PIM, per layer)</h2>
{_img(figs['layer_breakdown.png'], 'per-layer breakdown',
      'Energy of each conv/linear layer by component (sense: every column of each sensed row; '
      'row: decoder and word line per row activation; write, compute, buffer, bus, leakage, '
      'static, wake-up) and its latency, for the largest and the smallest sub-net.')}
<h2>Power vs latency: the active-sub-array knob</h2>
{_img(figs['power_latency_knob.png'], 'power latency knob',
      'The active-sub-array knob is a power cap that throttles: fewer powered sub-arrays lower '
      'the power while computing (left) and lengthen the inference; the energy per inference '
      '(right) rises slightly (static energy over the longer run, activations sent again). '
      'Labels: powered sub-arrays.')}
<h2>Run-time tuning on a changing power cap</h2>
{_img(figs['runtime_trace.png'], 'runtime trace',
      'The power cap over time, the power drawn, the sub-net served and its accuracy, for the '
      'run-time policy and the best static operating point.')}
<p>The best static point (highlighted row) is the one with the fewest inferences over the cap,
then the highest effective accuracy on the validation split (highlighted columns); test
accuracies are reported only.</p>
{_table(['policy / static point', 'inferences over the cap', 'effective accuracy, validation (%)',
         'effective accuracy, test (%)', 'mean accuracy served (%)', 'served',
         'deadline misses', 'cap-violation windows', 'energy (mJ)',
         'switches (knob moved)'], cmp_rows,
        mark_rows=best_rows, mark_cols={1, 2})}
<h2>Operating table</h2>
{_table(['#', 'widths per slot', 'active sub-arrays', 'accuracy (%)', 'latency (µs)',
         'energy (µJ)', 'avg power (mW)', 'peak power (mW)'], tb_rows)}
</body></html>"""
    return page
