"""The CUDA C source of the CuPy backend's fused dropout kernels, as plain text: it can be
compiled by NVRTC for a GPU, and by a host C++ compiler under a sequential emulation
(``tests/cuda_host.py``), so CI, which has no GPU, checks the kernels bit for bit.

Random bits come from Philox4x32-10 keyed by the generator's seed, with the element's group of
four and the call's offset as the counter: the stream defined in ``philox.py``, so a mask
depends on (seed, offset, element index) alone, never on the launch configuration.

Kernels (``T`` is float or double; ``vector`` says every pointer is aligned to 4 elements):
- ``td_dropout_forward``: y = x * keep / divisor, writes the 1-byte mask (unless ``mask`` is
  NULL) and adds the number kept to ``*kept``. One pass, one Philox call per 4 elements.
- ``td_dropout_backward_regen``: dx = g * keep / divisor, the mask regenerated from
  (seed, offset) instead of read: zero bytes saved between forward and backward.
- ``td_masked_scale``: y = x * mask / divisor from a stored 1-byte mask (dropout's backward).
- ``td_masked_select``: y = mask ? x : 0 from a stored 1-byte mask (ReLU's and clamp's backward).
- ``td_keep_mask``: the mask alone (the CuPy generator's masks, and ``Dropout.mask()`` when
  masks are regenerated).

Captured steps (``td.jit``): a CUDA graph replays its kernels' arguments as they were captured,
so a seed and offset passed by value would draw the same masks on every replay. Each kernel that
draws has an ``_at`` twin taking ``position`` (device memory: the generator's seed and next
offset) and ``delta`` (the draw's place in the step) instead: it draws at
(position[0], position[1] + delta). The step ends with ``td_advance_offset``, which adds the
step's number of draws to position[1] on the device, so replay k draws the offsets eager step k
would, and the masks are the eager stream's.

Dropout multiplies by the mask, as PyTorch does: a dropped NaN or inf is NaN (0 * inf), a dropped
negative -0. ReLU's backward selects, as PyTorch's threshold_backward does: 0 where the mask is
off, whatever the gradient there.

Spatial dropout (``Dropout2d``) over ``x`` of N*C contiguous planes of ``plane`` elements: channel
``ch`` is kept when word ``ch % 4`` of Philox group ``ch // 4`` is below the threshold, the very bit
the element-wise stream gives element ``ch`` of an (N, C) mask, so ``td_keep_mask`` and the host
generator draw the same channel mask. Four channels (a quad) span 4 * plane elements, a multiple of
4, so a group of four elements lies in one quad: one Philox call per group at most (none while a
thread stays in its quad), and no division per element (a thread divides by ``plane`` once and
then steps its (quad, group within quad) position).
- ``td_dropout2d_forward``: y = x * keep[ch] / divisor, writes the N*C-byte channel mask
  (unless ``mask`` is NULL) and adds the number of channels kept to ``*kept``: the thread whose
  group holds a channel's first element writes and counts that channel, so each counts once.
- ``td_dropout2d_backward_regen``: dx = g * keep[ch] / divisor, the channel bits redrawn.
- ``td_channel_masked_scale``: y = x * mask[ch] / divisor from a stored N*C-byte mask.
The multiply by the 0/1 mask and the division (not a multiply by 1/divisor) are the NumPy
backend's arithmetic, ``np.multiply(x, mask) / divisor``: results are bit-identical to it.
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

/* One element: v * keep / divisor (dropout: NumPy's x * mask / divisor, so a dropped NaN or inf
   is NaN and a dropped negative -0), or with ``select`` keep ? v : 0 (ReLU's backward). */
__device__ __forceinline__ T td_masked(T v, bool keep, T divisor, int select) {{
    return select ? (keep ? v : (T)0) : v * (T)keep / divisor;
}}

/* out[j] = td_masked(in[j], keep[j], ...) for the group at element i (n elements in all). */
__device__ __forceinline__ void td_scale_group(const T* __restrict__ in, T* __restrict__ out,
                                               unsigned long long i, unsigned long long n,
                                               const bool keep[4], T divisor, int vector,
                                               int select) {{
    if (vector && i + 4 <= n) {{
        td_vec4 a = *(const td_vec4*)(in + i), b;
#pragma unroll
        for (int j = 0; j < 4; ++j) b.v[j] = td_masked(a.v[j], keep[j], divisor, select);
        *(td_vec4*)(out + i) = b;
    }} else {{
        for (int j = 0; j < 4 && i + j < n; ++j)
            out[i + j] = td_masked(in[i + j], keep[j], divisor, select);
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

__device__ __forceinline__ void td_dropout_forward_body(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned int threshold, T divisor, unsigned long long seed,
        unsigned long long offset, unsigned long long* __restrict__ kept, int vector) {{
    unsigned int count = 0;
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        unsigned long long i = 4 * g;
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_scale_group(x, y, i, n, keep, divisor, vector, 0);
        if (mask) td_store_mask(mask, i, n, keep);
        for (int j = 0; j < 4 && i + j < n; ++j) count += keep[j];
    }}
    td_add_count(kept, count);
}}

extern "C" __global__ void td_dropout_forward(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned int threshold, T divisor, unsigned long long seed,
        unsigned long long offset, unsigned long long* __restrict__ kept, int vector) {{
    td_dropout_forward_body(x, y, mask, n, threshold, divisor, seed, offset, kept, vector);
}}

extern "C" __global__ void td_dropout_forward_at(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned int threshold, T divisor,
        const unsigned long long* __restrict__ position, unsigned long long delta,
        unsigned long long* __restrict__ kept, int vector) {{
    td_dropout_forward_body(x, y, mask, n, threshold, divisor, position[0],
                            position[1] + delta, kept, vector);
}}

__device__ __forceinline__ void td_dropout_backward_body(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned int threshold, T divisor, unsigned long long seed, unsigned long long offset,
        int vector) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_scale_group(g_in, dx, 4 * g, n, keep, divisor, vector, 0);
    }}
}}

extern "C" __global__ void td_dropout_backward_regen(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned int threshold, T divisor, unsigned long long seed, unsigned long long offset,
        int vector) {{
    td_dropout_backward_body(g_in, dx, n, threshold, divisor, seed, offset, vector);
}}

extern "C" __global__ void td_dropout_backward_regen_at(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned int threshold, T divisor, const unsigned long long* __restrict__ position,
        unsigned long long delta, int vector) {{
    td_dropout_backward_body(g_in, dx, n, threshold, divisor, position[0], position[1] + delta,
                             vector);
}}

/* The keep bits of the group at element i from a stored 1-byte mask (any nonzero byte keeps). */
__device__ __forceinline__ void td_read_keep(const unsigned char* __restrict__ mask,
                                             unsigned long long i, unsigned long long n,
                                             bool keep[4]) {{
    if (i + 4 <= n) {{
        unsigned int bits = *(const unsigned int*)(mask + i);
#pragma unroll
        for (int j = 0; j < 4; ++j) keep[j] = (bits >> (8 * j)) & 0xffu;
    }} else {{
        for (int j = 0; j < 4; ++j) keep[j] = i + j < n && mask[i + j];
    }}
}}

extern "C" __global__ void td_masked_scale(
        const T* __restrict__ x, const unsigned char* __restrict__ mask, T* __restrict__ y,
        unsigned long long n, T divisor, int vector) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_read_keep(mask, 4 * g, n, keep);
        td_scale_group(x, y, 4 * g, n, keep, divisor, vector, 0);
    }}
}}

extern "C" __global__ void td_masked_select(
        const T* __restrict__ x, const unsigned char* __restrict__ mask, T* __restrict__ y,
        unsigned long long n, int vector) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_read_keep(mask, 4 * g, n, keep);
        td_scale_group(x, y, 4 * g, n, keep, (T)1, vector, 1);
    }}
}}

/* Where a thread is in a spatial dropout pass: its group of four elements ``g`` = quad ``q``
   (channels 4q .. 4q+3) * plane + ``r`` (the group's place in the quad, 0 .. plane-1), and the
   keep bits of the quad ``held`` (~0 before the first), channel j of the quad in bit j of
   ``bits`` (a register, where an array indexed by channel would live in local memory). */
struct td_channel_walk {{
    unsigned long long g, q, r, plane, step_q, step_r, held;
    unsigned int bits;
}};

__device__ __forceinline__ td_channel_walk td_walk_start(unsigned long long plane) {{
    td_channel_walk w;
    unsigned long long stride = td_stride();
    w.g = td_first(); w.q = w.g / plane; w.r = w.g % plane; w.plane = plane;
    w.step_q = stride / plane; w.step_r = stride % plane; w.held = ~0ull; w.bits = 0;
    return w;
}}

/* The next group of the grid-stride loop: g + stride, without a division. */
__device__ __forceinline__ void td_walk_next(td_channel_walk* w) {{
    w->g += td_stride(); w->q += w->step_q; w->r += w->step_r;
    if (w->r >= w->plane) {{ w->r -= w->plane; ++w->q; }}
}}

/* The quad's keep bits from the Philox stream, drawn once per quad the thread enters. */
__device__ __forceinline__ void td_walk_draw(td_channel_walk* w, unsigned long long seed,
                                             unsigned long long offset,
                                             unsigned int threshold) {{
    if (w->q == w->held) return;
    bool keep[4];
    td_keep_bits(seed, offset, w->q, threshold, keep);
    w->bits = (unsigned int)keep[0] | ((unsigned int)keep[1] << 1)
        | ((unsigned int)keep[2] << 2) | ((unsigned int)keep[3] << 3);
    w->held = w->q;
}}

/* The quad's keep bits from a stored mask of ``channels`` bytes, read once per quad. */
__device__ __forceinline__ void td_walk_read(td_channel_walk* w,
                                             const unsigned char* __restrict__ mask,
                                             unsigned long long channels) {{
    if (w->q == w->held) return;
    w->bits = 0;
    for (int j = 0; j < 4 && 4 * w->q + j < channels; ++j)
        w->bits |= (unsigned int)(mask[4 * w->q + j] != 0) << j;
    w->held = w->q;
}}

/* The index in its quad (0 .. 3) of the channel of each element of the walk's group. */
__device__ __forceinline__ void td_walk_channels(const td_channel_walk* w, int channel[4]) {{
#pragma unroll
    for (int j = 0; j < 4; ++j) {{
        unsigned long long k = 4 * w->r + j, plane = w->plane;
        channel[j] = (k >= plane) + (k >= 2 * plane) + (k >= 3 * plane);
    }}
}}

/* Scale the walk's group by its channels' keep bits; ``channel`` as td_walk_channels. */
__device__ __forceinline__ void td_walk_scale(const td_channel_walk* w, const T* __restrict__ in,
                                              T* __restrict__ out, unsigned long long n,
                                              T divisor, int vector, int channel[4]) {{
    bool keep[4];
    td_walk_channels(w, channel);
#pragma unroll
    for (int j = 0; j < 4; ++j) keep[j] = (w->bits >> channel[j]) & 1u;
    td_scale_group(in, out, 4 * w->g, n, keep, divisor, vector, 0);
}}

__device__ __forceinline__ void td_dropout2d_forward_body(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned long long plane, unsigned int threshold, T divisor,
        unsigned long long seed, unsigned long long offset,
        unsigned long long* __restrict__ kept, int vector) {{
    unsigned int count = 0;
    for (td_channel_walk w = td_walk_start(plane); 4 * w.g < n; td_walk_next(&w)) {{
        int channel[4];
        td_walk_draw(&w, seed, offset, threshold);
        td_walk_scale(&w, x, y, n, divisor, vector, channel);
        /* A channel is written and counted by the group holding its first element. */
        for (int j = 0; j < 4 && 4 * w.g + j < n; ++j) {{
            if (4 * w.r + j != (unsigned long long)channel[j] * plane) continue;
            bool keep = (w.bits >> channel[j]) & 1u;
            if (mask) mask[4 * w.q + channel[j]] = keep;
            count += keep;
        }}
    }}
    td_add_count(kept, count);
}}

extern "C" __global__ void td_dropout2d_forward(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned long long plane, unsigned int threshold, T divisor,
        unsigned long long seed, unsigned long long offset,
        unsigned long long* __restrict__ kept, int vector) {{
    td_dropout2d_forward_body(x, y, mask, n, plane, threshold, divisor, seed, offset, kept,
                              vector);
}}

extern "C" __global__ void td_dropout2d_forward_at(
        const T* __restrict__ x, T* __restrict__ y, unsigned char* __restrict__ mask,
        unsigned long long n, unsigned long long plane, unsigned int threshold, T divisor,
        const unsigned long long* __restrict__ position, unsigned long long delta,
        unsigned long long* __restrict__ kept, int vector) {{
    td_dropout2d_forward_body(x, y, mask, n, plane, threshold, divisor, position[0],
                              position[1] + delta, kept, vector);
}}

__device__ __forceinline__ void td_dropout2d_backward_body(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned long long plane, unsigned int threshold, T divisor, unsigned long long seed,
        unsigned long long offset, int vector) {{
    for (td_channel_walk w = td_walk_start(plane); 4 * w.g < n; td_walk_next(&w)) {{
        int channel[4];
        td_walk_draw(&w, seed, offset, threshold);
        td_walk_scale(&w, g_in, dx, n, divisor, vector, channel);
    }}
}}

extern "C" __global__ void td_dropout2d_backward_regen(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned long long plane, unsigned int threshold, T divisor, unsigned long long seed,
        unsigned long long offset, int vector) {{
    td_dropout2d_backward_body(g_in, dx, n, plane, threshold, divisor, seed, offset, vector);
}}

extern "C" __global__ void td_dropout2d_backward_regen_at(
        const T* __restrict__ g_in, T* __restrict__ dx, unsigned long long n,
        unsigned long long plane, unsigned int threshold, T divisor,
        const unsigned long long* __restrict__ position, unsigned long long delta,
        int vector) {{
    td_dropout2d_backward_body(g_in, dx, n, plane, threshold, divisor, position[0],
                               position[1] + delta, vector);
}}

extern "C" __global__ void td_channel_masked_scale(
        const T* __restrict__ x, const unsigned char* __restrict__ mask, T* __restrict__ y,
        unsigned long long n, unsigned long long plane, T divisor, int vector) {{
    unsigned long long channels = n / plane;
    for (td_channel_walk w = td_walk_start(plane); 4 * w.g < n; td_walk_next(&w)) {{
        int channel[4];
        td_walk_read(&w, mask, channels);
        td_walk_scale(&w, x, y, n, divisor, vector, channel);
    }}
}}

__device__ __forceinline__ void td_keep_mask_body(
        unsigned char* __restrict__ mask, unsigned long long n, unsigned int threshold,
        unsigned long long seed, unsigned long long offset) {{
    for (unsigned long long g = td_first(); 4 * g < n; g += td_stride()) {{
        bool keep[4];
        td_keep_bits(seed, offset, g, threshold, keep);
        td_store_mask(mask, 4 * g, n, keep);
    }}
}}

extern "C" __global__ void td_keep_mask(
        unsigned char* __restrict__ mask, unsigned long long n, unsigned int threshold,
        unsigned long long seed, unsigned long long offset) {{
    td_keep_mask_body(mask, n, threshold, seed, offset);
}}

extern "C" __global__ void td_keep_mask_at(
        unsigned char* __restrict__ mask, unsigned long long n, unsigned int threshold,
        const unsigned long long* __restrict__ position, unsigned long long delta) {{
    td_keep_mask_body(mask, n, threshold, position[0], position[1] + delta);
}}

/* A captured step's last kernel: the device Philox position moves past the step's draws. */
extern "C" __global__ void td_advance_offset(unsigned long long* position,
                                             unsigned long long draws) {{
    if (blockIdx.x == 0 && threadIdx.x == 0) position[1] += draws;
}}
"""

