"""Learning-rate schedules as the command line spells them (``step:5:0.5``, ``cosine``,
``none``), read into ``optim.lr_scheduler`` objects stepped once per epoch."""

from __future__ import annotations

import math
from typing import Any

FORMS = "none, step:STEP_SIZE[:GAMMA] or cosine[:ETA_MIN]"


def parse(text: str) -> tuple[str, tuple[float, ...]]:
    """``'step:5:0.5'`` -> ``('step', (5, 0.5))``; ``'step:5'`` -> ``('step', (5, 0.1))``
    (PyTorch's gamma); ``'cosine'`` -> ``('cosine', (0.0,))``; ``'none'`` -> ``('none', ())``.
    Raises ``ValueError`` saying what the forms are."""
    kind, *values = text.split(":")
    try:
        if kind == "none" and not values:
            return "none", ()
        if kind == "step" and len(values) in (1, 2):
            step_size, gamma = int(values[0]), float(values[1]) if len(values) == 2 else 0.1
            if step_size > 0 and math.isfinite(gamma) and gamma > 0:
                return "step", (step_size, gamma)
        if kind == "cosine" and len(values) <= 1:
            eta_min = float(values[0]) if values else 0.0
            if math.isfinite(eta_min) and eta_min >= 0:
                return "cosine", (eta_min,)
    except ValueError:
        pass
    raise ValueError(f"must be {FORMS} (STEP_SIZE a positive integer, GAMMA > 0, "
                     f"ETA_MIN >= 0), got {text}")


def build(text: str | None, optimizer: Any, epochs: int) -> Any:
    """The scheduler ``text`` names for ``optimizer`` over ``epochs`` epochs, or None for
    ``None``/``'none'``. Cosine takes ``T_max = epochs``, as PyTorch users commonly do: the
    lr reaches ETA_MIN after the last epoch's step."""
    from .optim import lr_scheduler

    kind, values = parse(text or "none")
    if kind == "step":
        return lr_scheduler.StepLR(optimizer, int(values[0]), gamma=values[1])
    if kind == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, epochs, eta_min=values[0])
    return None
