"""The CUDA C source of the CuPy backend's fused dropout kernels, as plain text: it can be
compiled by NVRTC for a GPU, and by a host C++ compiler under a sequential emulation
(``tests/cuda_host.py``), so CI, which has no GPU, checks the kernels bit for bit.

Random bits come from Philox4x32-10 keyed by the generator's seed, with the element's group of
four and the call's offset as the counter: the stream defined in ``philox.py``, so a mask
depends on (seed, offset, element index) alone, never on the launch configuration.

Kernels (``T`` is float or double; ``vector`` says every pointer is aligned to 4 elements):
- ``td_dropout_forward``: y = keep ? x / divisor : 0, writes the 1-byte mask (unless ``mask`` is
  NULL) and adds the number kept to ``*kept``. One pass, one Philox call per 4 elements.
- ``td_dropout_backward_regen``: dx = keep ? g / divisor : 0, the mask regenerated from
  (seed, offset) instead of read: zero bytes saved between forward and backward.
- ``td_masked_scale``: y = mask ? x / divisor : 0 from a stored 1-byte mask (dropout's
  backward, relu's backward).
- ``td_keep_mask``: the mask alone (the CuPy generator's masks, and ``Dropout.mask()`` when
  masks are regenerated).
Division (not a multiply by 1/divisor) keeps results bit-identical to the NumPy backend.
"""

from __future__ import annotations

# Plain C apart from the CUDA qualifiers, so tests can compile it with a host C compiler.
PHILOX_SOURCE = r"""
#define TD_PHILOX_M0 0xD2511F53u
#define TD_PHILOX_M1 0xCD9E8D57u
#define TD_PHILOX_W0 0x9E3779B9u
#define TD_PHILOX_W1 0xBB67AE85u

/* Philox4x32-10 of counter c under key (k0, k1), in place. */
__device__ __forceinline__ void td_philox4x32_10(unsigned int c[4], unsigned int k0,
                                                 unsigned int k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round) { k0 += TD_PHILOX_W0; k1 += TD_PHILOX_W1; }
        unsigned int hi0 = __umulhi(TD_PHILOX_M0, c[0]), lo0 = TD_PHILOX_M0 * c[0];
        unsigned int hi1 = __umulhi(TD_PHILOX_M1, c[2]), lo1 = TD_PHILOX_M1 * c[2];
        unsigned int n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
    }
}

/* The four words of element group g (elements 4g .. 4g+3) of the call at (seed, offset). */
__device__ __forceinline__ void td_dropout_words(unsigned long long seed,
                                                 unsigned long long offset,
                                                 unsigned long long g, unsigned int w[4]) {
    w[0] = (unsigned int)g; w[1] = (unsigned int)(g >> 32);
    w[2] = (unsigned int)offset; w[3] = (unsigned int)(offset >> 32);
    td_philox4x32_10(w, (unsigned int)seed, (unsigned int)(seed >> 32));
}
"""

