// routing.cu: the routing plan of an MoE layer on the device, and the row movements that use it
// (permute, combine, and their backward passes).
//
// The executable specification is the CPU's dev.moe4j.kernels.cpu.moe.{RoutingPlan, Permute, Combine}.
// Every output here equals the CPU's: the plan exactly, permute / unpermute-sum / combine bit for bit
// in float (up to the sign of a zero), the gate-weight gradient up to the summation order of a dot.
//
// Shapes (row-major; ints are 32-bit):
//   ids          [T*k]        expert of pair p = t*k + j (token t's slot j)
//   demand       [E]          pairs routed to each expert before capacity
//   counts       [E]          pairs kept (= min(demand, capacity))
//   offsets      [E + 1]      exclusive prefix sum of counts; offsets[E] = R
//   row_to_pair  [R]          row -> pair, expert-major, pair order inside an expert (a stable sort)
//   pair_to_row  [T*k]        pair -> row, -1 for a dropped pair
//   dropped      [T*k - R]    dropped pairs, increasing
//   x, dx, y, dy [T, d]       token rows (float or bf16)
//   x_perm, ...  [R, d]       expert-sorted rows
//   weights, d_weights [T*k]  gate weights and their gradient (float)
//
// Building the plan: histogram + exclusive scan + stable scatter, in four launches.
//   1. moe_routing_chunk_histogram: pairs are cut into chunks of `chunk` consecutive pairs, one block
//      each; the block counts its chunk per expert in shared memory -> chunk_counts [n_chunks, E]
//      (and flags expert ids outside [0, E), which the host turns into an exception).
//   2. moe_routing_scan (one block): per expert, an exclusive scan over the chunks gives chunk_base
//      [n_chunks, E] (the position, within the expert's pairs in pair order, of the chunk's first pair
//      of that expert) and demand; counts = min(demand, capacity); a block scan over the experts gives
//      offsets.
//   3. moe_routing_scatter: one block per chunk walks its pairs in order, 256 at a time. Inside a warp,
//      __match_any_sync groups the lanes that picked the same expert and a lane's rank in its group is
//      the number of lower lanes in it; the 8 warps then take turns (a barrier between turns) reading
//      and advancing a shared cursor per expert. So pair p gets position = (number of earlier pairs of
//      the same expert), exactly the CPU's stable order. Capacity by position: kept iff position <
//      capacity; row = offsets[e] + position.
//   4. moe_routing_dropped (only under a capacity): ordered compaction of the dropped pairs, one block
//      per chunk, the chunk's start found by summing the earlier chunks' dropped counts.
//
// Capacity by score (an expert over capacity C keeps its C pairs of highest gate weight, equal weights
// by pair order, the kept pairs in pair order in its rows; the CPU's RoutingPlan under BY_SCORE):
//   1. the histogram as above, also flagging the lowest pair with a NaN weight;
//   2. the scan twice: once without capacity (offsets of the demand: where each expert's pairs go when
//      all are kept), once with C (the plan's counts and offsets);
//   3. the scatter without capacity into by_expert [T*k]: each expert's pairs, in pair order;
//   4. moe_routing_select_by_score, one block per expert: an expert within capacity copies its pairs to
//      its rows. Otherwise a radix select finds the C-th best drop key (an unsigned int per weight,
//      smaller for a larger weight, -0 = +0) in four passes of 8 bits, each a 256-bin shared histogram of
//      the pairs that match the digits found so far; this gives the key K of the last kept pair and how
//      many pairs with key K are kept (the first ones in pair order). A last ordered pass over the
//      expert's pairs (block-wide counts of ties and of kept pairs before each) keeps a pair when its
//      key is below K, or equals K within that many, and gives it the next row of the expert;
//   5. moe_routing_count_dropped (dropped pairs per chunk) and moe_routing_dropped as above.
// Every step counts integers and walks pairs in a fixed order: the plan equals the CPU's exactly.
//
// Permute and friends: one warp-wide (or wider) group of threads per row; no atomics anywhere, every
// output element written by exactly one thread, slots summed in slot order, so results are the same on
// every run. Versions: v1 one element per thread step (any d), v2 16-byte vectors per thread step
// (row bytes a multiple of 16 and 16-byte aligned rows).
#include "common.cuh"

