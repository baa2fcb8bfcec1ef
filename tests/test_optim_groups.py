"""Parameter groups, AdamW and state dicts against PyTorch (float64): the same parameters step
for step, the same ``param_groups`` and state-dict layout, and a run interrupted, saved with
``td.save``, loaded into a fresh model and optimizer and continued that equals the
uninterrupted run bit for bit."""

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import nn, optim

torch = pytest.importorskip("torch")

MAKERS = {  # name -> (ours, PyTorch's), both called with (params, **options)
    "SGD": (optim.SGD, torch.optim.SGD),
    "Adam": (optim.Adam, torch.optim.Adam),
    "AdamW": (optim.AdamW, torch.optim.AdamW),
    "Adadelta": (optim.Adadelta, torch.optim.Adadelta),
}
# per optimizer: the defaults and two groups' own options
GROUPED = {
    "SGD": (dict(lr=0.1, momentum=0.9), [dict(lr=0.05, nesterov=True, weight_decay=0.01),
                                         dict(momentum=0.5)]),
    "Adam": (dict(lr=0.01), [dict(betas=(0.8, 0.99), weight_decay=0.1), dict(eps=1e-6)]),
    "AdamW": (dict(lr=0.01), [dict(weight_decay=0.1), dict(lr=0.05, betas=(0.5, 0.9))]),
    "Adadelta": (dict(rho=0.95), [dict(lr=0.5, weight_decay=0.01), dict(eps=1e-7)]),
}


def shapes_and_data(rng):
    return [rng.standard_normal(s) for s in ((4, 3), (3,), (3, 2))], rng.standard_normal((6, 4))


def loss_of(params, x):
    w1, b1, w2 = params
    return (((x @ w1 + b1).tanh() @ w2) ** 2).sum()


def pair(name, backend, rng, grouped=True):
    """Our optimizer and PyTorch's over the same three parameters, in two groups."""
    arrays, x = shapes_and_data(rng)
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    defaults, (first, second) = GROUPED[name]
    make, make_torch = MAKERS[name]
    if grouped:
        opt = make([{"params": ours[:2], **first}, {"params": ours[2:], **second}], **defaults)
        topt = make_torch([{"params": theirs[:2], **first}, {"params": theirs[2:], **second}],
                          **defaults)
    else:
        opt, topt = make(ours, **defaults), make_torch(theirs, **defaults)
    return opt, topt, ours, theirs, tensor(x, backend), torch.tensor(x)


def steps(opt, params, x, count):
    for _ in range(count):
        opt.zero_grad()
        loss_of(params, x).backward()
        opt.step()


def assert_close(ours, theirs):
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(p), tp.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(MAKERS))
def test_groups_with_their_own_options_match_pytorch(name, backend, rng):
    opt, topt, ours, theirs, x, xt = pair(name, backend, rng)
    steps(opt, ours, x, 5)
    steps(topt, theirs, xt, 5)
    assert_close(ours, theirs)
    assert len(opt.param_groups) == 2
    for group, tgroup in zip(opt.param_groups, topt.param_groups, strict=True):
        assert all(p is q for p, q in zip(group["params"], ours[:2] if group is
                                          opt.param_groups[0] else ours[2:], strict=True))
        for key, value in group.items():  # every option PyTorch's group has, same values
            if key != "params":
                assert tgroup[key] == (tuple(value) if key == "betas" else value), key


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
                                dict(lr=0.01, weight_decay=0.5), dict(weight_decay=0.0)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_adamw_matches_pytorch_over_six_steps(kw, backend, rng):
    arrays, x = shapes_and_data(rng)
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt, topt = optim.AdamW(ours, **kw), torch.optim.AdamW(theirs, **kw)
    steps(opt, ours, tensor(x, backend), 6)
    steps(topt, theirs, torch.tensor(x), 6)
    assert_close(ours, theirs)
    assert opt.defaults["weight_decay"] == kw.get("weight_decay", 1e-2)


def test_adamw_decays_the_parameter_before_the_update_by_hand():
    """First step from zero state with grad g: m = (1-b1) g, v = (1-b2) g^2, so the Adam part
    is lr * g / (|g| + eps / sqrt(1-b2) * ...) ~ lr * sign(g); the decay multiplies p first."""
    w = tensor([2.0, -4.0], "numpy", requires_grad=True)
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5, eps=0.0)
    (w * 3.0).sum().backward()  # g = 3
    opt.step()
    # p * (1 - 0.1 * 0.5) - 0.1 * (0.1*3/0.1) / (sqrt(0.001*9)/sqrt(0.001)) = 0.95 p - 0.1
    np.testing.assert_allclose(host(w), [0.95 * 2.0 - 0.1, 0.95 * -4.0 - 0.1], rtol=1e-14)


