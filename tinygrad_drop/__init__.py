"""tinygrad_drop: a small, exact autograd framework whose heart is dropout done right.

``Tensor`` records ops for reverse-mode autograd on a pluggable array backend (NumPy, CuPy, or
array-api-strict), chosen by ``$TINYGRAD_DROP_BACKEND``.
"""

from . import backends, dtypes, nn, optim, training
from .autograd import is_grad_enabled, no_grad
from .backends import manual_seed
from .dtypes import bool_ as bool  # noqa: A001 (PyTorch's td.bool)
from .dtypes import double, float, float32, float64, int, int8, int16, int32, int64, long, uint8  # noqa: A001
from .factories import (
    arange,
    eye,
    from_dlpack,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .functions import cat, chunk, maximum, minimum, split, stack, where
from .gradcheck import GradcheckError, gradcheck
from .serialization import load, save
from .tensor_core import Tensor
from .viz import draw_graph, save_graph

__version__ = "0.1.0"


def generator(seed: int = 0, backend: str | None = None) -> backends.Generator:
    """A new random generator on ``backend`` (default: the default backend) seeded with
    ``seed``, independent of ``td.manual_seed``; pass it as ``generator=`` to dropout."""
    return backends.get(backend).new_generator(seed)


__all__ = ["GradcheckError", "Tensor", "arange", "backends", "bool", "cat", "chunk", "double",
           "draw_graph", "dtypes", "eye", "float", "float32", "float64", "from_dlpack", "full",
           "full_like", "generator", "gradcheck", "int", "int16", "int32", "int64", "int8",
           "is_grad_enabled", "load", "long", "manual_seed", "maximum", "minimum", "nn", "no_grad",
           "ones", "ones_like", "optim", "rand", "rand_like", "randn", "randn_like", "save",
           "save_graph", "split", "stack", "tensor", "training", "uint8", "where", "zeros",
           "zeros_like", "__version__"]