// ------------------------------------------------------------------------------------------------
// plan
// ------------------------------------------------------------------------------------------------

// An expert id outside [0, E) is not counted; the lowest such pair index goes to bad[0] (set to INT_MAX
// before the launch), which the host checks before the scatter runs. With weights (capacity by score;
// nullptr otherwise) the lowest pair with a NaN weight goes to bad[1].
extern "C" __global__ void moe_routing_chunk_histogram(const int *__restrict__ ids, const float *__restrict__ weights,
                                                       int pairs, int E, int chunk, int *__restrict__ chunk_counts,
                                                       int *__restrict__ bad) {
    extern __shared__ int h[];                           // [E]
    for (int e = threadIdx.x; e < E; e += blockDim.x) h[e] = 0;
    __syncthreads();
    int start = blockIdx.x * chunk, end = min(start + chunk, pairs);
    for (int p = start + threadIdx.x; p < end; p += blockDim.x) {
        int e = ids[p];
        if (e >= 0 && e < E) atomicAdd(&h[e], 1);
        else atomicMin(&bad[0], p);
        if (weights && weights[p] != weights[p]) atomicMin(&bad[1], p);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) chunk_counts[(size_t)blockIdx.x * E + e] = h[e];
}

// One block (blockDim.x a multiple of 32, at most 1024).
extern "C" __global__ void moe_routing_scan(const int *__restrict__ chunk_counts, int n_chunks, int E, int capacity,
                                            int *__restrict__ chunk_base, int *__restrict__ demand,
                                            int *__restrict__ counts, int *__restrict__ offsets) {
    __shared__ int partial[1024];
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int run = 0;
        for (int c = 0; c < n_chunks; c++) {
            chunk_base[(size_t)c * E + e] = run;
            run += chunk_counts[(size_t)c * E + e];
        }
        demand[e] = run;
        counts[e] = capacity < 0 ? run : min(run, capacity);
    }
    __syncthreads();
    // exclusive scan of counts: thread i owns experts [i*per, (i+1)*per)
    int per = ceil_div(E, blockDim.x);
    int lo = min(E, threadIdx.x * per), hi = min(E, lo + per);
    int sum = 0;
    for (int e = lo; e < hi; e++) sum += counts[e];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int o = 1; o < blockDim.x; o <<= 1) {           // Hillis-Steele inclusive scan of the partials
        int v = threadIdx.x >= o ? partial[threadIdx.x - o] : 0;
        __syncthreads();
        partial[threadIdx.x] += v;
        __syncthreads();
    }
    int run = partial[threadIdx.x] - sum;
    for (int e = lo; e < hi; e++) { offsets[e] = run; run += counts[e]; }
    if (threadIdx.x == blockDim.x - 1) offsets[E] = partial[threadIdx.x];
}

#define SCATTER_THREADS 256

extern "C" __global__ void __launch_bounds__(SCATTER_THREADS) moe_routing_scatter(
        const int *__restrict__ ids, int pairs, int E, int chunk, int capacity, const int *__restrict__ chunk_base,
        const int *__restrict__ offsets, int *__restrict__ row_to_pair, int *__restrict__ pair_to_row,
        int *__restrict__ chunk_dropped) {
    extern __shared__ int cursor[];                      // [E]
    __shared__ int warp_dropped[SCATTER_THREADS / 32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int e = threadIdx.x; e < E; e += blockDim.x) cursor[e] = chunk_base[(size_t)blockIdx.x * E + e];
    __syncthreads();
    int start = blockIdx.x * chunk, end = min(start + chunk, pairs);
    int dropped_here = 0;
    for (int base = start; base < end; base += blockDim.x) {
        int p = base + threadIdx.x;
        bool valid = p < end;
        int e = valid ? ids[p] : -1;
        unsigned peers = __match_any_sync(MOE4J_FULL_MASK, e);
        int rank = __popc(peers & ((1u << lane) - 1u));
        int leader = 31 - __clz(peers);                  // the highest lane of the group
        int pos = 0;
        for (int w = 0; w < warps; w++) {
            if (warp == w) {
                if (valid) pos = cursor[e] + rank;
                __syncwarp();
                if (valid && lane == leader) cursor[e] = pos + 1;
            }
            __syncthreads();
        }
        if (valid) {
            if (capacity < 0 || pos < capacity) {
                int row = offsets[e] + pos;
                row_to_pair[row] = p;
                pair_to_row[p] = row;
            } else {
                pair_to_row[p] = -1;
                dropped_here++;
            }
        }
    }
    dropped_here = warp_sum_int(dropped_here);
    if (lane == 0) warp_dropped[warp] = dropped_here;
    __syncthreads();
    if (threadIdx.x == 0) {
        int total = 0;
        for (int w = 0; w < warps; w++) total += warp_dropped[w];
        chunk_dropped[blockIdx.x] = total;
    }
}

