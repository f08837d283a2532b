"""``Residual``: the residual join as a module, recognised by its type.

``Residual(main, shortcut, act)`` computes ``act(main(x) + shortcut(x))``, where ``main`` is its
named children applied in order. It has no parameters of its own: its children are registered
under the names given (then ``shortcut`` and ``act``), so a model's ``state_dict`` keys are the
ones its block would have without it. Whoever needs the join asks ``isinstance(m, Residual)``:
the integer compiler of :mod:`dynpim.quant` reads :meth:`Residual.main_modules`, ``shortcut``
and ``act`` (no convention on child names); ``DynamicNet`` checks with
:meth:`Residual.joined_slots` that both sides of the addition follow one slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from torch import Tensor, nn

from .layers import _Dynamic


class Residual(nn.Module):
    """``act(main(x) + shortcut(x))``; ``main`` maps child names to the modules of the main
    branch in order, ``shortcut`` defaults to the identity, ``act`` to none (``nn.Identity``)."""

    def __init__(self, main: Mapping[str, nn.Module], shortcut: nn.Module | None = None,
                 act: nn.Module | None = None) -> None:
        super().__init__()
        if not main:
            raise ValueError("a residual needs a main branch (at least one module)")
        reserved = sorted({"shortcut", "act"} & set(main))
        if reserved:
            raise ValueError(f"main-branch children may not be named {reserved}")
        for name, m in main.items():
            self.add_module(name, m)
        self._main = tuple(main)
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def main_modules(self) -> Iterator[nn.Module]:
        """The main branch's modules, in the order they run."""
        for name in self._main:
            yield getattr(self, name)

    def joined_slots(self) -> tuple[str | None, str | None]:
        """Slots of the two sides of the addition: the main branch's output and the shortcut's
        (an identity shortcut passes the block's input slot on). ``None``: unknown or fixed."""
        main = list(self.main_modules())
        first = next(_dynamic(main), None)
        shortcut = _last_out_slot([self.shortcut], first.in_slot if first else None)
        return _last_out_slot(main, None), shortcut

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for m in self.main_modules():
            y = m(y)
        return self.act(y + self.shortcut(x))


def _dynamic(mods: Iterable[nn.Module]) -> Iterator[_Dynamic]:
    for mod in mods:
        for m in mod.modules():
            if isinstance(m, _Dynamic):
                yield m


def _last_out_slot(mods: Iterable[nn.Module], default: str | None) -> str | None:
    """Out slot of the last dynamic layer of ``mods`` (in registration order), else
    ``default``."""
    slot = default
    for m in _dynamic(mods):
        slot = m.out_slot
    return slot
