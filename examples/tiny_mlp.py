"""Train a 2-layer MLP on two interleaved spirals with nothing but Tensor ops and autograd.

Runs on the default backend; set TINYGRAD_DROP_BACKEND=strict (or cupy) to switch.
    python examples/tiny_mlp.py
"""

import math

import numpy as np

import tinygrad_drop as td
from tinygrad_drop import Tensor


def spirals(n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy spirals in the plane: float32 points (2n, 2) and int64 labels (2n,)."""
    t = rng.uniform(0.25, 1.0, n_per_class) * 3 * math.pi
    arms = [np.stack([t * np.cos(t + k * math.pi), t * np.sin(t + k * math.pi)], 1) / 10
            for k in (0, 1)]
    x = np.concatenate(arms) + rng.normal(0, 0.03, (2 * n_per_class, 2))
    y = np.repeat([0, 1], n_per_class)
    return x.astype(np.float32), y


def main(epochs: int = 1000, hidden: int = 64, lr: float = 0.5) -> float:
    """Full-batch gradient descent; prints the loss and returns the final accuracy."""
    td.manual_seed(0)
    x_np, y_np = spirals(200, np.random.default_rng(0))
    x, y = Tensor(x_np), Tensor(y_np)
    rows = Tensor.arange(len(y_np))
    w1 = Tensor(np.random.default_rng(1).normal(0, 1, (2, hidden)), dtype="float32",
                requires_grad=True)
    b1 = Tensor.zeros(hidden, requires_grad=True)
    w2 = Tensor(np.random.default_rng(2).normal(0, 0.1, (hidden, 2)), dtype="float32",
                requires_grad=True)
    b2 = Tensor.zeros(2, requires_grad=True)
    params = [w1, b1, w2, b2]
    print(f"backend: {x.backend}, {len(y_np)} points, {sum(p.numpy().size for p in params)} "
          "parameters")
    for epoch in range(1, epochs + 1):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        loss = -logits.log_softmax()[rows, y].mean()  # cross-entropy
        for p in params:
            p.grad = None
        loss.backward()
        with td.no_grad():
            for p in params:
                p.data = p.data - lr * p.grad.data
        if epoch % 100 == 0 or epoch == 1:
            accuracy = (logits.numpy().argmax(1) == y_np).mean()
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
    return float(accuracy)


if __name__ == "__main__":
    main()