extern "C" __global__ void __launch_bounds__(SCATTER_THREADS) moe_routing_dropped(
        const int *__restrict__ pair_to_row, int pairs, int chunk, const int *__restrict__ chunk_dropped,
        int *__restrict__ dropped) {
    __shared__ int warp_count[SCATTER_THREADS / 32];
    __shared__ int cursor;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (threadIdx.x == 0) {
        int c = 0;
        for (int b = 0; b < blockIdx.x; b++) c += chunk_dropped[b];
        cursor = c;
    }
    __syncthreads();
    int start = blockIdx.x * chunk, end = min(start + chunk, pairs);
    for (int base = start; base < end; base += blockDim.x) {
        int p = base + threadIdx.x;
        bool drop = p < end && pair_to_row[p] < 0;
        unsigned bal = __ballot_sync(MOE4J_FULL_MASK, drop);
        if (lane == 0) warp_count[warp] = __popc(bal);
        __syncthreads();
        int before = cursor;
        for (int w = 0; w < warp; w++) before += warp_count[w];
        if (drop) dropped[before + __popc(bal & ((1u << lane) - 1u))] = p;
        __syncthreads();
        if (threadIdx.x == 0) {
            int total = 0;
            for (int w = 0; w < warps; w++) total += warp_count[w];
            cursor += total;
        }
        __syncthreads();
    }
}

// ------------------------------------------------------------------------------------------------
// capacity by score
// ------------------------------------------------------------------------------------------------

// The drop key of a (non-NaN) gate weight: unsigned order is falling weight order (a larger weight gets a
// smaller key), -0 and +0 share a key. The CPU sorts by the same order (RoutingPlan.orderedBits).
__device__ __forceinline__ unsigned drop_key(float w) {
    unsigned b = __float_as_uint(w == 0.0f ? 0.0f : w);
    return (b & 0x80000000u) ? b : ~(b | 0x80000000u);
}

// Over the block (every thread calls it): how many threads before this one (in thread order) have
// `flag`, and how many have it in all. warp_totals: [blockDim.x / 32] shared ints.
__device__ __forceinline__ int2 block_count_before(bool flag, int *warp_totals) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    unsigned bal = __ballot_sync(MOE4J_FULL_MASK, flag);
    if (lane == 0) warp_totals[warp] = __popc(bal);
    __syncthreads();
    int before = __popc(bal & ((1u << lane) - 1u)), total = 0;
    for (int w = 0; w < warps; w++) {
        int c = warp_totals[w];
        if (w < warp) before += c;
        total += c;
    }
    __syncthreads();                                     // warp_totals is reused by the next call
    return make_int2(before, total);
}

