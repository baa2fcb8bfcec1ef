"""A plain (non-editable) install carries backends/ as tinygrad_drop.backends."""

import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                          **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build a wheel offline from a copy of the sources (setuptools comes with the dev extra)."""
    pytest.importorskip("setuptools", minversion="70.1")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("tinygrad_drop", "backends"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    run("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(out), str(src))
    (built,) = out.glob("tinygrad_drop-*.whl")
    return built


def test_wheel_maps_backends_into_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("__init__", "base", "registry", "selection", "generator", "kernels",
                   "numpy_backend", "numpy_kernels", "strict_backend", "cupy_backend",
                   "cupy_kernels", "cuda_source", "cuda_conv_source", "philox"):
        assert f"tinygrad_drop/backends/{module}.py" in names
    assert not any(name.startswith("backends/") for name in names)  # no top-level 'backends'
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tinygrad-drop = tinygrad_drop.cli:main" in zipfile.ZipFile(wheel).read(
        entry_points).decode()


def test_plain_install_imports_the_backends(wheel, tmp_path):
    site = tmp_path / "site"
    run("-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
        str(wheel))
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = ("import tinygrad_drop as td, tinygrad_drop.backends as b; print(b.__file__); "
             "x = td.Tensor([1.0, 2.0], requires_grad=True); (x * x).sum().backward(); "
             "print(x.grad.tolist(), b.available())")
    out = run("-c", probe, env=env, cwd=tmp_path).stdout.splitlines()
    assert out[0].startswith(str(site / "tinygrad_drop" / "backends"))
    assert out[1].startswith("[2.0, 4.0]") and "'numpy'" in out[1]
