"""Fixed-seed simulator runs serialised byte for byte (summary, windows, decisions, requests,
the files :meth:`SimResult.write` writes, :func:`compare` rows, :func:`best_static` and the
Markdown table), hashed. The hashes in ``simulator_golden.json`` were captured from the
simulator before it became an event-loop class with typed records (issue 19); the test in
test_simulator_records.py asserts they have not moved. They were re-captured twice: when the
summary gained ``switches_by_knob``, and when it gained the ``kind`` and ``point`` columns, each
time after checking that without the new keys every hash equals the one captured before
(``python tests/runtime/golden_simulator.py`` rewrites them). Not part of the package."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import replace
from typing import Any

from dynpim.runtime import best_static, compare, comparison_markdown, parse_spec, simulate
from dynpim.runtime.table import OperatingTable

sys.path.insert(0, os.path.dirname(__file__))
from test_simulator_streaming import CASES  # noqa: E402


def _runtime_conftest() -> Any:
    """tests/runtime/conftest.py by path (``import conftest`` may find another folder's)."""
    spec = importlib.util.spec_from_file_location(
        "runtime_tables", os.path.join(os.path.dirname(__file__), "conftest.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_table = _runtime_conftest().make_table

GOLDEN = os.path.join(os.path.dirname(__file__), "simulator_golden.json")


def _with_test_accuracies(table: OperatingTable) -> OperatingTable:
    pts = [replace(p, test_accuracy=max(0.0, p.accuracy - 0.01 * i)) for i, p in enumerate(table)]
    return OperatingTable(pts, table.meta)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, default=repr).encode()


def _run(table: OperatingTable, spec: str, kw: dict[str, Any]) -> bytes:
    tr = parse_spec(spec)
    sunk: list[dict[str, Any]] = []
    r = simulate(table, tr, keep_requests=True, request_sink=sunk.append, **kw)
    parts = [_dump(r.summary), _dump(r.windows), _dump(r.decisions), _dump(r.requests),
             _dump(sunk), _dump([list(d) for d in r.decision_rows])]
    with tempfile.TemporaryDirectory() as d:
        paths = r.write(d)
        for k in sorted(paths):
            with open(paths[k], "rb") as f:
                parts.append(k.encode() + b"\n" + f.read())
    lean = simulate(table, tr, **kw)
    parts.append(_dump(lean.summary))
    rows = compare(table, tr, **{k: v for k, v in kw.items() if k != "policy"})
    parts += [_dump(rows), _dump(best_static(rows)), _dump(best_static(rows, "average")),
              comparison_markdown(rows).encode()]
    return b"\n--\n".join(parts)


def digests() -> dict[str, str]:
    """sha256 of each case's serialised outputs, plain and with test accuracies."""
    out = {}
    for i, (spec, kw) in enumerate(CASES):
        for tag, table in (("", make_table()), ("+test", _with_test_accuracies(make_table()))):
            out[f"{i}:{spec.split(':')[0]}{tag}"] = hashlib.sha256(
                _run(table, spec, kw)).hexdigest()
    return out


if __name__ == "__main__":
    with open(GOLDEN, "w") as f:
        json.dump(digests(), f, indent=1)
        f.write("\n")
    print(f"wrote {GOLDEN}")