// One block per expert e (blockDim.x = SCATTER_THREADS). by_expert[demand_offsets[e] ...] holds e's
// demand[e] pairs in pair order; the kept ones go to rows offsets[e], offsets[e] + 1, ... in pair order,
// the others get pair_to_row = -1. capacity >= 0.
extern "C" __global__ void __launch_bounds__(SCATTER_THREADS) moe_routing_select_by_score(
        const int *__restrict__ by_expert, const int *__restrict__ demand_offsets, const int *__restrict__ demand,
        const float *__restrict__ weights, int capacity, const int *__restrict__ offsets, int *__restrict__ row_to_pair,
        int *__restrict__ pair_to_row) {
    __shared__ int hist[256];
    __shared__ int warp_totals[SCATTER_THREADS / 32];
    __shared__ unsigned found_prefix;
    __shared__ int found_need;
    const int e = blockIdx.x, lane = threadIdx.x & 31;
    const int n = demand[e], out = offsets[e];
    const int *seg = by_expert + demand_offsets[e];
    if (n <= capacity) {                                 // within capacity: every pair keeps its place
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            int p = seg[i];
            row_to_pair[out + i] = p;
            pair_to_row[p] = out + i;
        }
        return;
    }

    // radix select: after the passes, `prefix` is the C-th smallest key and `need` the number of pairs
    // with that key to keep (the first ones in pair order)
    unsigned prefix = 0, mask = 0;
    int need = capacity;
    for (int shift = 24; capacity > 0 && shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            unsigned d = drop_key(weights[seg[i]]);
            if ((d & mask) == prefix) atomicAdd(&hist[(d >> shift) & 255], 1);
        }
        __syncthreads();
        if (threadIdx.x < 32) {
            // lane l sums bins [8l, 8l + 8); the lane whose range holds the need-th pair finds the digit
            int local = 0;
#pragma unroll
            for (int b = 0; b < 8; b++) local += hist[lane * 8 + b];
            int incl = local;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                int v = __shfl_up_sync(MOE4J_FULL_MASK, incl, o);
                if (lane >= o) incl += v;
            }
            int run = incl - local;
            if (run < need && need <= incl) {
                int digit = lane * 8;
                for (int b = 0; b < 8; b++) {
                    int c = hist[lane * 8 + b];
                    if (run + c >= need) { digit = lane * 8 + b; break; }
                    run += c;
                }
                found_prefix = prefix | ((unsigned)digit << shift);
                found_need = need - run;
            }
        }
        __syncthreads();
        prefix = found_prefix;
        need = found_need;
        mask |= 255u << shift;
    }

    // ordered pass: keep keys below prefix, and the first `need` pairs whose key equals it
    int ties_so_far = 0, kept_so_far = 0;
    for (int base = 0; base < n; base += blockDim.x) {
        int i = base + threadIdx.x;
        bool valid = i < n;
        int p = valid ? seg[i] : 0;
        unsigned d = valid ? drop_key(weights[p]) : 0xffffffffu;
        bool tie = valid && capacity > 0 && d == prefix;
        int2 ties = block_count_before(tie, warp_totals);
        bool keep = valid && capacity > 0 && (d < prefix || (tie && ties_so_far + ties.x < need));
        int2 kept = block_count_before(keep, warp_totals);
        if (keep) {
            int row = out + kept_so_far + kept.x;
            row_to_pair[row] = p;
            pair_to_row[p] = row;
        } else if (valid) {
            pair_to_row[p] = -1;
        }
        ties_so_far += ties.y;
        kept_so_far += kept.y;
    }
}

// Dropped pairs (pair_to_row < 0) per chunk of pairs, one block (SCATTER_THREADS) per chunk.
extern "C" __global__ void __launch_bounds__(SCATTER_THREADS) moe_routing_count_dropped(
        const int *__restrict__ pair_to_row, int pairs, int chunk, int *__restrict__ chunk_dropped) {
    __shared__ int warp_totals[SCATTER_THREADS / 32];
    int start = blockIdx.x * chunk, end = min(start + chunk, pairs);
    int total = 0;
    for (int base = start; base < end; base += blockDim.x) {
        int p = base + threadIdx.x;
        total += block_count_before(p < end && pair_to_row[p] < 0, warp_totals).y;
    }
    if (threadIdx.x == 0) chunk_dropped[blockIdx.x] = total;
}

// ------------------------------------------------------------------------------------------------
// 16-byte vectors of float or bf16, unpacked to float
// ------------------------------------------------------------------------------------------------

