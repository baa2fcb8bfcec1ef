"""tinygrad_drop: a small, exact autograd framework whose heart is dropout done right.

``Tensor`` records ops for reverse-mode autograd on a pluggable array backend (NumPy, CuPy, or
array-api-strict), chosen by ``$TINYGRAD_DROP_BACKEND``.
"""

from . import backends
from .autograd import is_grad_enabled, no_grad
from .backends import manual_seed
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor

__version__ = "0.1.0"

__all__ = ["GradcheckError", "Tensor", "backends", "gradcheck", "is_grad_enabled",
           "manual_seed", "no_grad", "__version__"]
