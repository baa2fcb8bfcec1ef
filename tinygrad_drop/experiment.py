"""The founding experiment: an MLP 784-256-256-10 on Fashion-MNIST, with and without dropout
(and the other regularisers), trained with plain SGD and measured every epoch; or the seed's
Keras CNN (``model="cnn"``), trained with Adadelta as the seed's program did. Either can take
another optimizer and a learning-rate schedule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from . import backends, data, models, schedules
from .autograd import no_grad
from .nn import functional as F
from .optim import SGD, Adadelta, Adam, AdamW
from .tensor_core import Tensor
from .training import EarlyStopping, fit


@dataclasses.dataclass
class Config:
    """One training run. The defaults are the founding material's setup."""

    name: str = "dropout"
    model: str = "mlp"  # or "cnn": models.cnn with Adadelta(lr, rho=0.95, eps=1e-7)
    dataset: str = "fashion-mnist"
    hidden: tuple[int, ...] = (256, 256)
    dropout: tuple[float, ...] = (0.2, 0.5)
    mode: str = "inverted"
    batchnorm: bool = False
    epochs: int = 10
    lr: float = 0.5
    # sgd, adam, adamw or adadelta; None: the model's own (mlp: SGD, cnn: the seed's Adadelta)
    optimizer: str | None = None
    schedule: str | None = None  # "step:STEP_SIZE[:GAMMA]", "cosine[:ETA_MIN]"; see schedules
    batch_size: int = 256
    init_std: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    early_stopping: int = 0  # patience in epochs; 0 = off
    seed: int = 0
    backend: str | None = None
    limit: int | None = None  # train on the first N examples only
    # Measure the training accuracy and loss on the first N training examples only (None: all);
    # the CNN's inference pass over all 60 000 would take longer than its training epoch.
    train_eval_size: int | None = None


DATASETS = {"fashion-mnist": data.fashion_mnist, "mnist": data.mnist}


def load(dataset: str, limit: int | None = None) -> tuple[Any, ...]:
    """(x_train, y_train, x_test, y_test) of ``dataset``, the training set cut to ``limit``."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    x, y = DATASETS[dataset]("train")
    x_test, y_test = DATASETS[dataset]("test")
    return (x[:limit], y[:limit], x_test, y_test) if limit else (x, y, x_test, y_test)


@no_grad()
def evaluate(model: Any, x: Any, y: Any, backend: str | None = None,
             chunk: int = 10_000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` in inference mode on ``x``, ``y`` (host
    arrays, or Tensors or arrays already on ``backend``: then nothing is copied). Loss and
    count are summed on the device and read once."""
    model.eval()
    be = backends.get(backend)
    x, y = data.placed(x, be), data.placed(y, be)
    rows = x.shape[0]
    loss = correct = None
    for start in range(0, rows, chunk):
        part = (slice(start, min(start + chunk, rows)), ...)
        logits = model(Tensor._wrap(x[part], be, False, None))
        labels = Tensor._wrap(y[part], be, False, None)
        chunk_loss = F.cross_entropy(logits, labels, reduction="sum").double()
        hits = (logits.argmax(1) == labels).sum()
        loss = chunk_loss if loss is None else loss + chunk_loss
        correct = hits if correct is None else correct + hits
    if loss is None:
        return float("nan"), float("nan")
    return loss.item() / rows, correct.item() / rows


