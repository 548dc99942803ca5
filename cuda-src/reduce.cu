// reduce.cu: reductions along one dim, softmax / log-softmax and the prefix sum, for float and bf16
// storage (bf16 is computed in float), the device forms of the CPU's ReduceKernels, SoftmaxKernels and
// ScanKernels.
//
// Layout: every kernel sees its input as a contiguous row-major block x [outer, n, inner] and works
// along the middle dim (n, the reduced or scanned one). A reduction writes out [outer, inner]
// (element k = o * inner + i); softmax and cumsum write [outer, n, inner]. The host reshapes: a
// reduction over several adjacent dims is one n, other layouts are permuted to [kept..., reduced...]
// first (inner = 1).
//
// Determinism: no atomics; every sum has an order fixed by the sizes alone, so results are identical
// run to run. The order differs from the CPU's (pairwise / SIMD lanes), so float sums agree with the
// CPU to rounding, not bit for bit; max, min, argmax and argmin agree exactly.
//
// Reductions (reduce_<op>_<f32|bf16>), one thread block of 256 threads = (Li, Lj):
//   Li = blockDim.x threads along inner (1 when inner is 1, else up to 32) and Lj = 256 / Li along n.
//   Block (blockIdx.x, blockIdx.y) covers columns i in [g * Li, (g + 1) * Li) of slab o (blockIdx.x =
//   o * groups + g) and the chunk p = blockIdx.y of the reduced dim, j in [p * chunk, (p + 1) * chunk).
//   Thread (ti, tj) folds j = j0 + tj, j0 + tj + Lj, ... in increasing order into its accumulator, then
//   the Lj accumulators of each column combine in a shared-memory tree (halving, lower half absorbing
//   the upper). With one chunk (gridDim.y == 1) thread tj = 0 finishes and writes the output; with P
//   chunks it writes a partial at partial[k * P + p], and reduce_finish_<op> (one 256-thread block per
//   output) folds the P partials in order (thread t takes p = t, t + 256, ...) and the same tree.
//   The chunk count is chosen on the host from (outputs, n) only: many chunks for a few long
//   reductions (the sum of a whole 1M-element tensor), one chunk otherwise.
//
//   ops     accumulator (a, b, i)                         output
//   SUM     a = sum x                                      a / denom (denom 1: sum; n: mean)
//   MAX/MIN a = max / min (NaN propagates)                 a
//   ARGMAX  (a, i) = best (value, index), ties to the      i as int64
//   ARGMIN  lower index, NaN best for both (the CPU's)
//   SUMEXP  a = sum exp(x - s), s = shift[k] (0 when      s' + log a  (logsumexp; the host first
//           s is infinite)                                 runs MAX into shift)
//   SQDEV   a = sum (x - s)^2, b = sum (x - s), s the      (a - b^2 / count) / denom  (variance; the
//           mean shift[k]                                  host first runs SUM with denom n)
//   Outputs go to out (the storage type) or, when out_f is given, to float out_f (the passes that
//   feed a shift), or to out_i (int64) for ARG ops.
//
// Softmax (softmax_<f32|bf16>, log_softmax_<...>): the same (Li, Lj) block covers Li columns of one slab
// and the whole of n: a max tree, a tree of sum exp(x - m), then each thread writes its elements as
// exp(x - m) / s or (x - m) - log s (the CPU's formulas).
//
// Prefix sum (cumsum_cols_*: inner > 1; cumsum_rows_*: inner == 1), accumulated in double as the CPU
// does: cols gives one thread per column (o, i), walking j in order; rows gives one warp per row,
// 32 elements per step: a warp inclusive scan (shfl_up, fixed order) plus the carry of the steps before.
#include "common.cuh"
#include <math_constants.h>

#define REDUCE_THREADS 256

enum ReduceOp { OP_SUM = 0, OP_MAX, OP_MIN, OP_ARGMAX, OP_ARGMIN, OP_SUMEXP, OP_SQDEV };

struct Acc {
    float a, b;
    int i;
};

