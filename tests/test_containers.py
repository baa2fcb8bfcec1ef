"""ModuleList and Sequential as PyTorch's: indexing, editing, names in state_dict, errors; and a
network built from them, loaded with PyTorch's weights, giving PyTorch's outputs and
gradients."""

from collections import OrderedDict

import numpy as np
import pytest
from conftest import host, tensor

from tinygrad_drop import Tensor, nn

torch = pytest.importorskip("torch")


def layer(n, k):
    """A Linear told apart by its output size."""
    return n.Linear(2, k)


def sizes(container):
    return [getattr(m, "out_features", type(m).__name__) for m in container]


def names(container):
    return list(container.state_dict())


def edit_both(ours, theirs, edit):
    edit(ours, nn)
    edit(theirs, torch.nn)
    assert sizes(ours) == sizes(theirs) and names(ours) == names(theirs)
    assert len(ours) == len(theirs)


EDITS = [
    lambda c, n: c.append(layer(n, 5)),
    lambda c, n: c.extend([layer(n, 6), n.ReLU()]),
    lambda c, n: c.insert(1, layer(n, 7)),
    lambda c, n: c.insert(len(c), layer(n, 8)),
    lambda c, n: c.__delitem__(0),
    lambda c, n: c.__setitem__(-1, layer(n, 9)),
    lambda c, n: c.pop(1),
    lambda c, n: c.__delitem__(slice(0, 2)),
]


@pytest.mark.parametrize("kind", ["ModuleList", "Sequential"])
def test_editing_matches_pytorch_step_by_step(kind):
    if kind == "ModuleList":
        ours, theirs = nn.ModuleList([layer(nn, 3), layer(nn, 4)]), torch.nn.ModuleList(
            [layer(torch.nn, 3), layer(torch.nn, 4)])
    else:
        ours = nn.Sequential(layer(nn, 3), layer(nn, 4))
        theirs = torch.nn.Sequential(layer(torch.nn, 3), layer(torch.nn, 4))
    for edit in EDITS:
        edit_both(ours, theirs, edit)
    assert sizes(ours[-1:]) == sizes(theirs[-1:]) and type(ours[0:1]) is type(ours)


def test_module_list_indexing_slicing_iteration_and_names():
    layers = nn.ModuleList([layer(nn, k) for k in (3, 4, 5, 6)])
    assert len(layers) == 4 and sizes(layers) == [3, 4, 5, 6]
    assert layers[-1].out_features == 6 and layers[np.int64(1)].out_features == 4
    part = layers[1:3]
    assert isinstance(part, nn.ModuleList) and sizes(part) == [4, 5]
    assert names(part) == ["0.weight", "0.bias", "1.weight", "1.bias"]  # renumbered, as torch
    assert part[0] is layers[1]
    layers += [nn.ReLU()]
    joined = layers + nn.ModuleList([nn.Tanh()])
    assert sizes(joined) == [3, 4, 5, 6, "ReLU", "Tanh"] and len(layers) == 5
    assert [n for n, _ in joined.named_children()] == ["0", "1", "2", "3", "4", "5"]


def test_insert_counts_from_the_end_like_a_list():
    """PyTorch's ModuleList.insert(-1, m) raises KeyError and insert(10, m) names the module
    '10'; ours follows list.insert and keeps the names 0, 1, 2, ..."""
    layers = nn.ModuleList([layer(nn, 3), layer(nn, 4)])
    reference = [3, 4]
    for index, k in ((-1, 5), (10, 6), (-10, 7), (2, 8)):
        layers.insert(index, layer(nn, k))
        reference.insert(index, k)
        assert sizes(layers) == reference
    assert [n for n, _ in layers.named_children()] == [str(i) for i in range(6)]


def test_container_errors():
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index 5 is out of range for 1 modules"):
        layers[5]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        del layers[-2]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, "
                                        "but got int"):
        layers.extend(3)
    with pytest.raises(TypeError, match="ModuleList.append: int is not a Module subclass"):
        layers.append(3)
    with pytest.raises(TypeError, match="ModuleList.extend: float is not a Module subclass"):
        nn.ModuleList([nn.ReLU(), 1.5])
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(Tensor([1.0]))
    with pytest.raises(TypeError, match="Sequential: argument 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)
    assert len(layers) == 1


def test_sequential_names_slices_and_ordered_dict_as_pytorch():
    def build(n):
        return n.Sequential(OrderedDict([("fc", n.Linear(3, 4)), ("act", n.Tanh()),
                                         ("out", n.Linear(4, 2))]))

    ours, theirs = build(nn), build(torch.nn)
    assert names(ours) == names(theirs) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert ours.fc is ours[0] and isinstance(ours[1], nn.Tanh)
    assert names(ours[1:]) == names(theirs[1:]) == ["out.weight", "out.bias"]
    plain = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    torch_plain = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                      torch.nn.Linear(2, 2))
    assert names(plain[1:]) == names(torch_plain[1:]) == ["2.weight", "2.bias"]


