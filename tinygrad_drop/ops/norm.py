"""Batch normalisation over (N, C, *) as one graph node. Pure by default: the updated running
statistics are outputs, never written into anything the op was handed; with ``in_place`` the
update is written into the running arrays (PyTorch's way, and what a replayed CUDA graph needs:
the same arrays every step). The work is the backend's ``norm`` kernels."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op, format_value


class BatchNorm(Op):
    """Batch normalisation over every axis but 1 of (N, C, *) input, PyTorch's semantics.

    Training (or no running statistics): normalise with the batch mean and biased variance.
    Given ``running_mean`` and ``running_var`` ((C,) arrays), training also returns their update
    ``(1 - momentum) * running + momentum * batch`` (unbiased variance) as the extra outputs,
    None otherwise: new arrays, or with ``in_place`` the running arrays themselves, updated.
    Inference normalises with the running statistics. Saves what the backend's kernels need
    for backward (the centred input and 1/std on the portable kernels)."""

    name = "batch_norm"
    style = "normalisation"
    kernel_family = "norm"
    extra_outputs = ("running_mean", "running_var")
    shown = ("momentum", "eps", "training")
    training: bool
    momentum: float = 0.1
    eps: float = 1e-5
    running_mean: Any = None
    running_var: Any = None
    in_place: bool = False

    def describe(self) -> list[str]:
        return [self.name, f"momentum={format_value(self.momentum)}, eps={format_value(self.eps)}",
                "train: batch statistics" if self.training else "eval: running stats"]

    def forward(self, x: Any, weight: Any = None, bias: Any = None) -> tuple[Any, Any, Any]:
        self._check(x, weight, bias)
        channels = x.shape[1]
        count = math.prod(x.shape) // channels if channels else 0
        has_running = self.running_mean is not None
        use_batch = self.training or not has_running
        if use_batch and count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        out, saved, new = self.kernels.forward(
            x, weight, bias, (self.running_mean, self.running_var) if has_running else None,
            use_batch, self.training and has_running, self.momentum, self.eps, self.in_place)
        self.saved = (saved, weight)
        return (out, *new) if new is not None else (out, None, None)

    def _check(self, x: Any, weight: Any, bias: Any) -> None:
        if x.ndim < 2:
            raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {x.shape}")
        if (self.running_mean is None) != (self.running_var is None):
            raise ValueError("batch_norm: give both running_mean and running_var, or neither")
        channels = x.shape[1]
        for name, array in (("running_mean", self.running_mean),
                            ("running_var", self.running_var), ("weight", weight),
                            ("bias", bias)):
            if array is not None and tuple(array.shape) != (channels,):
                raise ValueError(f"batch_norm: {name} has shape {tuple(array.shape)} but the "
                                 f"input {x.shape} has {channels} channels")

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        saved, weight = self.saved
        needs = self.needs_input_grad  # weight and bias may be left out
        return self.kernels.backward(g, saved, weight, (*needs, False, False)[:3])[:len(needs)]