// max / min with NaN propagation and +0 above -0, as Java's Math.max / Math.min.
__device__ __forceinline__ float max_nan(float a, float b) {
    if (a != a || b != b) return CUDART_NAN_F;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
__device__ __forceinline__ float min_nan(float a, float b) {
    if (a != a || b != b) return CUDART_NAN_F;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

// argmin's order: smaller first, ties by lower index, NaN first (two NaNs by index), index -1 last.
__device__ __forceinline__ bool ranks_before_min(float a, int ia, float b, int ib) {
    if (ib < 0) return ia >= 0;
    if (ia < 0) return false;
    bool an = a != a, bn = b != b;
    if (an || bn) return an && (!bn || ia < ib);
    return a < b || (a == b && ia < ib);
}

template <int OP> __device__ __forceinline__ Acc acc_init() {
    Acc r;
    r.a = OP == OP_MAX ? -CUDART_INF_F : (OP == OP_MIN ? CUDART_INF_F : 0.0f);
    r.b = 0.0f;
    r.i = -1;
    return r;
}

template <int OP> __device__ __forceinline__ void acc_add(Acc &r, float x, int j, float s) {
    if (OP == OP_SUM) r.a += x;
    else if (OP == OP_MAX) r.a = max_nan(r.a, x);
    else if (OP == OP_MIN) r.a = min_nan(r.a, x);
    else if (OP == OP_ARGMAX) { if (ranks_before(x, j, r.a, r.i)) { r.a = x; r.i = j; } }
    else if (OP == OP_ARGMIN) { if (ranks_before_min(x, j, r.a, r.i)) { r.a = x; r.i = j; } }
    else if (OP == OP_SUMEXP) r.a += expf(x - s);
    else { float e = x - s; r.b += e; r.a = fmaf(e, e, r.a); }
}

// r absorbs q, which covers later elements (or later lanes) than r: the order of a sum is fixed.
template <int OP> __device__ __forceinline__ void acc_combine(Acc &r, const Acc &q) {
    if (OP == OP_SUM || OP == OP_SUMEXP || OP == OP_SQDEV) { r.a += q.a; r.b += q.b; }
    else if (OP == OP_MAX) r.a = max_nan(r.a, q.a);
    else if (OP == OP_MIN) r.a = min_nan(r.a, q.a);
    else if (OP == OP_ARGMAX) { if (ranks_before(q.a, q.i, r.a, r.i)) r = q; }
    else { if (ranks_before_min(q.a, q.i, r.a, r.i)) r = q; }
}

// The shift of output k: the max for SUMEXP (0 when infinite, as the CPU), the mean for SQDEV.
template <int OP> __device__ __forceinline__ float shift_of(const float *shift, size_t k) {
    if (OP != OP_SUMEXP && OP != OP_SQDEV) return 0.0f;
    float s = shift[k];
    if (OP == OP_SUMEXP && isinf(s)) s = 0.0f;
    return s;
}

template <int OP, typename T>
__device__ __forceinline__ void acc_finish(const Acc &r, size_t k, float s, float count, float denom, T *out,
                                           float *out_f, long long *out_i) {
    if (OP == OP_ARGMAX || OP == OP_ARGMIN) { out_i[k] = r.i; return; }
    float v;
    if (OP == OP_SUM) v = r.a / denom;
    else if (OP == OP_MAX || OP == OP_MIN) v = r.a;
    else if (OP == OP_SUMEXP) v = logf(r.a) + s;
    else v = (float)(((double)r.a - (double)r.b * (double)r.b / (double)count) / (double)denom);
    if (out_f) out_f[k] = v;
    else store_f(out + k, v);
}

// Tree over the Lj accumulators of each column held in sh[tj * Li + ti]; thread (ti, 0) ends with the total.
template <int OP> __device__ __forceinline__ Acc block_tree(Acc r, Acc *sh) {
    const int t = threadIdx.y * blockDim.x + threadIdx.x;
    sh[t] = r;
    __syncthreads();
    for (int h = blockDim.y >> 1; h > 0; h >>= 1) {
        if (threadIdx.y < h) {
            acc_combine<OP>(r, sh[t + h * blockDim.x]);
            sh[t] = r;
        }
        __syncthreads();
    }
    return r;
}

template <int OP, typename T>
__device__ __forceinline__ void reduce_pass(const T *__restrict__ x, int outer, int n, int inner, int chunk,
                                            const float *__restrict__ shift, float *__restrict__ part_a,
                                            float *__restrict__ part_b, int *__restrict__ part_i, float count,
                                            float denom, T *__restrict__ out, float *__restrict__ out_f,
                                            long long *__restrict__ out_i) {
    __shared__ Acc sh[REDUCE_THREADS];
    const int groups = ceil_div(inner, blockDim.x);
    const int o = blockIdx.x / groups;
    const int i = (blockIdx.x % groups) * blockDim.x + threadIdx.x;
    const int P = gridDim.y, p = blockIdx.y;
    const bool live = o < outer && i < inner;
    const size_t k = (size_t)o * inner + i;
    const float s = live ? shift_of<OP>(shift, k) : 0.0f;
    Acc r = acc_init<OP>();
    if (live) {
        const T *col = x + (size_t)o * n * inner + i;
        const int j0 = p * chunk, j1 = min(n, j0 + chunk);
        for (int j = j0 + threadIdx.y; j < j1; j += blockDim.y) acc_add<OP>(r, load_f(col + (size_t)j * inner), j, s);
    }
    r = block_tree<OP>(r, sh);
    if (threadIdx.y != 0 || !live) return;
    if (P == 1) {
        acc_finish<OP, T>(r, k, s, count, denom, out, out_f, out_i);
    } else {
        const size_t q = k * P + p;
        part_a[q] = r.a;
        part_b[q] = r.b;
        part_i[q] = r.i;
    }
}

// One block of 256 threads (Li = 1) per output k: fold its P partials in order, then finish.
template <int OP, typename T>
__device__ __forceinline__ void reduce_finish(int outputs, int P, const float *__restrict__ shift,
                                              const float *__restrict__ part_a, const float *__restrict__ part_b,
                                              const int *__restrict__ part_i, float count, float denom,
                                              T *__restrict__ out, float *__restrict__ out_f,
                                              long long *__restrict__ out_i) {
    __shared__ Acc sh[REDUCE_THREADS];
    const size_t k = blockIdx.x;
    Acc r = acc_init<OP>();
    for (int p = threadIdx.y; p < P; p += blockDim.y) {
        Acc q;
        q.a = part_a[k * P + p];
        q.b = part_b[k * P + p];
        q.i = part_i[k * P + p];
        acc_combine<OP>(r, q);
    }
    r = block_tree<OP>(r, sh);
    if (threadIdx.y == 0) acc_finish<OP, T>(r, k, shift_of<OP>(shift, k), count, denom, out, out_f, out_i);
}

#define REDUCE_ARGS(T) const T *__restrict__ x, int outer, int n, int inner, int chunk, const float *__restrict__ shift, \
    float *__restrict__ part_a, float *__restrict__ part_b, int *__restrict__ part_i, float count, float denom,           \
    T *__restrict__ out, float *__restrict__ out_f, long long *__restrict__ out_i
#define REDUCE_CALL x, outer, n, inner, chunk, shift, part_a, part_b, part_i, count, denom, out, out_f, out_i
#define FINISH_ARGS(T) int outputs, int P, const float *__restrict__ shift, const float *__restrict__ part_a,          \
    const float *__restrict__ part_b, const int *__restrict__ part_i, float count, float denom, T *__restrict__ out,      \
    float *__restrict__ out_f, long long *__restrict__ out_i
#define FINISH_CALL outputs, P, shift, part_a, part_b, part_i, count, denom, out, out_f, out_i
#define REDUCE_KERNELS(name, OP)                                                                                       \
    extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) reduce_##name##_f32(REDUCE_ARGS(float)) {             \
        reduce_pass<OP, float>(REDUCE_CALL);                                                                           \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) reduce_##name##_bf16(REDUCE_ARGS(bf16)) {             \
        reduce_pass<OP, bf16>(REDUCE_CALL);                                                                            \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) reduce_finish_##name##_f32(FINISH_ARGS(float)) {      \
        reduce_finish<OP, float>(FINISH_CALL);                                                                         \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) reduce_finish_##name##_bf16(FINISH_ARGS(bf16)) {      \
        reduce_finish<OP, bf16>(FINISH_CALL);                                                                          \
    }