def run(config: Config, arrays: tuple[Any, ...], *, progress: bool = False
        ) -> dict[str, Any]:
    """Train ``config`` on ``arrays`` and return the config, the per-epoch history (train and
    test loss/accuracy in inference mode, seconds of training) and the model."""
    backends.manual_seed(config.seed)
    x, y, x_test, y_test = arrays
    validation = None
    if config.early_stopping:  # hold out the last tenth of the training set to decide
        cut = len(x) * 9 // 10
        validation = (Tensor(x[cut:], backend=config.backend),
                      Tensor(y[cut:], backend=config.backend))
        x, y = x[:cut], y[:cut]
    model, optimizer = build(config, x.shape[1], int(y.max()) + 1)
    scheduler = schedules.build(config.schedule, optimizer, config.epochs)
    # The CNN's activations of 10 000 images would take gigabytes: evaluate it in batches.
    chunk = config.batch_size if config.model == "cnn" else 10_000
    # Batchnorm cannot train on a batch of one (and a batch of a few rows gives it noisy
    # statistics): with it, the short last batch is left out, as PyTorch users do with
    # drop_last=True. Without it every row is used, as the founding runs always did.
    if config.batchnorm and len(x) < config.batch_size:
        raise ValueError(f"batchnorm needs a full batch of {config.batch_size} rows to train, "
                         f"and only {len(x)} training rows are left")
    loader = data.DataLoader(x, y, config.batch_size, shuffle=True, seed=config.seed,
                             drop_last=config.batchnorm, backend=config.backend)
    # evaluated where the loader placed the data: on a GPU nothing is copied per epoch
    measured = (slice(0, min(config.train_eval_size or len(x), len(x))), ...)
    x_eval, y_eval = loader.x[measured], loader.y[measured]
    x_test, y_test = data.placed(x_test, loader.be), data.placed(y_test, loader.be)

    def measure(record: dict[str, float]) -> None:
        record["running_loss"] = record["train_loss"]  # averaged over batches, dropout on
        record["train_loss"], record["train_accuracy"] = evaluate(model, x_eval, y_eval,
                                                                  config.backend, chunk)
        record["test_loss"], record["test_accuracy"] = evaluate(model, x_test, y_test,
                                                                config.backend, chunk)
        record["lr"] = optimizer.param_groups[0]["lr"]  # the one this epoch trained with
        if scheduler is not None:  # once per epoch, after it, as in PyTorch's examples
            scheduler.step()

    history = fit(model, optimizer, F.cross_entropy, loader, config.epochs,
                  validation=validation, eval_batch_size=chunk, l1=config.l1,
                  early_stopping=EarlyStopping(config.early_stopping)
                  if config.early_stopping else None,
                  progress=_progress_bar(config, len(loader)) if progress else None,
                  on_epoch=measure)
    return {"config": dataclasses.asdict(config), "history": history, "model": model}


OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta")
DEFAULT_OPTIMIZER = {"mlp": "sgd", "cnn": "adadelta"}


def build(config: Config, inputs: int = 784, classes: int = 10) -> tuple[Any, Any]:
    """The model and optimizer of ``config``: the MLP (with SGD unless ``config.optimizer``
    says otherwise), or the seed's CNN (with the seed's Keras Adadelta: rho=0.95, eps=1e-7,
    ``config.lr``, 1.0 in the seed). Adam and AdamW take PyTorch's betas and eps; Adadelta
    always the seed's rho and eps."""
    if config.model == "cnn":
        model = models.cnn(config.dropout, mode=config.mode, backend=config.backend)
    elif config.model == "mlp":
        model = models.mlp(inputs, config.hidden, classes, config.dropout, mode=config.mode,
                           batchnorm=config.batchnorm, init_std=config.init_std,
                           backend=config.backend)
    else:
        raise ValueError(f"unknown model {config.model!r}; choose from mlp, cnn")
    name = config.optimizer or DEFAULT_OPTIMIZER[config.model]
    if name != "sgd" and config.momentum:
        raise ValueError(f"momentum {config.momentum} is for SGD, not {name}")
    options = dict(lr=config.lr, weight_decay=config.weight_decay)
    if name == "sgd":
        return model, SGD(model.parameters(), momentum=config.momentum, **options)
    if name == "adam":
        return model, Adam(model.parameters(), **options)
    if name == "adamw":
        return model, AdamW(model.parameters(), **options)
    if name == "adadelta":
        return model, Adadelta(model.parameters(), rho=0.95, eps=1e-7, **options)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def _progress_bar(config: Config, total: int):
    from tqdm import tqdm

    def wrap(batches: Iterable, epoch: int) -> Iterable:
        return tqdm(batches, total=total, desc=f"{config.name} {epoch}/{config.epochs}",
                    unit="batch", leave=False, dynamic_ncols=True)
    return wrap


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Last-epoch and best test accuracy, the train-test gap and seconds per epoch."""
    history = result["history"]
    last = history[-1]
    best = max(history, key=lambda r: r["test_accuracy"])
    return {"name": result["config"]["name"], "epochs": len(history),
            "train_accuracy": last["train_accuracy"], "test_accuracy": last["test_accuracy"],
            "best_test_accuracy": best["test_accuracy"], "best_epoch": best["epoch"],
            "gap": last["train_accuracy"] - last["test_accuracy"],
            "seconds_per_epoch": sum(r["seconds"] for r in history) / len(history)}
