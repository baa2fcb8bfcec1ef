"""Monte Carlo dropout (Gal & Ghahramani, 2016): predictive mean and spread from dropout
samples at inference time."""

from __future__ import annotations

from ..autograd import no_grad
from ..tensor_core import Tensor
from .modules import Dropout, Module


@no_grad()
def mc_predict(model: Module, x: Tensor, samples: int = 30) -> tuple[Tensor, Tensor]:
    """Run ``model`` on ``x`` ``samples`` times with its Dropout layers sampling and every other
    layer (batchnorm included) in inference mode; returns the per-element mean and standard
    deviation (population, ddof 0) over the samples, accumulated in float64. The model's
    modes are restored afterwards and no graph is recorded."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"mc_predict: samples must be a positive int, got {samples!r}")
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        for module in model.modules():
            if isinstance(module, Dropout):
                object.__setattr__(module, "training", True)
        outputs = [model(x).data for _ in range(samples)]
    finally:
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    be, xp = x._backend, x._backend.xp
    dtype = outputs[0].dtype
    # float64 accumulation: identical samples give exactly 0 spread, many samples lose nothing
    stacked = xp.astype(xp.stack(outputs), be.dtype("float64"))
    mean = xp.astype(xp.mean(stacked, axis=0), dtype)
    std = xp.astype(xp.std(stacked, axis=0), dtype)
    return Tensor._wrap(mean, be, False, None), Tensor._wrap(std, be, False, None)
