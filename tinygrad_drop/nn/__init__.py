"""Layers, activations, containers, losses, initialisation and Monte Carlo dropout;
``nn.functional`` holds the stateless ops."""

from . import functional, init
from .mc import mc_predict
from .modules import (
    ELU,
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCELoss,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Dropout2d,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    Module,
    ModuleList,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "ELU",
           "Flatten", "GELU", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss",
           "Module", "ModuleList", "NLLLoss", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax",
           "Tanh", "functional", "init", "mc_predict"]
__all__ += ["AvgPool2d", "BatchNorm2d", "Dropout2d", "MaxPool2d"]
__all__ += ["Conv2d"]
