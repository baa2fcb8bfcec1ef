"""tinygrad_drop: a small, exact autograd framework whose heart is dropout done right.

``Tensor`` records ops for reverse-mode autograd on a pluggable array backend (NumPy, CuPy, or
array-api-strict), chosen by ``$TINYGRAD_DROP_BACKEND``.
"""

from . import backends, nn, optim, training
from .autograd import is_grad_enabled, no_grad
from .backends import manual_seed
from .gradcheck import GradcheckError, gradcheck
from .serialization import load, save
from .tensor import Tensor
from .viz import draw_graph, save_graph

__version__ = "0.1.0"


def generator(seed: int = 0, backend: str | None = None) -> backends.Generator:
    """A new random generator on ``backend`` (default: the default backend) seeded with
    ``seed``, independent of ``td.manual_seed``; pass it as ``generator=`` to dropout."""
    return backends.get(backend).new_generator(seed)


__all__ = ["GradcheckError", "Tensor", "backends", "draw_graph", "generator", "gradcheck",
           "is_grad_enabled", "load", "manual_seed", "nn", "no_grad", "optim", "save",
           "save_graph", "training", "__version__"]