template <typename T> struct Vec16;
template <> struct Vec16<float> {
    static constexpr int N = 4;
    __device__ static void load(const float *p, float (&v)[4]) {
        float4 q = *reinterpret_cast<const float4 *>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    }
    __device__ static void store(float *p, const float (&v)[4]) {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    }
};
template <> struct Vec16<bf16> {
    static constexpr int N = 8;
    __device__ static void load(const bf16 *p, float (&v)[8]) {
        uint4 q = *reinterpret_cast<const uint4 *>(p);
        const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&q);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 f = __bfloat1622float2(h[i]);
            v[2 * i] = f.x; v[2 * i + 1] = f.y;
        }
    }
    __device__ static void store(bf16 *p, const float (&v)[8]) {
        uint4 q;
        __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&q);
#pragma unroll
        for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
        *reinterpret_cast<uint4 *>(p) = q;
    }
};

// ------------------------------------------------------------------------------------------------
// permute: x_perm[r, :] = x[row_to_pair[r] / k, :]
// ------------------------------------------------------------------------------------------------

// v1: grid-stride loop over the R*d elements of x_perm, 4-byte elements (float).
extern "C" __global__ void moe_permute_v1_f32(const float *__restrict__ x, const int *__restrict__ row_to_pair,
                                              int R, int k, int d, float *__restrict__ x_perm) {
    size_t n = (size_t)R * d;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int r = (int)(i / d), c = (int)(i % d);
        x_perm[i] = x[(size_t)(row_to_pair[r] / k) * d + c];
    }
}

// v1 for 2-byte elements (bf16 moved as raw bits).
extern "C" __global__ void moe_permute_v1_b16(const unsigned short *__restrict__ x, const int *__restrict__ row_to_pair,
                                              int R, int k, int d, unsigned short *__restrict__ x_perm) {
    size_t n = (size_t)R * d;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int r = (int)(i / d), c = (int)(i % d);
        x_perm[i] = x[(size_t)(row_to_pair[r] / k) * d + c];
    }
}

// v2: a block of (blockDim.x, blockDim.y) threads copies blockDim.y rows, each by blockDim.x threads in
// steps of 16 bytes, four loads in flight before the stores. Any element type: row_vecs = row bytes / 16.
extern "C" __global__ void __launch_bounds__(256) moe_permute_v2(const uint4 *__restrict__ x,
                                                                 const int *__restrict__ row_to_pair, int R, int k,
                                                                 int row_vecs, uint4 *__restrict__ x_perm) {
    int r = blockIdx.x * blockDim.y + threadIdx.y;
    if (r >= R) return;
    const uint4 *src = x + (size_t)(row_to_pair[r] / k) * row_vecs;
    uint4 *dst = x_perm + (size_t)r * row_vecs;
    int c = threadIdx.x;
    const int step = blockDim.x;
    for (; c + 3 * step < row_vecs; c += 4 * step) {
        uint4 a = src[c], b = src[c + step], e = src[c + 2 * step], f = src[c + 3 * step];
        dst[c] = a; dst[c + step] = b; dst[c + 2 * step] = e; dst[c + 3 * step] = f;
    }
    for (; c < row_vecs; c += step) dst[c] = src[c];
}

// ------------------------------------------------------------------------------------------------
// permute backward (unpermute-sum): dx[t, :] = 0 + sum over kept slots j, in order, of dx_perm[row(t, j), :]
// ------------------------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ void permute_backward_v1(const T *__restrict__ dx_perm, const int *__restrict__ pair_to_row,
                                                    int n_tokens, int k, int d, T *__restrict__ dx) {
    int t = blockIdx.x * blockDim.y + threadIdx.y;
    if (t >= n_tokens) return;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < k; j++) {
            int r = pair_to_row[(size_t)t * k + j];
            if (r >= 0) acc = __fadd_rn(acc, load_f(dx_perm + (size_t)r * d + c));
        }
        store_f(dx + (size_t)t * d + c, acc);
    }
}

