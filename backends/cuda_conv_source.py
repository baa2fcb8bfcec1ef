"""The CUDA C source of the CuPy backend's convolution and pooling kernels, as plain text: NVRTC
compiles it for a GPU, and a host C++ compiler under the sequential emulation of
``tests/cuda_host.py``, so CI, which has no GPU, checks every kernel bit for bit against the
portable kernels (``kernels.py``: ``ConvKernels``, ``PoolKernels``).

Each kernel replaces a Python loop of KH*KW array operations (dozens of launches a layer) with
one launch: one thread per element of what it writes, a grid-stride loop over them, so results
never depend on the launch configuration. Gathers, never atomics: an element that several
kernel taps or windows reach sums them itself, in the order the portable loop adds them (tap
``k = i * KW + j`` ascending), so the sums are the portable ones bit for bit. No multiply meets
an add (nothing for FMA contraction to change); divisions are IEEE's, as NumPy's.

Kernels (``T`` is float or double; images are (N*C) planes, contiguous):
- ``td_im2col``: the columns of padded ``x`` (N, C, Hp, Wp): ``[n, (c, i, j), (y, x)] =
  x[n, c, y*sh + i*dh, x*sw + j*dw]``, laid out (N, C*KH*KW, OH*OW) (``ConvKernels.columns``)
  or, with ``rows_outer``, (C*KH*KW, N, OH*OW), the layout whose product with the weight
  is one GEMM per group.
- ``td_col2im``: the adjoint: each padded-input element sums the column entries that read it,
  taps in order, onto its value (``accumulate``) or onto 0; columns in either layout, given by
  their sample and row strides.
- ``td_swap01``: ``dst[b, a, l] = src[a, b, l] (+ bias[a])``: the (OC, N, L) product to the
  (N, OC, L) output with the bias added, and the output gradient to (OC, N, L).
- ``td_pad``: ``x`` (N*C, H, W) with zero borders.
- ``td_max_pool_forward``: window maxima of the input padded with ``fill`` (-inf) and the
  first maximal kernel position (1 byte); a NaN wins as in ``PoolKernels.max_forward``.
- ``td_max_pool_backward``: each input element gathers the gradients of the windows whose
  recorded position it is (written alone where windows are ``disjoint``, else summed onto 0).
- ``td_avg_pool_forward`` / ``td_avg_pool_backward``: window sums (padding zeros included) /
  (KH*KW); backward gathers ``g / (KH*KW)`` of every window holding the element.
"""

from __future__ import annotations

from .cuda_source import typed_source

