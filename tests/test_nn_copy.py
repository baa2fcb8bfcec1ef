"""copy.deepcopy and pickle of models and tensors: copies share the backend object (tensors
compare backends by identity) and own their numbers."""

import copy
import pickle

import numpy as np
from conftest import host

import tinygrad_drop as td
from tinygrad_drop import Tensor, nn, optim


def model(backend):
    return nn.Sequential(nn.Linear(5, 4, backend=backend), nn.BatchNorm1d(4, backend=backend),
                         nn.ReLU(), nn.Linear(4, 2, backend=backend))


def test_a_deep_copy_of_a_model_computes_the_same_and_owns_its_parameters(backend):
    """Bug: the copy got its own backend object ('cannot mix backends numpy and numpy'); on
    strict, deepcopy failed with 'cannot pickle module'."""
    original = model(backend)
    original(Tensor.randn(8, 5, backend=backend))  # running statistics move
    twin = copy.deepcopy(original)
    assert twin[0].weight._backend is original[0].weight._backend
    x = Tensor.randn(3, 5, backend=backend)
    for mode in (True, False):
        original.train(mode)
        twin.train(mode)
        np.testing.assert_array_equal(host(twin(x)), host(original(x)))
    before = original.state_dict()
    twin.train()
    twin(x * 3.0).sum().backward()
    optim.SGD(twin.parameters(), lr=0.5).step()  # changes the copy's parameters and buffers
    for name, value in original.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert not np.array_equal(twin.state_dict()[name], value), name
    assert all(p.grad is None for p in original.parameters())


def test_backends_are_kept_by_copy_and_found_again_by_pickle(backend):
    be = td.backends.get(backend)
    assert copy.copy(be) is be and copy.deepcopy(be) is be
    assert pickle.loads(pickle.dumps(be)) is be


def test_a_leaf_tensor_and_a_model_survive_pickle(backend):
    w = Tensor([1.5, -2.0, 3.25], backend=backend, requires_grad=True)
    (w * w).sum().backward()
    back = pickle.loads(pickle.dumps(w))
    assert back._backend is w._backend and back.requires_grad and back.is_leaf
    assert host(back).tolist() == [1.5, -2.0, 3.25] and host(back.grad).tolist() == [3, -4, 6.5]
    original = model(backend).eval()
    restored = pickle.loads(pickle.dumps(original))
    x = Tensor.randn(3, 5, backend=backend)
    np.testing.assert_array_equal(host(restored(x)), host(original(x)))
