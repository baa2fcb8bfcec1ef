"""Finding an NVRTC that can compile (tests/cuda_host.py): NVRTC opens its builtins library by
name, so a libnvrtc whose builtins are not beside it (a CUDA build of PyTorch brings one) fails
every compile with "failed to open libnvrtc-builtins.so.X.Y". The lookup loads the builtins from
any NVRTC folder here first, or reports why it cannot, which is then the NVRTC tests' skip
reason. Each case runs in a fresh process: a builtins library once loaded stays loaded."""

import os
import shutil
import subprocess
import sys

import pytest
from cuda_host import find_nvrtc

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = r"""
import sys
sys.path.insert(0, {here!r})
import cuda_host
cuda_host._nvrtc_candidates = lambda: {candidates!r}
library = cuda_host.find_nvrtc()
print(library)
print(cuda_host.nvrtc_missing_reason())
if library:
    code, log, _ = cuda_host.nvrtc_compile(
        library, 'extern "C" __global__ void k(float* x) {{ x[0] = 1.0f; }}',
        ["--gpu-architecture=sm_90"])
    print(code, log.strip())
"""

REAL = find_nvrtc()
pytestmark = pytest.mark.skipif(REAL is None, reason="no NVRTC here to copy")


def probe(candidates):
    out = subprocess.run([sys.executable, "-c", PROBE.format(here=HERE, candidates=candidates)],
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.fixture
def lonely_nvrtc(tmp_path):
    """A copy of libnvrtc alone in a folder, as a wheel without its builtins leaves it."""
    copy = tmp_path / "alone" / os.path.basename(REAL)
    copy.parent.mkdir()
    shutil.copy(REAL, copy)
    return str(copy)


def test_an_nvrtc_without_its_builtins_compiles_with_them_loaded_from_another_folder(
        lonely_nvrtc):
    library, reason, result = probe([lonely_nvrtc, REAL])
    assert library == lonely_nvrtc and reason == ""
    assert result.startswith("0"), result  # compiled


def test_no_builtins_anywhere_is_a_skip_reason_naming_the_missing_file(lonely_nvrtc):
    library, reason = probe([lonely_nvrtc])[:2]
    assert library == "None"
    assert "needs libnvrtc-builtins.so." in reason and lonely_nvrtc in reason
