"""Hardware description of a bit-wise processing-in-memory accelerator.

Every numeric parameter is read from YAML as ``{value: ..., unit: ..., source: "..."}``; the unit
is checked against the parameter's physical dimension and the value converted to SI. The frozen
dataclasses below hold SI values only (names end in their unit: ``_s``, ``_j``, ``_w``, ``_m2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import PIM_MAX_BITS, is_bits

# unit -> (dimension, factor to SI). "F^2" is an area in feature sizes (converted with the node).
_BASE: dict[str, tuple[str, float]] = {
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "µs": ("time", 1e-6),
    "ns": ("time", 1e-9), "ps": ("time", 1e-12),
    "J": ("energy", 1.0), "mJ": ("energy", 1e-3), "uJ": ("energy", 1e-6),
    "µJ": ("energy", 1e-6), "nJ": ("energy", 1e-9), "pJ": ("energy", 1e-12),
    "fJ": ("energy", 1e-15),
    "W": ("power", 1.0), "mW": ("power", 1e-3), "uW": ("power", 1e-6), "µW": ("power", 1e-6),
    "nW": ("power", 1e-9),
    "m": ("length", 1.0), "um": ("length", 1e-6), "µm": ("length", 1e-6), "nm": ("length", 1e-9),
    "m^2": ("area", 1.0), "mm^2": ("area", 1e-6), "um^2": ("area", 1e-12),
    "µm^2": ("area", 1e-12), "F^2": ("area_f2", 1.0),
    "Hz": ("frequency", 1.0), "kHz": ("frequency", 1e3), "MHz": ("frequency", 1e6),
    "GHz": ("frequency", 1e9),
    "V": ("voltage", 1.0), "mV": ("voltage", 1e-3),
    "ohm": ("resistance", 1.0), "kohm": ("resistance", 1e3),
    "A": ("current", 1.0), "mA": ("current", 1e-3), "uA": ("current", 1e-6),
    "µA": ("current", 1e-6),
    "1": ("count", 1.0), "bit": ("bits", 1.0), "B": ("bits", 8.0), "KiB": ("bits", 8192.0),
    "MiB": ("bits", 8.0 * 2**20),
}
# per-bit denominators: "pJ/bit", "nJ/KB" (KB = 1024 bytes, as in the Ambit energy table)
_PER = {"bit": 1.0, "B": 8.0, "KB": 8192.0, "KiB": 8192.0}
# per-bit-per-length denominators of wire energies: "pJ/bit/mm"
_PER_LENGTH = {"mm": 1e-3, "um": 1e-6, "µm": 1e-6, "m": 1.0}


def convert(value: Any, unit: Any, dim: str, where: str) -> float:
    """Value in SI for a parameter of dimension ``dim`` (e.g. ``"energy/bit"``); a ``"bool"``
    parameter takes ``unit: bool`` and ``value: true|false``."""
    if dim == "bool":
        if unit != "bool" or not isinstance(value, bool):
            raise ValueError(f"{where}: must be {{value: true|false, unit: bool}}, got "
                             f"value {value!r}, unit {unit!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: value must be a number, got {value!r}")
    if not isinstance(unit, str):
        raise ValueError(f"{where}: unit must be a string, got {unit!r}")
    num, _, den = unit.partition("/")
    den, _, den_len = den.partition("/")
    want_num, _, want_den = dim.partition("/")
    want_den, _, want_len = want_den.partition("/")
    allowed = sorted(u for u, (d, _) in _BASE.items() if d == want_num)
    hint = "/".join([", ".join(allowed)] + ([want_den] if want_den else [])
                    + (["mm"] if want_len else []))
    if num not in _BASE or _BASE[num][0] != want_num or bool(den) != bool(want_den) \
            or bool(den_len) != bool(want_len):
        raise ValueError(f"{where}: unit {unit!r} is not a {dim} unit (allowed: {hint})")
    factor = _BASE[num][1]
    if den:
        if den not in _PER:
            raise ValueError(f"{where}: unit {unit!r}: per-{den} not allowed (use /bit or /KB)")
        factor /= _PER[den]
    if den_len:
        if den_len not in _PER_LENGTH:
            raise ValueError(f"{where}: unit {unit!r}: per-{den_len} not allowed (use /bit/mm)")
        factor /= _PER_LENGTH[den_len]
    return float(value) * factor


def _p(key: str, dim: str, *, zero: bool = False, integer: bool = False) -> Any:
    """Dataclass field for one YAML parameter ``key`` of dimension ``dim``."""
    return field(metadata={"key": key, "dim": dim, "zero": zero, "integer": integer})


@dataclass(frozen=True)
class Device:
    """Memory cell and its read/sense/write operations (per bit unless stated)."""

    node_m: float = _p("node", "length")
    cell_area_f2: float = _p("cell_area", "area_f2")
    read_latency_s: float = _p("read_latency", "time")  # single-row sense
    read_energy_j_per_bit: float = _p("read_energy", "energy/bit")
    sense_latency_s: float = _p("sense_latency", "time")  # two-row (AND) sense
    sense_energy_j_per_bit: float = _p("sense_energy", "energy/bit")
    write_latency_s: float = _p("write_latency", "time")  # one row, all columns in parallel
    write_energy_j_per_bit: float = _p("write_energy", "energy/bit")
    # power of one power-gated sub-array that must keep its data (0 for non-volatile cells)
    retention_power_w: float = _p("retention_power", "power", zero=True)


@dataclass(frozen=True)
class Cell:
    """Electrical view of a resistive (MTJ) cell, optional section ``cell:`` of a preset: what
    the read-disturb and sense-margin checks need."""

    read_voltage_v: float = _p("read_voltage", "voltage")  # bit-line read bias
    access_drop_v: float = _p("access_drop", "voltage", zero=True)  # across the access device
    resistance_on_ohm: float = _p("resistance_on", "resistance")  # low state (MTJ: R_P)
    resistance_off_ohm: float = _p("resistance_off", "resistance")  # high state (MTJ: R_AP)
    switching_current_a: float = _p("switching_current", "current")  # through the cell

    @property
    def read_current_a(self) -> float:
        """Current through one low-resistance cell during a read (also per cell of a two-row
        sense: the two cells sit in parallel under the same bias)."""
        return (self.read_voltage_v - self.access_drop_v) / self.resistance_on_ohm

    def and_levels_a(self) -> tuple[float, float, float]:
        """Bit-line currents of a two-row sense: both low, one low one high, both high."""
        v = self.read_voltage_v - self.access_drop_v
        r0, r1 = self.resistance_on_ohm, self.resistance_off_ohm
        return 2 * v / r0, v / r0 + v / r1, 2 * v / r1


@dataclass(frozen=True)
class Subarray:
    """One computational sub-array and its near-array logic."""

    rows: int = _p("rows", "count", integer=True)
    cols: int = _p("cols", "count", integer=True)
    reserved_rows: int = _p("reserved_rows", "count", integer=True)  # activation bit-plane rows
    popcount_latency_s: float = _p("popcount_latency", "time")
    popcount_energy_j_per_bit: float = _p("popcount_energy", "energy/bit")
    shift_add_latency_s: float = _p("shift_add_latency", "time")
    shift_add_energy_j: float = _p("shift_add_energy", "energy")
    accumulator_bits: int = _p("accumulator_bits", "count", integer=True)
    # row decoder + word-line driver, per row activated (an AND sense activates two rows)
    row_activation_energy_j: float = _p("row_activation_energy", "energy")
    # sense amplifiers of unused columns switched off (else every column of a sensed row fires)
    column_gating: bool = _p("column_gating", "bool", zero=True)
    leakage_power_w: float = _p("leakage_power", "power", zero=True)  # powered periphery
    periphery_area_m2: float = _p("periphery_area", "area")
    wakeup_latency_s: float = _p("wakeup_latency", "time", zero=True)
    wakeup_energy_j: float = _p("wakeup_energy", "energy", zero=True)


@dataclass(frozen=True)
class Architecture:
    """Chip organisation, buffer and bus."""

    banks: int = _p("banks", "count", integer=True)
    mats_per_bank: int = _p("mats_per_bank", "count", integer=True)
    subarrays_per_mat: int = _p("subarrays_per_mat", "count", integer=True)
    buffer_bits: float = _p("buffer_capacity", "bits")
    buffer_energy_j_per_bit: float = _p("buffer_energy", "energy/bit")
    buffer_area_m2: float = _p("buffer_area", "area")
    bus_width_bits: int = _p("bus_width", "count", integer=True)
    wire_energy_j_per_bit_m: float = _p("wire_energy", "energy/bit/length")  # global wire
    clock_hz: float = _p("clock", "frequency")
    static_power_w: float = _p("static_power", "power", zero=True)  # always-on controller etc.

    @property
    def subarrays(self) -> int:
        return self.banks * self.mats_per_bank * self.subarrays_per_mat


@dataclass(frozen=True)
class Quantization:
    """Default bit widths (weights two's complement, activations unsigned)."""

    wbits: int = _p("wbits", "count", integer=True)
    abits: int = _p("abits", "count", integer=True)


@dataclass(frozen=True)
class Hardware:
    """A validated accelerator description; ``sources`` maps ``section.key`` to provenance."""

    name: str
    technology: str
    description: str
    device: Device
    subarray: Subarray
    architecture: Architecture
    quantization: Quantization
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    cell: Cell | None = None  # optional electrical cell description (MTJ presets)

    def __post_init__(self) -> None:
        sa, q = self.subarray, self.quantization
        c = self.cell
        if c is not None and c.read_voltage_v <= c.access_drop_v:
            raise ValueError(f"{self.name}: cell.read_voltage ({c.read_voltage_v} V) must exceed "
                             f"cell.access_drop ({c.access_drop_v} V)")
        if sa.reserved_rows >= sa.rows:
            raise ValueError(f"{self.name}: subarray.reserved_rows ({sa.reserved_rows}) must be "
                             f"< subarray.rows ({sa.rows})")
        for k in ("wbits", "abits"):
            v = getattr(q, k)
            if not is_bits(v):
                raise ValueError(f"{self.name}: quantization.{k} must be in 1..{PIM_MAX_BITS}, "
                                 f"got {v}")
        if q.wbits > self.weight_rows:
            raise ValueError(f"{self.name}: quantization.wbits ({q.wbits}) exceeds the weight "
                             f"rows of a sub-array ({self.weight_rows})")

    @property
    def weight_rows(self) -> int:
        """Rows of a sub-array that hold weight bit-planes."""
        return self.subarray.rows - self.subarray.reserved_rows

    @property
    def cycle_s(self) -> float:
        """Pipelined AND -> popcount -> shift-add cycle: the slowest stage."""
        sa = self.subarray
        return max(self.device.sense_latency_s, sa.popcount_latency_s, sa.shift_add_latency_s)

    @property
    def subarray_area_m2(self) -> float:
        d, sa = self.device, self.subarray
        return sa.rows * sa.cols * d.cell_area_f2 * d.node_m**2 + sa.periphery_area_m2

    @property
    def area_m2(self) -> float:
        return self.architecture.subarrays * self.subarray_area_m2 + \
            self.architecture.buffer_area_m2

    @property
    def bus_length_m(self) -> float:
        """Length a broadcast travels: one side of a square chip (an H-tree from the central
        buffer reaches every sub-array within about one side)."""
        return math.sqrt(self.area_m2)

    @property
    def bus_energy_j_per_bit(self) -> float:
        """Energy to move one bit between the buffer and a sub-array."""
        return self.architecture.wire_energy_j_per_bit_m * self.bus_length_m

    def with_bits(self, wbits: int | None = None, abits: int | None = None) -> Hardware:
        """Copy with other default bit widths (validated)."""
        q = replace(self.quantization, wbits=wbits or self.quantization.wbits,
                    abits=abits or self.quantization.abits)
        return replace(self, quantization=q)


_SECTIONS = {"device": Device, "subarray": Subarray, "architecture": Architecture,
             "quantization": Quantization}
_OPTIONAL = {"cell": Cell}


def _section(cls: type, data: Any, sec: str, name: str, sources: dict[str, str]) -> Any:
    where = f"{name}: {sec}"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping of parameters")
    known = {f.metadata["key"]: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    kwargs: dict[str, float | bool] = {}
    for key, f in known.items():
        w = f"{where}.{key}"
        if key not in data:
            raise ValueError(f"{w}: missing (give {{value, unit, source}})")
        entry = data[key]
        if not isinstance(entry, dict) or set(entry) != {"value", "unit", "source"}:
            raise ValueError(f"{w}: must be a mapping with exactly value, unit and source")
        src = entry["source"]
        if not isinstance(src, str) or not src.strip():
            raise ValueError(f"{w}: source must be a non-empty string")
        v = convert(entry["value"], entry["unit"], f.metadata["dim"], w)
        if f.metadata["dim"] == "bool":
            kwargs[f.name] = bool(v)
            sources[f"{sec}.{key}"] = src.strip()
            continue
        if not math.isfinite(v) or v < 0 or (v == 0 and not f.metadata["zero"]):
            bound = ">= 0" if f.metadata["zero"] else "> 0"
            raise ValueError(f"{w}: must be finite and {bound}, got {entry['value']}")
        if f.metadata["integer"] or f.metadata["dim"] == "count":
            if v != int(v):
                raise ValueError(f"{w}: must be an integer, got {entry['value']}")
            v = int(v)
        kwargs[f.name] = v
        sources[f"{sec}.{key}"] = src.strip()
    return cls(**kwargs)


def hardware_from_dict(data: Any, name: str = "custom") -> Hardware:
    """Build and validate a :class:`Hardware` from parsed YAML (see presets/*.yaml)."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: preset must be a mapping")
    for key in ("name", "technology", "description"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"{name}: top-level {key!r} must be a string")
    unknown = sorted(set(data) - set(_SECTIONS) - set(_OPTIONAL)
                     - {"name", "technology", "description"})
    if unknown:
        raise ValueError(f"{name}: unknown top-level key(s) {unknown}")
    sources: dict[str, str] = {}
    parts = {}
    for sec, cls in _SECTIONS.items():
        if sec not in data:
            raise ValueError(f"{name}: section {sec!r} missing")
        parts[sec] = _section(cls, data[sec], sec, name, sources)
    for sec, cls in _OPTIONAL.items():
        if sec in data:
            parts[sec] = _section(cls, data[sec], sec, name, sources)
    return Hardware(data["name"], data["technology"], data["description"], sources=sources,
                    **parts)