@pytest.mark.parametrize("name", list(MAKERS))
def test_add_param_group_matches_pytorch(name, backend, rng):
    opt, topt, ours, theirs, x, xt = pair(name, backend, rng, grouped=False)
    opt.param_groups.clear()
    topt.param_groups.clear()
    first, second = GROUPED[name][1]
    opt.add_param_group({"params": ours[:2], **first})
    opt.add_param_group({"params": ours[2], **second})  # a single Tensor is one parameter
    topt.add_param_group({"params": theirs[:2], **first})
    topt.add_param_group({"params": theirs[2], **second})
    steps(opt, ours, x, 4)
    steps(topt, theirs, xt, 4)
    assert_close(ours, theirs)


def test_assigning_a_groups_lr_changes_the_next_step(backend):
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    opt.param_groups[0]["lr"] = 0.25
    (w * w).sum().backward()  # grad = 2w
    opt.step()
    assert host(w).tolist() == [0.5, -1.0] and opt.lr == 0.25


GROUP_ERRORS = [
    ([{"params": "W", "learning_rate": 0.1}], ValueError,
     r"SGD: unknown option 'learning_rate' \(parameter group 0\) \(its options: lr, momentum, "
     r"nesterov, weight_decay\)"),
    ([{"lr": 0.1}], ValueError, "SGD: parameter group 0 has no 'params' key"),
    (["W", {"params": "B"}], TypeError, "SGD: params mixes Tensors and dicts"),
    ([{"params": "W"}, {"params": "W"}], ValueError,
     "SGD: parameter 1 is the same tensor as parameter 0"),
    ([{"params": "W"}, {"params": "B", "lr": -0.5}], ValueError,
     r"SGD: lr \(parameter group 1\) must be >= 0, got -0.5"),
    ([{"params": "W", "momentum": "fast"}], TypeError,
     r"SGD: momentum \(parameter group 0\) must be a number, got 'fast'"),
    ([{"params": "W", "nesterov": True}], ValueError,
     r"SGD: nesterov momentum needs momentum > 0 \(parameter group 0\)"),
    ([{"params": {"W"}}], TypeError, "parameter group 0's params must be an ordered iterable"),
    ("set", TypeError, "params must be an ordered iterable"),
]


@pytest.mark.parametrize("groups, error, message", GROUP_ERRORS,
                         ids=[m[:30] for _, _, m in GROUP_ERRORS])
def test_bad_groups_are_refused_naming_the_group_and_option(groups, error, message):
    w, b = (tensor([1.0], "numpy", requires_grad=True) for _ in range(2))
    named = {"W": w, "B": b}
    if groups == "set":
        groups = {w, b}
    else:
        groups = [named[g] if isinstance(g, str) else
                  {k: (named[v] if k == "params" and isinstance(v, str) else
                       {named[n] for n in v} if k == "params" else v) for k, v in g.items()}
                  for g in groups]
    with pytest.raises(error, match=message):
        optim.SGD(groups, lr=0.1)


def test_options_that_differ_by_group_are_read_from_param_groups():
    w, b = (tensor([1.0], "numpy", requires_grad=True) for _ in range(2))
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}])
    assert opt.eps == 1e-8
    with pytest.raises(AttributeError, match=r"different lr values \[0.001, 0.5\]"):
        _ = opt.lr
    assert opt.params == [w, b]


# -- state dicts ---------------------------------------------------------------------------------
def test_state_dict_has_pytorchs_layout_and_values(backend, rng):
    for name in MAKERS:
        opt, topt, ours, theirs, x, xt = pair(name, backend, rng)
        steps(opt, ours, x, 3)
        steps(topt, theirs, xt, 3)
        sd, tsd = opt.state_dict(), topt.state_dict()
        assert sd.keys() == tsd.keys() == {"state", "param_groups"}
        assert sd["state"].keys() == tsd["state"].keys() == {0, 1, 2}, name
        for index, entries in sd["state"].items():
            assert entries.keys() == tsd["state"][index].keys(), name
            for key, value in entries.items():
                expected = tsd["state"][index][key]
                if key == "step":
                    assert isinstance(value, float) and value == float(expected) == 3.0
                else:
                    assert type(value) is np.ndarray, (name, key)
                    np.testing.assert_allclose(value, expected.numpy(), rtol=1e-12, atol=1e-12)
        for group, tgroup in zip(sd["param_groups"], tsd["param_groups"], strict=True):
            assert group["params"] == tgroup["params"]
            assert all(tgroup[k] == (tuple(v) if k == "betas" else v) for k, v in group.items())


