"""Shared fixtures: every backend-dependent test runs once per registered backend.

The backends are whatever is registered when the tests are collected, built-ins and
third-party entry points alike. ``numpy`` and ``strict`` must always run (a missing
array-api-strict is an error, not a skip); any other backend skips with the reason when it
cannot run here (CuPy without a GPU).
"""

import numpy as np
import pytest

import tinygrad_drop as td

BACKENDS = td.backends.known()
ALWAYS = {"numpy", "strict"}


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Name of a backend usable here (the test is skipped for CuPy without a GPU)."""
    name = request.param
    if name not in ALWAYS and name not in td.backends.available():
        pytest.skip(td.backends.unavailable()[name])
    td.manual_seed(0)
    return name


@pytest.fixture
def rng():
    """A host random generator for test data (fixed seed)."""
    return np.random.default_rng(1234)


def tensor(data, backend, **kw):
    """A float64 Tensor on ``backend`` (tests compare in float64 unless they say otherwise)."""
    kw.setdefault("dtype", "float64")
    return td.Tensor(np.asarray(data), backend=backend, **kw)


def host(t):
    """A Tensor's (or its grad's) values as a host NumPy array."""
    return t.numpy()


@pytest.fixture(autouse=True)
def grad_mode_is_left_on():
    """Fail a test that leaves no_grad switched on, and switch it back so others are not hit."""
    yield
    from tinygrad_drop import autograd

    leaked = not td.is_grad_enabled()
    autograd._grad_mode.enabled = True
    assert not leaked, "the test left gradient recording switched off (no_grad leaked)"


@pytest.fixture(autouse=True)
def deferred_checks_are_left_reported():
    """Fail a test that leaves a failed device check unreported (a bad class target on strict or
    cupy that nothing read), and clear it so that the next test is not blamed for it."""
    yield
    from tinygrad_drop.backends import registry

    for backend in list(registry._instances.values()):
        checks = backend.__dict__.get("_checks")
        if checks is None or not checks.pending:
            continue
        try:
            checks.report()
        except Exception as exc:  # the failure it recorded
            pytest.fail(f"the test left a failed check on backend {backend.name!r} unreported: "
                        f"{exc}")
