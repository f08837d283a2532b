"""The pipeline stages, between the library (``nn``, ``models``, ``data``, ``train``,
``search``, ``pim``, ``runtime``) and the front-ends (``cli/``, ``demo.py``, ``benchmarks/``):
open a run, train, search, build the operating table, evaluate, quantize. Each stage is a
function taking one typed options dataclass; a front-end parses its options, calls one stage
and prints. The library never imports a stage; a stage never imports a front-end."""

from .run import OpenedRun, open_run, set_threads
from .table import (
    TableOptions,
    TableResult,
    active_levels,
    build_operating_table,
    make_table,
    measured_table_points,
)

__all__ = [
    "OpenedRun",
    "TableOptions",
    "TableResult",
    "active_levels",
    "build_operating_table",
    "make_table",
    "measured_table_points",
    "open_run",
    "set_threads",
]
