"""Run-time tuning: operating tables, the controller, DynamicRuntime and the trace simulator."""

from .controller import POLICIES, Budget, Controller, Decision
from .dynamic_runtime import DynamicRuntime
from .simulator import SimResult, arrival_times, best_static, compare, comparison_markdown, simulate
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
    "SimResult",
    "Trace",
    "arrival_times",
    "best_static",
    "compare",
    "comparison_markdown",
    "generate",
    "parse_spec",
    "simulate",
]
