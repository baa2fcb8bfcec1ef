"""The engine: accumulation, no_grad, detach, retain_graph, freeing, deep graphs."""

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import Tensor


def test_reused_node_accumulates_gradient(backend):
    x = tensor([1.0, -2.0, 3.0], backend, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1, x used three times
    y.sum().backward()
    assert host(x.grad).tolist() == [3.0, -3.0, 7.0]


def test_diamond_graph_sums_both_paths(backend):
    x = tensor([2.0], backend, requires_grad=True)
    h = x * 3
    y = h * h + h.exp()  # dy/dx = 2*h*3 + 3*exp(h) at h = 6
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [36.0 + 3 * np.exp(6.0)], rtol=1e-14)


def test_gradients_accumulate_across_backward_calls(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert host(x.grad).tolist() == [5.0, 7.0]


def test_backward_with_explicit_grad_is_a_vector_jacobian_product(backend):
    x = tensor([1.0, 2.0, 3.0], backend, requires_grad=True)
    (x * x).backward(tensor([1.0, 0.5, -1.0], backend))
    assert host(x.grad).tolist() == [2.0, 2.0, -6.0]


def test_backward_on_a_one_element_tensor_needs_no_grad(backend):
    x = tensor([[3.0]], backend, requires_grad=True)
    (x * x).backward()
    assert host(x.grad).tolist() == [[6.0]]


def test_relu_gradient_at_exactly_zero_is_zero(backend):
    x = tensor([-1.0, 0.0, 1e-300, 2.0], backend, requires_grad=True)
    x.relu().sum().backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 1.0, 1.0]


def test_no_grad_context_records_nothing(backend):
    x = tensor([1.0], backend, requires_grad=True)
    with td.no_grad():
        assert not td.is_grad_enabled()
        y = x * 2
    assert td.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_decorator_and_restore_after_exception(backend):
    x = tensor([1.0], backend, requires_grad=True)

    @td.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    with pytest.raises(ZeroDivisionError), td.no_grad():
        raise ZeroDivisionError
    assert td.is_grad_enabled() and (x * 2).requires_grad


def test_no_grad_decorated_function_may_recurse(backend):
    @td.no_grad()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3 and td.is_grad_enabled()


def test_no_grad_nests(backend):
    with td.no_grad():
        with td.no_grad():
            pass
        assert not td.is_grad_enabled()
    assert td.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()  # d is a constant: dy/dx = d
    y.backward()
    assert host(x.grad).tolist() == [2.0, 4.0]


