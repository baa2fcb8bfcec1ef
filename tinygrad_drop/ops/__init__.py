"""Op families, one module each, every op's forward and backward side by side:
elementwise, reduce, shape, matmul, activation, dropout, linear, norm, loss.
(Convolution and pooling will be ``conv.py`` and ``pool.py``.)"""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .elementwise import Abs, Add, Astype, Div, Exp, Log, Mul, Neg, Pow, Sub, ToBackend
from .linear import Linear
from .loss import CrossEntropy
from .matmul import MatMul
from .norm import BatchNorm
from .reduce import Max, Mean, Sum, normalize_axes
from .shape import Index, Reshape, Transpose

__all__ = ["Abs", "Add", "Astype", "BatchNorm", "CrossEntropy", "Div", "Dropout", "Exp",
           "Index", "Linear", "Log", "LogSoftmax", "MatMul", "Max", "Mean", "Mul", "Neg", "Pow",
           "ReLU", "Reshape", "Sigmoid", "Softmax", "Sub", "Sum", "Tanh", "ToBackend",
           "Transpose", "normalize_axes"]
