"""Check the CuPy backend's CUDA source without a GPU.

``compile_on_host`` builds the kernels with the host C++ compiler, CUDA's built-ins replaced by
a sequential emulation: every thread runs alone, as lane 0 of its own one-thread warp (so the
warp sum is the thread's own count), block after block. That runs the kernels' real code
paths — Philox, grid-stride loops, vector and tail paths, mask packing, counting, division — on
the CPU; ``HOST_LAUNCHERS`` call the dropout source's kernels, ``CONV_HOST_LAUNCHERS`` those of
the convolution source. ``nvrtc_compile`` compiles the source with NVIDIA's runtime compiler
(from the ``nvidia-cuda-nvrtc`` wheel or a CUDA install), which needs no GPU either.

``host_cupy`` and ``load_cupy_kernels`` run ``backends/cupy_kernels.py`` itself on the CPU: a
stand-in ``cupy`` over NumPy, its launches going to the host-compiled kernels, either through
``HostLaunchBackend`` (what the kernels ask of the CuPy backend) or ``HostCupyBackend`` (a NumPy
backend whose conv and pool families are the CuPy ones: whole ops and autograd run through them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from typing import Any

import numpy as np

from tinygrad_drop.backends.cuda_conv_source import CONV_KERNEL_NAMES
from tinygrad_drop.backends.cuda_fused_source import FUSED_KERNEL_NAMES
from tinygrad_drop.backends.cuda_source import KERNEL_NAMES
from tinygrad_drop.backends.kernels import portable_kernels
from tinygrad_drop.backends.numpy_backend import NumpyBackend

HOST_PRELUDE = r"""
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>
#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
struct td_dim3 { unsigned int x; };
/* Each thread of a block is a host thread (threadIdx its own); blocks run one after another. */
static thread_local td_dim3 threadIdx = {0};
static td_dim3 blockIdx = {0}, blockDim = {1}, gridDim = {1};
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}
/* One-thread warps: no other lane contributes to a shuffle (kernels that shuffle run with
   one-thread blocks). */
static inline unsigned int __shfl_down_sync(unsigned int, unsigned int, int) { return 0; }
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline unsigned int atomicAdd(unsigned int* p, unsigned int v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
/* The block's barrier: every thread of the block waits until all have arrived. */
static std::mutex td_barrier_mutex;
static std::condition_variable td_barrier_wake;
static unsigned int td_barrier_waiting = 0, td_barrier_round = 0;
static inline void __syncthreads() {
    if (blockDim.x == 1) return;
    std::unique_lock<std::mutex> lock(td_barrier_mutex);
    unsigned int round = td_barrier_round;
    if (++td_barrier_waiting == blockDim.x) {
        td_barrier_waiting = 0;
        ++td_barrier_round;
        td_barrier_wake.notify_all();
    } else {
        td_barrier_wake.wait(lock, [round] { return round != td_barrier_round; });
    }
}
/* Round-to-nearest arithmetic (CUDA's intrinsics that never contract into an FMA); x86-64's
   baseline has no FMA for the host compiler to contract into. */
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
"""

# Runs a kernel over ``blocks`` one-thread blocks, in order.
HOST_GRID = r"""
#define TD_GRID(blocks, call) do { gridDim.x = (blocks); \
    for (unsigned int td_block = 0; td_block < (blocks); ++td_block) { \
        blockIdx.x = td_block; call; } } while (0)
