"""Every matrix product of linear and matmul goes through the backend's matmul kernels, the
only products CuPy can capture into a CUDA graph (cuBLAS called directly): a product made
with ``xp.matmul`` instead would make ``td.jit`` fail on the GPU at the first replayed step."""

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.backends.matmul_kernels import MatmulKernels


@pytest.fixture
def products(monkeypatch):
    """The shapes of every product the matmul kernels make (on any backend)."""
    seen = []
    original = MatmulKernels.matmul

    def counted(self, a, b):
        seen.append((tuple(a.shape), tuple(b.shape)))
        return original(self, a, b)

    monkeypatch.setattr(MatmulKernels, "matmul", counted)
    return seen


def _leaf(*shape):
    return td.Tensor(np.random.default_rng(len(shape)).standard_normal(shape), dtype="float32",
                     requires_grad=True)


def test_linear_makes_its_three_products_through_the_kernels(products):
    x, w, b = _leaf(8, 5), _leaf(3, 5), _leaf(3)
    F.linear(x, w, b).sum().backward()
    assert products == [((8, 5), (5, 3)), ((8, 3), (3, 5)), ((3, 8), (8, 5))]
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 8)) @ x.numpy(), rtol=1e-6)


def test_matmul_makes_its_three_products_through_the_kernels(products):
    a, b = _leaf(2, 4, 5), _leaf(5, 3)
    (a @ b).sum().backward()
    assert products == [((2, 4, 5), (5, 3)), ((2, 4, 3), (3, 5)), ((2, 5, 4), (2, 4, 3))]
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.numpy().sum(1), (2, 4, 5)),
                               rtol=1e-6)