def test_state_dict_arrays_are_copies(backend):
    w = tensor([1.0, -2.0], backend, requires_grad=True)
    opt = optim.SGD([w], lr=0.5, momentum=0.5)
    (w * w).sum().backward()
    opt.step()
    saved = opt.state_dict()["state"][0]["momentum_buffer"]
    opt.step()
    assert saved.tolist() == [2.0, -4.0]  # the first step's buffer, not the second's


def test_loading_pytorchs_state_dict_continues_as_pytorch(backend, rng):
    """A PyTorch state dict, its tensors as NumPy arrays, loads and continues identically."""
    for name in MAKERS:
        opt, topt, ours, theirs, x, xt = pair(name, backend, rng)
        steps(topt, theirs, xt, 3)
        for p, tp in zip(ours, theirs, strict=True):
            p.data = p._backend.asarray(tp.detach().numpy())
        tsd = topt.state_dict()  # its groups as they are: PyTorch's own options included
        opt.load_state_dict({
            "state": {i: {k: (float(v) if k == "step" else v.numpy()) for k, v in s.items()}
                      for i, s in tsd["state"].items()},
            "param_groups": tsd["param_groups"]})
        steps(opt, ours, x, 3)
        steps(topt, theirs, xt, 3)
        assert_close(ours, theirs)


def test_pytorchs_own_options_load_where_they_change_nothing_and_are_refused_where_not():
    import torch

    p = td.Tensor([1.0, 2.0], requires_grad=True)
    tp = [torch.nn.Parameter(torch.tensor([1.0, 2.0]))]
    for torch_opt, ours, bad in (
            (torch.optim.SGD(tp, lr=0.1, momentum=0.9), optim.SGD([p], lr=0.1, momentum=0.9),
             {"dampening": 0.5}),
            (torch.optim.Adam(tp), optim.Adam([p]), {"amsgrad": True}),
            (torch.optim.AdamW(tp), optim.AdamW([p]), {"decoupled_weight_decay": False}),
            (torch.optim.Adadelta(tp), optim.Adadelta([p]), {"maximize": True})):
        state = torch_opt.state_dict()
        ours.load_state_dict(state)  # no state yet; every group option PyTorch's default
        assert "maximize" not in ours.param_groups[0]
        (key, value), = bad.items()
        state["param_groups"][0][key] = value
        with pytest.raises(ValueError, match=f"PyTorch's option {key}={value!r} .* is not "
                                             "supported here"):
            ours.load_state_dict(state)


def flat_arrays(opt_state):
    """An optimizer state dict's arrays (steps as 0-d arrays) under td.save-able names."""
    return {f"optim/{index}/{key}": np.asarray(value)
            for index, entries in opt_state["state"].items() for key, value in entries.items()}


def unflat_state(arrays, param_groups):
    """The state dict back from ``flat_arrays``' names and the groups kept in memory."""
    state = {}
    for name, array in arrays.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/")
            state.setdefault(int(index), {})[key] = float(array) if key == "step" else array
    return {"state": state, "param_groups": param_groups}


RESUMED = {"SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
           "Adam": dict(lr=0.01, weight_decay=1e-3), "AdamW": dict(lr=0.01),
           "Adadelta": dict(lr=1.0, rho=0.95, eps=1e-7)}


def model_on(backend, seed):
    td.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5, backend=backend), nn.Tanh(),
                         nn.Linear(5, 2, backend=backend)).double()


