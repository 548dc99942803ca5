// indexing.cu: gathers, scatter-adds, row copies and selection by rank, the device forms of the CPU's
// GatherKernels, ScatterKernels, ConcatKernels, TopKKernels and SortKernels.
//
// Layout: as in reduce.cu, operands are contiguous row-major blocks seen as [outer, n, inner] around
// the dim an op works on. Index values are int32 or int64; ints here are 32-bit (the host checks that
// every size fits).
//
// Gather (index_gather_<bits>_<i32|i64>): out [outer, m, inner], one thread per output element e =
//   (o, j, i) in a grid-stride loop; the index is idx[j] (index select: per_element = 0) or idx[e]
//   (gather: per_element = 1); out[e] = x[o, idx, i]. Elements are moved as raw 1, 2, 4 or 8-byte words,
//   so any dtype works. An index outside [0, n) writes 0 and lowers *bad to its position (an atomicMin
//   on an int: the result, the first bad position, does not depend on the order), which the host reads
//   back and turns into an IndexOutOfBoundsException naming that index.
//
// Scatter-add without atomics: the host builds a plan from the index (a stable counting sort of the
//   index positions by their target), so each target is owned by one thread that adds its sources in
//   increasing position order: exactly the CPU's order, so float results equal the CPU's bit for bit.
//   scatter_add_plan_<f32|bf16>: thread q owns target element targets[q] of out (flat), adding
//     src[sources[r]] for r in [starts[q], starts[q + 1]).
//   index_add_rows_<f32|bf16>: thread (o, q, i) owns out[o, rows[q], i], adding src[o, js[r], i] for r in
//     [starts[q], starts[q + 1]) (the rows of the 1-D index, grouped by target row).
//   out holds a copy of the input before the launch; accumulation is in float, one rounding at the end.
//
// Row copies (copy_rows_<bits>): dst[r * dst_pitch + dst_off + c] = src[r * len + c] for r < rows,
//   c < len: one part of a concatenation, a grid-stride loop over its elements.
//
// Selection by rank (rank_select_<f32|bf16>): rows [rows, n]; block (r, g) takes elements e = g * 256 +
//   t of row r, and counts the elements of the row that come before e in the order (a tile of 256 row
//   elements at a time in shared memory); an element of rank < k is written to values[r, rank] and
//   indices[r, rank]. Order for largest: larger first, NaN above every number; for smallest: smaller
//   first, NaN after every number; ties by lower position in both (the CPU's topk and stable argsort).
//   O(n^2) comparisons per row, all in parallel: meant for the rows of routers and small sorts.
#include "common.cuh"

// ------------------------------------------------------------------------------------------------
// gather / index select
// ------------------------------------------------------------------------------------------------

template <typename E, typename I>
__device__ __forceinline__ void gather(const E *__restrict__ x, int outer, int n, int inner, const I *__restrict__ idx,
                                       int m, int per_element, E *__restrict__ out, int *__restrict__ bad) {
    const size_t total = (size_t)outer * m * inner, slab = (size_t)m * inner;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const size_t o = e / slab, rest = e % slab, j = rest / inner, i = rest % inner;
        const size_t pos = per_element ? e : j;
        const long long v = (long long)idx[pos];
        if (v < 0 || v >= n) {
            atomicMin(bad, (int)pos);
            out[e] = E(0);
        } else {
            out[e] = x[(o * n + (size_t)v) * inner + i];
        }
    }
}

#define GATHER_ARGS(E, I) const E *__restrict__ x, int outer, int n, int inner, const I *__restrict__ idx, int m, \
    int per_element, E *__restrict__ out, int *__restrict__ bad
#define GATHER_KERNEL(bits, E, isuf, I)                                                                          \
    extern "C" __global__ void __launch_bounds__(256) index_gather_##bits##_##isuf(GATHER_ARGS(E, I)) {           \
        gather<E, I>(x, outer, n, inner, idx, m, per_element, out, bad);                                          \
    }
GATHER_KERNEL(b8, uint8_t, i32, int)
GATHER_KERNEL(b8, uint8_t, i64, long long)
GATHER_KERNEL(b16, uint16_t, i32, int)
GATHER_KERNEL(b16, uint16_t, i64, long long)
GATHER_KERNEL(b32, uint32_t, i32, int)
GATHER_KERNEL(b32, uint32_t, i64, long long)
GATHER_KERNEL(b64, unsigned long long, i32, int)
GATHER_KERNEL(b64, unsigned long long, i64, long long)

// ------------------------------------------------------------------------------------------------
// scatter-add and index-add by a plan
// ------------------------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ void scatter_add_plan(T *__restrict__ out, const int *__restrict__ targets,
                                                 const int *__restrict__ starts, const int *__restrict__ sources,
                                                 const T *__restrict__ src, int count) {
    const int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= count) return;
    T *t = out + targets[q];
    float acc = load_f(t);
    for (int r = starts[q]; r < starts[q + 1]; r++) acc += load_f(src + sources[r]);
    store_f(t, acc);
}

