"""The CUDA C source of the CuPy backend's fused layer kernels, as plain text: NVRTC compiles it
for a GPU, and a host C++ compiler under the emulation of ``tests/cuda_host.py`` (blocks of any
size, their threads run concurrently with a real barrier), so CI, which has no GPU, checks every
kernel against the portable kernels it replaces (``kernels.py``).

Each kernel does in one launch what the portable kernels do in several array operations (each a
launch, and a Python call, on CuPy): the founding MLP step was host-bound on launches.

Element-wise results are the portable ones bit for bit: the same operations in the same order,
every multiply that meets an add written with the round-to-nearest intrinsics so that NVRTC
cannot contract it into an FMA. Sums over a channel or a batch are a per-thread sum in index
order, then a tree over the block in shared memory (``tdf_block_sum``, any block size): a fixed
order, deterministic for a launch configuration, but not NumPy's, so those agree with the
portable kernels to rounding. Per-channel kernels give each channel to one block (a grid-stride
loop over channels), so a channel never needs a second launch or an atomic.

Kernels (``T`` is float or double; arrays contiguous):
- ``td_relu_forward``: y = x > 0 or NaN ? x : +0, and the backward mask y != 0 (1 byte) unless
  ``mask`` is NULL.
- ``td_bias_add``: y[r, c] += bias[c] in place (the linear layer's product).
- ``td_channel_sums``: per channel of (outer, C, inner) the sum over outer and inner (the
  linear layer's bias gradient: inner = 1).
- ``td_bn_forward``: batch normalisation of (outer, C, inner): batch mean and biased variance
  (two passes), 1/std, the running statistics' update (written to ``new_mean``/``new_var``,
  which may be the running arrays themselves: in place), and the output, per channel in one
  block; or (``batch_stats`` 0) the output from the running statistics.
- ``td_bn_backward``: the two per-channel sums and the input, weight and bias gradients.
- ``td_cross_entropy_forward``: per row of (rows, C) logits the max and log of the sum of exp
  (saved for backward), the loss of the row's int64 class, and their sum or mean over the rows
  counted, in block 0. A row whose target is ``ignore`` is not counted (loss 0, not in the
  mean's count); nor is one whose target lies outside [0, C), which is never read through:
  ``record`` (when not NULL and still 0 at [0]) gets ``[1, bad]``, ``bad`` the lowest bad
  target if it is negative, else the highest, and ``site`` at [2] when ``site`` >= 0 (a
  deferred check's record).
- ``td_cross_entropy_backward``: (softmax - onehot) * g (/ count for the mean), 0 on rows not
  counted.
- ``td_sgd_multi``, ``td_adam_multi``, ``td_adadelta_multi``: one optimizer step of up to
  ``TDF_SLOTS`` parameters, their addresses passed by value (``tdf_slots``), every state array
  updated in place. The float options (learning rate, momentum, betas, rho, eps, weight decay)
  are read from ``options``, a float64 device array (``optim_kernels.DEVICE_OPTIONS`` gives the
  order) that the optimizer rewrites when one changes: a captured CUDA graph, whose arguments
  are fixed, follows a learning-rate schedule. Adam's step counts are device scalars (T) read by
  every thread and advanced by the last block to finish (a ticket counter), so a captured graph
  replays them; with ``decoupled`` it is AdamW (p * (1 - lr * weight_decay) first).
"""

from __future__ import annotations

from .cuda_source import typed_source

SLOTS = 16  # parameters per optimizer launch