typedef unsigned long long ull;
"""

HOST_LAUNCHERS = HOST_GRID + r"""
extern "C" {
void host_dropout_forward(unsigned int blocks, const T* x, T* y, unsigned char* mask, ull n,
                          unsigned int threshold, T divisor, ull seed, ull offset, ull* kept,
                          int vector) {
    TD_GRID(blocks, td_dropout_forward(x, y, mask, n, threshold, divisor, seed, offset, kept,
                                       vector));
}
void host_dropout_backward_regen(unsigned int blocks, const T* g, T* dx, ull n,
                                 unsigned int threshold, T divisor, ull seed, ull offset,
                                 int vector) {
    TD_GRID(blocks, td_dropout_backward_regen(g, dx, n, threshold, divisor, seed, offset,
                                              vector));
}
void host_masked_scale(unsigned int blocks, const T* x, const unsigned char* mask, T* y, ull n,
                       T divisor, int vector) {
    TD_GRID(blocks, td_masked_scale(x, mask, y, n, divisor, vector));
}
void host_masked_select(unsigned int blocks, const T* x, const unsigned char* mask, T* y, ull n,
                        int vector) {
    TD_GRID(blocks, td_masked_select(x, mask, y, n, vector));
}
void host_keep_mask(unsigned int blocks, unsigned char* mask, ull n, unsigned int threshold,
                    ull seed, ull offset) {
    TD_GRID(blocks, td_keep_mask(mask, n, threshold, seed, offset));
}
void host_dropout2d_forward(unsigned int blocks, const T* x, T* y, unsigned char* mask, ull n,
                            ull plane, unsigned int threshold, T divisor, ull seed, ull offset,
                            ull* kept, int vector) {
    TD_GRID(blocks, td_dropout2d_forward(x, y, mask, n, plane, threshold, divisor, seed, offset,
                                         kept, vector));
}
void host_dropout2d_backward_regen(unsigned int blocks, const T* g, T* dx, ull n, ull plane,
                                   unsigned int threshold, T divisor, ull seed, ull offset,
                                   int vector) {
    TD_GRID(blocks, td_dropout2d_backward_regen(g, dx, n, plane, threshold, divisor, seed,
                                                offset, vector));
}
void host_channel_masked_scale(unsigned int blocks, const T* x, const unsigned char* mask, T* y,
                               ull n, ull plane, T divisor, int vector) {
    TD_GRID(blocks, td_channel_masked_scale(x, mask, y, n, plane, divisor, vector));
}
void host_dropout_words(ull seed, ull offset, ull g, unsigned int* w) {
    td_dropout_words(seed, offset, g, w);
}
}
"""


# The convolution and pooling kernels (``cuda_conv_source.py``); ``ui`` is unsigned int.
CONV_HOST_LAUNCHERS = HOST_GRID + r"""
typedef unsigned int ui;
extern "C" {
void host_im2col(ui blocks, const T* x, T* cols, ull n, ui c, ui hp, ui wp, ui kh, ui kw, ui sh,
                 ui sw, ui dh, ui dw, ui oh, ui ow, int rows_outer) {
    TD_GRID(blocks, td_im2col(x, cols, n, c, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow,
                              rows_outer));
}
void host_col2im(ui blocks, const T* cols, T* out, ull n, ui c, ui hp, ui wp, ui kh, ui kw,
                 ui sh, ui sw, ui dh, ui dw, ui oh, ui ow, ull sample_stride, ull row_stride,
                 int accumulate) {
    TD_GRID(blocks, td_col2im(cols, out, n, c, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow,
                              sample_stride, row_stride, accumulate));
}
void host_swap01(ui blocks, const T* src, const T* bias, T* dst, ull a, ull b, ull l) {
    TD_GRID(blocks, td_swap01(src, bias, dst, a, b, l));
}
void host_pad(ui blocks, const T* x, T* out, ull planes, ui h, ui w, ui ph, ui pw) {
    TD_GRID(blocks, td_pad(x, out, planes, h, w, ph, pw));
}
void host_max_pool_forward(ui blocks, const T* x, T* out, unsigned char* where, ull planes,
                           ui h, ui w, ui kh, ui kw, ui sh, ui sw, ui ph, ui pw, ui oh, ui ow,
                           T fill) {
    TD_GRID(blocks, td_max_pool_forward(x, out, where, planes, h, w, kh, kw, sh, sw, ph, pw, oh,
                                        ow, fill));
}
void host_max_pool_backward(ui blocks, const T* g, const unsigned char* where, T* dx,
                            ull planes, ui h, ui w, ui kh, ui kw, ui sh, ui sw, ui ph, ui pw,
                            ui oh, ui ow, int disjoint) {
    TD_GRID(blocks, td_max_pool_backward(g, where, dx, planes, h, w, kh, kw, sh, sw, ph, pw, oh,
                                         ow, disjoint));
}
void host_avg_pool_forward(ui blocks, const T* x, T* out, ull planes, ui h, ui w, ui kh, ui kw,
                           ui sh, ui sw, ui ph, ui pw, ui oh, ui ow) {
    TD_GRID(blocks, td_avg_pool_forward(x, out, planes, h, w, kh, kw, sh, sw, ph, pw, oh, ow));
}
void host_avg_pool_backward(ui blocks, const T* g, T* dx, ull planes, ui h, ui w, ui kh, ui kw,
                            ui sh, ui sw, ui ph, ui pw, ui oh, ui ow, int disjoint) {
    TD_GRID(blocks, td_avg_pool_backward(g, dx, planes, h, w, kh, kw, sh, sw, ph, pw, oh, ow,
                                         disjoint));
}
}
"""


# The fused layer kernels (``cuda_fused_source.py``), over ``blocks`` blocks of ``td_threads``
# threads (``host_set_threads``): each thread a host thread, the block's barrier a real one.
FUSED_HOST_LAUNCHERS = r"""
typedef unsigned long long ull;
static unsigned int td_threads = 1;
#define TD_BLOCKS(blocks, call) do { gridDim.x = (blocks); blockDim.x = td_threads; \
    for (unsigned int td_block = 0; td_block < (blocks); ++td_block) { \
        blockIdx.x = td_block; \
        if (td_threads == 1) { call; continue; } \
        std::vector<std::thread> td_pool; \
        for (unsigned int td_t = 0; td_t < td_threads; ++td_t) \
            td_pool.emplace_back([&, td_t] { threadIdx.x = td_t; call; }); \
        for (std::thread& td_each : td_pool) td_each.join(); } \
    blockDim.x = 1; } while (0)
