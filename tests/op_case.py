"""The op table's row types and shared helpers: each ``op_cases_<family>.py`` holds one
family's rows, and ``test_ops.py`` runs every row through every test body on every backend."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from conftest import tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F


@dataclass
class Exact:
    """Hand-worked values: inputs, the expected output, and the expected gradient of
    ``output.sum()`` with respect to each input."""

    inputs: tuple
    output: object
    grads: tuple


@dataclass
class Case:
    """An op under test: ours(*Tensors), the PyTorch equivalent (None: there is none, e.g. a
    random mask), its inputs' shapes (default: those of ``exact``) and domains ('any': N(0,1);
    'pos': U[0.5, 2); 'away': |x| in [0.5, 2), away from kinks), hand-worked values, and
    gradcheck options."""

    ours: Callable
    torch: Callable | None
    shapes: tuple = ()
    domain: str = "any"
    exact: Exact | None = None
    check: dict = field(default_factory=dict)

    def input_shapes(self):
        return self.shapes or tuple(np.shape(x) for x in self.exact.inputs)


TARGETS = [0, 3, 1, 1, 2]
E = math.e


def torch_cross_entropy(targets, reduction="mean"):
    def loss(z):
        import torch
        return torch.nn.functional.cross_entropy(z, torch.tensor(targets), reduction=reduction)
    return loss


def constant(values, like, dtype=None):
    """A tensor of ``dtype`` (a name; None: ``like``'s dtype) without gradient, on ``like``'s
    backend (Tensor) or a torch tensor."""
    if isinstance(like, td.Tensor):
        return tensor(values, like.backend, dtype=dtype or like.dtype_name)
    import torch
    return torch.tensor(values, dtype=getattr(torch, dtype) if dtype else like.dtype)


def other_backend(t):
    return "strict" if t.backend != "strict" else "numpy"


EPS = 2.0 ** -20  # var + EPS is exact for the variances below (PyTorch refuses eps = 0)
RUNNING = ([0.5, -1.0, 0.0], [4.0 - EPS, 0.25 - EPS, 1.0 - EPS])  # std 2, 0.5, 1 exactly


def batch_norm(training):
    """F.batch_norm of (x, weight, bias), and PyTorch's: batch statistics in training, the
    fixed ``RUNNING`` ones at inference."""
    def ours(x, w, b):
        stats = (None, None) if training else [constant(v, x) for v in RUNNING]
        return F.batch_norm(x, *stats, w, b, training=training, eps=EPS)

    def theirs(x, w, b):
        import torch
        stats = (None, None) if training else [constant(v, x) for v in RUNNING]
        return torch.nn.functional.batch_norm(x, *stats, w, b, training=training, eps=EPS)
    return ours, theirs


def torch_linear(x, w, b):
    import torch
    return torch.nn.functional.linear(x, w, b)


