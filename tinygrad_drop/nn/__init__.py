"""Layers, activations, containers, losses, initialisation and Monte Carlo dropout;
``nn.functional`` holds the stateless ops."""

from . import functional, init
from .mc import mc_predict
from .modules import (
    ELU,
    GELU,
    BatchNorm1d,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
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
