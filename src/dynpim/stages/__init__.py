"""The pipeline stages, between the library (``nn``, ``models``, ``data``, ``train``,
``search``, ``pim``, ``runtime``) and the front-ends (``cli/``, ``demo.py``, ``benchmarks/``):
open a run, train, quantize, search, build the operating table, evaluate. Each stage is a
function taking one typed options dataclass; a front-end parses its options, calls one stage
and prints. The library never imports a stage; a stage never imports a front-end
(``tests/test_layering.py``)."""

from .evaluate import EvalOptions, EvalResult, evaluate
from .run import OpenedRun, open_run, set_threads
from .search import (
    QuickSearchOptions,
    SearchResult,
    SearchRunOptions,
    quick_search,
    resolve_ranking,
    search,
)
from .table import (
    TableOptions,
    TableResult,
    active_levels,
    build_operating_table,
    make_table,
    measured_table_points,
)
from .train import QuantizeOptions, TrainRunOptions, TrainRunResult, quantize, train_run

__all__ = [
    "EvalOptions",
    "EvalResult",
    "OpenedRun",
    "QuantizeOptions",
    "QuickSearchOptions",
    "SearchResult",
    "SearchRunOptions",
    "TableOptions",
    "TableResult",
    "TrainRunOptions",
    "TrainRunResult",
    "active_levels",
    "build_operating_table",
    "evaluate",
    "make_table",
    "measured_table_points",
    "open_run",
    "quantize",
    "quick_search",
    "resolve_ranking",
    "search",
    "set_threads",
    "train_run",
]