REDUCE_KERNELS(sum, OP_SUM)
REDUCE_KERNELS(max, OP_MAX)
REDUCE_KERNELS(min, OP_MIN)
REDUCE_KERNELS(argmax, OP_ARGMAX)
REDUCE_KERNELS(argmin, OP_ARGMIN)
REDUCE_KERNELS(sumexp, OP_SUMEXP)
REDUCE_KERNELS(sqdev, OP_SQDEV)

// ------------------------------------------------------------------------------------------------
// softmax / log-softmax along n: one (Li, Lj) block per Li columns of a slab, the whole run each
// ------------------------------------------------------------------------------------------------

// Float tree over the Lj values of each column; every thread of the column gets the total.
template <bool MAX> __device__ __forceinline__ float column_tree(float v, float *sh) {
    const int t = threadIdx.y * blockDim.x + threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (int h = blockDim.y >> 1; h > 0; h >>= 1) {
        if (threadIdx.y < h) {
            float q = sh[t + h * blockDim.x];
            v = MAX ? max_nan(v, q) : v + q;
            sh[t] = v;
        }
        __syncthreads();
    }
    float total = sh[threadIdx.x];
    __syncthreads();                                     // sh is reused by the next tree
    return total;
}

template <bool LOG, typename T>
__device__ __forceinline__ void softmax_run(const T *__restrict__ x, int outer, int n, int inner, T *__restrict__ y) {
    __shared__ float sh[REDUCE_THREADS];
    const int groups = ceil_div(inner, blockDim.x);
    const int o = blockIdx.x / groups;
    const int i = (blockIdx.x % groups) * blockDim.x + threadIdx.x;
    const bool live = o < outer && i < inner;
    const size_t base = (size_t)o * n * inner + i;
    float m = -CUDART_INF_F;
    if (live) for (int j = threadIdx.y; j < n; j += blockDim.y) m = max_nan(m, load_f(x + base + (size_t)j * inner));
    m = column_tree<true>(m, sh);
    float s = 0.0f;
    if (live) for (int j = threadIdx.y; j < n; j += blockDim.y) s += expf(load_f(x + base + (size_t)j * inner) - m);
    s = column_tree<false>(s, sh);
    if (!live) return;
    const float log_s = logf(s);
    for (int j = threadIdx.y; j < n; j += blockDim.y) {
        const size_t e = base + (size_t)j * inner;
        float v = load_f(x + e) - m;
        store_f(y + e, LOG ? v - log_s : expf(v) / s);
    }
}

