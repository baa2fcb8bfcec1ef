"""In-place habits: ``p -= lr * p.grad`` under no_grad, ``t += 1``, ``x[mask] = 0``: the same
Tensor object gets new values (as in PyTorch), and what PyTorch refuses is refused."""

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import nn


def test_a_manual_sgd_step_updates_the_models_parameters(backend):
    torch = pytest.importorskip("torch")
    ours = nn.Linear(3, 2).to(backend)
    theirs = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        for p, q in zip(theirs.parameters(), ours.parameters(), strict=True):
            p.copy_(torch.from_numpy(q.numpy().astype(np.float64)))
    ours.double()
    x = np.random.default_rng(0).standard_normal((4, 3))
    ours(td.tensor(x, backend=backend)).sum().backward()
    theirs(torch.from_numpy(x)).sum().backward()
    weight = ours.weight
    with td.no_grad():
        for p in ours.parameters():
            p -= 0.1 * p.grad
    with torch.no_grad():
        for p in theirs.parameters():
            p -= 0.1 * p.grad
    assert ours.weight is weight  # the same object, as the optimizer and state_dict expect
    for p, q in zip(theirs.parameters(), ours.parameters(), strict=True):
        np.testing.assert_allclose(q.numpy(), p.detach().numpy(), rtol=1e-12)


def test_augmented_assignment_keeps_the_object_and_dtype(backend):
    t = td.tensor([1, 2, 3], dtype=td.int32, backend=backend)
    alias = t
    t += 2
    t *= 3
    assert alias is t and t.dtype == td.int32 and t.tolist() == [9, 12, 15]
    f = td.tensor([1.0, 2.0], backend=backend)
    f /= 2
    f -= td.tensor([0.5, 0.5], dtype=td.float64, backend=backend)  # float64 fits float32 in place
    assert f.dtype == td.float32 and f.tolist() == [0.0, 0.5]


def test_what_pytorch_refuses_in_place_is_refused(backend):
    leaf = td.tensor([1.0, 2.0], requires_grad=True, backend=backend)
    with pytest.raises(RuntimeError, match=r"\+=: a leaf tensor that requires grad cannot be "
                                           r"changed in place"):
        leaf += 1
    inner = leaf * 2
    with pytest.raises(RuntimeError, match="a tensor that is part of a graph"):
        inner -= 1
    plain = td.tensor([1.0, 2.0], backend=backend)
    with pytest.raises(RuntimeError, match="an operand that requires grad"):
        plain += leaf
    ints = td.tensor([1, 2], backend=backend)
    with pytest.raises(TypeError, match="result type float32 cannot be cast to the tensor's "
                                        "dtype int64"):
        ints += 0.5
    with pytest.raises(ValueError, match=r"does not match the tensor's shape \(2,\)"):
        plain += td.ones(3, 2, backend=backend)
    assert plain.tolist() == [1.0, 2.0] and ints.tolist() == [1, 2]  # nothing changed


def test_an_in_place_update_never_corrupts_what_a_graph_saved(backend):
    """The old array is replaced, not written into: backward still sees the values it saw."""
    x = td.tensor([2.0, 3.0], backend=backend)
    w = td.tensor([5.0, 7.0], requires_grad=True, backend=backend)
    y = (x * w).sum()
    x += 100.0
    y.backward()
    assert w.grad.tolist() == [2.0, 3.0] and x.tolist() == [102.0, 103.0]


def test_item_assignment(backend):
    torch = pytest.importorskip("torch")
    ours = td.zeros(3, 4, backend=backend)
    theirs = torch.zeros(3, 4)
    for index, value in [(0, 5.0), ((1, slice(1, 3)), 2), ((slice(None), -1), 7.5)]:
        ours[index] = value
        theirs[index] = value
    ours[ours > 6] = -1.0
    theirs[theirs > 6] = -1.0
    ours[2] = td.tensor([1.0, 2.0, 3.0, 4.0], backend=backend)
    theirs[2] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert ours.tolist() == theirs.tolist() and ours.dtype == td.float32
    param = td.zeros(2, requires_grad=True, backend=backend)
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        param[0] = 1.0
    with td.no_grad():
        param[0] = 1.0
    assert param.tolist() == [1.0, 0.0] and param.requires_grad
