"""Op families; each op keeps its forward and backward side by side."""

from .elementwise import (
                          Abs,
                          Add,
                          Astype,
                          Div,
                          Exp,
                          Log,
                          Mul,
                          Neg,
                          Pow,
                          ReLU,
                          Sigmoid,
                          Sub,
                          Tanh,
                          ToBackend,
)
from .matmul import MatMul
from .nn_ops import BatchNorm, CrossEntropy, Dropout, Linear, LogSoftmax, Softmax
from .reduce import Max, Mean, Sum, normalize_axes
from .shape import Index, Reshape, Transpose

__all__ = ["Abs", "Add", "Astype", "BatchNorm", "CrossEntropy", "Div", "Dropout", "Exp",
           "Index", "Linear", "Log", "LogSoftmax", "MatMul", "Max", "Mean", "Mul", "Neg", "Pow",
           "ReLU", "Reshape", "Sigmoid", "Softmax", "Sub", "Sum", "Tanh", "ToBackend",
           "Transpose", "normalize_axes"]
