"""Every op, from one table: exact hand-worked values, gradcheck, agreement with PyTorch, and
Chainer's discipline (an op leaves its inputs unchanged and takes non-contiguous inputs).

Each row of ``CASES`` drives every test body below, on every backend; a test checks that the
rows together reach every op class the package defines. Adding an op means adding its rows.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import ops
from tinygrad_drop.autograd import Op, topological_order


@dataclass
class Exact:
    """Hand-worked values: inputs, the expected output, and the expected gradient of
    ``output.sum()`` with respect to each input."""

    inputs: tuple
    output: object
    grads: tuple


@dataclass
class Case:
    """An op under test: ours(*Tensors), the PyTorch equivalent (None: there is none, e.g. a
    random mask), its inputs' shapes (default: those of ``exact``) and domains ('any': N(0,1);
    'pos': U[0.5, 2); 'away': |x| in [0.5, 2), away from kinks), hand-worked values, and
    gradcheck options."""

    ours: Callable
    torch: Callable | None
    shapes: tuple = ()
    domain: str = "any"
    exact: Exact | None = None
    check: dict = field(default_factory=dict)

    def input_shapes(self):
        return self.shapes or tuple(np.shape(x) for x in self.exact.inputs)


TARGETS = [0, 3, 1, 1, 2]
E = math.e


def torch_cross_entropy(targets, reduction="mean"):
    def loss(z):
        import torch
        return torch.nn.functional.cross_entropy(z, torch.tensor(targets), reduction=reduction)
    return loss


def constant(values, like):
    """A float64 tensor without gradient on ``like``'s backend (Tensor) or a torch tensor."""
    if isinstance(like, td.Tensor):
        return tensor(values, like.backend)
    import torch
    return torch.tensor(values, dtype=torch.float64)


def other_backend(t):
    return "strict" if t.backend != "strict" else "numpy"


EPS = 2.0 ** -20  # var + EPS is exact for the variances below (PyTorch refuses eps = 0)
RUNNING = ([0.5, -1.0, 0.0], [4.0 - EPS, 0.25 - EPS, 1.0 - EPS])  # std 2, 0.5, 1 exactly


def batch_norm(training):
    """F.batch_norm of (x, weight, bias), and PyTorch's: batch statistics in training, the
    fixed ``RUNNING`` ones at inference."""
    def ours(x, w, b):
        stats = (None, None) if training else [constant(v, x) for v in RUNNING]
        return F.batch_norm(x, *stats, w, b, training=training, eps=EPS)

    def theirs(x, w, b):
        import torch
        stats = (None, None) if training else [constant(v, x) for v in RUNNING]
        return torch.nn.functional.batch_norm(x, *stats, w, b, training=training, eps=EPS)
    return ours, theirs


def torch_linear(x, w, b):
    import torch
    return torch.nn.functional.linear(x, w, b)


