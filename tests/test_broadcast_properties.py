"""Property tests: for random broadcastable shapes, gradients come back summed to each input's
shape and agree with an independent reference and with finite differences."""

import numpy as np
from conftest import host, tensor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_drop as td

OPS = {"add": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
       "sub": (lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
       "mul": (lambda a, b: a * b, lambda a, b: (b, a)),
       "div": (lambda a, b: a / b, lambda a, b: (1.0 / b, -a / b**2))}

shapes = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3)
fixture_ok = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def reference_unbroadcast(full, shape):
    """Sum a broadcast-shaped array back to ``shape``, one axis at a time (no shared code)."""
    while full.ndim > len(shape):
        full = full.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and full.shape[axis] != 1:
            full = full.sum(axis=axis, keepdims=True)
    return full


@fixture_ok
@given(shapes=shapes, op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_broadcast_gradients_match_reference(backend, shapes, op, seed):
    rng = np.random.default_rng(seed)
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    a_np = rng.uniform(0.5, 2.0, shape_a)
    b_np = rng.uniform(0.5, 2.0, shape_b)
    weights = rng.standard_normal(out_shape)
    forward, partials = OPS[op]
    a, b = tensor(a_np, backend, requires_grad=True), tensor(b_np, backend, requires_grad=True)
    (forward(a, b) * tensor(weights, backend)).sum().backward()
    da, db = partials(np.broadcast_to(a_np, out_shape), np.broadcast_to(b_np, out_shape))
    expected_a = reference_unbroadcast(weights * da, shape_a)
    expected_b = reference_unbroadcast(weights * db, shape_b)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(host(a.grad), expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(b.grad), expected_b, rtol=1e-12, atol=1e-12)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=shapes, op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_broadcast_gradients_pass_gradcheck(backend, shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (tensor(rng.uniform(0.5, 2.0, s), backend, requires_grad=True)
            for s in shapes.input_shapes)
    assert td.gradcheck(OPS[op][0], [a, b])