KERNEL_TEMPLATE = r"""
typedef {ctype} T;
typedef unsigned long long tdc_u64;

__device__ __forceinline__ tdc_u64 tdc_first(void) {{
    return (tdc_u64)blockIdx.x * blockDim.x + threadIdx.x;
}}
__device__ __forceinline__ tdc_u64 tdc_stride(void) {{
    return (tdc_u64)gridDim.x * blockDim.x;
}}

/* a % b, with a / b in *q: a 32-bit division where both fit (the common case, several times
   cheaper on a GPU than a 64-bit one). */
__device__ __forceinline__ tdc_u64 tdc_divmod(tdc_u64 a, tdc_u64 b, tdc_u64* q) {{
    if ((a >> 32) == 0 && (b >> 32) == 0) {{
        unsigned int q32 = (unsigned int)a / (unsigned int)b;
        *q = q32;
        return a - (tdc_u64)q32 * b;
    }}
    *q = a / b;
    return a - *q * b;
}}

/* The output position a kernel tap at ``offset`` (i*d along the axis) reaches from input
   position ``p``: -1 when none (before the start, off the stride, past ``size`` outputs);
   -2 when no later (larger) offset can reach one either. */
__device__ __forceinline__ long long tdc_reach(long long p, long long offset, unsigned int step,
                                              unsigned int size) {{
    long long r = p - offset;
    if (r < 0) return -2;
    tdc_u64 q;
    if (tdc_divmod((tdc_u64)r, step, &q)) return -1;
    return q < size ? (long long)q : -1;
}}

extern "C" __global__ void td_im2col(
        const T* __restrict__ x, T* __restrict__ cols, tdc_u64 n, unsigned int c,
        unsigned int hp, unsigned int wp, unsigned int kh, unsigned int kw, unsigned int sh,
        unsigned int sw, unsigned int dh, unsigned int dw, unsigned int oh, unsigned int ow,
        int rows_outer) {{
    tdc_u64 positions = (tdc_u64)oh * ow, rows = (tdc_u64)c * kh * kw;
    tdc_u64 total = n * rows * positions;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        tdc_u64 t, sample, row, channel, oy, tap, i;
        tdc_u64 l = tdc_divmod(e, positions, &t);
        if (rows_outer) sample = tdc_divmod(t, n, &row);
        else row = tdc_divmod(t, rows, &sample);
        tdc_u64 j = tdc_divmod(row, kw, &tap);
        i = tdc_divmod(tap, kh, &channel);
        tdc_u64 ox = tdc_divmod(l, ow, &oy);
        cols[e] = x[((sample * c + channel) * hp + oy * sh + i * dh) * wp + ox * sw + j * dw];
    }}
}}

extern "C" __global__ void td_col2im(
        const T* __restrict__ cols, T* __restrict__ out, tdc_u64 n, unsigned int c,
        unsigned int hp, unsigned int wp, unsigned int kh, unsigned int kw, unsigned int sh,
        unsigned int sw, unsigned int dh, unsigned int dw, unsigned int oh, unsigned int ow,
        tdc_u64 sample_stride, tdc_u64 row_stride, int accumulate) {{
    tdc_u64 total = n * c * hp * wp;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        tdc_u64 t, plane, sample;
        long long px = (long long)tdc_divmod(e, wp, &t);
        long long py = (long long)tdc_divmod(t, hp, &plane);
        tdc_u64 channel = tdc_divmod(plane, c, &sample);
        const T* base = cols + sample * sample_stride + channel * kh * kw * row_stride;
        T acc = accumulate ? out[e] : (T)0;
        for (unsigned int i = 0; i < kh; ++i) {{
            long long oy = tdc_reach(py, (long long)i * dh, sh, oh);
            if (oy == -2) break;
            if (oy < 0) continue;
            for (unsigned int j = 0; j < kw; ++j) {{
                long long ox = tdc_reach(px, (long long)j * dw, sw, ow);
                if (ox == -2) break;
                if (ox < 0) continue;
                acc += base[(i * kw + j) * row_stride + (tdc_u64)oy * ow + (tdc_u64)ox];
            }}
        }}
        out[e] = acc;
    }}
}}

extern "C" __global__ void td_swap01(
        const T* __restrict__ src, const T* __restrict__ bias, T* __restrict__ dst, tdc_u64 a,
        tdc_u64 b, tdc_u64 l) {{
    tdc_u64 total = a * b * l;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        tdc_u64 t, bi;
        tdc_u64 li = tdc_divmod(e, l, &t);
        tdc_u64 ai = tdc_divmod(t, a, &bi);
        T value = src[(ai * b + bi) * l + li];
        dst[e] = bias ? value + bias[ai] : value;
    }}
}}

extern "C" __global__ void td_pad(
        const T* __restrict__ x, T* __restrict__ out, tdc_u64 planes, unsigned int h,
        unsigned int w, unsigned int ph, unsigned int pw) {{
    tdc_u64 hp = h + 2ull * ph, wp = w + 2ull * pw, total = planes * hp * wp;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        tdc_u64 t, plane;
        tdc_u64 px = tdc_divmod(e, wp, &t);
        tdc_u64 py = tdc_divmod(t, hp, &plane);
        bool inside = py >= ph && py < ph + h && px >= pw && px < pw + w;
        out[e] = inside ? x[(plane * h + py - ph) * w + px - pw] : (T)0;
    }}
}}

/* Where output element e of a pool lies: its plane's first input element and the input
   position (may be negative: padding) of its window's top-left corner. */
__device__ __forceinline__ const T* tdc_window(const T* x, tdc_u64 e, unsigned int h,
                                              unsigned int w, unsigned int sh, unsigned int sw,
                                              unsigned int ph, unsigned int pw, unsigned int oh,
                                              unsigned int ow, long long* y0, long long* x0) {{
    tdc_u64 t, plane;
    tdc_u64 ox = tdc_divmod(e, ow, &t);
    tdc_u64 oy = tdc_divmod(t, oh, &plane);
    *y0 = (long long)(oy * sh) - ph;
    *x0 = (long long)(ox * sw) - pw;
    return x + plane * h * w;
}}

/* Element (y, x) of an h x w ``plane``; ``fill`` outside it (the padding). */
__device__ __forceinline__ T tdc_at(const T* plane, long long y, long long x, unsigned int h,
                                    unsigned int w, T fill) {{
    return y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : fill;
}}

extern "C" __global__ void td_max_pool_forward(
        const T* __restrict__ x, T* __restrict__ out, unsigned char* __restrict__ where,
        tdc_u64 planes, unsigned int h, unsigned int w, unsigned int kh, unsigned int kw,
        unsigned int sh, unsigned int sw, unsigned int ph, unsigned int pw, unsigned int oh,
        unsigned int ow, T fill) {{
    tdc_u64 total = planes * oh * ow;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        long long y0, x0;
        const T* plane = tdc_window(x, e, h, w, sh, sw, ph, pw, oh, ow, &y0, &x0);
        T best = fill;
        unsigned int first = 0;
        for (unsigned int i = 0; i < kh; ++i) {{
            for (unsigned int j = 0; j < kw; ++j) {{
                T value = tdc_at(plane, y0 + i, x0 + j, h, w, fill);
                unsigned int k = i * kw + j;
                /* PoolKernels.max_forward: the first value, then each greater one or NaN */
                if (k == 0 || value > best || value != value) {{ best = value; first = k; }}
            }}
        }}
        out[e] = best;
        where[e] = (unsigned char)first;
    }}
}}

/* The input gradient of a pool at input element e: the windows holding it, in kernel-position
   order, each adding ``g[window] / divisor`` where ``where`` (if given) names that position.
   Disjoint windows write their single term (PoolKernels writes, not adds: a -0.0 stays). */
__device__ __forceinline__ T tdc_pool_gather(
        const T* __restrict__ g, const unsigned char* __restrict__ where, tdc_u64 e,
        unsigned int h, unsigned int w, unsigned int kh, unsigned int kw, unsigned int sh,
        unsigned int sw, unsigned int ph, unsigned int pw, unsigned int oh, unsigned int ow,
        T divisor, int disjoint) {{
    tdc_u64 t, plane;
    long long px = (long long)tdc_divmod(e, w, &t) + pw;
    long long py = (long long)tdc_divmod(t, h, &plane) + ph;
    tdc_u64 base = plane * oh * ow;
    T acc = (T)0;
    for (unsigned int i = 0; i < kh; ++i) {{
        long long oy = tdc_reach(py, i, sh, oh);
        if (oy == -2) break;
        if (oy < 0) continue;
        for (unsigned int j = 0; j < kw; ++j) {{
            long long ox = tdc_reach(px, j, sw, ow);
            if (ox == -2) break;
            if (ox < 0) continue;
            tdc_u64 o = base + (tdc_u64)oy * ow + (tdc_u64)ox;
            if (where && where[o] != i * kw + j) continue;
            T share = divisor == (T)1 ? g[o] : g[o] / divisor;
            acc = disjoint ? share : acc + share;
        }}
    }}
    return acc;
}}

extern "C" __global__ void td_max_pool_backward(
        const T* __restrict__ g, const unsigned char* __restrict__ where, T* __restrict__ dx,
        tdc_u64 planes, unsigned int h, unsigned int w, unsigned int kh, unsigned int kw,
        unsigned int sh, unsigned int sw, unsigned int ph, unsigned int pw, unsigned int oh,
        unsigned int ow, int disjoint) {{
    tdc_u64 total = planes * h * w;
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride())
        dx[e] = tdc_pool_gather(g, where, e, h, w, kh, kw, sh, sw, ph, pw, oh, ow, (T)1,
                                disjoint);
}}

extern "C" __global__ void td_avg_pool_forward(
        const T* __restrict__ x, T* __restrict__ out, tdc_u64 planes, unsigned int h,
        unsigned int w, unsigned int kh, unsigned int kw, unsigned int sh, unsigned int sw,
        unsigned int ph, unsigned int pw, unsigned int oh, unsigned int ow) {{
    tdc_u64 total = planes * oh * ow;
    T divisor = (T)(kh * kw);
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride()) {{
        long long y0, x0;
        const T* plane = tdc_window(x, e, h, w, sh, sw, ph, pw, oh, ow, &y0, &x0);
        T sum = (T)0;
        for (unsigned int i = 0; i < kh; ++i) {{
            for (unsigned int j = 0; j < kw; ++j) {{
                T value = tdc_at(plane, y0 + i, x0 + j, h, w, (T)0);  /* padding zeros count */
                sum = (i == 0 && j == 0) ? value : sum + value;
            }}
        }}
        out[e] = sum / divisor;
    }}
}}

extern "C" __global__ void td_avg_pool_backward(
        const T* __restrict__ g, T* __restrict__ dx, tdc_u64 planes, unsigned int h,
        unsigned int w, unsigned int kh, unsigned int kw, unsigned int sh, unsigned int sw,
        unsigned int ph, unsigned int pw, unsigned int oh, unsigned int ow, int disjoint) {{
    tdc_u64 total = planes * h * w;
    T divisor = (T)(kh * kw);
    for (tdc_u64 e = tdc_first(); e < total; e += tdc_stride())
        dx[e] = tdc_pool_gather(g, (const unsigned char*)0, e, h, w, kh, kw, sh, sw, ph, pw, oh,
                                ow, divisor, disjoint);
}}
"""

CONV_KERNEL_NAMES = ("td_im2col", "td_col2im", "td_swap01", "td_pad", "td_max_pool_forward",
                     "td_max_pool_backward", "td_avg_pool_forward", "td_avg_pool_backward")


def conv_kernel_source(dtype_name: str) -> str:
    """The complete CUDA source of the convolution and pooling kernels for ``dtype_name``
    (float32 or float64); a TypeError for any other dtype."""
    return typed_source(KERNEL_TEMPLATE, dtype_name, "convolution and pooling kernels")
