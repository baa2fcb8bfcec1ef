"""All module classes in one namespace (``from tinygrad_drop.nn.modules import Linear``); they
live in ``module`` (the base class), ``layers``, ``activations``, ``containers`` and
``losses``."""

from .activations import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .containers import ModuleList, Sequential
from .conv import Conv2d
from .layers import BatchNorm1d, BatchNorm2d, Dropout, Dropout2d, Flatten, Identity, Linear
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, StateDictError
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "ELU",
           "Flatten", "GELU", "Identity", "IncompatibleKeys", "LeakyReLU", "Linear",
           "LogSoftmax", "MSELoss", "Module", "ModuleList", "NLLLoss", "ReLU", "Sequential",
           "SiLU", "Sigmoid", "Softmax", "StateDictError", "Tanh"]
__all__ += ["AvgPool2d", "BatchNorm2d", "Dropout2d", "MaxPool2d"]
__all__ += ["Conv2d"]