extern "C" {
void host_set_threads(unsigned int threads) { td_threads = threads; }
void host_relu_forward(unsigned int blocks, const T* x, T* y, unsigned char* mask, ull n) {
    TD_BLOCKS(blocks, td_relu_forward(x, y, mask, n));
}
void host_bias_add(unsigned int blocks, T* y, const T* bias, ull rows, ull cols) {
    TD_BLOCKS(blocks, td_bias_add(y, bias, rows, cols));
}
void host_channel_sums(unsigned int blocks, const T* x, T* out, ull outer, ull channels,
                       ull inner) {
    TD_BLOCKS(blocks, td_channel_sums(x, out, outer, channels, inner));
}
void host_bn_forward(unsigned int blocks, const T* x, T* y, T* mean_out, T* inv_out,
                     const T* weight, const T* bias, const T* running_mean,
                     const T* running_var, T* new_mean, T* new_var, ull outer, ull channels,
                     ull inner, T eps, double momentum, int batch_stats) {
    TD_BLOCKS(blocks, td_bn_forward(x, y, mean_out, inv_out, weight, bias, running_mean,
                                    running_var, new_mean, new_var, outer, channels, inner, eps,
                                    momentum, batch_stats));
}
void host_bn_backward(unsigned int blocks, const T* g, const T* x, const T* mean_in,
                      const T* inv_in, const T* weight, T* gx, T* gw, T* gb, ull outer,
                      ull channels, ull inner, int batch_stats) {
    TD_BLOCKS(blocks, td_bn_backward(g, x, mean_in, inv_in, weight, gx, gw, gb, outer,
                                     channels, inner, batch_stats));
}
void host_cross_entropy_forward(unsigned int blocks, const T* z, const long long* target,
                                T* loss, T* stats, T* count_out, long long* record,
                                long long site, long long ignore, ull rows, ull classes,
                                int mean) {
    TD_BLOCKS(blocks, td_cross_entropy_forward(z, target, loss, stats, count_out, record, site,
                                               ignore, rows, classes, mean));
}
void host_cross_entropy_backward(unsigned int blocks, const T* z, const long long* target,
                                 const T* stats, const T* g, const T* count, T* grad,
                                 long long ignore, ull rows, ull classes, int mean) {
    TD_BLOCKS(blocks, td_cross_entropy_backward(z, target, stats, g, count, grad, ignore, rows,
                                                classes, mean));
}
void host_sgd_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                    unsigned int first, const double* options, int nesterov) {
    TD_BLOCKS(blocks, td_sgd_multi(slots, count, first, options, nesterov));
}
void host_adam_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                     const double* options, int decoupled, unsigned int* ticket) {
    TD_BLOCKS(blocks, td_adam_multi(slots, count, options, decoupled, ticket));
}
void host_adadelta_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                         const double* options) {
    TD_BLOCKS(blocks, td_adadelta_multi(slots, count, options));
}
}
"""


def host_compiler() -> str | None:
    """A C++ compiler on PATH, or None."""
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")


def compile_on_host(source: str, workdir: str, name: str,
                    launchers: str = HOST_LAUNCHERS) -> ctypes.CDLL:
    """``source`` (one dtype's kernel source) and its ``launchers`` (the dropout kernels' by
    default; ``CONV_HOST_LAUNCHERS`` for the convolution source) as a host shared library."""
    compiler = host_compiler()
    assert compiler, "no host C++ compiler"
    path = os.path.join(workdir, name)
    with open(path + ".cpp", "w") as f:
        f.write(HOST_PRELUDE + source + launchers)
    result = subprocess.run([compiler, "-O1", "-std=c++17", "-shared", "-fPIC", "-pthread",
                             "-Wall", "-Wno-unknown-pragmas", "-o", path + ".so", path + ".cpp"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"host compile failed:\n{result.stderr}"
    return ctypes.CDLL(path + ".so")


def compile_or_skip(source: str, workdir: str, name: str,
                    launchers: str = HOST_LAUNCHERS) -> ctypes.CDLL:
    """``compile_on_host``, or the calling test skipped (saying why) without a host compiler."""
    if host_compiler() is None:
        import pytest

        pytest.skip("no host C++ compiler (g++) to run the CUDA source on the CPU")
    return compile_on_host(source, workdir, name, launchers)


def _nvrtc_candidates() -> list[str]:
    """Every libnvrtc here: the nvidia-cuda-nvrtc wheels (one per CUDA major, or torch's), CUDA
    installs, and the linker's."""
    patterns = []
    for entry in sys.path:
        patterns += [os.path.join(entry, "nvidia", "cu*", "lib", "libnvrtc.so*"),
                     os.path.join(entry, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")]
    patterns.append("/usr/local/cuda*/lib64/libnvrtc.so*")
    found = [p for pattern in patterns for p in sorted(glob.glob(pattern)) if "builtins" not in p]
    linked = ctypes.util.find_library("nvrtc")
    return found + ([linked] if linked else [])


def _builtins_for(library: str) -> str | None:
    """Whether NVRTC at ``library`` can compile: it opens ``libnvrtc-builtins.so.MAJOR.MINOR``
    of its own version by name, found beside it only where its RPATH allows. Loads that file
    (from beside the library or any other NVRTC folder here) so that NVRTC's own lookup finds
    it loaded; returns why it cannot compile, or None."""
    try:
        nvrtc = ctypes.CDLL(library)
    except OSError as exc:
        return f"{library} cannot be loaded: {exc}"
    major, minor = ctypes.c_int(), ctypes.c_int()
    if nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) != 0:
        return f"{library}: nvrtcVersion failed"
    name = f"libnvrtc-builtins.so.{major.value}.{minor.value}"
    folders = [os.path.dirname(library)] + [os.path.dirname(p) for p in _nvrtc_candidates()]
    for folder in dict.fromkeys(folders):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                return f"{path} cannot be loaded: {exc}"
            return None
    return (f"{library} (NVRTC {major.value}.{minor.value}) needs {name}, which is not beside it "
            "nor in any other NVRTC folder here (a CUDA build of PyTorch may bring an NVRTC "
            "without it: pip install nvidia-cuda-nvrtc of the same version)")


_NVRTC_STATE: list[tuple[str | None, str]] = []


def _nvrtc_state() -> tuple[str | None, str]:
    if not _NVRTC_STATE:
        candidates = _nvrtc_candidates()
        problems = []
        for library in candidates:
            problem = _builtins_for(library)
            if problem is None:
                _NVRTC_STATE.append((library, ""))
                break
            problems.append(problem)
        else:
            reason = "; ".join(problems) or "NVRTC not found (pip install nvidia-cuda-nvrtc)"
            _NVRTC_STATE.append((None, reason))
    return _NVRTC_STATE[0]


def find_nvrtc() -> str | None:
    """Path of a libnvrtc that can compile here (its builtins library found and loaded): from
    the nvidia-cuda-nvrtc wheel, a CUDA install, or the linker; None when there is none, and
    ``nvrtc_missing_reason()`` says why."""
    return _nvrtc_state()[0]


def nvrtc_missing_reason() -> str:
    """Why no NVRTC can compile here ('' when one can): the skip reason of the NVRTC tests."""
    return _nvrtc_state()[1]


def nvrtc_compile(library: str, source: str, options: list[str]) -> tuple[int, str, bytes]:
    """Compile ``source`` with NVRTC: (result code, compile log, PTX)."""
    nvrtc = ctypes.CDLL(library)
    program = ctypes.c_void_p()
    code = nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"kernels.cu", 0,
                                    None, None)
    assert code == 0, f"nvrtcCreateProgram returned {code}"
    try:
        encoded = [o.encode() for o in options]
        result = nvrtc.nvrtcCompileProgram(program, len(encoded),
                                           (ctypes.c_char_p * len(encoded))(*encoded))
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(program, log)
        ptx = b""
        if result == 0:
            nvrtc.nvrtcGetPTXSize(program, ctypes.byref(size))
            buffer = ctypes.create_string_buffer(size.value)
            nvrtc.nvrtcGetPTX(program, buffer)
            ptx = buffer.value
        return result, log.value.decode(errors="replace"), ptx
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def nvrtc_entries(library: str, source: str, arch: str) -> dict[str, str]:
    """The kernels NVRTC makes of ``source`` for ``arch`` (C++17): entry name -> its PTX.
    Asserts that it compiled without a warning."""
    code, log, ptx = nvrtc_compile(library, source, [f"--gpu-architecture={arch}", "-std=c++17"])
    assert code == 0, f"NVRTC failed on {arch}:\n{log}"
    assert "warning" not in log.lower(), log
    text = ptx.decode()
    starts = list(re.finditer(r"\.visible \.entry (\w+)\(", text))
    ends = [match.start() for match in starts[1:]] + [len(text)] * bool(starts)
    return {match.group(1): text[match.start():end]
            for match, end in zip(starts, ends, strict=True)}


# -- the CuPy backend's kernel calls, run on the host ------------------------------------------
class HostDeviceArray(np.ndarray):
    """A host array standing in for a CuPy one: ``.data.ptr`` is its address."""

    @property
    def data(self) -> Any:  # CuPy's MemoryPointer, as far as the kernels' callers read it
        return types.SimpleNamespace(ptr=self.ctypes.data)


def host_cupy(array_type: type = HostDeviceArray) -> types.ModuleType:
    """A stand-in ``cupy`` module with what ``backends/cupy_kernels.py`` calls, over NumPy: with
    it that module runs on the CPU, its launches going to the host-compiled kernels. Its
    ``ndarray`` is ``array_type``: ``HostDeviceArray`` (``.data.ptr``, as dropout's vector test
    reads it) or ``np.ndarray`` (the arrays of a NumPy backend, as ``HostCupyBackend`` has)."""
    fake = types.ModuleType("cupy")

    def device(array: Any) -> Any:
        return np.asarray(array).view(array_type)

    fake.ndarray, fake.bool_, fake.uint8, fake.uint64 = array_type, np.bool_, np.uint8, np.uint64
    fake.ascontiguousarray = lambda a: device(np.ascontiguousarray(a))
    fake.empty_like = lambda a: device(np.empty_like(a))
    fake.empty = lambda shape, dtype: device(np.empty(shape, dtype))
    fake.zeros = lambda shape, dtype: device(np.zeros(shape, dtype))
    fake.matmul = lambda a, b: device(np.matmul(a, b))
    fake.count_nonzero = np.count_nonzero
    fake.reshape, fake.swapaxes, fake.where, fake.full = np.reshape, np.swapaxes, np.where, np.full
    fake.asarray = device
    return fake


def load_cupy_kernels(fake_cupy: types.ModuleType, name: str,
                      module: str = "cupy_kernels") -> types.ModuleType:
    """A fresh copy of ``backends/<module>.py`` (``cupy_kernels`` by default, or
    ``cupy_fused_kernels``), as module ``name``, bound to ``fake_cupy``; ``sys.modules`` is
    left as it was. Over ``np.ndarray`` arrays (no ``.data.ptr``) it takes addresses from
    ``.ctypes.data``."""
    path = importlib.util.find_spec(f"tinygrad_drop.backends.{module}").origin
    saved = {key: sys.modules.get(key) for key in ("cupy", name)}
    sys.modules["cupy"] = fake_cupy
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        loaded = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    if fake_cupy.ndarray is np.ndarray and hasattr(loaded, "address"):
        loaded.address = lambda array: array.ctypes.data
    return loaded


class HostLauncher:
    """``launch`` as the CuPy backend's, run by the host-compiled kernels (``libraries``:
    dtype name -> a CDLL, or a tuple of them, one per CUDA source) over ``blocks`` blocks of
    ``threads`` threads (one, except for the fused kernels, whose launchers take any count);
    ``launches`` lists the kernels run, ``kernel_names`` those the libraries have, as the
    backend lists what it compiles. Kernel arguments must be arrays of ``array_type``
    (C-contiguous: the kernels index them flat), NumPy scalars of the C types CuPy passes, or
    one-element structured NumPy arrays (structures by value, as CuPy passes them)."""

    array_type: type = HostDeviceArray

    def __init__(self, libraries: dict[str, Any], blocks: int, threads: int = 1) -> None:
        self.libraries = {dtype: libs if isinstance(libs, tuple) else (libs,)
                          for dtype, libs in libraries.items()}
        self.blocks, self.threads = blocks, threads
        self.launches: list[str] = []
        self.kernel_names = tuple(
            name for name in KERNEL_NAMES + CONV_KERNEL_NAMES + FUSED_KERNEL_NAMES
            if all(self._host(dtype, name) for dtype in self.libraries))

    def _host(self, dtype_name: str, kernel: str) -> Any:
        """The host launcher of ``kernel`` for ``dtype_name`` and its library, or None."""
        for lib in self.libraries[dtype_name]:
            host = getattr(lib, "host_" + kernel.removeprefix("td_"), None)
            if host is not None:
                return host, lib
        return None

    def launch(self, dtype_name: str, kernel: str, n: int, args: tuple) -> None:
        """Run ``kernel`` (td_X, through the launcher host_X) with CuPy's argument types."""
        self.launches.append(kernel)
        host, lib = self._host(dtype_name, kernel)
        if hasattr(lib, "host_set_threads"):
            lib.host_set_threads(ctypes.c_uint32(self.threads))
        host(ctypes.c_uint32(self.blocks), *(self._c_argument(a) for a in args))

    def _c_argument(self, value: Any) -> Any:
        """A kernel argument as CuPy would pass it, for ctypes: arrays by address, NumPy scalars
        by their C type (a scalar of a type CUDA code would not take is an error)."""
        if isinstance(value, np.ndarray) and value.dtype.names is not None:
            # a structure passed by value: CuPy passes a one-element NumPy array's bytes
            if value.size != 1:
                raise TypeError(f"a structure argument must be one element, got {value.shape}")
            return _by_value(value)
        if isinstance(value, self.array_type):
            if not value.flags.c_contiguous:
                raise ValueError(f"kernel argument of shape {value.shape} is not contiguous")
            return ctypes.c_void_p(value.ctypes.data)
        c_types = {np.uint64: ctypes.c_uint64, np.uint32: ctypes.c_uint32,
                   np.int64: ctypes.c_int64, np.int32: ctypes.c_int, np.float32: ctypes.c_float,
                   np.float64: ctypes.c_double}
        if type(value) not in c_types:
            raise TypeError(f"kernel argument {value!r} of type {type(value).__name__}")
        return c_types[type(value)](value)


def _by_value(value: np.ndarray) -> ctypes.Structure:
    """A one-element NumPy structured array of 8-byte words as a ctypes structure, passed by
    value."""
    words = value.dtype.itemsize // 8
    assert words * 8 == value.dtype.itemsize, "structures of 8-byte words only"

    class Words(ctypes.Structure):
        _fields_ = [("words", ctypes.c_uint64 * words)]

    return Words.from_buffer_copy(value.tobytes())


class HostLaunchBackend(HostLauncher):
    """What ``cupy_kernels`` asks of the CuPy backend (``launch``, ``regenerate_masks``,
    ``is_array``, ``xp``), its launches run on the host (``HostLauncher``)."""

    name = "cupy"

    def __init__(self, fake_cupy: types.ModuleType, libraries: dict[str, ctypes.CDLL],
                 blocks: int = 5, regenerate_masks: bool = False) -> None:
        super().__init__(libraries, blocks)
        self.xp = fake_cupy
        self.regenerate_masks = regenerate_masks

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, HostDeviceArray)