KERNEL_TEMPLATE = r"""
typedef {ctype} T;
struct __align__(4 * sizeof(T)) td_vec4 {{ T v[4]; }};

__device__ __forceinline__ unsigned long long td_first(void) {{
    return (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
}}
__device__ __forceinline__ unsigned long long td_stride(void) {{
    return (unsigned long long)gridDim.x * blockDim.x;
}}

/* Warp-sum the per-thread counts; one atomic per warp. Every lane must call it. */
__device__ __forceinline__ void td_add_count(unsigned long long* total, unsigned int count) {{
    for (int delta = 16; delta > 0; delta >>= 1)
        count += __shfl_down_sync(0xffffffffu, count, delta);
    if ((threadIdx.x & 31) == 0 && count) atomicAdd(total, (unsigned long long)count);
}}

/* out[j] = keep[j] ? in[j] / divisor : 0 for the group at element i (n elements in all). */
__device__ __forceinline__ void td_scale_group(const T* __restrict__ in, T* __restrict__ out,
                                               unsigned long long i, unsigned long long n,
                                               const bool keep[4], T divisor, int vector) {{
    if (vector && i + 4 <= n) {{
        td_vec4 a = *(const td_vec4*)(in + i), b;
#pragma unroll
        for (int j = 0; j < 4; ++j) b.v[j] = keep[j] ? a.v[j] / divisor : (T)0;
        *(td_vec4*)(out + i) = b;
    }} else {{
        for (int j = 0; j < 4 && i + j < n; ++j) out[i + j] = keep[j] ? in[i + j] / divisor : (T)0;
    }}
}}

__device__ __forceinline__ void td_keep_bits(unsigned long long seed, unsigned long long offset,
                                             unsigned long long g, unsigned int threshold,
                                             bool keep[4]) {{
    unsigned int w[4];
    td_dropout_words(seed, offset, g, w);
#pragma unroll
    for (int j = 0; j < 4; ++j) keep[j] = w[j] < threshold;
}}

__device__ __forceinline__ void td_store_mask(unsigned char* __restrict__ mask,
                                              unsigned long long i, unsigned long long n,
                                              const bool keep[4]) {{
    if (i + 4 <= n) {{
        *(unsigned int*)(mask + i) = (unsigned int)keep[0] | ((unsigned int)keep[1] << 8)
            | ((unsigned int)keep[2] << 16) | ((unsigned int)keep[3] << 24);
    }} else {{
        for (int j = 0; j < 4 && i + j < n; ++j) mask[i + j] = keep[j];
    }}
}}

extern "C" __global__ void td_dropout_forward(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned int threshold, T divisor, unsigned long long seed,
        unsigned long long offset, unsigned long long* __restrict__ kept, int vector) {{
    unsigned int count = 0;
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        unsigned long long i = 4 * g;
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_scale_group(x, y, i, n, keep, divisor, vector);
        if (mask) td_store_mask(mask, i, n, keep);
        for (int j = 0; j < 4 && i + j < n; ++j) count += keep[j];
    }}
    td_add_count(kept, count);
}}

extern "C" __global__ void td_dropout_backward_regen(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned int threshold, T divisor, unsigned long long seed, unsigned long long offset,
        int vector) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_scale_group(g_in, dx, 4 * g, n, keep, divisor, vector);
    }}
}}

extern "C" __global__ void td_masked_scale(
        const T* __restrict__ x, const unsigned char* __restrict__ mask, T* __restrict__ y,
        unsigned long long n, T divisor, int vector) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        unsigned long long i = 4 * g;
        bool keep[4];
        if (i + 4 <= n) {{
            unsigned int bits = *(const unsigned int*)(mask + i);
#pragma unroll
            for (int j = 0; j < 4; ++j) keep[j] = (bits >> (8 * j)) & 0xffu;
        }} else {{
            for (int j = 0; j < 4; ++j) keep[j] = i + j < n && mask[i + j];
        }}
        td_scale_group(x, y, i, n, keep, divisor, vector);
    }}
}}

extern "C" __global__ void td_keep_mask(
        unsigned char* __restrict__ mask, unsigned long long n, unsigned int threshold,
        unsigned long long seed, unsigned long long offset) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_store_mask(mask, 4 * g, n, keep);
    }}
}}
"""

KERNEL_NAMES = ("td_dropout_forward", "td_dropout_backward_regen", "td_masked_scale",
                "td_keep_mask")
CTYPES = {"float32": "float", "float64": "double"}


def kernel_source(dtype_name: str) -> str:
    """The complete CUDA source of the kernels for ``dtype_name`` (float32 or float64)."""
    if dtype_name not in CTYPES:
        raise TypeError(f"fused dropout kernels exist for {', '.join(CTYPES)}, not {dtype_name}")
    return PHILOX_SOURCE + KERNEL_TEMPLATE.format(ctype=CTYPES[dtype_name])