template <typename T>
__device__ __forceinline__ void permute_backward_v2(const T *__restrict__ dx_perm, const int *__restrict__ pair_to_row,
                                                    int n_tokens, int k, int d, T *__restrict__ dx) {
    constexpr int N = Vec16<T>::N;
    int t = blockIdx.x * blockDim.y + threadIdx.y;
    if (t >= n_tokens) return;
    for (int c = threadIdx.x * N; c < d; c += blockDim.x * N) {
        float acc[N], v[N];
#pragma unroll
        for (int i = 0; i < N; i++) acc[i] = 0.0f;
        for (int j = 0; j < k; j++) {
            int r = pair_to_row[(size_t)t * k + j];
            if (r < 0) continue;
            Vec16<T>::load(dx_perm + (size_t)r * d + c, v);
#pragma unroll
            for (int i = 0; i < N; i++) acc[i] = __fadd_rn(acc[i], v[i]);
        }
        Vec16<T>::store(dx + (size_t)t * d + c, acc);
    }
}

#define ROWS_ARGS(T) const T *__restrict__ in, const int *__restrict__ pair_to_row, int n_tokens, int k, int d, T *__restrict__ out
extern "C" __global__ void __launch_bounds__(256) moe_permute_backward_v1_f32(ROWS_ARGS(float)) { permute_backward_v1(in, pair_to_row, n_tokens, k, d, out); }
extern "C" __global__ void __launch_bounds__(256) moe_permute_backward_v1_bf16(ROWS_ARGS(bf16)) { permute_backward_v1(in, pair_to_row, n_tokens, k, d, out); }
extern "C" __global__ void __launch_bounds__(256) moe_permute_backward_v2_f32(ROWS_ARGS(float)) { permute_backward_v2(in, pair_to_row, n_tokens, k, d, out); }
extern "C" __global__ void __launch_bounds__(256) moe_permute_backward_v2_bf16(ROWS_ARGS(bf16)) { permute_backward_v2(in, pair_to_row, n_tokens, k, d, out); }

// ------------------------------------------------------------------------------------------------
// combine: y[t, :] = 0 + sum over kept slots j, in order, of w[t, j] * y_perm[row(t, j), :]
// Multiplication and addition are rounded separately (__fmul_rn, __fadd_rn: no fused multiply-add), as
// the CPU reference computes them, so float results agree bit for bit.
// ------------------------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ void combine_v1(const float *__restrict__ weights, const T *__restrict__ y_perm,
                                           const int *__restrict__ pair_to_row, int n_tokens, int k, int d,
                                           T *__restrict__ y) {
    int t = blockIdx.x * blockDim.y + threadIdx.y;
    if (t >= n_tokens) return;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < k; j++) {
            int r = pair_to_row[(size_t)t * k + j];
            if (r >= 0) acc = __fadd_rn(acc, __fmul_rn(weights[(size_t)t * k + j], load_f(y_perm + (size_t)r * d + c)));
        }
        store_f(y + (size_t)t * d + c, acc);
    }
}

template <typename T>
__device__ __forceinline__ void combine_v2(const float *__restrict__ weights, const T *__restrict__ y_perm,
                                           const int *__restrict__ pair_to_row, int n_tokens, int k, int d,
                                           T *__restrict__ y) {
    constexpr int N = Vec16<T>::N;
    int t = blockIdx.x * blockDim.y + threadIdx.y;
    if (t >= n_tokens) return;
    for (int c = threadIdx.x * N; c < d; c += blockDim.x * N) {
        float acc[N], v[N];
#pragma unroll
        for (int i = 0; i < N; i++) acc[i] = 0.0f;
        for (int j = 0; j < k; j++) {
            int r = pair_to_row[(size_t)t * k + j];
            if (r < 0) continue;
            float w = weights[(size_t)t * k + j];
            Vec16<T>::load(y_perm + (size_t)r * d + c, v);
#pragma unroll
            for (int i = 0; i < N; i++) acc[i] = __fadd_rn(acc[i], __fmul_rn(w, v[i]));
        }
        Vec16<T>::store(y + (size_t)t * d + c, acc);
    }
}