@pytest.mark.parametrize("labels", [("a", "b", "c"), ("1", "0", "x"), ("2", "1", "0")])
def test_del_and_pop_remove_by_position_and_renumber_as_pytorch(labels):
    """Bug: deletion went by name: with names ('a', 'b', 'c') del s[0] raised ValueError, with
    ('1', '0', ...) it removed the wrong module."""
    def build(n):
        return n.Sequential(OrderedDict(zip(labels, [layer(n, 3), layer(n, 4), layer(n, 5)],
                                            strict=True)))

    for edit in (lambda c: c.__delitem__(0), lambda c: c.pop(0), lambda c: c.pop(-1),
                 lambda c: c.__delitem__(-2), lambda c: c.__delitem__(slice(1, None))):
        ours, theirs = build(nn), build(torch.nn)
        removed = edit(ours), edit(theirs)
        assert sizes(ours) == sizes(theirs) and names(ours) == names(theirs)
        if removed[0] is not None:
            assert removed[0].out_features == removed[1].out_features


def test_sequential_insert_add_and_iadd_as_pytorch():
    def build(n):
        return n.Sequential(layer(n, 3), layer(n, 4))

    for index in (3, -3):  # insert(len) appends, insert(-len) prepends; past them, an error
        with pytest.raises(IndexError, match="Index out of range"):
            build(torch.nn).insert(index, layer(torch.nn, 5))
        with pytest.raises(IndexError, match=f"Sequential.insert: index {index} is out of "
                                             "range for 2 modules"):
            build(nn).insert(index, layer(nn, 5))
    for index in (-2, -1, 0, 2):
        ours, theirs = build(nn), build(torch.nn)
        edit_both(ours, theirs, lambda c, n, i=index: c.insert(i, layer(n, 6)))
    ours, theirs = build(nn), build(torch.nn)
    assert sizes(ours + ours) == sizes(theirs + theirs) == [3, 4, 3, 4]
    assert names(ours + build(nn)) == names(theirs + build(torch.nn))
    assert (ours + ours)[2] is ours[0]
    edit_both(ours, theirs, lambda c, n: c.__iadd__(n.Sequential(n.ReLU(), layer(n, 7))))
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential "
                                         "class, but ModuleList is given"):
        ours + nn.ModuleList([nn.ReLU()])
    with pytest.raises(ValueError, match="but list is given"):
        ours += [nn.ReLU()]


def test_slices_and_sums_leave_the_originals_names_alone():
    """Bug: slicing re-registered the modules, renaming the original tensors (layers.2.weight
    became 1.weight), which graph drawings and errors show."""
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.head = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))

    model = Model()
    before = [t.name for t in model.parameters()]
    assert before[4] == "layers.2.weight" and before[-2] == "head.2.weight"
    for derived in (model.layers[1:], model.layers + model.layers, model.head[1:],
                    model.head + model.head):
        assert len(derived) >= 2
    assert [t.name for t in model.parameters()] == before


class Net:
    """One architecture in both libraries: ModuleLists of layers and activations."""

    @staticmethod
    def build(n):
        class Model(n.Module):
            def __init__(self):
                super().__init__()
                self.layers = n.ModuleList([n.Linear(6, 8), n.Linear(8, 8), n.Linear(8, 8)])
                self.acts = n.ModuleList([n.GELU(), n.SiLU(), n.ELU(0.7)])
                self.norm = n.BatchNorm1d(8)
                self.head = n.Sequential(n.LeakyReLU(0.1), n.Linear(8, 4), n.Identity(),
                                         n.Tanh(), n.Linear(4, 3))

            def forward(self, x):
                for fc, act in zip(self.layers, self.acts, strict=True):
                    x = act(fc(x))
                return self.head(self.norm(x))

        return Model()


def test_a_network_of_containers_loads_pytorchs_weights_and_agrees(backend, rng):
    theirs = Net.build(torch.nn).double()
    ours = Net.build(nn).to(backend).double()
    assert names(ours) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    theirs(torch.tensor(rng.standard_normal((10, 6))))  # running statistics of their own
    ours.load_state_dict(theirs.state_dict())
    x_np, y_np = rng.standard_normal((9, 6)), rng.integers(0, 3, 9)
    loss_fn, torch_loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05), \
        torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        out, ref = ours(tensor(x_np, backend)), theirs(torch.tensor(x_np))
        np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-11, atol=1e-12)
        loss = loss_fn(out, Tensor(y_np, backend=backend))
        torch_loss = torch_loss_fn(ref, torch.tensor(y_np))
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-12)
        loss.backward()
        torch_loss.backward()
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{mode} {name}")
        ours.zero_grad()
        theirs.zero_grad()
    for name, value in ours.state_dict().items():  # running statistics moved alike
        np.testing.assert_allclose(value, theirs.state_dict()[name].numpy(), rtol=1e-12)
