"""Layers, initialisation and Monte Carlo dropout; ``nn.functional`` holds the stateless ops."""

from . import functional, init
from .mc import mc_predict
from .modules import BatchNorm1d, Dropout, Flatten, Linear, Module, ReLU, Sequential, Sigmoid

__all__ = ["BatchNorm1d", "Dropout", "Flatten", "Linear", "Module", "ReLU", "Sequential",
           "Sigmoid", "functional", "init", "mc_predict"]