#define COMBINE_ARGS(T) const float *__restrict__ weights, const T *__restrict__ y_perm, const int *__restrict__ pair_to_row, int n_tokens, int k, int d, T *__restrict__ y
extern "C" __global__ void __launch_bounds__(256) moe_combine_v1_f32(COMBINE_ARGS(float)) { combine_v1(weights, y_perm, pair_to_row, n_tokens, k, d, y); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_v1_bf16(COMBINE_ARGS(bf16)) { combine_v1(weights, y_perm, pair_to_row, n_tokens, k, d, y); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_v2_f32(COMBINE_ARGS(float)) { combine_v2(weights, y_perm, pair_to_row, n_tokens, k, d, y); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_v2_bf16(COMBINE_ARGS(bf16)) { combine_v2(weights, y_perm, pair_to_row, n_tokens, k, d, y); }

// ------------------------------------------------------------------------------------------------
// combine backward: d_y_perm[row(t, j), :] = w[t, j] * dy[t, :]  (nullptr: skipped)
//                   d_weights[t, j] = dot(dy[t, :], y_perm[row(t, j), :]), 0 for a dropped slot (nullptr: skipped)
// One warp per token (blockDim = (32, rows)); the dot is a lane-strided partial sum then a fixed
// butterfly, so it is the same on every run (its order differs from the CPU's sequential sum).
// ------------------------------------------------------------------------------------------------

template <typename T, bool VEC>
__device__ __forceinline__ void combine_backward(const float *__restrict__ weights, const T *__restrict__ y_perm,
                                                 const T *__restrict__ dy, const int *__restrict__ pair_to_row,
                                                 int n_tokens, int k, int d, T *__restrict__ d_y_perm,
                                                 float *__restrict__ d_weights) {
    constexpr int N = VEC ? Vec16<T>::N : 1;
    int t = blockIdx.x * blockDim.y + threadIdx.y;
    if (t >= n_tokens) return;                           // whole warps leave together
    const T *dyt = dy + (size_t)t * d;
    for (int j = 0; j < k; j++) {
        size_t p = (size_t)t * k + j;
        int r = pair_to_row[p];
        if (r < 0) {
            if (d_weights && threadIdx.x == 0) d_weights[p] = 0.0f;
            continue;
        }
        float w = weights[p], dot = 0.0f;
        const T *yr = y_perm + (size_t)r * d;
        T *dyr = d_y_perm ? d_y_perm + (size_t)r * d : nullptr;
        for (int c = threadIdx.x * N; c < d; c += 32 * N) {
            float g[N], v[N], o[N];
            if constexpr (VEC) Vec16<T>::load(dyt + c, g);
            else g[0] = load_f(dyt + c);
            if (d_weights) {
                if constexpr (VEC) Vec16<T>::load(yr + c, v);
                else v[0] = load_f(yr + c);
#pragma unroll
                for (int i = 0; i < N; i++) dot = fmaf(g[i], v[i], dot);
            }
            if (dyr) {
#pragma unroll
                for (int i = 0; i < N; i++) o[i] = w * g[i];
                if constexpr (VEC) Vec16<T>::store(dyr + c, o);
                else store_f(dyr + c, o[0]);
            }
        }
        if (d_weights) {
            dot = warp_sum(dot);
            if (threadIdx.x == 0) d_weights[p] = dot;
        }
    }
}

#define COMBINE_BWD_ARGS(T) const float *__restrict__ weights, const T *__restrict__ y_perm, const T *__restrict__ dy, const int *__restrict__ pair_to_row, int n_tokens, int k, int d, T *__restrict__ d_y_perm, float *__restrict__ d_weights
#define COMBINE_BWD_CALL weights, y_perm, dy, pair_to_row, n_tokens, k, d, d_y_perm, d_weights
extern "C" __global__ void __launch_bounds__(256) moe_combine_backward_v1_f32(COMBINE_BWD_ARGS(float)) { combine_backward<float, false>(COMBINE_BWD_CALL); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_backward_v1_bf16(COMBINE_BWD_ARGS(bf16)) { combine_backward<bf16, false>(COMBINE_BWD_CALL); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_backward_v2_f32(COMBINE_BWD_ARGS(float)) { combine_backward<float, true>(COMBINE_BWD_CALL); }
extern "C" __global__ void __launch_bounds__(256) moe_combine_backward_v2_bf16(COMBINE_BWD_ARGS(bf16)) { combine_backward<bf16, true>(COMBINE_BWD_CALL); }