@pytest.mark.parametrize("name", list(RESUMED))
def test_an_interrupted_run_saved_and_resumed_equals_the_uninterrupted_one(name, backend, rng,
                                                                           tmp_path):
    xs = [tensor(rng.standard_normal((8, 4)), backend) for _ in range(7)]
    ys = [tensor(rng.standard_normal((8, 2)), backend) for _ in range(7)]
    make = MAKERS[name][0]

    def train(model, opt, batches):
        for x, y in batches:
            opt.zero_grad()
            td.nn.functional.mse_loss(model(x), y).backward()
            opt.step()

    whole = model_on(backend, 3)
    whole_opt = make(whole.parameters(), **RESUMED[name])
    train(whole, whole_opt, zip(xs, ys, strict=True))

    first = model_on(backend, 3)
    first_opt = make(first.parameters(), **RESUMED[name])
    train(first, first_opt, zip(xs[:3], ys[:3], strict=True))
    saved = first_opt.state_dict()
    td.save({**{f"model/{k}": v for k, v in first.state_dict().items()},
             **flat_arrays(saved)}, tmp_path / "run.npz")

    arrays = td.load(tmp_path / "run.npz")
    fresh = model_on(backend, 99)  # other initial weights: the file must restore them
    fresh.load_state_dict({k[len("model/"):]: v for k, v in arrays.items()
                           if k.startswith("model/")})
    fresh_opt = make(fresh.parameters(), lr=123.0)  # other options: the file restores them
    fresh_opt.load_state_dict(unflat_state(arrays, saved["param_groups"]))
    assert fresh_opt.param_groups[0]["lr"] == RESUMED[name]["lr"]
    train(fresh, fresh_opt, zip(xs[3:], ys[3:], strict=True))
    for a, b in zip(whole.parameters(), fresh.parameters(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adadelta"])
def test_loading_writes_into_the_existing_state_arrays(name, backend, rng):
    """A step captured by td.jit reads the state arrays' addresses: a load keeps them."""
    opt, _, ours, _, x, _ = pair(name, backend, rng)
    steps(opt, ours, x, 2)
    saved = opt.state_dict()
    before = {i: {k: id(v) for k, v in opt.state[p].items() if hasattr(v, "shape")}
              for i, p in enumerate(ours)}
    steps(opt, ours, x, 2)
    opt.load_state_dict(saved)
    after = {i: {k: id(v) for k, v in opt.state[p].items() if hasattr(v, "shape")}
             for i, p in enumerate(ours)}
    assert before == after
    again = opt.state_dict()
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(again["state"][index][key], value)


def test_loaded_state_moves_to_the_parameters_dtype(backend):
    w = tensor([1.0, -2.0], backend, dtype="float32", requires_grad=True)
    opt = optim.Adam([w])
    opt.load_state_dict({"state": {0: {"step": 2.0, "exp_avg": np.array([0.1, 0.2]),
                                       "exp_avg_sq": np.array([0.3, 0.4])}},
                         "param_groups": [{"params": [0], "lr": 0.5, "betas": (0.9, 0.999),
                                           "eps": 1e-8, "weight_decay": 0.0}]})
    state = opt.state[w]
    assert state["exp_avg"].dtype == w.data.dtype and td.backends.owner_of(
        state["exp_avg"]) is w._backend and opt.lr == 0.5 and state["step"] == 2


def good_state():
    return {"state": {0: {"momentum_buffer": np.array([1.0, 2.0])}},
            "param_groups": [{"params": [0, 1], "lr": 0.1, "momentum": 0.9,
                              "weight_decay": 0.0, "nesterov": False}]}


def change(path, value):
    state = good_state()
    target = state
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return state


BAD_LOADS = [
    ({"state": {}}, "expected a dict with exactly 'state' and 'param_groups'"),
    (change(["param_groups"], []), "has 0 parameter groups, this optimizer 1"),
    (change(["param_groups", 0, "params"], [0]),
     "parameter group 0 has 1 parameters in the loaded state dict, 2 in this optimizer"),
    (change(["param_groups", 0, "lr"], -1.0), r"lr \(parameter group 0\) must be >= 0, got -1.0"),
    (change(["param_groups", 0, "momentum"], KeyError), "parameter group 0 lacks the option "
                                                        "'momentum'"),
    (change(["param_groups", 0, "betas"], (0.9, 0.99)), "unknown option 'betas'"),
    (change(["state", 5], {"momentum_buffer": np.zeros(2)}),
     "the state refers to parameter 5, which no parameter group lists"),
    (change(["state", 0, "momentum_buffer"], np.zeros(3)),
     r"momentum_buffer of parameter 0 has shape \(3,\), the parameter \(2,\)"),
    (change(["state", 0, "exp_avg"], np.zeros(2)), "the state of parameter 0 has"),
    (change(["state", 0, "momentum_buffer"], np.zeros(2, dtype=np.int64)), "not a float dtype"),
]


@pytest.mark.parametrize("bad, message", BAD_LOADS, ids=[m[:40] for _, m in BAD_LOADS])
def test_a_bad_state_dict_is_refused_and_changes_nothing(bad, message, backend):
    w, b = (tensor([1.0, -2.0], backend, requires_grad=True) for _ in range(2))
    opt = optim.SGD([w, b], lr=0.5, momentum=0.5)
    opt.load_state_dict(good_state())
    (w * w + b).sum().backward()
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert after["state"].keys() == before["state"].keys()
    np.testing.assert_array_equal(after["state"][0]["momentum_buffer"], [1.0, 2.0])


class SignSGD(optim.Optimizer):
    """A user's optimizer written as for PyTorch: defaults to the base, its own step."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    state = self.state.setdefault(p, {"count": 0})
                    state["count"] += 1
                    p.data = p.data - group["lr"] * (p.grad.data > 0) + group["lr"] * (
                        p.grad.data < 0)


def test_a_subclass_written_as_for_pytorch_works():
    w = tensor([1.0, -2.0], "numpy", requires_grad=True)
    b = tensor([0.5], "numpy", requires_grad=True)
    opt = SignSGD([{"params": [w]}, {"params": [b], "lr": 0.25}])
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.25
    (w * w + b * b).sum().backward()  # grads 2w, 2b
    opt.step()
    assert host(w).tolist() == [0.9, -1.9] and host(b).tolist() == [0.25]
    saved = opt.state_dict()
    assert saved["state"] == {0: {"count": 1}, 1: {"count": 1}}
    opt.step()
    opt.load_state_dict(saved)
    assert opt.state[w] == {"count": 1}
    with pytest.raises(ValueError, match="SignSGD: unknown option 'momentum'"):
        opt.add_param_group({"params": [tensor([1.0], "numpy", requires_grad=True)],
                             "momentum": 0.9})


def test_setting_an_option_attribute_sets_it_in_every_group():
    w, b = (tensor([1.0], "numpy", requires_grad=True) for _ in range(2))
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.lr = 0.2
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2] and opt.lr == 0.2
    with pytest.raises(ValueError, match=r"SGD: momentum \(parameter group 0\) must be >= 0"):
        opt.momentum = -1.0
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.0]
    opt.note = "not an option"  # other attributes as usual
    assert opt.note == "not an option"


@pytest.mark.parametrize("name", list(RESUMED))
def test_a_state_dict_saved_on_one_backend_continues_on_another(name, rng):
    arrays, x = shapes_and_data(rng)
    make = MAKERS[name][0]
    runs = {}
    for backend in ("numpy", "strict"):
        params = [tensor(a, backend, requires_grad=True) for a in arrays]
        runs[backend] = (params, make(params, **RESUMED[name]), tensor(x, backend))
    numpy_params, numpy_opt, numpy_x = runs["numpy"]
    steps(numpy_opt, numpy_params, numpy_x, 3)
    strict_params, strict_opt, strict_x = runs["strict"]
    for p, q in zip(strict_params, numpy_params, strict=True):
        p.data = p._backend.asarray(host(q))
    strict_opt.load_state_dict(numpy_opt.state_dict())
    strict = td.backends.get("strict")
    assert all(td.backends.owner_of(v) is strict for s in strict_opt.state.values()
               for v in s.values() if hasattr(v, "shape"))
    steps(numpy_opt, numpy_params, numpy_x, 3)
    steps(strict_opt, strict_params, strict_x, 3)
    for p, q in zip(strict_params, numpy_params, strict=True):
        np.testing.assert_array_equal(host(p), host(q))


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_a_pickled_or_deep_copied_optimizer_continues_as_the_original(copier, rng):
    """As PyTorch's optimizers do, ours pickle and deep-copy with their groups and state (the
    groups' device copies of their options are made again); the copy then steps its own
    parameters exactly as the original steps its, and its groups are its own."""
    import copy
    import pickle

    opt, _, ours, _, x, _ = pair("Adam", "numpy", rng)
    steps(opt, ours, x, 2)
    clone_opt, clone = (pickle.loads(pickle.dumps((opt, ours))) if copier == "pickle"
                        else copy.deepcopy((opt, ours)))
    assert [type(g) for g in clone_opt.param_groups] == [type(g) for g in opt.param_groups]
    assert clone_opt.param_groups[1]["params"][0] is clone[2] and clone[2] is not ours[2]
    steps(opt, ours, x, 2)
    steps(clone_opt, clone, x, 2)
    for a, b in zip(ours, clone, strict=True):
        np.testing.assert_array_equal(host(a), host(b))
    clone_opt.param_groups[0]["lr"] = 0.5
    assert opt.param_groups[0]["lr"] == 0.01
