"""Dynamic policies against every static operating point on one trace: :func:`compare_runs`
runs them all (the same arrivals) and marks each :class:`Summary`'s kind; :func:`best_static`
picks the static point a fair baseline would pick; :func:`comparison_markdown` tabulates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar, overload

from .records import Summary, kind_of
from .simulator import simulate
from .table import OperatingTable
from .traces import Trace

Row = TypeVar("Row", bound="Summary | Mapping[str, Any]")


def compare_runs(table: OperatingTable, trace: Trace, *,
                 policies: tuple[str, ...] = ("budget", "feedback"), static: bool = True,
                 **kwargs: Any) -> list[Summary]:
    """The :class:`Summary` of each policy on ``table`` (kind ``"dynamic"``, named
    ``dynamic:<policy>``) and of every static point (the table restricted to that one point;
    kind ``"static"`` with its ``point``, named ``static:<label>``), all on the same trace and
    arrivals. ``kwargs`` go to :func:`simulate`."""
    runs = [simulate(table, trace, policy=p, name=f"dynamic:{p}", **kwargs).summary_record
            for p in policies]
    if static:
        kw = {k: v for k, v in kwargs.items() if k not in ("policy", "controller")}
        for pt in table:
            s = simulate(table.subset([pt]), trace, policy="budget", name=f"static:{pt.label}",
                         **kw).summary_record
            runs.append(replace(s, kind="static", point=pt.label))
    return runs


def compare(table: OperatingTable, trace: Trace, *,
            policies: tuple[str, ...] = ("budget", "feedback"), static: bool = True,
            **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`compare_runs` as ``summary.json`` dicts (each with its ``kind`` and ``point``)."""
    return [s.to_dict() for s in compare_runs(table, trace, policies=policies, static=static,
                                              **kwargs)]


def _row_dict(row: Summary | Mapping[str, Any]) -> Mapping[str, Any]:
    return row.to_dict() if isinstance(row, Summary) else row


@overload
def best_static(rows: Sequence[Summary], cap_mode: str = ...) -> Summary | None: ...
@overload
def best_static(rows: Sequence[dict[str, Any]], cap_mode: str = ...) -> dict[str, Any] | None: ...
@overload
def best_static(rows: Sequence[Row], cap_mode: str = ...) -> Row | None: ...
def best_static(rows: Sequence[Row], cap_mode: str = "active") -> Row | None:
    """The static run (:attr:`Summary.kind` ``"static"``) that breaks the cap least, then has
    the highest effective accuracy; ``rows``: records or their dicts (:func:`compare`), and the
    chosen one is returned as given.

    "Breaks the cap" is counted like the controller reads the cap: inferences run above it
    (``cap_mode="active"``) or cap-violation windows (``"average"``).
    """
    col = {"active": "inferences_over_cap", "average": "cap_violations"}.get(cap_mode)
    if col is None:
        raise ValueError(f"cap_mode must be 'active' or 'average', got {cap_mode!r}")

    def key(row: Row) -> tuple[Any, ...]:
        r = _row_dict(row)
        return r[col], r["cap_violations"], -r["effective_accuracy"]

    return min((r for r in rows if kind_of(r) == "static"), key=key, default=None)


def comparison_markdown(rows: Sequence[Summary | Mapping[str, Any]]) -> str:
    """Markdown table of the headline numbers of :func:`compare` rows (records or dicts);
    accuracies in % on the table's split (named in the header), plus the effective test
    accuracy when the table carries test accuracies (reporting only)."""
    dicts = [_row_dict(r) for r in rows]
    split = dicts[0].get("accuracy_split", "unknown") if dicts else "unknown"
    test = bool(dicts) and all("effective_accuracy_test" in r for r in dicts)
    head = (f"| run | served/arrived | mean acc. served % ({split}) | effective acc. % ({split}) "
            + ("| effective acc. % (test) " if test else "")
            + "| energy (mJ) | energy/inference (µJ) | deadline misses | cap viol. windows "
            "| inferences over cap "
            "| switches |")
    out = [head, "|" + "---|" * (11 if test else 10)]
    for r in dicts:
        t = f"{100 * r['effective_accuracy_test']:.2f} | " if test else ""
        out.append(f"| {r['name']} | {r['requests_served']}/{r['requests_arrived']} | "
                   f"{100 * r['mean_accuracy_served']:.2f} | "
                   f"{100 * r['effective_accuracy']:.2f} | {t}"
                   f"{1e3 * r['total_energy_j']:.3f} | {1e6 * r['energy_per_inference_j']:.3f} | "
                   f"{r['deadline_misses']} | {r['cap_violations']}/{r['windows']} | "
                   f"{r['inferences_over_cap']}/{r['requests_served']} | {r['switches']} |")
    return "\n".join(out)
