"""Cap accounting of the simulator: the run cut into windows of a fixed length, the energy and
served requests of each accumulated as the events arrive (:class:`WindowAccumulator`), and the
finished per-window aggregates (:class:`WindowStats`). A window violates the cap when its energy
divided by its length exceeds the time-averaged trace cap over it (:func:`violations`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynpim.errors import is_real

from .traces import Trace


@dataclass
class WindowStats:
    """Per-window aggregates, stored compactly (energy, mean cap, served count and accuracy
    sum per window); every other column is derived when read (:meth:`columns`)."""

    t0: float
    window_s: float
    energy_j: np.ndarray
    power_cap_w: np.ndarray
    served: np.ndarray
    accuracy_sum: np.ndarray

    def __len__(self) -> int:
        return len(self.energy_j)

    def columns(self) -> dict[str, np.ndarray]:
        """``WINDOW_COLUMNS`` as numpy arrays."""
        n, win = len(self), self.window_s
        edges = self.t0 + win * np.arange(n + 1)
        power = self.energy_j / win
        cap = self.power_cap_w
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_acc = np.where(self.served > 0,
                                self.accuracy_sum / np.maximum(self.served, 1), np.nan)
        return {"t_start_s": edges[:-1], "t_end_s": edges[1:], "power_cap_w": cap,
                "power_w": power, "energy_j": self.energy_j,
                "violation": violations(power, cap).astype(np.int64),
                "served": self.served, "mean_accuracy": mean_acc}


def violations(power: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Windows whose mean power exceeds their mean cap (relative tolerance 1e-9)."""
    return power > cap * (1 + 1e-9) + 1e-15


class WindowAccumulator:
    """Energy, served requests and accuracy per window of ``win`` seconds from ``t0``,
    accumulated as segments arrive (memory: one float per window, grown on demand)."""

    def __init__(self, t0: float, win: float, n: int) -> None:
        self.t0, self.win = t0, win
        self.energy = np.zeros(max(n, 1))
        self.served = np.zeros(max(n, 1), dtype=np.int64)
        self.acc = np.zeros(max(n, 1))

    def _grow(self, k: int) -> None:
        if k >= len(self.energy):
            extra = max(k + 1, 2 * len(self.energy)) - len(self.energy)
            self.energy = np.concatenate([self.energy, np.zeros(extra)])
            self.served = np.concatenate([self.served, np.zeros(extra, dtype=np.int64)])
            self.acc = np.concatenate([self.acc, np.zeros(extra)])

    def add_energy(self, a: float, b: float, en: float) -> None:
        """Spread ``en`` uniformly over [a, b) (all of it in a's window when b <= a)."""
        if en <= 0:
            return
        t0, win = self.t0, self.win
        if b <= a:
            k = int((a - t0) / win)
            self._grow(k)
            self.energy[k] += en
            return
        k_lo = max(int(math.floor((a - t0) / win)) - 1, 0)
        k_hi = int(math.ceil((b - t0) / win)) + 1
        self._grow(k_hi)
        if k_hi - k_lo <= 3:  # the usual case: a service well inside one or two windows
            for k in range(k_lo, k_hi):
                lo = min(max(t0 + win * k, a), b)
                hi = min(max(t0 + win * (k + 1), a), b)
                if hi > lo:
                    self.energy[k] += en * (hi - lo) / (b - a)
            return
        edges = t0 + win * np.arange(k_lo, k_hi + 1)
        lo = np.clip(edges[:-1], a, b)
        hi = np.clip(edges[1:], a, b)
        self.energy[k_lo:k_hi] += en * (hi - lo) / (b - a)

    def add_served(self, t: float, accuracy: float) -> None:
        k = max(int((t - self.t0) / self.win), 0)
        self._grow(k)
        self.served[k] += 1
        self.acc[k] += accuracy

    def finish(self, trace: Trace, end: float) -> WindowStats:
        """The windows over [t0, end), with the time-averaged trace cap of each."""
        win = self.win
        n = max(1, int(math.ceil((end - trace.start_s) / win - 1e-9)))
        self._grow(n)
        for arr in (self.energy, self.served, self.acc):  # anything at or past ``end``
            arr[n - 1] += arr[n:].sum()
        # time-averaged cap per window: integrate the zero-order-hold cap (held past the end)
        tt = np.concatenate([trace.time_s, [max(end, trace.end_s) + win]])
        cum = np.diff(tt)
        cum *= np.append(trace.power_cap_w[:-1], trace.power_cap_w[-2])
        cum = np.concatenate([[0.0], np.cumsum(cum)])
        cap = np.diff(np.interp(trace.start_s + win * np.arange(n + 1), tt, cum)) / win
        del tt, cum
        out = WindowStats(self.t0, win, self.energy[:n].copy(), cap, self.served[:n].copy(),
                          self.acc[:n].copy())
        # release the working arrays
        self.energy, self.acc, self.served = np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
        return out


def window_length(trace: Trace, window_s: float | None) -> float:
    """The accounting window: ``window_s``, else the trace's smallest row step."""
    if window_s is not None and not is_real(window_s):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    win = float(window_s) if window_s is not None else float(np.diff(trace.time_s).min())
    if not win > 0 or not math.isfinite(win):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    return win
