"""Dropout as one graph node: training-mode masking in either convention, vanilla inference;
``Dropout2d``, its spatial variant, draws one boolean (1 byte) per (sample, channel).

Dropout's degenerate rates are decided by ``backends.generator.certain_keep`` alone: keep = 1
(p = 0) passes the input through untouched, with no node and no draw (``F.dropout`` returns the
input itself; the op, applied directly, copies it); keep = 0 (p = 1) gives zeros and zero
gradients, never 0/0. The backend's kernels are asked only for 0 < keep < 1.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op
from ..backends.generator import Generator, certain_keep

MODES = ("inverted", "vanilla")


class Dropout(Op):
    """Training: ``x * mask / keep`` (inverted) or ``x * mask`` (vanilla), the mask drawn from
    ``generator`` (default: the backend's) with P(keep) = ``keep`` and saved as booleans
    (1 byte/element; the CuPy backend can instead redraw it from its seed in backward);
    backward is ``grad * mask / keep`` or ``grad * mask``. Inference (vanilla only): ``x * keep``.
    ``p`` is the drop rate exactly as the user gave it; ``keep`` the keep probability (given,
    or 1 - p)."""

    name = "dropout"
    style = "stochastic"
    kernel_family = "dropout"
    shown = ("p", "mode", "training")
    p: float
    keep: float
    mode: str
    training: bool
    generator: Generator | None = None

    @staticmethod
    def passes_through(keep: float, mode: str, training: bool) -> bool:
        """Whether dropout is the identity: inverted-mode inference, or nothing to drop. Then no
        node is recorded and no random number drawn."""
        return (not training and mode == "inverted") or certain_keep(keep) is True

    def attributes(self) -> dict[str, Any]:
        attrs = super().attributes()
        if self.training:
            attrs["dropped"] = self.dropped_fraction()
        return attrs

    def describe(self) -> list[str]:
        state = f"train: dropped {self.dropped_fraction():.1%}" if self.training else \
            "eval: x * keep"
        return [self.name, f"p={self.p:g}, {self.mode}", state]

    def dropped_fraction(self) -> float:
        """Fraction of elements this pass actually dropped (reads the count off the device)."""
        return 1.0 - float(self.kept) / self.size if self.size else 0.0

    @property
    def divisor(self) -> float:
        """What kept elements are divided by: keep (inverted) or 1 (vanilla)."""
        return self.keep if self.mode == "inverted" else 1.0

    def forward(self, x: Any) -> Any:
        if not self.training:
            return x * self.keep
        self.size = math.prod(x.shape)
        certain = certain_keep(self.keep)
        if certain is not None:  # nothing to draw; p = 1 must not divide by keep = 0
            self.kept = self.size if certain else 0
            xp = self.backend.xp
            return xp.asarray(x, copy=True) if certain else xp.zeros(x.shape, dtype=x.dtype)
        # kept stays on the device until it is shown
        out, self.saved, self.kept = self.kernels.forward(
            x, self.keep, self.divisor, self.generator or self.backend.generator)
        return out

    def backward(self, g: Any) -> tuple[Any]:
        if not self.training:
            return (g * self.keep,)
        certain = certain_keep(self.keep)
        if certain is not None:
            return (g if certain else self.backend.xp.zeros(g.shape, dtype=g.dtype),)
        return (self.kernels.backward(g, self.saved, self.divisor),)

    def mask(self) -> Any:
        """The boolean keep-mask of this training pass, as a backend array (until backward
        frees it)."""
        if not self.training or certain_keep(self.keep) is not None:
            raise ValueError("dropout: only a training pass with 0 < p < 1 draws a mask")
        if self.saved is None:
            raise RuntimeError("dropout: the mask was freed by backward (use retain_graph=True)")
        return self.kernels.mask(self.saved)


class Dropout2d(Dropout):
    """Spatial dropout of (N, C, H, W) input (or any (N, C, *)): one draw per (sample,
    channel), the whole feature map kept or dropped. Training: ``x * mask[n, c] / keep``
    (inverted) or ``x * mask[n, c]`` (vanilla); inference (vanilla): ``x * keep``. The mask is
    the generator's (N, C) Bernoulli draw, N*C booleans (1 byte per channel) saved shaped
    (N, C, 1, 1) so that backward is the same broadcast ``grad * mask / keep`` (or, on CuPy with
    ``regenerate_masks``, its Philox position); the backend's ``channel_forward`` does it, on
    CuPy in one fused kernel. The drawing shows the fraction of channels dropped."""

    name = "dropout2d"

    def describe(self) -> list[str]:
        lines = super().describe()
        if self.training:
            lines[-1] += " of channels"
        return lines

    def forward(self, x: Any) -> Any:
        if not self.training or certain_keep(self.keep) is not None:
            return super().forward(x)  # x * keep, a copy, or zeros: nothing to draw
        self.size = math.prod(x.shape[:2])
        # one pass where the backend fuses it (CuPy); kept stays on the device until shown
        out, self.saved, self.kept = self.kernels.channel_forward(
            x, self.keep, self.divisor, self.generator or self.backend.generator)
        return out

    def mask(self) -> Any:
        """The (N, C) boolean keep-mask of this training pass (until backward frees it)."""
        mask = super().mask()
        return self.backend.xp.reshape(mask, tuple(mask.shape[:2]))
