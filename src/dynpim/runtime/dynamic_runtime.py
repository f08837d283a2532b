"""``DynamicRuntime``: a dynamic model plus an operating table, switched by a controller.

Switching a point only changes the model's active widths (``set_subnet``: one assignment) and
therefore which banked BN statistics the BN layers read; no weights are copied or re-read.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dynpim.nn import DynamicNet
from dynpim.nn.precision import bank_key

from .controller import Budget, Controller, Decision
from .table import OperatingPoint, OperatingTable


class DynamicRuntime:
    """Run ``model`` at the operating point the controller picks for the current budget.

    The model must have BN statistics banked (``calibrate_bn``) for every config in ``table``;
    the constructor checks this and lists the missing ones. The model is put in eval mode.
    Starts at the most accurate point (no budget).
    """

    def __init__(self, model: DynamicNet, table: OperatingTable,
                 controller: Controller | None = None, *, no_grad: bool = True) -> None:
        if not isinstance(model, DynamicNet):
            raise ValueError(f"DynamicRuntime needs a dynpim DynamicNet, got "
                             f"{type(model).__name__}")
        for i, p in enumerate(table):
            try:
                model.validate(p.config)
            except ValueError as e:
                raise ValueError(f"operating table point {i} ({p.label}) does not fit model "
                                 f"{model.name!r}: {e}") from None
        missing = []
        for bits in dict.fromkeys(p.bits for p in table):
            banked = {c.key for c in model.banked_configs(bits)}
            missing += [bank_key(p.config.key, bits) for p in table
                        if p.bits == bits and p.config.key not in banked]
        missing = list(dict.fromkeys(missing))
        if missing:
            raise ValueError(
                f"model {model.name!r} has no BN statistics banked for {len(missing)} table "
                f"config(s): {', '.join(missing)}; run dynpim.nn.calibrate_bn(model, cfg, batches) "
                f"for each (or load the checkpoint's BN bank)")
        if controller is not None and controller.table is not table:
            raise ValueError("DynamicRuntime: the controller must be built on the same table")
        self.model = model.eval()
        self.table = table
        self.controller = controller or Controller(table)
        self.no_grad = no_grad
        self.budget = Budget()
        self.switches = 0
        self.current: OperatingPoint = self.controller.decide(self.budget).point
        self._apply(self.current)

    def set_budget(self, power_w: float | None = None, deadline_s: float | None = None,
                   energy_j: float | None = None, min_accuracy: float | None = None,
                   *, rate_hz: float | None = None, now_s: float | None = None) -> Decision:
        """Set the constraints and switch if the controller picks another point.

        Returns the controller's :class:`Decision` (``feasible``/``violated`` tell whether the
        budget can be met; an infeasible budget selects the least-violating point).
        """
        self.budget = Budget(power_w, deadline_s, energy_j, min_accuracy, rate_hz)
        d = self.controller.decide(self.budget, now_s)
        self._use(d.point)
        return d

    def switch_to(self, point: OperatingPoint) -> None:
        """Force ``point`` (must be in the table), bypassing the controller."""
        if point not in self.table.points:
            raise ValueError(f"point {point.label} is not in the operating table")
        self._use(point)

    def _apply(self, point: OperatingPoint) -> None:
        """Width and precision of ``point`` (both O(1))."""
        self.model.set_precision(point.bits)
        self.model.set_subnet(point.config)

    def _use(self, point: OperatingPoint) -> None:
        if point is not self.current and point != self.current:
            self._apply(point)
            self.current = point
            self.switches += 1

    def observe(self, latency_s: float | None = None, power_w: float | None = None) -> None:
        """Feed a measurement of the current point to a ``feedback`` controller."""
        self.controller.observe(latency_s, power_w, self.current, self.budget)

    def __call__(self, x: Tensor) -> Tensor:
        self._apply(self.current)  # O(1); guards against outside changes
        if self.no_grad:
            with torch.no_grad():
                return self.model(x)
        return self.model(x)

    def info(self) -> dict[str, Any]:
        p = self.current
        return {"point": p.label, "config": p.config.key, "bits": p.bits,
                "active_subarrays": p.active_subarrays,
                "accuracy": p.accuracy, "latency_s": p.latency_s, "energy_j": p.energy_j,
                "avg_power_w": p.avg_power_w, "switches": self.switches}
