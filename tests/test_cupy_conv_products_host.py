"""The CuPy conv kernels take their one-group products from the backend's matmul kernels where
it has them (on CuPy: cuBLAS called directly, which a captured step needs), checked on the CPU
with ``cuda_host.HostCupyBackend`` given a counting matmul family: the same values as through
``cupy.matmul``, and every product of a layer (one forward, two backward) through the family."""

import numpy as np
import pytest
from cuda_host import HostCupyBackend
from test_cupy_conv_host import (  # the fixture too
    TOLERANCE,
    conv_run,
    data,
    module_and_libraries,  # noqa: F401
)

from tinygrad_drop.backends.matmul_kernels import MatmulKernels


class CountedProducts(MatmulKernels):
    calls: list = []

    def matmul(self, a, b):
        self.calls.append((a.shape, b.shape))
        return super().matmul(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_products_go_through_the_backends_matmul_kernels(module_and_libraries,  # noqa: F811
                                                              dtype):
    plain = HostCupyBackend(*module_and_libraries)
    counted = HostCupyBackend(*module_and_libraries)
    counted.kernel_families = {**counted.kernel_families, "matmul": CountedProducts}
    CountedProducts.calls = []
    x, w, b = data((2, 3, 9, 8), dtype), data((4, 3, 3, 3), dtype, 1), data((4,), dtype, 2)
    g = data((2, 4, 5, 4), dtype, 3)
    expected, _, _ = conv_run(plain, x, w, b, g, stride=2, padding=1)
    got, _, _ = conv_run(counted, x, w, b, g, stride=2, padding=1)
    for a, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, e, **TOLERANCE[dtype])
    assert CountedProducts.calls == [((4, 27), (27, 40)), ((4, 40), (40, 27)),
                                     ((27, 4), (4, 40))]
