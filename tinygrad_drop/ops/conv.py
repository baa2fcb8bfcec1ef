"""2-D convolution as one graph node: one large matrix product per layer over im2col columns.

Layout, NCHW throughout as Caffe's: the columns of a sample are ``(C*KH*KW, OH*OW)``, rows in
the weight's own (C, KH, KW) order, so per group the product is ``W (OC, C*KH*KW) @ columns``
and writes the NCHW output directly; backward is dW = sum over samples of g @ columns^T and
dX = col2im(W^T @ g). The backend's ``conv`` kernels build the columns (strided windows on
NumPy, in blocks of samples that stay in cache; stacked slices elsewhere), multiply, and add
column gradients back (col2im: one strided add per kernel position, no loop over pixels).
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


def check_groups(groups: Any) -> int:
    """``groups`` if it is a positive int (not a bool), else conv2d's ValueError naming it."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    return groups


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis: floor((size + 2p - d*(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(Op):
    """Cross-correlation of ``x`` (N, C, H, W) with ``weight`` (OC, C/groups, KH, KW), plus
    ``bias`` (OC,), PyTorch's conv2d: out[n, o, y, x] = b[o] + sum_{c,i,j} w[o, c, i, j] *
    xpad[n, g*C/groups + c, y*sh + i*dh, x*sw + j*dw] for o in group g.

    Forward: columns X (C*KH*KW, OH*OW per sample) of the zero-padded input, out = W X (a
    batched product over groups). Backward: dW = sum of g X^T, dX = col2im(W^T g), db = sum
    of g.
    Saves the padded input only when the weight needs a gradient (backward rebuilds the
    columns) and the weight only when the input does (the first layer of a network skips the
    input's half)."""

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
        groups = check_groups(self.groups)
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
        self._check(x, weight, bias)
        self.kernel_size, self.channels = tuple(weight.shape[2:]), x.shape[1]
        self.out_channels, self.in_hw = weight.shape[0], tuple(x.shape[2:])
        oh, ow = (out_size(x.shape[2 + a], weight.shape[2 + a], self.stride[a],
                           self.padding[a], self.dilation[a]) for a in (0, 1))
        self.geometry = (self.kernel_size, self.stride, self.dilation, (oh, ow), self.groups)
        if self.padding != (0, 0):
            x = self.kernels.pad(x, self.padding)
        self.padded_shape = tuple(x.shape)
        out = self.kernels.forward(x, weight, bias, self.geometry)
        # Saved: the padded input (the columns are rebuilt in backward: 1/(KH*KW) of their
        # memory) for the weight's gradient, the weight for the input's.
        need = self.needs_input_grad or (False, False, False)
        self.saved = (x if need[1] else None, weight if need[0] else None)
        return out

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        x, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        gb = self.kernels.bias_grad(g) if need_b else None
        gw, gx = self.kernels.backward(g, x, weight, self.geometry, self.padded_shape,
                                       need_w, need_x)
        if gx is not None and self.padding != (0, 0):
            (ph, pw), (h, w) = self.padding, self.in_hw
            gx = gx[:, :, ph:ph + h, pw:pw + w]
        return gx, gw, gb


def conv2d_params(kernel: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
                  groups: Any) -> tuple[Pair, Pair, Pair, Pair, int]:
    """``F.conv2d``'s arguments checked and as pairs: (stride, dilation, padding before,
    padding after, groups). ``padding`` may be 'valid' (none) or 'same' (stride 1 only; an odd
    total puts the extra zero after, as PyTorch)."""
    step = pair(stride, "stride", minimum=1)
    dil = pair(dilation, "dilation", minimum=1)
    check_groups(groups)
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