CASES = {
    # -- elementwise
    "add_broadcast": Case(lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (4,)), exact=Exact(
        ([[1.0], [2.0]], [10.0, 20.0]), [[11.0, 21.0], [12.0, 22.0]], ([[2.0], [2.0]], [2, 2]))),
    "add_scalar": Case(lambda a: a + 1.5, lambda a: a + 1.5, ((2, 3),)),
    "radd_scalar": Case(lambda a: 2.0 + a, lambda a: 2.0 + a, ((2, 3),)),
    "sub_broadcast": Case(lambda a, b: a - b, lambda a, b: a - b, ((2, 3, 1), (3, 4)),
                          exact=Exact(([5.0, 7.0], [1.0, 2.0]), [4.0, 5.0], ([1, 1], [-1, -1]))),
    "rsub_scalar": Case(lambda a: 1.0 - a, lambda a: 1.0 - a, ((5,),)),
    "mul_outer": Case(lambda a, b: a * b, lambda a, b: a * b, ((3, 1), (1, 4)),
                      exact=Exact(([2.0, 3.0], [4.0, 5.0]), [8.0, 15.0], ([4, 5], [2, 3]))),
    "mul_reused": Case(lambda a: a * a * a, lambda a: a * a * a, ((2, 2),)),
    "div_broadcast": Case(lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (4,)), "away",
                          exact=Exact(([1.0, 6.0], [2.0, 4.0]), [0.5, 1.5],
                                      ([0.5, 0.25], [-0.25, -0.375]))),
    "rdiv_scalar": Case(lambda a: 2.0 / a, lambda a: 2.0 / a, ((4,),), "away"),
    "neg": Case(lambda a: -a, lambda a: -a, ((3,),),
                exact=Exact(([1.0, -2.0],), [-1.0, 2.0], ([-1, -1],))),
    "pow_2": Case(lambda a: a ** 2, lambda a: a ** 2, ((2, 3),)),
    "pow_3": Case(lambda a: a ** 3, lambda a: a ** 3, ((2, 3),),
                  exact=Exact(([2.0, -1.0],), [8.0, -1.0], ([12.0, 3.0],))),
    "pow_half": Case(lambda a: a ** 0.5, lambda a: a ** 0.5, ((2, 3),), "pos",
                     exact=Exact(([4.0, 9.0],), [2.0, 3.0], ([0.25, 1 / 6],))),
    "pow_negative": Case(lambda a: a ** -1.5, lambda a: a ** -1.5, ((4,),), "pos"),
    "abs": Case(lambda a: a.abs(), lambda a: a.abs(), ((3, 4),), "away",
                exact=Exact(([-2.0, 0.0, 3.0],), [2.0, 0.0, 3.0], ([-1, 0, 1],))),
    "sqrt": Case(lambda a: a.sqrt(), lambda a: a.sqrt(), ((2, 3),), "pos",
                 exact=Exact(([4.0, 0.25],), [2.0, 0.5], ([0.25, 1.0],))),
    "exp": Case(lambda a: a.exp(), lambda a: a.exp(), ((2, 3),),
                exact=Exact(([0.0, 1.0],), [1.0, E], ([1.0, E],))),
    "log": Case(lambda a: a.log(), lambda a: a.log(), ((2, 3),), "pos",
                exact=Exact(([1.0, E],), [0.0, 1.0], ([1.0, 1 / E],))),
    # float32 rounding is 6e-8: a wider step keeps it out of the differences (the cast is linear)
    "astype": Case(lambda a: a.astype("float32"), lambda a: a.float(), ((2, 3),),
                   exact=Exact(([1.5, -2.0],), [1.5, -2.0], ([1.0, 1.0],)), check={"eps": 1e-2}),
    "to_another_backend_and_back": Case(lambda a: a.to(other_backend(a)).to(a.backend) * 2.0,
                                        lambda a: a * 2.0, ((2, 3),),
                                        exact=Exact(([1.0, -3.0],), [2.0, -6.0], ([2.0, 2.0],))),
    # -- activation
    "relu": Case(lambda a: a.relu(), lambda a: a.relu(), ((3, 4),), "away",
                 exact=Exact(([-1.0, 0.0, 2.0],), [0.0, 0.0, 2.0], ([0, 0, 1],))),
    "sigmoid": Case(lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((2, 3),),
                    exact=Exact(([0.0, 1000.0, -1000.0],), [0.5, 1.0, 0.0], ([0.25, 0.0, 0.0],))),
    "tanh": Case(lambda a: a.tanh(), lambda a: a.tanh(), ((2, 3),),
                 exact=Exact(([0.0],), [0.0], ([1.0],))),
    "softmax_last": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), ((3, 5),),
                         exact=Exact(([0.0, math.log(3.0)],), [0.25, 0.75], ([0.0, 0.0],))),
    "softmax_axis0": Case(lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 5),)),
    "softmax_huge_logits": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), exact=Exact(
        ([1000.0, -1000.0],), [1.0, 0.0], ([0.0, 0.0],))),
    "log_softmax": Case(lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), ((3, 5),),
                        exact=Exact(([0.0, math.log(3.0)],), [math.log(0.25), math.log(0.75)],
                                    ([0.5, -0.5],))),
    # -- reduce
    "sum_all": Case(lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    "sum_axis": Case(lambda a: a.sum(0), lambda a: a.sum(0), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 4.0]],), [4.0, 6.0], ([[1, 1], [1, 1]],))),
    "sum_axes_keepdims": Case(lambda a: a.sum(axis=(0, 2), keepdims=True),
                              lambda a: a.sum(dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    "sum_negative_axis": Case(lambda a: a.sum(-1), lambda a: a.sum(-1), ((2, 3, 4),)),
    "mean_all": Case(lambda a: a.mean(), lambda a: a.mean(), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 6.0]],), 3.0, ([[0.25] * 2] * 2,))),
    "mean_axis_keepdims": Case(lambda a: a.mean(1, keepdims=True),
                               lambda a: a.mean(1, keepdim=True), ((3, 4),)),
    "max_all_ties_share_gradient": Case(lambda a: a.max(), lambda a: a.max(), ((3, 4),),
                                        exact=Exact(([1.0, 3.0, 3.0],), 3.0, ([0, 0.5, 0.5],))),
    "max_axis": Case(lambda a: a.max(axis=1), lambda a: a.amax(1), ((3, 4),), exact=Exact(
        ([[1.0, 5.0], [7.0, 2.0]],), [5.0, 7.0], ([[0, 1], [1, 0]],))),
    "max_axis_keepdims": Case(lambda a: a.max(0, keepdims=True),
                              lambda a: a.amax(0, keepdim=True), ((3, 4),)),
    # -- matmul
    "matmul_2d": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), (4, 5)), exact=Exact(
        ([[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]]), [[17.0], [39.0]],
        ([[5.0, 6.0], [5.0, 6.0]], [[4.0], [6.0]]))),
    "matmul_batched": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4, 5))),
    "matmul_batch_broadcast": Case(lambda a, b: a @ b, lambda a, b: a @ b,
                                   ((2, 1, 3, 4), (5, 4, 2))),
    "matmul_vec_mat": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4, 5))),
    "matmul_mat_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4,))),
    "matmul_vec_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4,))),
    # -- shape
    "reshape": Case(lambda a: a.reshape(3, 4), lambda a: a.reshape(3, 4), ((2, 6),)),
    "reshape_infer": Case(lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), ((2, 6),)),
    "transpose_default": Case(lambda a: a.transpose(), lambda a: a.permute(1, 0), ((3, 4),)),
    "transpose_perm": Case(lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1),
                           ((2, 3, 4),)),
    "T": Case(lambda a: a.T, lambda a: a.T, ((3, 4),), exact=Exact(
        ([[1.0, 2.0, 3.0]],), [[1.0], [2.0], [3.0]], ([[1, 1, 1]],))),
    "flatten": Case(lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    "index_int": Case(lambda a: a[1], lambda a: a[1], ((3, 4),)),
    "index_slices": Case(lambda a: a[:, 1:3], lambda a: a[:, 1:3], ((3, 4),)),
    "index_slice_1d": Case(lambda a: a[1:], lambda a: a[1:], exact=Exact(
        ([1.0, 2.0, 3.0],), [2.0, 3.0], ([0, 1, 1],))),
    "index_newaxis_step": Case(lambda a: a[None, ::2], lambda a: a[None, ::2], ((4, 3),)),
    "index_ellipsis": Case(lambda a: a[..., 0], lambda a: a[..., 0], ((2, 3, 4),)),
    "index_repeated_ints": Case(lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], ((3, 4),)),
    "index_repeats_add_up": Case(lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]], exact=Exact(
        ([1.0, 2.0, 3.0],), [1.0, 1.0, 3.0], ([2, 0, 1],))),
    "index_two_int_arrays": Case(lambda a: a[[0, 1, 1], [2, 0, 2]],
                                 lambda a: a[[0, 1, 1], [2, 0, 2]], ((2, 3),)),
    "index_bool_mask": Case(lambda a: a[a > 0], lambda a: a[a > 0], ((3, 4),), "away"),
    # -- dropout (masks are random: no PyTorch counterpart in training; gradcheck replays them)
    "dropout_inverted": Case(lambda a: F.dropout(a, 0.4), None, ((6, 7),)),
    "dropout_certain": Case(lambda a: F.dropout(a, 1.0), None, exact=Exact(  # zeros, never 0/0
        ([1.0, -2.0],), [0.0, 0.0], ([0.0, 0.0],))),
    "dropout_vanilla": Case(lambda a: F.dropout(a, 0.4, mode="vanilla"), None, ((6, 7),)),
    "dropout_vanilla_inference": Case(lambda a: F.dropout(a, 0.25, False, mode="vanilla"),
                                      lambda a: a * 0.75, ((3, 4),), exact=Exact(
                                          ([4.0, -2.0],), [3.0, -1.5], ([0.75, 0.75],))),
    # -- linear, norm, loss
    "linear": Case(lambda x, w, b: F.linear(x, w, b), torch_linear, ((5, 3), (4, 3), (4,)),
                   exact=Exact(([[1.0, 2.0]], [[3.0, 4.0]], [0.5]), [[11.5]],
                               ([[3.0, 4.0]], [[1.0, 2.0]], [1.0]))),
    "linear_batch_dims": Case(lambda x, w, b: F.linear(x, w, b), torch_linear,
                              ((2, 5, 3), (4, 3), (4,))),
    "batch_norm_train": Case(*batch_norm(True), ((6, 3), (3,), (3,))),
    "batch_norm_train_nchw": Case(*batch_norm(True), ((3, 3, 2, 4), (3,), (3,))),
    "batch_norm_eval_ncl": Case(*batch_norm(False), ((4, 3, 5), (3,), (3,)), exact=Exact(
        ([[2.5, -1.0, 3.0], [0.5, 0.0, -1.0]], [1.0, 2.0, 1.0], [0.0, 0.0, 1.0]),
        [[1.0, 0.0, 4.0], [0.0, 4.0, 0.0]],
        ([[0.5, 4.0, 1.0], [0.5, 4.0, 1.0]], [1.0, 2.0, 2.0], [2.0, 2.0, 2.0]))),
    "cross_entropy_mean": Case(lambda z: F.cross_entropy(z, TARGETS),
                               torch_cross_entropy(TARGETS), ((5, 4),)),
    "cross_entropy_sum": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="sum"),
                              torch_cross_entropy(TARGETS, "sum"), ((5, 4),)),
    "cross_entropy_none": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="none"),
                               torch_cross_entropy(TARGETS, "none"), ((5, 4),)),
    "cross_entropy_one_row": Case(lambda z: F.cross_entropy(z, [1]), torch_cross_entropy([1]),
                                  exact=Exact(([[0.0, math.log(3.0)]],), -math.log(0.75),
                                              ([[0.25, -0.25]],))),
    "cross_entropy_huge_logits": Case(lambda z: F.cross_entropy(z, [1, 0]),
                                      torch_cross_entropy([1, 0]), exact=Exact(
                                          ([[1000.0, -1000.0], [1000.0, -1000.0]],), 1000.0,
                                          ([[0.5, -0.5], [0.0, 0.0]],))),
    # -- several ops together
    "composite_mlp": Case(lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax().sum(),
                          lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax(-1).sum(),
                          ((4, 3), (3, 5), (5,))),
}
WITH_TORCH = sorted(name for name, case in CASES.items() if case.torch is not None)
WITH_EXACT = sorted(name for name, case in CASES.items() if case.exact is not None)


