"""Every differentiable op: exact hand-worked values, gradcheck, and agreement with PyTorch.

One table of cases drives three test bodies, each run on every backend.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F


@dataclass
class Case:
    """An op under test: ours(*Tensors), the PyTorch equivalent, and its inputs' shapes and
    domains ('any': N(0,1); 'pos': U[0.5, 2); 'away': |x| in [0.5, 2), away from kinks)."""

    ours: Callable
    torch: Callable
    shapes: tuple
    domain: str = "any"


TARGETS = [0, 3, 1, 1, 2]


def torch_cross_entropy(reduction):
    def loss(z):
        import torch
        return torch.nn.functional.cross_entropy(z, torch.tensor(TARGETS), reduction=reduction)
    return loss


CASES = {
    "add_broadcast": Case(lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (4,))),
    "add_scalar": Case(lambda a: a + 1.5, lambda a: a + 1.5, ((2, 3),)),
    "radd_scalar": Case(lambda a: 2.0 + a, lambda a: 2.0 + a, ((2, 3),)),
    "sub_broadcast": Case(lambda a, b: a - b, lambda a, b: a - b, ((2, 3, 1), (3, 4))),
    "rsub_scalar": Case(lambda a: 1.0 - a, lambda a: 1.0 - a, ((5,),)),
    "mul_outer": Case(lambda a, b: a * b, lambda a, b: a * b, ((3, 1), (1, 4))),
    "mul_reused": Case(lambda a: a * a * a, lambda a: a * a * a, ((2, 2),)),
    "div_broadcast": Case(lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (4,)), "away"),
    "rdiv_scalar": Case(lambda a: 2.0 / a, lambda a: 2.0 / a, ((4,),), "away"),
    "neg": Case(lambda a: -a, lambda a: -a, ((3,),)),
    "pow_2": Case(lambda a: a ** 2, lambda a: a ** 2, ((2, 3),)),
    "pow_3": Case(lambda a: a ** 3, lambda a: a ** 3, ((2, 3),)),
    "pow_half": Case(lambda a: a ** 0.5, lambda a: a ** 0.5, ((2, 3),), "pos"),
    "pow_negative": Case(lambda a: a ** -1.5, lambda a: a ** -1.5, ((4,),), "pos"),
    "exp": Case(lambda a: a.exp(), lambda a: a.exp(), ((2, 3),)),
    "log": Case(lambda a: a.log(), lambda a: a.log(), ((2, 3),), "pos"),
    "tanh": Case(lambda a: a.tanh(), lambda a: a.tanh(), ((2, 3),)),
    "sigmoid": Case(lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((2, 3),)),
    "relu": Case(lambda a: a.relu(), lambda a: a.relu(), ((3, 4),), "away"),
    "sum_all": Case(lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    "sum_axis": Case(lambda a: a.sum(0), lambda a: a.sum(0), ((3, 4),)),
    "sum_axes_keepdims": Case(lambda a: a.sum(axis=(0, 2), keepdims=True),
                              lambda a: a.sum(dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    "sum_negative_axis": Case(lambda a: a.sum(-1), lambda a: a.sum(-1), ((2, 3, 4),)),
    "mean_all": Case(lambda a: a.mean(), lambda a: a.mean(), ((3, 4),)),
    "mean_axis_keepdims": Case(lambda a: a.mean(1, keepdims=True),
                               lambda a: a.mean(1, keepdim=True), ((3, 4),)),
    "max_all": Case(lambda a: a.max(), lambda a: a.max(), ((3, 4),)),
    "max_axis": Case(lambda a: a.max(axis=1), lambda a: a.amax(1), ((3, 4),)),
    "max_axis_keepdims": Case(lambda a: a.max(0, keepdims=True),
                              lambda a: a.amax(0, keepdim=True), ((3, 4),)),
    "matmul_2d": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), (4, 5))),
    "matmul_batched": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4, 5))),
    "matmul_batch_broadcast": Case(lambda a, b: a @ b, lambda a, b: a @ b,
                                   ((2, 1, 3, 4), (5, 4, 2))),
    "matmul_vec_mat": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4, 5))),
    "matmul_mat_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4,))),
    "matmul_vec_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4,))),
    "reshape": Case(lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4), ((2, 6),)),
    "reshape_infer": Case(lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), ((2, 6),)),
    "transpose_default": Case(lambda a: a.transpose(), lambda a: a.permute(1, 0), ((3, 4),)),
    "transpose_perm": Case(lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1),
                           ((2, 3, 4),)),
    "T": Case(lambda a: a.T, lambda a: a.T, ((3, 4),)),
    "flatten": Case(lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    "softmax_last": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), ((3, 5),)),
    "softmax_axis0": Case(lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 5),)),
    "log_softmax": Case(lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), ((3, 5),)),
    "index_int": Case(lambda a: a[1], lambda a: a[1], ((3, 4),)),
    "index_slices": Case(lambda a: a[:, 1:3], lambda a: a[:, 1:3], ((3, 4),)),
    "index_newaxis_step": Case(lambda a: a[None, ::2], lambda a: a[None, ::2], ((4, 3),)),
    "index_ellipsis": Case(lambda a: a[..., 0], lambda a: a[..., 0], ((2, 3, 4),)),
    "index_repeated_ints": Case(lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], ((3, 4),)),
    "index_two_int_arrays": Case(lambda a: a[[0, 1, 1], [2, 0, 2]],
                                 lambda a: a[[0, 1, 1], [2, 0, 2]], ((2, 3),)),
    "index_bool_mask": Case(lambda a: a[a > 0], lambda a: a[a > 0], ((3, 4),), "away"),
    "abs": Case(lambda a: a.abs(), lambda a: a.abs(), ((3, 4),), "away"),
    "cross_entropy_mean": Case(lambda z: F.cross_entropy(z, TARGETS),
                               torch_cross_entropy("mean"), ((5, 4),)),
    "cross_entropy_sum": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="sum"),
                              torch_cross_entropy("sum"), ((5, 4),)),
    "cross_entropy_none": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="none"),
                               torch_cross_entropy("none"), ((5, 4),)),
    "composite_mlp": Case(lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax().sum(),
                          lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax(-1).sum(),
                          ((4, 3), (3, 5), (5,))),
}


def make_inputs(case, rng):
    arrays = []
    for shape in case.shapes:
        if case.domain == "pos":
            arrays.append(rng.uniform(0.5, 2.0, shape))
        elif case.domain == "away":
            arrays.append(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradcheck(name, backend, rng):
    case = CASES[name]
    inputs = [tensor(a, backend, requires_grad=True) for a in make_inputs(case, rng)]
    assert td.gradcheck(case.ours, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_torch(name, backend, rng):
    torch = pytest.importorskip("torch")
    case = CASES[name]
    arrays = make_inputs(case, rng)
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = case.ours(*ours), case.torch(*theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(tensor(upstream, backend))
    ref.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)


# Exact values worked by hand: (function, inputs, expected output, expected grads of sum()).
E = math.e
HAND_WORKED = {
    "add_broadcast": (lambda a, b: a + b, ([[1.0], [2.0]], [10.0, 20.0]),
                      [[11.0, 21.0], [12.0, 22.0]], ([[2.0], [2.0]], [2.0, 2.0])),
    "sub": (lambda a, b: a - b, ([5.0, 7.0], [1.0, 2.0]), [4.0, 5.0], ([1, 1], [-1, -1])),
    "mul": (lambda a, b: a * b, ([2.0, 3.0], [4.0, 5.0]), [8.0, 15.0], ([4, 5], [2, 3])),
    "div": (lambda a, b: a / b, ([1.0, 6.0], [2.0, 4.0]), [0.5, 1.5],
            ([0.5, 0.25], [-0.25, -0.375])),
    "neg": (lambda a: -a, ([1.0, -2.0],), [-1.0, 2.0], ([-1, -1],)),
    "pow": (lambda a: a ** 3, ([2.0, -1.0],), [8.0, -1.0], ([12.0, 3.0],)),
    "sqrt": (lambda a: a ** 0.5, ([4.0, 9.0],), [2.0, 3.0], ([0.25, 1 / 6],)),
    "exp": (lambda a: a.exp(), ([0.0, 1.0],), [1.0, E], ([1.0, E],)),
    "log": (lambda a: a.log(), ([1.0, E],), [0.0, 1.0], ([1.0, 1 / E],)),
    "tanh": (lambda a: a.tanh(), ([0.0],), [0.0], ([1.0],)),
    "sigmoid": (lambda a: a.sigmoid(), ([0.0, 1000.0, -1000.0],), [0.5, 1.0, 0.0],
                ([0.25, 0.0, 0.0],)),
    "relu_at_zero": (lambda a: a.relu(), ([-1.0, 0.0, 2.0],), [0.0, 0.0, 2.0], ([0, 0, 1],)),
    "softmax": (lambda a: a.softmax(), ([0.0, math.log(3.0)],), [0.25, 0.75], ([0.0, 0.0],)),
    "softmax_huge_logits": (lambda a: a.softmax(), ([1000.0, -1000.0],), [1.0, 0.0],
                            ([0.0, 0.0],)),
    "log_softmax": (lambda a: a.log_softmax(), ([0.0, math.log(3.0)],),
                    [math.log(0.25), math.log(0.75)], ([0.5, -0.5],)),
    "sum_axis0": (lambda a: a.sum(0), ([[1.0, 2.0], [3.0, 4.0]],), [4.0, 6.0],
                  ([[1, 1], [1, 1]],)),
    "mean": (lambda a: a.mean(), ([[1.0, 2.0], [3.0, 6.0]],), 3.0, ([[0.25] * 2] * 2,)),
    "max_ties_share_gradient": (lambda a: a.max(), ([1.0, 3.0, 3.0],), 3.0, ([0, 0.5, 0.5],)),
    "max_axis1": (lambda a: a.max(1), ([[1.0, 5.0], [7.0, 2.0]],), [5.0, 7.0],
                  ([[0, 1], [1, 0]],)),
    "matmul": (lambda a, b: a @ b, ([[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]]), [[17.0], [39.0]],
               ([[5.0, 6.0], [5.0, 6.0]], [[4.0], [6.0]])),
    "transpose": (lambda a: a.T, ([[1.0, 2.0, 3.0]],), [[1.0], [2.0], [3.0]], ([[1, 1, 1]],)),
    "index_repeats_add_up": (lambda a: a[[0, 0, 2]], ([1.0, 2.0, 3.0],), [1.0, 1.0, 3.0],
                             ([2, 0, 1],)),
    "index_slice": (lambda a: a[1:], ([1.0, 2.0, 3.0],), [2.0, 3.0], ([0, 1, 1],)),
    "abs": (lambda a: a.abs(), ([-2.0, 0.0, 3.0],), [2.0, 0.0, 3.0], ([-1, 0, 1],)),
    "cross_entropy": (lambda z: F.cross_entropy(z, [1]), ([[0.0, math.log(3.0)]],),
                      -math.log(0.75), ([[0.25, -0.25]],)),
    "cross_entropy_huge_logits": (lambda z: F.cross_entropy(z, [1, 0]),
                                  ([[1000.0, -1000.0], [1000.0, -1000.0]],), 1000.0,
                                  ([[0.5, -0.5], [0.0, 0.0]],)),
}


@pytest.mark.parametrize("name", sorted(HAND_WORKED))
def test_op_hand_worked_values(name, backend):
    fn, inputs, expected, expected_grads = HAND_WORKED[name]
    xs = [tensor(x, backend, requires_grad=True) for x in inputs]
    out = fn(*xs)
    np.testing.assert_allclose(host(out), expected, rtol=1e-15, atol=1e-15)
    out.sum().backward()
    for x, g in zip(xs, expected_grads, strict=True):
        np.testing.assert_allclose(host(x.grad), g, rtol=1e-15, atol=1e-15)
