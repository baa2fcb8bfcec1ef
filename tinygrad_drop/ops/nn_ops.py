"""Neural-network ops kept as single graph nodes with a hand-written backward."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; dx = s * (g - sum(g * s))."""

    name = "softmax"

    def attributes(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        out = e / xp.sum(e, axis=self.axis, keepdims=True)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        s = self.saved
        return (s * (g - self.backend.xp.sum(g * s, axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along ``axis`` (finite for any finite x);
    dx = g - softmax * sum(g)."""

    name = "log_softmax"

    def attributes(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        return (g - xp.exp(self.saved) * xp.sum(g, axis=self.axis, keepdims=True),)