template <typename T>
__device__ __forceinline__ void index_add_rows(T *__restrict__ out, int outer, int n, int inner, const int *__restrict__ rows,
                                               const int *__restrict__ starts, const int *__restrict__ js,
                                               const T *__restrict__ src, int m, int count) {
    const size_t total = (size_t)outer * count * inner, slab = (size_t)count * inner;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const size_t o = e / slab, rest = e % slab, q = rest / inner, i = rest % inner;
        T *t = out + (o * n + (size_t)rows[q]) * inner + i;
        float acc = load_f(t);
        for (int r = starts[q]; r < starts[q + 1]; r++) acc += load_f(src + (o * m + (size_t)js[r]) * inner + i);
        store_f(t, acc);
    }
}

#define SCATTER_ARGS(T) T *__restrict__ out, const int *__restrict__ targets, const int *__restrict__ starts, \
    const int *__restrict__ sources, const T *__restrict__ src, int count
#define INDEX_ADD_ARGS(T) T *__restrict__ out, int outer, int n, int inner, const int *__restrict__ rows, \
    const int *__restrict__ starts, const int *__restrict__ js, const T *__restrict__ src, int m, int count
extern "C" __global__ void __launch_bounds__(256) scatter_add_plan_f32(SCATTER_ARGS(float)) { scatter_add_plan<float>(out, targets, starts, sources, src, count); }
extern "C" __global__ void __launch_bounds__(256) scatter_add_plan_bf16(SCATTER_ARGS(bf16)) { scatter_add_plan<bf16>(out, targets, starts, sources, src, count); }
extern "C" __global__ void __launch_bounds__(256) index_add_rows_f32(INDEX_ADD_ARGS(float)) { index_add_rows<float>(out, outer, n, inner, rows, starts, js, src, m, count); }
extern "C" __global__ void __launch_bounds__(256) index_add_rows_bf16(INDEX_ADD_ARGS(bf16)) { index_add_rows<bf16>(out, outer, n, inner, rows, starts, js, src, m, count); }

// ------------------------------------------------------------------------------------------------
// row copies (concatenation)
// ------------------------------------------------------------------------------------------------

template <typename E>
__device__ __forceinline__ void copy_rows(const E *__restrict__ src, int rows, int len, E *__restrict__ dst,
                                          int dst_pitch, int dst_off) {
    const size_t total = (size_t)rows * len;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const size_t r = e / len, c = e % len;
        dst[r * dst_pitch + dst_off + c] = src[e];
    }
}

#define COPY_ROWS_KERNEL(bits, E)                                                                                   \
    extern "C" __global__ void __launch_bounds__(256) copy_rows_##bits(const E *__restrict__ src, int rows, int len, \
                                                                       E *__restrict__ dst, int dst_pitch, int dst_off) { \
        copy_rows<E>(src, rows, len, dst, dst_pitch, dst_off);                                                      \
    }
COPY_ROWS_KERNEL(b8, uint8_t)
COPY_ROWS_KERNEL(b16, uint16_t)
COPY_ROWS_KERNEL(b32, uint32_t)
COPY_ROWS_KERNEL(b64, unsigned long long)

// ------------------------------------------------------------------------------------------------
// selection by rank (topk, argsort)
// ------------------------------------------------------------------------------------------------

#define RANK_THREADS 256

// Whether (a, ia) comes before (b, ib): largest-first or smallest-first, NaN the largest, ties by position.
__device__ __forceinline__ bool comes_before(float a, int ia, float b, int ib, bool largest) {
    bool an = a != a, bn = b != b;
    if (an || bn) {
        if (an && bn) return ia < ib;
        return largest ? an : bn;
    }
    if (a == b) return ia < ib;
    return largest ? a > b : a < b;
}

template <typename T>
__device__ __forceinline__ void rank_select(const T *__restrict__ x, int rows, int n, int k, int largest,
                                            T *__restrict__ values, long long *__restrict__ indices) {
    __shared__ float tile[RANK_THREADS];
    const int groups = ceil_div(n, RANK_THREADS);
    const int r = blockIdx.x / groups;
    const int e = (blockIdx.x % groups) * RANK_THREADS + threadIdx.x;
    const T *row = x + (size_t)r * n;
    const bool live = r < rows && e < n;
    const float v = live ? load_f(row + e) : 0.0f;
    int rank = 0;
    for (int base = 0; base < n; base += RANK_THREADS) {
        const int j = base + threadIdx.x;
        tile[threadIdx.x] = (r < rows && j < n) ? load_f(row + j) : 0.0f;
        __syncthreads();
        const int len = min(RANK_THREADS, n - base);
        if (live) for (int t = 0; t < len; t++) rank += comes_before(tile[t], base + t, v, e, largest != 0);
        __syncthreads();
    }
    if (live && rank < k) {
        if (values) values[(size_t)r * k + rank] = row[e];
        indices[(size_t)r * k + rank] = e;
    }
}

#define RANK_ARGS(T) const T *__restrict__ x, int rows, int n, int k, int largest, T *__restrict__ values, \
    long long *__restrict__ indices
extern "C" __global__ void __launch_bounds__(RANK_THREADS) rank_select_f32(RANK_ARGS(float)) { rank_select<float>(x, rows, n, k, largest, values, indices); }
extern "C" __global__ void __launch_bounds__(RANK_THREADS) rank_select_bf16(RANK_ARGS(bf16)) { rank_select<bf16>(x, rows, n, k, largest, values, indices); }
