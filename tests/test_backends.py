"""Backend registry, selection by environment variable, entry points, seeding, mixing."""

import ast
import pathlib
import textwrap

import numpy as np
import pytest
from conftest import host

import tinygrad_drop as td
from tinygrad_drop import Tensor
from tinygrad_drop.backends import registry
from tinygrad_drop.backends.numpy_backend import NumpyBackend

PACKAGE = pathlib.Path(td.__file__).parent


@pytest.fixture
def isolated_registry(monkeypatch):
    """Register and discover backends without leaking them into other tests."""
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    monkeypatch.setattr(registry, "_instances", dict(registry._instances))
    monkeypatch.setattr(registry, "_failures", dict(registry._failures))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)


class RenamedNumpy(NumpyBackend):
    """A third-party backend: NumPy arrays under another name."""

    name = "thirdparty"


def test_numpy_and_strict_are_always_available():
    assert {"numpy", "strict"} <= set(td.backends.available())
    assert {"numpy", "strict", "cupy"} <= set(td.backends.known())


def test_get_returns_one_backend_object_per_name(backend):
    be = td.backends.get(backend)
    assert be is td.backends.get(backend) and be.name == backend
    assert Tensor([1.0], backend=backend)._backend is be


def test_unknown_backend_is_a_value_error_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'tpu'.*cupy, numpy, strict"):
        td.backends.get("tpu")


def test_environment_variable_chooses_the_default(monkeypatch):
    monkeypatch.setenv("TINYGRAD_DROP_BACKEND", "strict")
    assert Tensor([1.0]).backend == "strict" and Tensor.zeros(2).backend == "strict"
    monkeypatch.delenv("TINYGRAD_DROP_BACKEND")
    assert Tensor([1.0]).backend == "numpy"


def test_unknown_name_in_the_environment_variable_says_where_it_came_from(monkeypatch):
    monkeypatch.setenv("TINYGRAD_DROP_BACKEND", "nmupy")
    with pytest.raises(ValueError, match=r"'nmupy' \(from \$TINYGRAD_DROP_BACKEND\).*numpy"):
        Tensor([1.0])


def test_cupy_without_a_gpu_says_why():
    if "cupy" in td.backends.available():
        pytest.skip("CuPy runs here; its unavailability message cannot be observed")
    with pytest.raises(td.backends.BackendUnavailableError, match="CuPy|CUDA|GPU"):
        td.backends.get("cupy")
    assert "cupy" in td.backends.unavailable()
    ok, reason = td.backends.is_available("cupy")
    assert not ok and reason == td.backends.unavailable()["cupy"]
    assert td.backends.is_available("numpy") == (True, None)


def test_register_a_third_party_backend(isolated_registry):
    td.backends.register("thirdparty", RenamedNumpy)
    assert "thirdparty" in td.backends.available()
    x = Tensor([1.0, 2.0], backend="thirdparty", requires_grad=True)
    (x * x).sum().backward()
    assert x.backend == "thirdparty" and host(x.grad).tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="already registered"):
        td.backends.register("thirdparty", RenamedNumpy)


def test_mixing_backends_names_both(isolated_registry):
    td.backends.register("thirdparty", RenamedNumpy)
    a = Tensor([1.0], backend="numpy")
    b = Tensor([1.0], backend="thirdparty")
    with pytest.raises(TypeError, match=r"mul: cannot mix backends 'numpy' and 'thirdparty'"):
        a * b
    with pytest.raises(TypeError, match=r"cannot mix backends 'numpy' and 'thirdparty'"):
        _ = a < b


def _install_fake_distribution(root, module, module_source, entry_point):
    """A module plus a *.dist-info with an entry point, as pip would leave them."""
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[tinygrad_drop.backends]\n{entry_point}\n")


def test_entry_point_backends_are_discovered(isolated_registry, tmp_path, monkeypatch):
    _install_fake_distribution(tmp_path, "td_good_plugin", """
        from tinygrad_drop.backends.numpy_backend import NumpyBackend

        class PluginBackend(NumpyBackend):
            name = "plugin"
        """, "plugin = td_good_plugin:PluginBackend")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "plugin" in td.backends.available()
    assert Tensor([3.0], backend="plugin").backend == "plugin"


def test_a_broken_entry_point_is_unavailable_with_its_reason(isolated_registry, tmp_path,
                                                             monkeypatch):
    _install_fake_distribution(tmp_path, "td_broken_plugin", "raise ImportError('needs libfoo')\n",
                               "broken = td_broken_plugin:Missing")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "broken" not in td.backends.available()
    assert "needs libfoo" in td.backends.unavailable()["broken"]
    with pytest.raises(td.backends.BackendUnavailableError, match="needs libfoo"):
        Tensor([1.0], backend="broken")