class HostCupyBackend(HostLauncher, NumpyBackend):
    """The NumPy backend with the CuPy backend's convolution and pooling kernels (``module``:
    ``cupy_kernels`` loaded against ``host_cupy(np.ndarray)``), launched on the host: Tensors,
    ops and autograd run as on NumPy, the conv and pool families as on CuPy."""

    name = "cupy-on-host"
    array_type = np.ndarray

    def __init__(self, module: types.ModuleType, libraries: dict[str, ctypes.CDLL],
                 blocks: int = 3) -> None:
        HostLauncher.__init__(self, libraries, blocks)
        NumpyBackend.__init__(self)
        self.kernel_families = {**NumpyBackend.kernel_families,
                                "conv": module.CupyConvKernels, "pool": module.CupyPoolKernels}


class HostFusedBackend(HostLauncher, NumpyBackend):
    """The NumPy backend with the CuPy backend's fused layer families (activation, linear,
    norm, loss, optim: ``module`` is ``cupy_fused_kernels`` loaded against
    ``host_cupy(np.ndarray)``; the activation family's other kernels ``activation``'s),
    launched on the host over ``blocks`` blocks of ``threads`` threads. With
    ``host_memory=False`` it checks as a device backend does: class targets on the device,
    raised at the next host read."""

    name = "fused-on-host"
    array_type = np.ndarray

    def __init__(self, module: types.ModuleType, libraries: dict[str, Any], blocks: int = 3,
                 threads: int = 1, host_memory: bool = True,
                 activation: type | None = None) -> None:
        HostLauncher.__init__(self, libraries, blocks, threads)
        NumpyBackend.__init__(self)
        self.host_memory = host_memory
        families = module.fused_families(activation or portable_kernels("activation"))
        self.kernel_families = {**NumpyBackend.kernel_families, **families}
