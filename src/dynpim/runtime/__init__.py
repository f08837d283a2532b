"""Run-time tuning: operating tables, the controller, DynamicRuntime and the trace simulator."""

from .comparison import best_static, compare, compare_runs, comparison_markdown
from .controller import POLICIES, Budget, Controller, Decision
from .dynamic_runtime import DynamicRuntime
from .records import Request, SimDecision, Summary, Window
from .simulator import SimResult, Simulator, arrival_times, simulate
from .table import SCHEMA, OperatingPoint, OperatingTable
from .traces import Trace, generate, parse_spec

__all__ = [
    "POLICIES",
    "SCHEMA",
    "Budget",
    "Controller",
    "Decision",
    "DynamicRuntime",
    "OperatingPoint",
    "OperatingTable",
    "Request",
    "SimDecision",
    "SimResult",
    "Simulator",
    "Summary",
    "Trace",
    "Window",
    "arrival_times",
    "best_static",
    "compare",
    "compare_runs",
    "comparison_markdown",
    "generate",
    "parse_spec",
    "simulate",
]
