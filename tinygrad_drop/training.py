"""A small training loop with the founding material's regularisers: dropout lives in the model,
L2 is the optimizer's ``weight_decay``, L1 is ``l1=`` here, and early stopping is
``EarlyStopping``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .autograd import no_grad
from .jit import jit
from .nn.functional import l1_penalty
from .nn.modules import Module
from .optim import Optimizer
from .tensor_core import Tensor


class EarlyStopping:
    """Stop when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row, remembering the best weights to restore."""

    def __init__(self, patience: int = 3, min_delta: float = 0.0) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive int, got {patience!r}")
        self.patience, self.min_delta = patience, min_delta
        self.best: float | None = None
        self.best_epoch = 0
        self.best_state: dict[str, Any] | None = None
        self.bad_epochs = 0

    def step(self, model: Module, val_loss: float, epoch: int) -> bool:
        """Record an epoch's validation loss; True when training should stop."""
        if self.best is None or val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_state = model.state_dict()
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self, model: Module) -> None:
        """Load the best weights seen back into ``model``."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def fit(model: Module, optimizer: Optimizer, loss_fn: Callable[[Tensor, Any], Tensor],
        batches: Iterable[tuple[Tensor, Any]], epochs: int, *,
        validation: tuple[Tensor, Any] | None = None, l1: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        progress: Callable[[Iterable, int], Iterable] | None = None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
        eval_batch_size: int | None = None, capture: bool = True) -> list[dict[str, float]]:
    """Train for up to ``epochs`` passes over ``batches`` (re-iterable (x, y) pairs): loss
    ``loss_fn(model(x), y)`` plus ``l1 * sum|w|``. Returns one record per epoch with the mean
    training loss, the seconds it took and, given ``validation``, the validation loss in
    inference mode. With ``early_stopping`` (needs ``validation``) it stops early and restores
    the best weights. ``progress(batches, epoch)`` may wrap the batches (a progress bar);
    ``on_epoch(record)`` runs after each epoch and may add to the record. ``eval_batch_size``
    evaluates the validation loss that many rows at a time (a CNN's activations for thousands of
    images at once would take gigabytes), weighting each slice's mean loss by its rows.
    With ``capture`` (the default) each training step runs under ``td.jit``: on a backend that
    can capture (CuPy) it is recorded once per batch shape and replayed as one CUDA graph; on
    the others it simply runs."""
    if early_stopping is not None and validation is None:
        raise ValueError("fit: early_stopping needs validation data")
    if eval_batch_size is not None and (not isinstance(eval_batch_size, int)
                                        or isinstance(eval_batch_size, bool)
                                        or eval_batch_size < 1):
        raise ValueError(f"fit: eval_batch_size must be a positive int or None, got "
                         f"{eval_batch_size!r}")
    def train_step(x: Tensor, y: Any) -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        objective = loss + l1 * l1_penalty(model.parameters()) if l1 else loss
        objective.backward()
        optimizer.step()
        return loss

    step = jit(train_step) if capture else train_step
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = None, 0
        started = time.perf_counter()
        for x, y in (progress(batches, epoch) if progress else batches):
            # jit keys calls by their Tensors: other targets (lists) run as they are
            loss = (step if isinstance(y, Tensor) else train_step)(x, y)
            # summed on the device, in float64 as a Python sum of loss.item() would be, and read
            # once per epoch: a read per step would make the host wait for the device each step
            weighted = loss.detach().double() * len(x)
            total, count = weighted if total is None else total + weighted, count + len(x)
        record = {"epoch": epoch, "train_loss": total.item() / count if count else 0.0,
                  "seconds": time.perf_counter() - started}
        if validation is not None:
            model.eval()
            record["val_loss"] = validation_loss(model, loss_fn, *validation, eval_batch_size)
        if on_epoch is not None:
            on_epoch(record)
        history.append(record)
        if early_stopping is not None and early_stopping.step(model, record["val_loss"], epoch):
            break
    if early_stopping is not None:
        early_stopping.restore(model)
    return history


@no_grad()
def validation_loss(model: Module, loss_fn: Callable[[Tensor, Any], Tensor], x: Tensor, y: Any,
                    batch_size: int | None = None) -> float:
    """The mean of ``loss_fn`` (a mean-reduced loss) over ``(x, y)`` in inference mode, in
    slices of ``batch_size`` rows (None: all at once)."""
    rows = len(x)
    if not rows:
        return loss_fn(model(x), y).item()
    step = batch_size or rows
    total = None  # summed on the device, read once
    for start in range(0, rows, step):
        part = slice(start, start + step)
        weighted = loss_fn(model(x[part]), y[part]).double() * (min(start + step, rows) - start)
        total = weighted if total is None else total + weighted
    return total.item() / rows