def test_retain_graph_allows_a_second_backward(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert host(x.grad).tolist() == [4.0, 8.0]


def test_second_backward_through_freed_graph_names_retain_graph(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_failed_second_backward_changes_no_gradient(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    w = tensor([3.0, 4.0], backend, requires_grad=True)
    h = x * x
    h.sum().backward()  # frees h's node
    before = host(x.grad).tolist()
    y = (h * w).sum()  # a fresh node on top of the freed one
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    assert w.grad is None and host(x.grad).tolist() == before


def test_graph_is_freed_after_backward(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    h = x * x
    y = h.sum()
    y.backward()
    assert h.grad_fn.freed and h.grad_fn.saved is None


def test_graph_nodes_do_not_keep_intermediate_tensors_alive(backend):
    import weakref
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    h = x.exp()
    y = (h + 1).sum()
    ref = weakref.ref(h)
    del h
    assert ref() is None  # the graph holds ops, never intermediate Tensors
    y.backward()
    np.testing.assert_allclose(host(x.grad), np.exp([1.0, 2.0]), rtol=1e-15)


def test_deep_chain_of_100000_ops_backpropagates(backend):
    x = tensor([0.0], backend, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert host(y).tolist() == [100_000.0] and host(x.grad).tolist() == [1.0]


def test_leaves_never_share_a_gradient_array(backend):
    a = tensor([1.0, 2.0], backend, requires_grad=True)
    b = tensor([3.0, 4.0], backend, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    g = tensor([5.0, 6.0], backend)
    c = tensor([0.0, 0.0], backend, requires_grad=True)
    c.backward(g)
    assert c.grad.data is not g.data
    d = tensor([0.0, 0.0], backend, requires_grad=True)
    (d + 0.0).backward(g)  # add passes the caller's array straight through to the leaf
    assert d.grad.data is not g.data and host(d.grad).tolist() == [5.0, 6.0]


def test_leaf_gradients_are_writable_arrays_not_broadcast_views(backend):
    x = tensor([[1.0, 2.0], [3.0, 4.0]], backend, requires_grad=True)
    x.sum().backward()  # sum's backward broadcasts one number over x's shape
    x.grad.data[0, 0] = 5.0
    assert host(x.grad).tolist() == [[5.0, 1.0], [1.0, 1.0]]


def test_gradient_has_the_leaf_dtype_and_shape(backend):
    w = Tensor([1.0, 2.0], backend=backend, requires_grad=True)  # float32
    x = tensor([[1.0, 2.0], [3.0, 4.0]], backend)  # float64: the product is float64
    y = (x * w).sum()
    assert y.dtype_name == "float64"
    y.backward()
    assert w.grad.dtype_name == "float32" and w.grad.shape == (2,)
    assert host(w.grad).tolist() == [4.0, 6.0]


def test_requires_grad_propagates_only_from_inputs_that_need_it(backend):
    a = tensor([1.0], backend, requires_grad=True)
    b = tensor([2.0], backend)
    assert (a * b).requires_grad and not (b * b).requires_grad
    (a * b).sum().backward()
    assert b.grad is None and host(a.grad).tolist() == [2.0]


def test_only_floating_point_tensors_can_require_grad(backend):
    with pytest.raises(TypeError, match="floating-point.*int64"):
        Tensor([1, 2], backend=backend, requires_grad=True)


def test_an_op_refuses_attributes_it_does_not_declare_and_requires_those_without_default():
    from tinygrad_drop.ops.activation import Softmax
    from tinygrad_drop.ops.dropout import Dropout

    x = Tensor.ones(2, 3)
    with pytest.raises(TypeError, match=r"softmax: unexpected attribute\(s\) 'dim'; missing "
                                        r"attribute\(s\) 'axis' \(declared: axis\)"):
        Softmax.apply(x, dim=1)
    with pytest.raises(TypeError, match=r"softmax: unexpected attribute\(s\) 'dims' "
                                        r"\(declared: axis\)"):
        Softmax.apply(x, axis=1, dims=2)
    with pytest.raises(TypeError, match=r"softmax: missing attribute\(s\) 'axis'"):
        Softmax.apply(x)
    assert Dropout.declared == ("p", "keep", "mode", "training", "generator")
    assert Softmax.apply(x, axis=1).shape == (2, 3)


def test_declared_attributes_are_what_an_op_shows_unless_it_narrows_them(backend):
    x = Tensor.ones(2, 3, backend=backend, requires_grad=True)
    assert x.sum(axis=1).grad_fn.attributes() == {"axis": 1, "keepdims": False}
    assert (x ** 3).grad_fn.describe() == ["pow", "exponent=3"]
    assert x.exp().grad_fn.describe() == ["exp"]  # nothing declared, nothing shown


def test_an_op_with_extra_outputs_returns_them_without_gradient(backend):
    from tinygrad_drop.autograd import Op

    class SplitSign(Op):
        """x itself, and where x is positive as an extra output."""

        name = "split_sign"
        extra_outputs = ("positive",)

        def forward(self, a):
            return a * 1.0, a > 0

        def backward(self, g):
            return (g,)

    x = Tensor([-1.0, 2.0], backend=backend, requires_grad=True)
    out, positive = SplitSign.apply(x)
    assert out.grad_fn.name == "split_sign" and not positive.requires_grad
    assert positive.numpy().tolist() == [False, True]
    out.sum().backward()
    assert x.grad.numpy().tolist() == [1.0, 1.0]
    with td.no_grad():
        plain, flags = SplitSign.apply(x)
    assert plain.grad_fn is None and flags.numpy().tolist() == [False, True]


def test_a_leaf_gradient_never_aliases_another_leafs_through_a_view(backend):
    """Regression: the gradient of ``b`` was a reshaped view of ``a``'s (one buffer)."""
    a = tensor([[1.0, 2.0], [3.0, 4.0]], backend, requires_grad=True)
    b = tensor([1.0, 2.0, 3.0, 4.0], backend, requires_grad=True)
    (a + b.reshape(2, 2)).sum().backward()
    a.grad.data *= 0.5
    assert b.grad.tolist() == [1.0, 1.0, 1.0, 1.0] and a.grad.tolist() == [[0.5, 0.5]] * 2


def test_a_leaf_gradient_never_aliases_the_grad_passed_to_backward(backend):
    w = tensor([[1.0, 2.0], [3.0, 4.0]], backend, requires_grad=True)
    g = tensor([1.0, 2.0, 3.0, 4.0], backend)
    w.reshape(4).backward(g)
    g.data *= 0.0
    assert w.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    w.backward(tensor([[1.0, 1.0], [1.0, 1.0]], backend))
    assert w.grad.tolist() == [[2.0, 3.0], [4.0, 5.0]]


def test_pow_zero_has_a_zero_gradient_at_zero(backend):
    """Regression: ``x ** 0`` gave 0 * 0**-1 = NaN at x = 0; PyTorch gives 0."""
    x = tensor([0.0, 2.0], backend, requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_the_no_grad_decorator_is_safe_across_threads(backend):
    """Regression: one decorator instance kept one stack of saved modes that two threads
    pushed and popped. Thread A calls it inside ``with no_grad()`` (saving False), then thread
    B outside (saving True); A returns first and restored B's True inside its no_grad block,
    and B restored A's False: recording off for good in B."""
    import threading

    a_entered, b_entered, a_returned = (threading.Event() for _ in range(3))

    @td.no_grad()
    def inner(role):
        if role == "A":
            a_entered.set()
            b_entered.wait(5)
        else:
            b_entered.set()
            a_returned.wait(5)
        return td.is_grad_enabled()

    seen = {}

    def thread_a():
        with td.no_grad():
            seen["A inside"] = inner("A")
            seen["A back in its no_grad block"] = td.is_grad_enabled()
            a_returned.set()
        seen["A after"] = td.is_grad_enabled()

    def thread_b():
        a_entered.wait(5)
        seen["B inside"] = inner("B")
        seen["B after"] = td.is_grad_enabled()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"A inside": False, "A back in its no_grad block": False, "A after": True,
                    "B inside": False, "B after": True}


def test_backward_visits_a_shared_subgraph_once_per_call_in_a_valid_order(backend):
    # h feeds exp, a square, a product and a second branch made later: y depends on h along
    # four paths. dy/dh = exp(h)(h + 1) + 3 h**2 + 3 (by hand), and dy/dx = 2 dy/dh.
    x = tensor([0.5, -1.0], backend, requires_grad=True)
    h = x * 2
    s = h.exp() + h * h
    y = (s * h).sum() + (h * 3).sum()
    y.backward(retain_graph=True)
    hv = 2 * np.array([0.5, -1.0])
    expected = 2 * (np.exp(hv) * (hv + 1) + 3 * hv ** 2 + 3)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-14)
    y.backward()  # the retained graph runs again and accumulates
    np.testing.assert_allclose(host(x.grad), 2 * expected, rtol=1e-14)


def test_interleaved_branches_are_ordered_by_creation_not_by_position(backend):
    # Branches made alternately, and an input consumed long after it was made.
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    w = tensor([3.0, -1.0], backend, requires_grad=True)
    a = x * w
    b = x + 1.0
    c = a * b      # uses a and b
    d = b * b      # b again, after c
    e = (c + d + a).sum()  # a once more, at the end
    e.backward()
    xv, wv = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    # e = x w (x + 1) + (x + 1)**2 + x w
    np.testing.assert_allclose(host(x.grad), wv * (2 * xv + 1) + 2 * (xv + 1) + wv, rtol=1e-14)
    np.testing.assert_allclose(host(w.grad), xv * (xv + 1) + xv, rtol=1e-14)


def test_a_ladder_of_doublings_reaches_every_node_once(backend):
    # y = y + y sixty times: 2**60 paths from the top to x, each node must be walked once.
    x = tensor([1.0], backend, requires_grad=True)
    y = x
    for _ in range(60):
        y = y + y
    y.backward()
    assert host(x.grad).tolist() == [2.0 ** 60]


def test_a_deep_chain_with_a_shared_leaf_at_every_step(backend):
    x = tensor([1.0], backend, requires_grad=True)
    w = tensor([0.5], backend, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + w
    y.backward()
    assert host(x.grad).tolist() == [1.0] and host(w.grad).tolist() == [20_000.0]


def test_ops_recorded_under_enable_grad_inside_no_grad_join_the_graph(backend):
    x = tensor([2.0], backend, requires_grad=True)
    with td.no_grad():
        c = x * 5  # a constant: no node
        with td.enable_grad():
            y = x * c
    (y * x).sum().backward()  # c is the constant 10: d(10 x**2)/dx = 20 x
    assert host(x.grad).tolist() == [40.0]


@pytest.mark.parametrize("n", [8, 5000])  # the numpy backend's small and large paths
def test_relu_backward_is_zero_off_the_mask_for_any_gradient(backend, n):
    values = np.resize([-1.0, 0.0, 2.0, -0.5], n)
    grads = np.resize([np.nan, np.inf, -np.inf, -3.0, 4.0, -2.0, 1.5, np.nan], n)
    x = tensor(values, backend, requires_grad=True)
    x.relu().backward(tensor(grads, backend))
    expected = np.where(values > 0, grads, 0.0)
    np.testing.assert_array_equal(host(x.grad), expected)
    if n == 8:  # PyTorch's zeros are +0.0, even under a negative gradient
        assert not np.signbit(host(x.grad)[values <= 0]).any()
    x.grad = None
    finite = np.resize([-3.0, 4.0, -2.0, 1.5], n)
    x.relu().backward(tensor(finite, backend))
    np.testing.assert_array_equal(host(x.grad), np.where(values > 0, finite, 0.0))


def test_sum_backward_spreads_with_and_without_kept_dims(backend):
    x = tensor(np.arange(6.0).reshape(2, 3), backend, requires_grad=True)
    (x.sum(dim=1, keepdim=True) * tensor([[2.0], [3.0]], backend)).sum().backward()
    assert host(x.grad).tolist() == [[2.0] * 3, [3.0] * 3]
    x.grad = None
    (x.sum(dim=0) * tensor([1.0, 2.0, 3.0], backend)).sum().backward()
    assert host(x.grad).tolist() == [[1.0, 2.0, 3.0]] * 2
    x.grad = None
    x.sum(keepdim=True).backward()
    assert host(x.grad).tolist() == [[1.0] * 3] * 2 and x.grad.data is not None
    s = x.sum()
    assert s.shape == () and s.grad_fn.attributes() == {"axis": None, "keepdims": False}
    assert s.grad_fn.count == 6 and s.grad_fn.kept_shape == (1, 1) and s.grad_fn.axes == (0, 1)


def test_the_graph_variable_set_at_run_time_saves_the_process_first_backward(tmp_path):
    import subprocess
    import sys

    first, later = tmp_path / "first.dot", tmp_path / "later.dot"
    script = ("import os, tinygrad_drop as td\n"
              "x = td.Tensor([1.0, 2.0], requires_grad=True)\n"
              "y = (x * x).sum()\n"
              f"os.environ['TINYGRAD_DROP_GRAPH'] = {str(first)!r}\n"
              "y.backward()\n"
              f"os.environ['TINYGRAD_DROP_GRAPH'] = {str(later)!r}\n"
              "x.exp().sum().backward()\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    assert "mul" in first.read_text() and not later.exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_forward_and_mask_match_the_portable_kernel_bit_for_bit(backend, dtype):
    from backends.kernels import ActivationKernels

    values = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -1.5, 2.5, 1e-45], dtype)
    x = Tensor(values, backend=backend, requires_grad=True)
    out = x.relu()
    ref_out, ref_mask = ActivationKernels(td.backends.get("numpy")).relu(values, True)
    got = host(out)
    assert got.dtype == ref_out.dtype and got.tobytes() == ref_out.tobytes()  # +0.0, NaN kept
    mask = td.backends.get(backend).to_numpy(out.grad_fn.saved)
    assert mask.dtype == bool and mask.tolist() == ref_mask.tolist()


def test_an_op_whose_backward_returns_the_wrong_number_of_gradients_is_named(backend):
    from tinygrad_drop.autograd import Op

    class TwoForOne(Op):
        """A broken op: one input, two gradients."""

        name = "two_for_one"

        def forward(self, a):
            return a * 2.0

        def backward(self, g):
            return g, g

    x = tensor([1.0], backend, requires_grad=True)
    with pytest.raises(ValueError, match="two_for_one: backward returned 2 gradients for 1 "
                                         "inputs"):
        TwoForOne.apply(x).sum().backward()


def test_binary_operators_record_edges_and_input_metadata_as_apply_does(backend):
    x = tensor([1.0, 2.0], backend)
    x.name = "data"
    w = tensor([3.0, 4.0], backend, requires_grad=True)
    y = x * w
    assert y.grad_fn.parents == (None, w)
    shape, dtype, _, name = y.grad_fn.input_meta[0]
    assert tuple(shape) == (2,) and name == "data" and y.grad_fn.input_meta[1] is None
    z = w + y
    assert z.grad_fn.parents == (w, y.grad_fn) and z.grad_fn.input_meta == (None, None)
    assert (x + x).grad_fn is None and not (x + x).requires_grad
    with td.no_grad():
        assert (w * w).grad_fn is None
    (z * w).sum().backward()  # d(w**2 + x w**2)/dw = 2 w (1 + x)
    assert host(w.grad).tolist() == [12.0, 24.0]


def test_a_binary_operator_that_fails_names_the_op_and_its_inputs(backend):
    a = tensor(np.ones((2, 3)), backend, requires_grad=True)
    b = tensor(np.ones(4), backend)
    with pytest.raises(ValueError, match=r"mul: .*inputs: Tensor\(shape=\(2, 3\), "
                                         r"dtype=float64.*Tensor\(shape=\(4,\)"):
        a * b


def test_unary_methods_record_as_apply_does_and_name_a_failing_op(backend):
    from tinygrad_drop.autograd import Op

    x = tensor([-1.0, 2.0], backend, requires_grad=True)
    r = x.relu()
    assert r.grad_fn.parents == (x,) and r.grad_fn.input_meta == (None,)
    s = r.sum()
    assert s.grad_fn.parents == (r.grad_fn,) and s.shape == ()
    with td.no_grad():
        assert x.exp().grad_fn is None and not (-x).requires_grad
    assert tensor([1.0], backend).abs().grad_fn is None  # no input needs a gradient

    class Refuses(Op):
        """Fails in forward, as a bad input would."""

        name = "refuses"

        def forward(self, a):
            raise ValueError("no")

    with pytest.raises(ValueError, match=r"refuses: no; inputs: Tensor\(shape=\(2,\)"):
        Refuses.apply_one(x)
    with pytest.raises(ValueError, match=r"refuses: no; inputs: Tensor\(shape=\(2,\)"):
        Refuses.apply(x)


def test_the_short_apply_forms_refuse_an_op_that_requires_attributes():
    from tinygrad_drop.ops.activation import Softmax

    x = Tensor.ones(2, 3)
    with pytest.raises(TypeError, match=r"softmax: missing attribute\(s\) 'axis'"):
        Softmax.apply_one(x)
    with pytest.raises(TypeError, match=r"softmax: missing attribute\(s\) 'axis'"):
        Softmax.apply_pair(x, x)


def test_gradients_accumulate_in_place_as_in_pytorch(backend):
    """A second backward adds into the leaf's .grad array itself (PyTorch's AccumulateGrad): a
    reference to the old .grad sees the sum, and the array keeps its address (td.jit replays
    need it); a .grad the user assigned that cannot take the sum in place gets a new array."""
    import tinygrad_drop as td

    x = td.Tensor([1.0, 2.0, 3.0], backend=backend, requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (x * 3.0).sum().backward()
    assert x.grad is first
    np.testing.assert_array_equal(first.numpy(), [5.0, 7.0, 9.0])
    if backend == "numpy":
        frozen = np.zeros(3, dtype=np.float32)
        frozen.flags.writeable = False
        x.grad = td.Tensor._wrap(frozen, x._backend, False, None)
        (x * 2.0).sum().backward()
        assert x.grad.data is not frozen and frozen.tolist() == [0.0, 0.0, 0.0]
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    x.grad = td.Tensor([1.0, 1.0, 1.0], dtype="float64", backend=backend)  # another dtype
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])
