"""Rows that call a function of ``F`` and its PyTorch twin with the same extra arguments (see
``functional``)."""

from op_case import constant

import tinygrad_drop.nn.functional as F


class W(list):
    """A constant float argument (class weights, pos_weight): a tensor of the first input's
    dtype, on its backend (ours) or in torch (PyTorch's)."""


def functional(name, *args, **kw):
    """(ours, PyTorch's): ``F.<name>(*inputs, *args, **kw)`` and
    ``torch.nn.functional.<name>`` with the same arguments. ``W`` values become constant
    tensors like the first input; plain lists (class targets) index tensors."""
    def call(module, inputs, indices):
        def convert(value):
            if isinstance(value, W):
                return constant(list(value), inputs[0])
            return indices(value) if isinstance(value, list) else value
        return getattr(module, name)(*inputs, *map(convert, args),
                                     **{k: convert(v) for k, v in kw.items()})

    def ours(*inputs):
        return call(F, inputs, lambda value: value)

    def theirs(*inputs):
        import torch
        return call(torch.nn.functional, inputs, torch.tensor)
    return ours, theirs