FUSED_SOURCE = r"""
typedef unsigned long long tdf_u64;
#define TDF_SLOTS 16
#define TDF_MAX_BLOCK 1024

/* Parameter addresses of one optimizer launch: the parameter, its gradient, up to three state
   arrays (a, b, c) and the element count of each slot; unused pointers are 0. */
struct tdf_slots {
    tdf_u64 param[TDF_SLOTS], grad[TDF_SLOTS], a[TDF_SLOTS], b[TDF_SLOTS], c[TDF_SLOTS];
    tdf_u64 size[TDF_SLOTS];
};

/* Rounded operations: a multiply never fuses with an add (the portable kernels round each). */
__device__ __forceinline__ float tdf_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double tdf_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float tdf_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double tdf_add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float tdf_sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double tdf_sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float tdf_exp(float a) { return expf(a); }
__device__ __forceinline__ double tdf_exp(double a) { return exp(a); }
__device__ __forceinline__ float tdf_log(float a) { return logf(a); }
__device__ __forceinline__ double tdf_log(double a) { return log(a); }
__device__ __forceinline__ float tdf_sqrt(float a) { return sqrtf(a); }
__device__ __forceinline__ double tdf_sqrt(double a) { return sqrt(a); }

__device__ __forceinline__ tdf_u64 tdf_first(void) {
    return (tdf_u64)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ tdf_u64 tdf_stride(void) {
    return (tdf_u64)gridDim.x * blockDim.x;
}

/* Every thread's ``v`` over the block combined by ``op`` (a sum, a min, a max), returned to
   all threads: a tree in shared ``partial`` (blockDim.x entries), for any block size. Every
   thread must call it. */
template <typename V, typename Op>
__device__ __forceinline__ V tdf_block_reduce(V v, V* partial, Op op) {
    unsigned int tid = threadIdx.x, size = blockDim.x, half = 1;
    while (half < size) half <<= 1;
    partial[tid] = v;
    __syncthreads();
    for (half >>= 1; half > 0; half >>= 1) {
        if (tid < half && tid + half < size) partial[tid] = op(partial[tid], partial[tid + half]);
        __syncthreads();
    }
    V total = partial[0];
    __syncthreads();  /* everyone has read it before the next call writes partial */
    return total;
}

struct tdf_plus {
    template <typename V> __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
struct tdf_lower {
    template <typename V> __device__ __forceinline__ V operator()(V a, V b) const {
        return b < a ? b : a;
    }
};
struct tdf_higher {
    template <typename V> __device__ __forceinline__ V operator()(V a, V b) const {
        return b > a ? b : a;
    }
};

template <typename V>
__device__ __forceinline__ V tdf_block_sum(V v, V* partial) {
    return tdf_block_reduce(v, partial, tdf_plus());
}

/* Flat index of element k (0 .. outer*inner) of channel c in (outer, channels, inner). */
__device__ __forceinline__ tdf_u64 tdf_at(tdf_u64 k, tdf_u64 c, tdf_u64 channels,
                                          tdf_u64 inner) {
    if (inner == 1) return k * channels + c;
    tdf_u64 o, j;
    if ((k >> 32) == 0 && (inner >> 32) == 0) {
        o = (unsigned int)k / (unsigned int)inner;
    } else {
        o = k / inner;
    }
    j = k - o * inner;
    return (o * channels + c) * inner + j;
}

extern "C" __global__ void td_relu_forward(const T* __restrict__ x, T* __restrict__ y,
                                           unsigned char* __restrict__ mask, tdf_u64 n) {
    for (tdf_u64 i = tdf_first(); i < n; i += tdf_stride()) {
        T v = x[i];
        T out = (v > (T)0 || v != v) ? v : (T)0;  /* NumPy's maximum(v, 0): NaN passes, -0 is 0 */
        y[i] = out;
        if (mask) mask[i] = out != (T)0;
    }
}

extern "C" __global__ void td_bias_add(T* __restrict__ y, const T* __restrict__ bias,
                                       tdf_u64 rows, tdf_u64 cols) {
    tdf_u64 n = rows * cols;
    for (tdf_u64 i = tdf_first(); i < n; i += tdf_stride()) {
        tdf_u64 c = ((i >> 32) == 0 && (cols >> 32) == 0)
            ? (tdf_u64)((unsigned int)i % (unsigned int)cols) : i % cols;
        y[i] = y[i] + bias[c];
    }
}

extern "C" __global__ void td_channel_sums(const T* __restrict__ x, T* __restrict__ out,
                                           tdf_u64 outer, tdf_u64 channels, tdf_u64 inner) {
    __shared__ T partial[TDF_MAX_BLOCK];
    tdf_u64 count = outer * inner;
    for (tdf_u64 c = blockIdx.x; c < channels; c += gridDim.x) {
        T s = 0;
        for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x)
            s = s + x[tdf_at(k, c, channels, inner)];
        s = tdf_block_sum(s, partial);
        if (threadIdx.x == 0) out[c] = s;
    }
}

extern "C" __global__ void td_bn_forward(
        const T* __restrict__ x, T* __restrict__ y, T* __restrict__ mean_out,
        T* __restrict__ inv_out, const T* __restrict__ weight, const T* __restrict__ bias,
        const T* running_mean, const T* running_var, T* new_mean, T* new_var,
        tdf_u64 outer, tdf_u64 channels, tdf_u64 inner, T eps, double momentum,
        int batch_stats) {
    __shared__ T partial[TDF_MAX_BLOCK];
    tdf_u64 count = outer * inner;
    T n = (T)count;
    for (tdf_u64 c = blockIdx.x; c < channels; c += gridDim.x) {
        T mean, inv;
        if (batch_stats) {
            T s = 0;
            for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x)
                s = s + x[tdf_at(k, c, channels, inner)];
            mean = tdf_block_sum(s, partial) / n;
            T q = 0;
            for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x) {
                T d = x[tdf_at(k, c, channels, inner)] - mean;
                q = tdf_add(q, tdf_mul(d, d));
            }
            T var = tdf_block_sum(q, partial) / n;
            inv = (T)1 / tdf_sqrt(var + eps);
            if (threadIdx.x == 0 && running_mean) {
                T keep = (T)(1.0 - momentum), take = (T)momentum;
                T unbiased = tdf_mul(var, (T)((double)count / (double)(count - 1)));
                T m = tdf_add(tdf_mul(keep, running_mean[c]), tdf_mul(take, mean));
                T v = tdf_add(tdf_mul(keep, running_var[c]), tdf_mul(take, unbiased));
                new_mean[c] = m;  /* may be running_mean itself: read above, then written */
                new_var[c] = v;
            }
        } else {
            mean = running_mean[c];
            inv = (T)1 / tdf_sqrt(running_var[c] + eps);
        }
        if (threadIdx.x == 0) { mean_out[c] = mean; inv_out[c] = inv; }
        T scale = weight ? tdf_mul(inv, weight[c]) : inv;
        for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x) {
            tdf_u64 i = tdf_at(k, c, channels, inner);
            T out = tdf_mul(x[i] - mean, scale);
            y[i] = bias ? tdf_add(out, bias[c]) : out;
        }
    }
}

extern "C" __global__ void td_bn_backward(
        const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ mean_in,
        const T* __restrict__ inv_in, const T* __restrict__ weight, T* __restrict__ gx,
        T* __restrict__ gw, T* __restrict__ gb, tdf_u64 outer, tdf_u64 channels, tdf_u64 inner,
        int batch_stats) {
    __shared__ T partial[TDF_MAX_BLOCK];
    tdf_u64 count = outer * inner;
    T n = (T)count;
    for (tdf_u64 c = blockIdx.x; c < channels; c += gridDim.x) {
        T mean = mean_in[c], inv = inv_in[c], s = 0, t = 0;
        for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x) {
            tdf_u64 i = tdf_at(k, c, channels, inner);
            T gi = g[i];
            s = s + gi;
            t = tdf_add(t, tdf_mul(gi, x[i] - mean));
        }
        s = tdf_block_sum(s, partial);
        t = tdf_block_sum(t, partial);
        if (threadIdx.x == 0) {
            if (gw) gw[c] = tdf_mul(inv, t);
            if (gb) gb[c] = s;
        }
        if (!gx) continue;
        T a = weight ? tdf_mul(inv, weight[c]) : inv;
        T k1 = tdf_mul(tdf_mul(tdf_mul(-a, inv), inv), t) / n;
        T k0 = tdf_mul(a, s) / n;
        for (tdf_u64 k = threadIdx.x; k < count; k += blockDim.x) {
            tdf_u64 i = tdf_at(k, c, channels, inner);
            T d = tdf_mul(g[i], a);
            gx[i] = batch_stats ? tdf_sub(tdf_add(d, tdf_mul(x[i] - mean, k1)), k0) : d;
        }
    }
}

/* Whether row target t counts: not ignored, in [0, classes). */
__device__ __forceinline__ bool tdf_counted(long long t, tdf_u64 classes, long long ignore) {
    return t != ignore && t >= 0 && (tdf_u64)t < classes;
}

extern "C" __global__ void td_cross_entropy_forward(
        const T* __restrict__ z, const long long* __restrict__ target, T* __restrict__ loss,
        T* __restrict__ stats, T* __restrict__ count_out, long long* record, long long site,
        long long ignore, tdf_u64 rows, tdf_u64 classes, int mean) {
    __shared__ T partial[TDF_MAX_BLOCK];
    __shared__ tdf_u64 counts[TDF_MAX_BLOCK];
    __shared__ long long bad[TDF_MAX_BLOCK];
    if (blockIdx.x != 0) return;  /* one block sums the batch: a fixed order, no atomics */
    const long long none_low = 0x7fffffffffffffffLL, none_high = -none_low - 1;
    T total = 0;
    tdf_u64 valid = 0;
    long long lowest = none_low, highest = none_high;  /* the bad targets' extremes */
    for (tdf_u64 r = threadIdx.x; r < rows; r += blockDim.x) {
        const T* row = z + r * classes;
        T m = row[0];
        for (tdf_u64 j = 1; j < classes; ++j) {
            T v = row[j];
            if (v > m || v != v) m = m != m ? m : v;  /* the first NaN stays */
        }
        T s = 0;
        for (tdf_u64 j = 0; j < classes; ++j) s = s + tdf_exp(row[j] - m);
        T ln = tdf_log(s);
        stats[2 * r] = m;
        stats[2 * r + 1] = ln;
        long long t = target[r];
        if (tdf_counted(t, classes, ignore)) {
            total = total + (ln - (row[t] - m));
            ++valid;
        } else if (t != ignore) {
            lowest = t < lowest ? t : lowest;
            highest = t > highest ? t : highest;
        }
    }
    total = tdf_block_sum(total, partial);
    valid = tdf_block_sum(valid, counts);
    lowest = tdf_block_reduce(lowest, bad, tdf_lower());
    highest = tdf_block_reduce(highest, bad, tdf_higher());
    if (threadIdx.x == 0) {
        loss[0] = mean ? total / (T)valid : total;
        count_out[0] = (T)valid;
        if (record && highest != none_high && record[0] == 0) {
            record[1] = lowest < 0 ? lowest : highest;
            if (site >= 0) record[2] = site;
            record[0] = 1;
        }
    }
}

extern "C" __global__ void td_cross_entropy_backward(
        const T* __restrict__ z, const long long* __restrict__ target,
        const T* __restrict__ stats, const T* __restrict__ g, const T* __restrict__ count,
        T* __restrict__ grad, long long ignore, tdf_u64 rows, tdf_u64 classes, int mean) {
    T scale = g[0];
    if (mean) scale = count[0] != (T)0 ? scale / count[0] : (T)0;
    tdf_u64 n = rows * classes;
    for (tdf_u64 e = tdf_first(); e < n; e += tdf_stride()) {
        tdf_u64 r = ((e >> 32) == 0 && (classes >> 32) == 0)
            ? (tdf_u64)((unsigned int)e / (unsigned int)classes) : e / classes;
        tdf_u64 j = e - r * classes;
        long long t = target[r];
        if (!tdf_counted(t, classes, ignore)) {
            grad[e] = (T)0;
        } else {
            T p = tdf_exp((z[e] - stats[2 * r]) - stats[2 * r + 1]);
            grad[e] = tdf_mul((tdf_u64)t == j ? p - (T)1 : p, scale);
        }
    }
}

/* g + wd * p, as the optimizers' weight decay (wd 0: g). */
__device__ __forceinline__ T tdf_decayed(T g, T p, T wd) {
    return wd != (T)0 ? tdf_add(g, tdf_mul(wd, p)) : g;
}

extern "C" __global__ void td_sgd_multi(tdf_slots slots, unsigned int count,
                                        unsigned int first, const double* __restrict__ options,
                                        int nesterov) {
    T lr = (T)options[0], momentum = (T)options[1], weight_decay = (T)options[2];
    for (unsigned int s = 0; s < count; ++s) {
        T* p = (T*)slots.param[s];
        const T* g = (const T*)slots.grad[s];
        T* buf = (T*)slots.a[s];
        bool fresh = (first >> s) & 1u;
        for (tdf_u64 i = tdf_first(); i < slots.size[s]; i += tdf_stride()) {
            T pi = p[i], gi = tdf_decayed(g[i], pi, weight_decay);
            if (buf) {
                T b = fresh ? gi : tdf_add(tdf_mul(momentum, buf[i]), gi);
                buf[i] = b;
                gi = nesterov ? tdf_add(gi, tdf_mul(momentum, b)) : b;
            }
            p[i] = tdf_sub(pi, tdf_mul(lr, gi));
        }
    }
}

/* The last block to finish (``ticket`` counts finished blocks; it is left at 0) runs ``done``:
   every block has read what ``done`` writes before it takes its ticket. */
__device__ __forceinline__ bool tdf_last_block(unsigned int* ticket) {
    __shared__ bool last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    return last;
}

extern "C" __global__ void td_adam_multi(tdf_slots slots, unsigned int count,
                                         const double* __restrict__ options, int decoupled,
                                         unsigned int* ticket) {
    double lr = options[0], beta1 = options[1], beta2 = options[2];
    T eps = (T)options[3], weight_decay = (T)options[4];
    T keep1 = (T)(1.0 - beta1), b2 = (T)beta2, keep2 = (T)(1.0 - beta2);
    /* AdamW: p * (1 - lr * weight_decay) first, the factor rounded as the host's double math */
    T shrink = (T)tdf_sub(1.0, tdf_mul(lr, options[4]));
    bool decay_grad = !decoupled && weight_decay != (T)0;
    bool decay_param = decoupled && options[4] != 0.0;
    for (unsigned int s = 0; s < count; ++s) {
        T* p = (T*)slots.param[s];
        const T* g = (const T*)slots.grad[s];
        T* m = (T*)slots.a[s];
        T* v = (T*)slots.b[s];
        double step = (double)(((const T*)slots.c[s])[0] + (T)1);
        T step_size = (T)(lr / (1.0 - pow(beta1, step)));
        T correction2 = (T)sqrt(1.0 - pow(beta2, step));
        for (tdf_u64 i = tdf_first(); i < slots.size[s]; i += tdf_stride()) {
            T pi = p[i], gi = g[i], mi = m[i];
            if (decay_grad) gi = tdf_add(gi, tdf_mul(weight_decay, pi));
            if (decay_param) pi = tdf_mul(pi, shrink);
            mi = tdf_add(mi, tdf_mul(keep1, gi - mi));
            T vi = tdf_add(tdf_mul(b2, v[i]), tdf_mul(tdf_mul(keep2, gi), gi));
            m[i] = mi;
            v[i] = vi;
            T denom = tdf_add(tdf_sqrt(vi) / correction2, eps);
            p[i] = tdf_sub(pi, tdf_mul(step_size, mi / denom));
        }
    }
    if (tdf_last_block(ticket) && threadIdx.x == 0) {
        for (unsigned int s = 0; s < count; ++s) {
            T* step = (T*)slots.c[s];
            step[0] = step[0] + (T)1;
        }
        *ticket = 0;
    }
}

extern "C" __global__ void td_adadelta_multi(tdf_slots slots, unsigned int count,
                                             const double* __restrict__ options) {
    T lr = (T)options[0], eps = (T)options[2], weight_decay = (T)options[3];
    double rho_value = options[1];
    T rho = (T)rho_value, keep = (T)(1.0 - rho_value);
    for (unsigned int s = 0; s < count; ++s) {
        T* p = (T*)slots.param[s];
        const T* g = (const T*)slots.grad[s];
        T* square_avg = (T*)slots.a[s];
        T* acc_delta = (T*)slots.b[s];
        for (tdf_u64 i = tdf_first(); i < slots.size[s]; i += tdf_stride()) {
            T pi = p[i], gi = tdf_decayed(g[i], pi, weight_decay);
            T sq = tdf_add(tdf_mul(square_avg[i], rho), tdf_mul(tdf_mul(gi, keep), gi));
            T delta = tdf_mul(tdf_sqrt(acc_delta[i] + eps) / tdf_sqrt(sq + eps), gi);
            square_avg[i] = sq;
            acc_delta[i] = tdf_add(tdf_mul(acc_delta[i], rho),
                                   tdf_mul(tdf_mul(delta, keep), delta));
            if (lr != (T)1) delta = tdf_mul(delta, lr);
            p[i] = tdf_sub(pi, delta);
        }
    }
}
"""

FUSED_KERNEL_NAMES = ("td_relu_forward", "td_bias_add", "td_channel_sums", "td_bn_forward",
                      "td_bn_backward", "td_cross_entropy_forward", "td_cross_entropy_backward",
                      "td_sgd_multi", "td_adam_multi", "td_adadelta_multi")


def fused_kernel_source(dtype_name: str) -> str:
    """The complete CUDA source of the fused layer kernels for ``dtype_name`` (float32 or
    float64)."""
    return typed_source("typedef {ctype} T;\n", dtype_name, "fused layer kernels") + FUSED_SOURCE
