"""The NumPy floor: one training step of the reference MLP written by hand, no framework.

784-256-256-10, ReLU, inverted dropout 0.2/0.5 (integer-threshold masks from raw random
bytes), softmax cross-entropy, SGD; optional batchnorm after each hidden linear layer. Buffers
are reused between steps and updates are in place: the fastest plain NumPy we know how to
write, the yardstick for the framework's overhead.
"""

from __future__ import annotations

import numpy as np


class NumpyFloorMLP:
    """Weights, reusable buffers and the hand-derived forward/backward/update."""

    def __init__(self, batch: int, bn: bool = False, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.sizes = [(784, 256), (256, 256), (256, 10)]
        self.w = [rng.normal(0, 0.01, (i, o)).astype(np.float32) for i, o in self.sizes]
        self.b = [np.zeros(o, np.float32) for _, o in self.sizes]
        self.bn = bn
        self.gamma = [np.ones(256, np.float32) for _ in range(2)]
        self.beta = [np.zeros(256, np.float32) for _ in range(2)]
        self.bits = np.random.SFC64(seed)
        self.keep = (0.8, 0.5)
        self.ones = np.ones(batch, np.float32)
        self.h = [np.empty((batch, 256), np.float32) for _ in range(2)]
        self.mask = [np.empty((batch, 256), bool) for _ in range(2)]

    def _mask(self, i: int, keep: float) -> np.ndarray:
        n = self.mask[i].size
        draws = self.bits.random_raw(-(-n // 8)).view(np.uint8)[:n].reshape(self.mask[i].shape)
        return np.less(draws, int(keep * 256), out=self.mask[i])  # 8-bit: exact for 0.5 only

    def step(self, x: np.ndarray, y: np.ndarray, lr: float = 0.5) -> float:
        n = len(x)
        acts, cache = [x], []
        a = x
        for i in range(2):
            z = a @ self.w[i]
            z += self.b[i]
            if self.bn:
                mean = (self.ones @ z) / n
                z -= mean
                var = (self.ones @ (z * z)) / n
                inv = 1 / np.sqrt(var + 1e-5)
                z *= inv
                cache.append((z.copy(), inv))
                z *= self.gamma[i]
                z += self.beta[i]
            np.maximum(z, 0, out=self.h[i])
            mask = self._mask(i, self.keep[i])
            np.multiply(self.h[i], mask, out=self.h[i])
            self.h[i] *= 1 / self.keep[i]
            a = self.h[i]
            acts.append(a)
        logits = a @ self.w[2] + self.b[2]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        loss = -np.log(logits[np.arange(n), y] + 1e-12).mean()
        logits[np.arange(n), y] -= 1
        g = logits / n
        for i in (2, 1, 0):
            gw = acts[i].T @ g
            gb = self.ones @ g
            if i:
                g = g @ self.w[i].T
                g *= self.mask[i - 1]
                g *= 1 / self.keep[i - 1]
                g *= acts[i] > 0
                if self.bn:
                    xhat, inv = cache[i - 1]
                    dgamma = self.ones @ (g * xhat)
                    dbeta = self.ones @ g
                    g *= self.gamma[i - 1]
                    g = inv * (g - (self.ones @ g) / n - xhat * ((self.ones @ (g * xhat)) / n))
                    self.gamma[i - 1] -= lr * dgamma
                    self.beta[i - 1] -= lr * dbeta
            self.w[i] -= lr * gw
            self.b[i] -= lr * gb
        return float(loss)