def make_inputs(case, rng):
    arrays = []
    for shape in case.input_shapes():
        if case.domain == "pos":
            arrays.append(rng.uniform(0.5, 2.0, shape))
        elif case.domain == "away":
            arrays.append(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


def forward_backward(case, inputs, upstream):
    """Output (host array) of ``case`` from a fixed seed, so dropout draws the same mask each
    time, after the backward of ``upstream`` (a host array) through it."""
    td.manual_seed(0)
    out = case.ours(*inputs)
    out.backward(tensor(upstream, out.backend, dtype=out.dtype_name))
    return host(out)


def output_shape(case, inputs):
    with td.no_grad():
        return case.ours(*inputs).shape


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradcheck(name, backend, rng):
    case = CASES[name]
    inputs = [tensor(a, backend, requires_grad=True) for a in make_inputs(case, rng)]
    assert td.gradcheck(case.ours, inputs, **case.check)


@pytest.mark.parametrize("name", WITH_TORCH)
def test_op_matches_torch(name, backend, rng):
    torch = pytest.importorskip("torch")
    case = CASES[name]
    arrays = make_inputs(case, rng)
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = case.ours(*ours), case.torch(*theirs)
    assert out.shape == tuple(ref.shape) and out.dtype_name == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(tensor(upstream, backend, dtype=out.dtype_name))
    ref.backward(torch.tensor(upstream, dtype=ref.dtype))
    for x, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_op_hand_worked_values(name, backend):
    case = CASES[name]
    xs = [tensor(x, backend, requires_grad=True) for x in case.exact.inputs]
    out = case.ours(*xs)
    np.testing.assert_allclose(host(out), case.exact.output, rtol=1e-15, atol=1e-15)
    out.sum().backward()
    for x, g in zip(xs, case.exact.grads, strict=True):
        np.testing.assert_allclose(host(x.grad), g, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_leaves_its_inputs_and_upstream_gradient_unchanged(name, backend, rng):
    case = CASES[name]
    arrays = make_inputs(case, rng)
    inputs = [tensor(a, backend, requires_grad=True) for a in arrays]
    upstream = rng.standard_normal(output_shape(case, inputs))
    kept = upstream.copy()
    forward_backward(case, inputs, upstream)
    for x, original in zip(inputs, arrays, strict=True):
        np.testing.assert_array_equal(host(x), original)
    np.testing.assert_array_equal(upstream, kept)


def strided(array, backend):
    """A leaf holding ``array`` interleaved with junk along the last axis, and the
    non-contiguous view of it that is ``array`` itself."""
    wide = np.full(array.shape[:-1] + (2 * array.shape[-1],), 7.0)
    wide[..., ::2] = array
    leaf = tensor(wide, backend, requires_grad=True)
    return leaf, leaf[..., ::2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_takes_non_contiguous_inputs(name, backend, rng):
    case = CASES[name]
    arrays = make_inputs(case, rng)
    dense = [tensor(a, backend, requires_grad=True) for a in arrays]
    leaves, views = zip(*(strided(a, backend) for a in arrays), strict=True)
    upstream = rng.standard_normal(output_shape(case, dense))
    expected = forward_backward(case, dense, upstream)
    got = forward_backward(case, views, upstream)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    for leaf, x in zip(leaves, dense, strict=True):
        grad = host(leaf.grad)
        np.testing.assert_allclose(grad[..., ::2], host(x.grad), rtol=1e-12, atol=1e-12)
        assert not grad[..., 1::2].any()  # the junk in between gets no gradient


def op_classes_reached(case, backend, rng):
    inputs = [tensor(a, backend, requires_grad=True) for a in make_inputs(case, rng)]
    out = case.ours(*inputs)
    return {type(op) for op in topological_order(out.grad_fn)} if out.grad_fn else set()


def defined_ops():
    """Every op class of the package's op families (bases such as _Reduction excluded)."""
    return {cls for family in ops.FAMILIES for cls in vars(family).values()
            if isinstance(cls, type) and issubclass(cls, Op) and cls.__module__ == family.__name__
            and not cls.__name__.startswith("_")}


def test_the_table_reaches_every_op_the_package_defines(rng):
    defined = defined_ops()
    reached = set().union(*(op_classes_reached(case, "numpy", rng) for case in CASES.values()))
    missing = sorted(cls.__name__ for cls in defined - reached)
    assert len(defined) >= 25 and not missing, f"no row of CASES exercises {missing}"