# The kernels that draw from the Philox stream; each has an ``_at`` twin for captured steps.
POSITIONED = ("td_dropout_forward", "td_dropout_backward_regen", "td_keep_mask",
              "td_dropout2d_forward", "td_dropout2d_backward_regen")
KERNEL_NAMES = ("td_dropout_forward", "td_dropout_backward_regen", "td_masked_scale",
                "td_masked_select", "td_keep_mask", "td_dropout2d_forward",
                "td_dropout2d_backward_regen", "td_channel_masked_scale",
                *(name + "_at" for name in POSITIONED), "td_advance_offset")
CTYPES = {"float32": "float", "float64": "double"}


def typed_source(template: str, dtype_name: str, what: str) -> str:
    """``template`` with ``{ctype}`` the C type of ``dtype_name`` (float32 or float64); for any
    other dtype a TypeError saying that ``what`` (the kernels) exist for those two only."""
    if dtype_name not in CTYPES:
        raise TypeError(f"{what} exist for {', '.join(CTYPES)}, not {dtype_name}")
    return template.format(ctype=CTYPES[dtype_name])


def kernel_source(dtype_name: str) -> str:
    """The complete CUDA source of the kernels for ``dtype_name`` (float32 or float64)."""
    return PHILOX_SOURCE + typed_source(KERNEL_TEMPLATE, dtype_name, "fused dropout kernels")
