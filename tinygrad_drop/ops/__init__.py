"""Op families, one module each, every op's forward and backward side by side. Import an op
from its family's module (``from tinygrad_drop.ops.dropout import Dropout``).

- ``elementwise``: arithmetic, powers (number or tensor exponent), exp/log, clone, casts,
  moves between backends
- ``reduce``: sum, mean, prod, var, std, logsumexp, amax/amin, max/min (values and indices)
- ``shape``: reshape, permute (transpose), expand, constant padding
- ``index``: ``x[index]`` with PyTorch's rules, gather
- ``join``: cat, stack
- ``select``: where, masked_fill, maximum, minimum
- ``matmul``: the matrix product
- ``activation``: relu, sigmoid, tanh, softmax, log_softmax
- ``dropout``: element-wise dropout
- ``linear``: the linear layer
- ``norm``: batch normalisation over (N, C, *)
- ``loss``: softmax cross-entropy
- ``conv``: 2-D convolution (im2col and one matrix product)
- ``pool``: 2-D max and average pooling
"""

from . import (
    activation,
    conv,
    dropout,
    elementwise,
    index,
    join,
    linear,
    loss,
    matmul,
    norm,
    pool,
    reduce,
    select,
    shape,
)

FAMILIES = (elementwise, reduce, shape, index, join, select, matmul, activation, dropout, linear,
            norm, loss, conv, pool)

__all__ = ["FAMILIES", "activation", "conv", "dropout", "elementwise", "index", "join", "linear",
           "loss", "matmul", "norm", "pool", "reduce", "select", "shape"]