#define SOFTMAX_ARGS(T) const T *__restrict__ x, int outer, int n, int inner, T *__restrict__ y
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) softmax_f32(SOFTMAX_ARGS(float)) { softmax_run<false, float>(x, outer, n, inner, y); }
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) softmax_bf16(SOFTMAX_ARGS(bf16)) { softmax_run<false, bf16>(x, outer, n, inner, y); }
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) log_softmax_f32(SOFTMAX_ARGS(float)) { softmax_run<true, float>(x, outer, n, inner, y); }
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS) log_softmax_bf16(SOFTMAX_ARGS(bf16)) { softmax_run<true, bf16>(x, outer, n, inner, y); }

// ------------------------------------------------------------------------------------------------
// cumsum along n, accumulated in double
// ------------------------------------------------------------------------------------------------

// One thread per column (o, i), columns = outer * inner, 256 threads per block.
template <typename T>
__device__ __forceinline__ void cumsum_cols(const T *__restrict__ x, int outer, int n, int inner, T *__restrict__ y) {
    const size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= (size_t)outer * inner) return;
    const size_t o = c / inner, i = c % inner;
    const size_t base = o * n * inner + i;
    double acc = 0.0;
    for (int j = 0; j < n; j++) {
        const size_t e = base + (size_t)j * inner;
        acc += (double)load_f(x + e);
        store_f(y + e, (float)acc);
    }
}

// One warp per row (inner == 1), 8 rows per block of (32, 8) threads.
template <typename T>
__device__ __forceinline__ void cumsum_rows(const T *__restrict__ x, int rows, int n, T *__restrict__ y) {
    const int r = blockIdx.x * blockDim.y + threadIdx.y;
    if (r >= rows) return;                               // whole warps leave together
    const int lane = threadIdx.x;
    const T *xr = x + (size_t)r * n;
    T *yr = y + (size_t)r * n;
    double carry = 0.0;
    for (int base = 0; base < n; base += MOE4J_WARP) {
        const int j = base + lane;
        double v = j < n ? (double)load_f(xr + j) : 0.0;
#pragma unroll
        for (int o = 1; o < MOE4J_WARP; o <<= 1) {
            double u = __shfl_up_sync(MOE4J_FULL_MASK, v, o);
            if (lane >= o) v += u;
        }
        if (j < n) store_f(yr + j, (float)(carry + v));
        carry += __shfl_sync(MOE4J_FULL_MASK, v, MOE4J_WARP - 1);
    }
}

extern "C" __global__ void __launch_bounds__(256) cumsum_cols_f32(SOFTMAX_ARGS(float)) { cumsum_cols<float>(x, outer, n, inner, y); }
extern "C" __global__ void __launch_bounds__(256) cumsum_cols_bf16(SOFTMAX_ARGS(bf16)) { cumsum_cols<bf16>(x, outer, n, inner, y); }
extern "C" __global__ void __launch_bounds__(256) cumsum_rows_f32(const float *__restrict__ x, int rows, int n, float *__restrict__ y) { cumsum_rows<float>(x, rows, n, y); }
extern "C" __global__ void __launch_bounds__(256) cumsum_rows_bf16(const bf16 *__restrict__ x, int rows, int n, bf16 *__restrict__ y) { cumsum_rows<bf16>(x, rows, n, y); }