def test_manual_seed_gives_every_backend_the_same_stream(backend):
    td.manual_seed(7)
    ours = host(Tensor.rand(5, backend=backend, dtype="float64"))
    expected = np.random.Generator(np.random.SFC64(7)).random(5)
    if backend in ("numpy", "strict"):  # strict draws through NumPy's generator
        np.testing.assert_array_equal(ours, expected)
    td.manual_seed(7)
    np.testing.assert_array_equal(host(Tensor.rand(5, backend=backend, dtype="float64")), ours)


def test_manual_seed_reaches_backends_created_later(isolated_registry):
    td.manual_seed(11)
    td.backends.register("thirdparty", RenamedNumpy)
    late = host(Tensor.rand(4, backend="thirdparty", dtype="float64"))
    td.manual_seed(11)
    np.testing.assert_array_equal(late, host(Tensor.rand(4, backend="numpy", dtype="float64")))


def test_manual_seed_rejects_bad_seeds():
    with pytest.raises(ValueError, match="-1"):
        td.manual_seed(-1)


def test_bernoulli_mask_keep_probability_is_exact_to_1e6(backend):
    # 4 000 000 draws at keep = 0.3: sd of the fraction is 0.00023; the bound is 5 sd.
    gen = td.backends.get(backend).new_generator(3)
    mask = host(Tensor._wrap(gen.bernoulli_mask((2000, 2000), 0.3),
                             td.backends.get(backend), False, None))
    assert mask.dtype == bool and abs(mask.mean() - 0.3) < 0.00115
    assert host(Tensor._wrap(gen.bernoulli_mask((3,), 1.0), td.backends.get(backend),
                             False, None)).all()
    from tinygrad_drop.backends.generator import keep_threshold
    for keep in (0.1, 0.2, 0.5, 0.8, 0.999999):
        assert abs(keep_threshold(keep) / 2**32 - keep) < 1e-9


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


# Modules of the package that handle host data only (files, the terminal) may use NumPy.
HOST_SIDE_MODULES = {"serialization.py", "data.py"}  # read and write files


def test_core_modules_never_import_numpy_or_cupy():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("backends/") or relative in HOST_SIDE_MODULES:
            continue
        bad = {"numpy", "cupy", "array_api_strict"} & set(_imported_modules(path))
        if bad:
            offenders.append(f"{relative} imports {sorted(bad)}")
    assert PACKAGE.joinpath("tensor_core.py").exists() and not offenders, offenders


FAULT_PROBE = """
import resource, numpy as np
import tinygrad_drop as td
td.Tensor([1.0], backend="numpy")  # creating the backend applies the tuning
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # a step's temporaries: several 256 KiB arrays alive, then all freed
    step = [np.ones((256, 256), np.float32) for _ in range(6)]
    del step
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_numpy_backend_keeps_freed_arrays_for_reuse_instead_of_faulting_them_in_again():
    import os
    import subprocess
    import sys

    def faults(tuning):
        env = dict(os.environ, TINYGRAD_DROP_MALLOC_TUNING=tuning)
        out = subprocess.run([sys.executable, "-c", FAULT_PROBE], env=env, check=True,
                             capture_output=True, text=True).stdout
        return int(out.strip())

    if not hasattr(__import__("ctypes").CDLL(None), "mallopt"):
        pytest.skip("not glibc: no mallopt")
    untuned, tuned = faults("0"), faults("1")
    assert untuned > 200 * 64  # freed to the OS and faulted in again, step after step
    assert tuned < 2000  # the same memory reused (only the first step faults it in)


def test_a_backend_class_with_a_retired_fast_path_method_is_told_where_it_goes():
    with pytest.warns(DeprecationWarning, match=r"defines scatter_add\(\).*no longer calls.*"
                                                r"Kernels subclass for the shape family"):
        class OldStyle(NumpyBackend):
            name = "old"

            def scatter_add(self, target, index, values):
                raise AssertionError("never called")
    x = Tensor([1.0, 2.0, 3.0], backend=OldStyle(), requires_grad=True)
    x[[0, 0]].sum().backward()
    assert host(x.grad).tolist() == [2.0, 0.0, 0.0]  # the numpy kernels' scatter, not OldStyle's


def test_kernels_are_found_by_family_with_the_portable_version_as_default():
    from tinygrad_drop.backends import kernels, numpy_kernels

    numpy_be, strict_be = td.backends.get("numpy"), td.backends.get("strict")
    assert isinstance(numpy_be.kernels("dropout"), numpy_kernels.NumpyDropoutKernels)
    assert type(strict_be.kernels("norm")) is kernels.NormKernels
    # strict's dropout is the portable class, only silencing NumPy's inf * 0 warning
    assert type(strict_be.kernels("dropout")).__mro__[1] is kernels.DropoutKernels
    assert "masked_scale" in vars(type(strict_be.kernels("dropout")))
    assert {"forward", "backward", "channel_forward"}.isdisjoint(
        vars(type(strict_be.kernels("dropout"))))
    assert numpy_be.kernels("norm") is numpy_be.kernels("norm")  # made once per backend
    with pytest.raises(KeyError, match="no kernel family 'fft'; known: activation, conv, "
                       "dropout"):
        numpy_be.kernels("fft")
