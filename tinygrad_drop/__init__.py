"""tinygrad_drop: a small, exact autograd framework whose heart is dropout done right.

``Tensor`` records ops for reverse-mode autograd on a pluggable array backend (NumPy, CuPy, or
array-api-strict), chosen by ``$TINYGRAD_DROP_BACKEND``.
"""

from . import backends, dtypes, function_forms, nn, optim, training
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
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
from .function_forms import (  # noqa: A004 (PyTorch's td.sum, td.max, td.abs...)
    abs,
    add,
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    clamp,
    clip,
    div,
    exp,
    flatten,
    floor_divide,
    gather,
    log,
    log_softmax,
    logical_not,
    logsumexp,
    masked_fill,
    matmul,
    max,
    mean,
    min,
    mul,
    neg,
    numel,
    permute,
    pow,
    prod,
    reciprocal,
    relu,
    remainder,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    square,
    squeeze,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
)
from .functions import cat, chunk, maximum, minimum, split, stack, where
from .functions import cat as concat
from .gradcheck import GradcheckError, gradcheck
from .jit import jit
from .serialization import load, save
from .tensor_core import Tensor
from .viz import draw_graph, save_graph

__version__ = "0.1.0"

# Submodules that ``import tinygrad_drop`` does not load (they bring in dataset, drawing or
# command-line code, and some of them import more packages), loaded on first use as
# ``td.data``, ``td.models``...: API.md and users spell them that way.
_LAZY_SUBMODULES = ("data", "experiment", "models", "report", "serialization", "viz")


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def generator(seed: int = 0, backend: str | None = None) -> backends.Generator:
    """A new random generator on ``backend`` (default: the default backend) seeded with
    ``seed``, independent of ``td.manual_seed``; pass it as ``generator=`` to dropout."""
    return backends.get(backend).new_generator(seed)


__all__ = ["GradcheckError", "Tensor", "__version__", "abs", "add", "all", "amax", "amin", "any",
           "arange", "argmax", "argmin", "backends", "bool", "cat", "chunk", "clamp", "clip",
           "concat", "div", "double", "draw_graph", "dtypes", "enable_grad", "exp", "eye",
           "flatten", "float", "float32", "float64", "floor_divide", "from_dlpack", "full",
           "full_like", "function_forms", "gather", "generator", "gradcheck", "int", "int16",
           "int32", "int64", "int8", "is_grad_enabled", "jit", "load", "log", "log_softmax",
           "logical_not", "logsumexp", "long", "manual_seed", "masked_fill", "matmul", "max",
           "maximum", "mean", "min", "minimum", "mul", "neg", "nn", "no_grad", "numel", "ones",
           "ones_like", "optim", "permute", "pow", "prod", "rand", "rand_like", "randn",
           "randn_like", "reciprocal", "relu", "remainder", "reshape", "save", "save_graph",
           "set_grad_enabled", "sigmoid", "softmax", "split", "sqrt", "square", "squeeze", "stack",
           "std", "sub", "sum", "tanh", "tensor", "training", "transpose", "uint8", "unsqueeze",
           "var", "where", "zeros", "zeros_like"]
