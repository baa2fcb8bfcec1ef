"""Selection ops: ``where``, ``masked_fill`` and the elementwise ``maximum``/``minimum``, each
choosing every output element from one of its inputs (broadcasting)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..autograd import Op


class Where(Op):
    """``x`` where the boolean ``cond`` holds, else ``y`` (``x`` and ``y`` of one dtype, or
    one a Python number of the other's kind; all three broadcast). The gradient goes to
    whichever input was chosen."""

    name = "where"

    def forward(self, cond: Any, x: Any, y: Any) -> Any:
        self.saved = cond
        return self.backend.xp.where(cond, x, y)

    def backward(self, g: Any) -> tuple[None, Any, Any]:
        xp = self.backend.xp
        _, need_x, need_y = self.needs_input_grad
        return (None, xp.where(self.saved, g, 0) if need_x else None,
                xp.where(self.saved, 0, g) if need_y else None)


class MaskedFill(Op):
    """``a`` with ``value`` (a number of ``a``'s kind, or a 0-d array of ``a``'s dtype) where
    the boolean ``mask`` holds (the two broadcast). The gradient is 0 where filled; a 0-d
    ``value`` gets the gradient of the filled places (the engine sums it to its shape)."""

    name = "masked_fill"

    def forward(self, a: Any, mask: Any, value: Any) -> Any:
        self.saved = mask
        return self.backend.xp.where(mask, value, a)

    def backward(self, g: Any) -> tuple[Any, None, Any]:
        xp = self.backend.xp
        need_a, _, need_value = self.needs_input_grad
        return (xp.where(self.saved, 0, g) if need_a else None, None,
                xp.where(self.saved, g, 0) if need_value else None)


class _Extremum(Op):
    """The elementwise larger (``maximum``) or smaller (``minimum``) of two arrays of one
    dtype; NaN wins. PyTorch's gradient: the chosen input gets it, ties split it half and
    half, and where a NaN is involved both inputs get all of it."""

    larger: ClassVar[bool]  # maximum: True, minimum: False

    def forward(self, a: Any, b: Any) -> Any:
        xp = self.backend.xp
        self.saved = (a, b)
        return xp.maximum(a, b) if self.larger else xp.minimum(a, b)

    def backward(self, g: Any) -> tuple[Any, Any]:
        xp, (a, b) = self.backend.xp, self.saved
        half = xp.where(a == b, g * 0.5, g)
        a_loses, b_loses = (a < b, a > b) if self.larger else (a > b, a < b)
        need_a, need_b = self.needs_input_grad
        return (xp.where(a_loses, 0, half) if need_a else None,
                xp.where(b_loses, 0, half) if need_b else None)


class Maximum(_Extremum):
    """Elementwise max(a, b) (see ``_Extremum`` for the gradient)."""

    name = "maximum"
    larger = True


class Minimum(_Extremum):
    """Elementwise min(a, b) (see ``_Extremum`` for the gradient)."""

    name = "minimum"
    larger = False
