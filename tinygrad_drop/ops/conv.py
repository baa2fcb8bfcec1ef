"""2-D convolution as one graph node: one large matrix product per layer over im2col columns.

Layout: the columns are ``(N, OH, OW, KH, KW, C)`` (each row one output pixel, its taps with
the channels innermost), so the product is ``(N*OH*OW, KH*KW*C) @ (KH*KW*C, OC)``, the shape
BLAS likes, and the output comes back as an ``(N, OH, OW, OC)`` array seen as NCHW: the next
layer's columns then copy whole channel runs. The backend builds the columns
(``kernels.columns``: strided windows on NumPy, stacked slices elsewhere) and adds them back
(``kernels.col2im``, one strided add per kernel position: no loop over pixels or samples).
"""

from __future__ import annotations

import operator
from typing import Any

from ..autograd import Op, format_value

Pair = tuple[int, int]


def pair(value: Any, name: str, where: str = "conv2d", minimum: int = 0) -> Pair:
    """An int or a pair of ints as a pair, each at least ``minimum``; otherwise a TypeError or
    ValueError naming ``where``, ``name`` and the bad value."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    try:
        if any(isinstance(v, bool) for v in items):
            raise TypeError
        out = (operator.index(items[0]), operator.index(items[1]))
    except TypeError:
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, got "
                        f"{value!r}") from None
    if min(out) < minimum:
        bound = "non-negative" if minimum == 0 else f"at least {minimum}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")
    return out


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis: floor((size + 2p - d*(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(Op):
    """Cross-correlation of ``x`` (N, C, H, W) with ``weight`` (OC, C/groups, KH, KW), plus
    ``bias`` (OC,), PyTorch's conv2d: out[n, o, y, x] = b[o] + sum_{c,i,j} w[o, c, i, j] *
    xpad[n, g*C/groups + c, y*sh + i*dh, x*sw + j*dw] for o in group g.

    Forward: columns X (N*OH*OW, KH*KW*C/groups per group) of the zero-padded input, out = X W^T
    (a batched product over groups). Backward: dW = g^T X, dX = col2im(g W), db = sum of g.
    Saves the columns only when the weight needs a gradient and the weight only when the input
    does (the first layer of a network skips both halves it does not need)."""

    name = "conv2d"
    kernel_family = "conv"
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1

    def attributes(self) -> dict[str, Any]:
        shown = {"kernel_size": getattr(self, "kernel_size", None), "stride": self.stride,
                 "padding": self.padding, "dilation": self.dilation, "groups": self.groups}
        return {k: v for k, v in shown.items() if v is not None}

    def describe(self) -> list[str]:
        attrs = self.attributes()
        lines = [self.name]
        if "kernel_size" in attrs:
            lines.append(f"kernel {attrs['kernel_size'][0]}x{attrs['kernel_size'][1]}, "
                         f"{getattr(self, 'channels', '?')} -> {getattr(self, 'out_channels', '?')}"
                         " channels")
        lines.append(", ".join(f"{k}={format_value(attrs[k])}"
                               for k in ("stride", "padding", "dilation", "groups")))
        return lines

    def _check(self, x: Any, weight: Any, bias: Any) -> None:
        xp = self.backend.xp
        if x.ndim != 4:
            raise ValueError(f"conv2d: expected 4-D input (N, C, H, W), got input of shape "
                             f"{tuple(x.shape)}")
        if weight.ndim != 4:
            raise ValueError(f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, "
                             f"kH, kW), got weight of shape {tuple(weight.shape)}")
        for label, array in (("input", x), ("weight", weight), ("bias", bias)):
            if array is not None and not xp.isdtype(array.dtype, "real floating"):
                raise TypeError(f"conv2d: {label} must be floating point, got {array.dtype}")
        if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
            raise TypeError(f"conv2d: input ({x.dtype}), weight ({weight.dtype})"
                            + ("" if bias is None else f" and bias ({bias.dtype})")
                            + " must have the same dtype")
        groups = self.groups
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
        oc, cg = weight.shape[0], weight.shape[1]
        if x.shape[1] % groups or oc % groups:
            raise ValueError(f"conv2d: groups={groups} must divide the input channels "
                             f"({x.shape[1]}) and the output channels ({oc}); input "
                             f"{tuple(x.shape)}, weight {tuple(weight.shape)}")
        if x.shape[1] != cg * groups:
            raise ValueError(f"conv2d: input of shape {tuple(x.shape)} has {x.shape[1]} channels "
                             f"but weight of shape {tuple(weight.shape)} with groups={groups} "
                             f"expects {cg * groups}")
        if bias is not None and tuple(bias.shape) != (oc,):
            raise ValueError(f"conv2d: bias of shape {tuple(bias.shape)} does not fit weight of "
                             f"shape {tuple(weight.shape)}; expected ({oc},)")
        for axis in (0, 1):
            span = self.dilation[axis] * (weight.shape[2 + axis] - 1) + 1
            padded = x.shape[2 + axis] + 2 * self.padding[axis]
            if span > padded:
                raise ValueError(
                    f"conv2d: kernel {tuple(weight.shape[2:])} (dilation {self.dilation}, "
                    f"spanning {span}) is larger than the padded input "
                    f"({x.shape[2] + 2 * self.padding[0]}, {x.shape[3] + 2 * self.padding[1]}); "
                    f"input {tuple(x.shape)}, padding {self.padding}")

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        xp = self.backend.xp
        self._check(x, weight, bias)
        n, c, h, w = x.shape
        oc, cg, kh, kw = weight.shape
        self.kernel_size, self.channels, self.out_channels = (kh, kw), c, oc
        self.in_hw = (h, w)
        oh, ow = (out_size(x.shape[2 + a], weight.shape[2 + a], self.stride[a],
                           self.padding[a], self.dilation[a]) for a in (0, 1))
        self.out_hw = (oh, ow)
        if self.padding != (0, 0):
            x = self.kernels.pad(x, self.padding)
        self.padded_shape = tuple(x.shape)
        groups, taps = self.groups, kh * kw * cg
        cols = self.kernels.columns(x, self.kernel_size, self.stride, self.dilation, self.out_hw)
        # Weights as (groups, OC/groups, KH*KW*C/groups), taps in the columns' order.
        wmat = xp.reshape(xp.permute_dims(weight, (0, 2, 3, 1)), (groups, oc // groups, taps))
        cols = self._grouped(cols, n * oh * ow, taps)
        out = xp.matmul(cols, xp.matrix_transpose(wmat))  # (groups, M, OC/groups)
        out = self._ungrouped(out, n * oh * ow)
        if bias is not None:
            out += bias  # in place: the product is ours
        need = self.needs_input_grad or (False, False, False)
        self.saved = (cols if need[1] else None, wmat if need[0] else None)
        return xp.permute_dims(xp.reshape(out, (n, oh, ow, oc)), (0, 3, 1, 2))

    def _grouped(self, cols: Any, rows: int, taps: int) -> Any:
        """(N, OH, OW, KH, KW, C) columns as (groups, rows, taps), each group's channels."""
        xp, groups = self.backend.xp, self.groups
        if groups == 1:
            return xp.reshape(cols, (1, rows, taps))
        kk = self.kernel_size[0] * self.kernel_size[1]
        cols = xp.reshape(cols, (rows, kk, groups, taps // kk))
        return xp.reshape(xp.permute_dims(cols, (2, 0, 1, 3)), (groups, rows, taps))

    def _ungrouped(self, a: Any, rows: int) -> Any:
        """(groups, rows, k) as (rows, groups*k)."""
        xp = self.backend.xp
        if self.groups == 1:
            return xp.reshape(a, (rows, a.shape[2]))
        return xp.reshape(xp.permute_dims(a, (1, 0, 2)), (rows, self.groups * a.shape[2]))

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        xp = self.backend.xp
        cols, wmat = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        n, oc = g.shape[0], g.shape[1]
        (oh, ow), (kh, kw), groups = self.out_hw, self.kernel_size, self.groups
        rows = n * oh * ow
        g2 = xp.reshape(xp.permute_dims(g, (0, 2, 3, 1)), (rows, oc))
        gb = self.kernels.bias_grad(g2) if need_b else None
        gg = (xp.reshape(g2, (1, rows, oc)) if groups == 1 else
              xp.permute_dims(xp.reshape(g2, (rows, groups, oc // groups)), (1, 0, 2)))
        gw = gx = None
        if need_w:
            gw = xp.matmul(xp.matrix_transpose(gg), cols)  # (groups, OC/groups, taps)
            gw = xp.permute_dims(xp.reshape(gw, (oc, kh, kw, -1)), (0, 3, 1, 2))
        if need_x:
            gcols = self._ungrouped(xp.matmul(gg, wmat), rows)  # (rows, KH*KW*C) grouped
            c = self.channels
            if groups > 1:  # back to (KH, KW, C) order from (groups, KH, KW, C/groups)
                gcols = xp.reshape(xp.permute_dims(
                    xp.reshape(gcols, (rows, groups, kh * kw, c // groups)), (0, 2, 1, 3)),
                    (rows, kh * kw * c))
            gcols = xp.reshape(gcols, (n, oh, ow, kh, kw, c))
            gx = self.kernels.col2im(gcols, self.padded_shape, self.stride, self.dilation)
            (ph, pw), (h, w) = self.padding, self.in_hw
            if ph or pw:
                gx = gx[:, :, ph:ph + h, pw:pw + w]
        return gx, gw, gb


def conv2d_params(kernel: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
                  groups: Any) -> tuple[Pair, Pair, Pair, Pair, int]:
    """``F.conv2d``'s arguments checked and as pairs: (stride, dilation, padding before,
    padding after, groups). ``padding`` may be 'valid' (none) or 'same' (stride 1 only; an odd
    total puts the extra zero after, as PyTorch)."""
    step = pair(stride, "stride", minimum=1)
    dil = pair(dilation, "dilation", minimum=1)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    if isinstance(padding, str):
        if padding == "valid":
            return step, dil, (0, 0), (0, 0), groups
        if padding != "same":
            raise ValueError(f"conv2d: padding must be 'valid', 'same', an int or a pair of "
                             f"ints, got {padding!r}")
        if step != (1, 1):
            raise ValueError(f"conv2d: padding='same' is not supported for strided "
                             f"convolutions (stride={stride!r})")
        total = [d * (k - 1) for d, k in zip(dil, kernel[2:], strict=True)]
        before = (total[0] // 2, total[1] // 2)
        return step, dil, before, (total[0] - before[0], total[1] - before[1]), groups
    pad = pair(padding, "padding")
    return step, dil, pad, pad, groups
