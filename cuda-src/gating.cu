// gating.cu: token-choice gating of a Mixture-of-Experts router, forward and backward.
//
// The executable specification is the CPU's dev.moe4j.kernels.cpu.moe.GatingReference; these
// kernels compute the same function in float.
//
// Shapes (row-major, float unless said otherwise):
//   logits   [T, E]   router logits
//   bias     [E]      selection bias (nullptr for none): steers the choice, never enters the weights
//   scores   [T, E]   out: s = softmax(logits) per row, or sigmoid(logits) element-wise (nullptr: not kept;
//                     v1 needs it as scratch)
//   weights  [T, k]   out: gate weights, slot j of token t at t * k + j
//   ids      [T, k]   out (int): expert ids, slots ordered by falling selection score, ties to the lower id
//   counts   [E]      out (int): tokens per expert; must be zero before the launch (the kernels add to it)
//   nanToken [1]      out (int): min(token with a NaN logit); set to INT_MAX before the launch; only
//                     written when check_nan != 0
//
// Forward, per token t:
//   1. s[e] from the logits (softmax with the row max subtracted, or sigmoid);
//   2. choice c[e] = s[e] + bias[e];
//   3. group limit (n_group > 1): group g = experts [g*E/n_group, (g+1)*E/n_group); its score is the
//      sum of its two best c (DeepSeek-V3) or its best c (group_max != 0); the best topk_group groups
//      stay (ties: lower group id); every expert of another group gets c[e] = masked_score (0 as
//      Hugging Face's DeepseekV3TopkRouter does, or -inf);
//   4. top-k over c: k rounds of arg-best, where a ranks before b when c[a] > c[b], or equal and a < b;
//   5. p[j] = s[ids[j]]; w[j] = (renormalize ? p[j] / (eps + p[0] + ... + p[k-1]) : p[j]) * scale,
//      the denominator summed in slot order starting from eps, as the CPU does.
//
// Backward, per token (selection is piecewise constant; only logits -> scores -> weights carries
// gradient), with c = scale, D = eps + sum_j p[j]:
//   dp[j] = c * (dw[j] / D - (sum_i dw[i] p[i]) / D^2)   renormalised,   c * dw[j] otherwise
//   softmax: dl[e] = s[e] * (ds[e] - sum_f ds[f] s[f]),   sigmoid: dl[e] = ds[e] s[e] (1 - s[e])
//   with ds[e] = dp[j] for e = ids[j], 0 for unselected experts.
//
// Versions:
//   v1  one thread per token, everything in global memory, repeated arg-max: any E, any k. The
//       readable reference on the device and the fallback for E > 512 or k > 32.
//   v2  one warp per token (4 tokens per block of 128 threads). Lane l holds experts e = i*32 + l for
//       i < EPL (E <= 32 * EPL) in registers, so loads and stores of a row are coalesced. Row max and sum
//       are warp butterflies; each top-k round is a lane-local arg-best over the untaken registers and
//       a 5-step shuffle arg-best across lanes; the owner lane marks its register taken and broadcasts
//       the unbiased score. Group scores: per group, a lane-local best-two and a shuffle merge; lane g
//       keeps group g's score, counts the groups ranking before it (nGroup <= 32), and a ballot gives the
//       kept-group mask. Lane j ends holding slot j (k <= 32) and writes it. The histogram goes to a
//       shared-memory array first (E ints of dynamic shared memory), then one global atomicAdd per
//       non-zero bin per block: integer sums, so the result is exact and run-to-run identical.
//   v3  one warp per token in one launch, the histogram included (nothing to clear before it, no other
//       launch beside it). Blocks of 8 warps; a warp takes tokens w, w + W, w + 2W, ... (W warps in the
//       grid, at most 4 blocks per SM) and loads the next token's row while it works on this one. Lane l
//       holds experts e = (c*32 + l)*V + q (chunk c < EPL/V, q < V) in registers, read with V-wide
//       vector loads (V = 4, 2 or 1: 16-, 8- or 4-byte loads, as E and the buffers' alignment allow).
//       Selection scores become order keys: an unsigned int per expert whose unsigned order is the
//       order of ranks_before with the index left out (NaN highest, -0 = +0, 0 = no candidate), so a
//       top-k round is a lane-local max over the untaken keys, one __reduce_max_sync for the best key and
//       one __reduce_min_sync for the lowest expert holding it: ties go to the lower id, as on the CPU.
//       The row max of softmax is a __reduce_max_sync of the logits' keys too. Group scores: per group a
//       lane-local best two keys, a __reduce_max_sync for the best and a ballot telling whether it is
//       held twice, else a second reduction for the runner-up. Lane j ends holding slot j's id; its
//       score comes over EPL shuffles and the denominator is summed in slot order from eps.
//       Histogram: a shared-memory histogram per block, added into an accumulator acc[E] in global
//       memory with one atomicAdd per non-zero bin and block (integer sums: exact, in any order); the
//       last block to finish (a ticket counter) moves acc into counts and leaves acc and the ticket at
//       zero for the next launch. acc and the ticket live in a per-device workspace that the launcher
//       zeroes once when it creates it.
//   backward_v1 one thread per token; backward_v2 one warp per token, same lane layout as forward v2.
#include "common.cuh"
#include <math.h>
#include <limits.h>

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

// ------------------------------------------------------------------------------------------------
// v1: one thread per token
// ------------------------------------------------------------------------------------------------

// Selection score of expert e of token t with the group mask applied, from the scores in global memory.
__device__ float v1_choice(const float *s, const float *bias, int e, int E, int n_group, int topk_group,
                           int group_max, float masked_score) {
    float c = s[e] + (bias ? bias[e] : 0.0f);
    if (n_group <= 1) return c;
    int gs = E / n_group;
    // score of every group, then the rank of e's group among them
    int g_e = e / gs, rank = 0;
    float score_e = 0.0f;
    for (int pass = 0; pass < 2; pass++) {
        for (int g = 0; g < n_group; g++) {
            float b1 = 0, b2 = 0;
            int i1 = -1, i2 = -1;
            for (int f = g * gs; f < (g + 1) * gs; f++) {
                float v = s[f] + (bias ? bias[f] : 0.0f);
                if (ranks_before(v, f, b1, i1)) { b2 = b1; i2 = i1; b1 = v; i1 = f; }
                else if (ranks_before(v, f, b2, i2)) { b2 = v; i2 = f; }
            }
            float gsc = group_max ? b1 : b1 + b2;
            if (pass == 0 && g == g_e) score_e = gsc;
            if (pass == 1 && ranks_before(gsc, g, score_e, g_e)) rank++;
        }
    }
    return rank < topk_group ? c : masked_score;
}

extern "C" __global__ void moe_gating_forward_v1(
        const float *__restrict__ logits, const float *__restrict__ bias, float *__restrict__ scores,
        float *__restrict__ weights, int *__restrict__ ids, int *__restrict__ counts, int *__restrict__ nan_token,
        int T, int E, int k, int softmax, int n_group, int topk_group, int group_max, float masked_score,
        int renormalize, float eps, float scale, int check_nan) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float *l = logits + (size_t)t * E;
    float *s = scores + (size_t)t * E;
    if (check_nan) {
        for (int e = 0; e < E; e++) if (l[e] != l[e]) { atomicMin(nan_token, t); break; }
    }
    if (softmax) {
        float m = -INFINITY, sum = 0.0f;
        for (int e = 0; e < E; e++) m = fmaxf(m, l[e]);
        for (int e = 0; e < E; e++) { s[e] = expf(l[e] - m); sum += s[e]; }
        float inv = 1.0f / sum;
        for (int e = 0; e < E; e++) s[e] *= inv;
    } else {
        for (int e = 0; e < E; e++) s[e] = sigmoidf_(l[e]);
    }
    float denom = eps;
    for (int j = 0; j < k; j++) {
        int best = -1;
        float bv = 0.0f;
        for (int e = 0; e < E; e++) {
            bool taken = false;
            for (int i = 0; i < j; i++) taken |= ids[(size_t)t * k + i] == e;
            if (taken) continue;
            float c = v1_choice(s, bias, e, E, n_group, topk_group, group_max, masked_score);
            if (ranks_before(c, e, bv, best)) { bv = c; best = e; }
        }
        ids[(size_t)t * k + j] = best;
        denom += s[best];
        atomicAdd(&counts[best], 1);
    }
    for (int j = 0; j < k; j++) {
        float p = s[ids[(size_t)t * k + j]];
        weights[(size_t)t * k + j] = (renormalize ? p / denom : p) * scale;
    }
}

extern "C" __global__ void moe_gating_backward_v1(
        const float *__restrict__ scores, const int *__restrict__ ids, const float *__restrict__ d_weights,
        float *__restrict__ d_logits, int T, int E, int k, int softmax, int renormalize, float eps, float scale) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float *s = scores + (size_t)t * E;
    const int *id = ids + (size_t)t * k;
    const float *dw = d_weights + (size_t)t * k;
    float *dl = d_logits + (size_t)t * E;
    float D = eps, dot = 0.0f;
    for (int j = 0; j < k; j++) { D += s[id[j]]; dot += dw[j] * s[id[j]]; }
    float dot_d2 = dot / (D * D);
    // ds[j] and sum_j ds[j] s[ids[j]]
    float dot2 = 0.0f;
    for (int j = 0; j < k; j++) {
        float ds = renormalize ? scale * (dw[j] / D - dot_d2) : scale * dw[j];
        dot2 += ds * s[id[j]];
    }
    for (int e = 0; e < E; e++) dl[e] = softmax ? -dot2 * s[e] : 0.0f;
    for (int j = 0; j < k; j++) {
        int e = id[j];
        float ds = renormalize ? scale * (dw[j] / D - dot_d2) : scale * dw[j];
        dl[e] += softmax ? s[e] * ds : ds * s[e] * (1.0f - s[e]);
    }
}

// ------------------------------------------------------------------------------------------------
// v2: one warp per token
// ------------------------------------------------------------------------------------------------

#define GATING_WARPS 4

// Lane-local value of register `reg` of a per-lane array, without a run-time index (which would move
// the array to local memory).
template <int EPL>
__device__ __forceinline__ float pick(const float (&a)[EPL], int reg) {
    float v = 0.0f;
#pragma unroll
    for (int i = 0; i < EPL; i++) if (i == reg) v = a[i];
    return v;
}

template <int EPL>
__device__ __forceinline__ void gating_forward_warp(
        const float *__restrict__ logits, const float *__restrict__ bias, float *__restrict__ scores,
        float *__restrict__ weights, int *__restrict__ ids, int *__restrict__ nan_token, int *hist,
        int t, int E, int k, int softmax, int n_group, int topk_group, int group_max, float masked_score,
        int renormalize, float eps, float scale, int check_nan) {
    const int lane = threadIdx.x & 31;
    const float *row = logits + (size_t)t * E;
    float s[EPL], c[EPL];

    // 1. scores
    bool has_nan = false;
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        int e = i * 32 + lane;
        s[i] = e < E ? row[e] : -INFINITY;
        has_nan |= s[i] != s[i];
    }
    if (check_nan && __any_sync(MOE4J_FULL_MASK, has_nan) && lane == 0) atomicMin(nan_token, t);
    if (softmax) {
        float m = -INFINITY;
#pragma unroll
        for (int i = 0; i < EPL; i++) m = fmaxf(m, s[i]);
        m = warp_max(m);
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < EPL; i++) {
            s[i] = i * 32 + lane < E ? expf(s[i] - m) : 0.0f;
            sum += s[i];
        }
        float inv = 1.0f / warp_sum(sum);
#pragma unroll
        for (int i = 0; i < EPL; i++) s[i] *= inv;
    } else {
#pragma unroll
        for (int i = 0; i < EPL; i++) s[i] = sigmoidf_(s[i]);
    }
    if (scores) {
#pragma unroll
        for (int i = 0; i < EPL; i++) if (i * 32 + lane < E) scores[(size_t)t * E + i * 32 + lane] = s[i];
    }

    // 2. selection scores
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        int e = i * 32 + lane;
        c[i] = s[i] + ((bias && e < E) ? bias[e] : 0.0f);
    }

    // 3. group limit
    if (n_group > 1) {
        const int gs = E / n_group;
        float my_group_score = 0.0f;
        for (int g = 0; g < n_group; g++) {
            float b1 = 0.0f, b2 = 0.0f;
            int i1 = -1, i2 = -1;
#pragma unroll
            for (int i = 0; i < EPL; i++) {
                int e = i * 32 + lane;
                if (e < E && e / gs == g) {
                    if (ranks_before(c[i], e, b1, i1)) { b2 = b1; i2 = i1; b1 = c[i]; i1 = e; }
                    else if (ranks_before(c[i], e, b2, i2)) { b2 = c[i]; i2 = e; }
                }
            }
            // merge the lanes' best two: first = better of the firsts, second = better of the other
            // first and the winner's second
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                float ob1 = __shfl_xor_sync(MOE4J_FULL_MASK, b1, o), ob2 = __shfl_xor_sync(MOE4J_FULL_MASK, b2, o);
                int oi1 = __shfl_xor_sync(MOE4J_FULL_MASK, i1, o), oi2 = __shfl_xor_sync(MOE4J_FULL_MASK, i2, o);
                if (ranks_before(ob1, oi1, b1, i1)) {
                    // other's first wins; second is the better of my first and other's second
                    if (ranks_before(b1, i1, ob2, oi2)) { b2 = b1; i2 = i1; } else { b2 = ob2; i2 = oi2; }
                    b1 = ob1; i1 = oi1;
                } else {
                    if (ranks_before(ob1, oi1, b2, i2)) { b2 = ob1; i2 = oi1; }
                }
            }
            float gsc = group_max ? b1 : b1 + b2;
            if (lane == g) my_group_score = gsc;
        }
        int rank = 0;
        for (int h = 0; h < n_group; h++) {
            float sh = __shfl_sync(MOE4J_FULL_MASK, my_group_score, h);
            if (ranks_before(sh, h, my_group_score, lane)) rank++;
        }
        unsigned kept = __ballot_sync(MOE4J_FULL_MASK, lane < n_group && rank < topk_group);
#pragma unroll
        for (int i = 0; i < EPL; i++) {
            int e = i * 32 + lane;
            if (e < E && !((kept >> (e / gs)) & 1u)) c[i] = masked_score;
        }
    }

    // 4. top-k rounds; 5. weights
    unsigned taken = 0;
    float denom = eps, my_p = 0.0f;
    int my_id = -1;
    for (int j = 0; j < k; j++) {
        float bv = 0.0f;
        int bi = -1;
#pragma unroll
        for (int i = 0; i < EPL; i++) {
            int e = i * 32 + lane;
            if (e < E && !((taken >> i) & 1u) && ranks_before(c[i], e, bv, bi)) { bv = c[i]; bi = e; }
        }
        warp_best(bv, bi);
        int owner = bi & 31, reg = bi >> 5;
        float p = 0.0f;
        if (lane == owner) {
            taken |= 1u << reg;
            p = pick<EPL>(s, reg);
        }
        p = __shfl_sync(MOE4J_FULL_MASK, p, owner);
        denom += p;
        if (lane == j) { my_id = bi; my_p = p; }
    }
    if (lane < k) {
        weights[(size_t)t * k + lane] = (renormalize ? my_p / denom : my_p) * scale;
        ids[(size_t)t * k + lane] = my_id;
        atomicAdd(&hist[my_id], 1);
    }
}

template <int EPL>
__device__ __forceinline__ void gating_forward_v2_body(
        const float *__restrict__ logits, const float *__restrict__ bias, float *__restrict__ scores,
        float *__restrict__ weights, int *__restrict__ ids, int *__restrict__ counts, int *__restrict__ nan_token,
        int T, int E, int k, int softmax, int n_group, int topk_group, int group_max, float masked_score,
        int renormalize, float eps, float scale, int check_nan) {
    extern __shared__ int hist[];                       // [E]
    for (int e = threadIdx.x; e < E; e += blockDim.x) hist[e] = 0;
    __syncthreads();
    int t = blockIdx.x * GATING_WARPS + (threadIdx.x >> 5);
    if (t < T) {
        gating_forward_warp<EPL>(logits, bias, scores, weights, ids, nan_token, hist, t, E, k, softmax, n_group,
                                 topk_group, group_max, masked_score, renormalize, eps, scale, check_nan);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int h = hist[e];
        if (h) atomicAdd(&counts[e], h);
    }
}

#define GATING_FORWARD_V2(EPL)                                                                               \
    extern "C" __global__ void __launch_bounds__(GATING_WARPS * 32) moe_gating_forward_v2_e##EPL(            \
            const float *__restrict__ logits, const float *__restrict__ bias, float *__restrict__ scores,    \
            float *__restrict__ weights, int *__restrict__ ids, int *__restrict__ counts,                    \
            int *__restrict__ nan_token, int T, int E, int k, int softmax, int n_group, int topk_group,      \
            int group_max, float masked_score, int renormalize, float eps, float scale, int check_nan) {     \
        gating_forward_v2_body<EPL>(logits, bias, scores, weights, ids, counts, nan_token, T, E, k, softmax,  \
                                    n_group, topk_group, group_max, masked_score, renormalize, eps, scale,   \
                                    check_nan);                                                              \
    }

// One entry point per register count: E <= 32, 64, 128, 256, 512.
GATING_FORWARD_V2(1)
GATING_FORWARD_V2(2)
GATING_FORWARD_V2(4)
GATING_FORWARD_V2(8)
GATING_FORWARD_V2(16)

template <int EPL>
__device__ __forceinline__ void gating_backward_v2_body(
        const float *__restrict__ scores, const int *__restrict__ ids, const float *__restrict__ d_weights,
        float *__restrict__ d_logits, int T, int E, int k, int softmax, int renormalize, float eps, float scale) {
    const int lane = threadIdx.x & 31;
    int t = blockIdx.x * GATING_WARPS + (threadIdx.x >> 5);
    if (t >= T) return;                                  // whole warps leave together
    const float *srow = scores + (size_t)t * E;
    // lane j < k holds slot j
    int id = lane < k ? ids[(size_t)t * k + lane] : 0;
    float dw = lane < k ? d_weights[(size_t)t * k + lane] : 0.0f;
    float p = lane < k ? srow[id] : 0.0f;
    float ds;
    if (renormalize) {
        float D = eps, dot = 0.0f;
        for (int j = 0; j < k; j++) {                    // slot order, as the CPU sums
            float pj = __shfl_sync(MOE4J_FULL_MASK, p, j), dwj = __shfl_sync(MOE4J_FULL_MASK, dw, j);
            D += pj;
            dot += dwj * pj;
        }
        ds = scale * (dw / D - dot / (D * D));
    } else {
        ds = scale * dw;
    }
    float dot2 = 0.0f;
    if (softmax) {
        for (int j = 0; j < k; j++) dot2 += __shfl_sync(MOE4J_FULL_MASK, ds, j) * __shfl_sync(MOE4J_FULL_MASK, p, j);
    }
    float s[EPL], dl[EPL];
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        int e = i * 32 + lane;
        s[i] = e < E ? srow[e] : 0.0f;
        dl[i] = softmax ? -dot2 * s[i] : 0.0f;
    }
    for (int j = 0; j < k; j++) {
        int idj = __shfl_sync(MOE4J_FULL_MASK, id, j);
        float dsj = __shfl_sync(MOE4J_FULL_MASK, ds, j);
        if ((idj & 31) == lane) {
            int reg = idj >> 5;
#pragma unroll
            for (int i = 0; i < EPL; i++) {
                if (i == reg) dl[i] += softmax ? s[i] * dsj : dsj * s[i] * (1.0f - s[i]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        int e = i * 32 + lane;
        if (e < E) d_logits[(size_t)t * E + e] = dl[i];
    }
}

#define GATING_BACKWARD_V2(EPL)                                                                              \
    extern "C" __global__ void __launch_bounds__(GATING_WARPS * 32) moe_gating_backward_v2_e##EPL(           \
            const float *__restrict__ scores, const int *__restrict__ ids, const float *__restrict__ d_weights, \
            float *__restrict__ d_logits, int T, int E, int k, int softmax, int renormalize, float eps,      \
            float scale) {                                                                                   \
        gating_backward_v2_body<EPL>(scores, ids, d_weights, d_logits, T, E, k, softmax, renormalize, eps,   \
                                     scale);                                                                 \
    }

GATING_BACKWARD_V2(1)
GATING_BACKWARD_V2(2)
GATING_BACKWARD_V2(4)
GATING_BACKWARD_V2(8)
GATING_BACKWARD_V2(16)

// ------------------------------------------------------------------------------------------------
// v3: one warp per token, vector loads, order keys and warp reductions, histogram in the same launch
// ------------------------------------------------------------------------------------------------

#define GATING_V3_WARPS 8
// at least two blocks per SM: 128 registers per thread at most (ptxas spills some variants without the hint)
#define GATING_V3_MIN_BLOCKS 2

// The order key of a value: a > b (or a NaN and b not) iff key(a) > key(b) as unsigned ints; -0 and +0
// share a key; every NaN gets the highest key. Keys of numbers are never 0 (the smallest, -inf's, is
// 0x007fffff), so 0 marks "no candidate".
__device__ __forceinline__ unsigned order_key(float v) {
    if (v != v) return 0xffffffffu;
    unsigned b = __float_as_uint(v == 0.0f ? 0.0f : v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// The value of a key (a NaN for the NaN key, +0 for the zero key).
__device__ __forceinline__ float key_value(unsigned key) {
    if (key == 0xffffffffu) return __uint_as_float(0x7fc00000u);
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// Expert of register r of this lane: chunk r / V, element r % V.
template <int V>
__device__ __forceinline__ int v3_expert(int r, int lane) { return ((r / V) * 32 + lane) * V + (r % V); }

// Lane and register that hold expert e.
template <int V>
__device__ __forceinline__ int v3_lane(int e) { return (e / V) & 31; }
template <int V>
__device__ __forceinline__ int v3_reg(int e) { return (e / (32 * V)) * V + (e % V); }

// Loads this lane's experts of a row (V-wide vectors; the row start must be 4V-byte aligned when V > 1,
// and E a multiple of V). Registers past E are left as they are.
template <int EPL, int V>
__device__ __forceinline__ void v3_load(const float *__restrict__ row, int E, int lane, float (&x)[EPL]) {
#pragma unroll
    for (int c = 0; c < EPL / V; c++) {
        int e0 = (c * 32 + lane) * V;
        if (e0 < E) {
            if (V == 4) {
                float4 q = __ldg(reinterpret_cast<const float4 *>(row + e0));
                x[c * V] = q.x; x[c * V + 1] = q.y; x[c * V + 2] = q.z; x[c * V + 3] = q.w;
            } else if (V == 2) {
                float2 q = __ldg(reinterpret_cast<const float2 *>(row + e0));
                x[c * V] = q.x; x[c * V + 1] = q.y;
            } else {
                x[c * V] = __ldg(row + e0);
            }
        }
    }
}

template <int EPL, int V>
__device__ __forceinline__ void v3_store(float *__restrict__ row, int E, int lane, const float (&x)[EPL]) {
#pragma unroll
    for (int c = 0; c < EPL / V; c++) {
        int e0 = (c * 32 + lane) * V;
        if (e0 < E) {
            if (V == 4) {
                *reinterpret_cast<float4 *>(row + e0) = make_float4(x[c * V], x[c * V + 1], x[c * V + 2], x[c * V + 3]);
            } else if (V == 2) {
                *reinterpret_cast<float2 *>(row + e0) = make_float2(x[c * V], x[c * V + 1]);
            } else {
                row[e0] = x[c * V];
            }
        }
    }
}

// One token on one warp: x holds the token's logits (this lane's experts) on entry.
template <int EPL, int V>
__device__ __forceinline__ void gating_v3_token(
        float (&x)[EPL], const float *__restrict__ bias, float *__restrict__ scores, float *__restrict__ weights,
        int *__restrict__ ids, int *__restrict__ nan_token, int *hist, const int (&grp)[EPL], int t, int E, int k,
        int flags, int n_group, int topk_group, unsigned masked_key, float eps, float scale) {
    const int lane = threadIdx.x & 31;
    const bool softmax = flags & 1, group_max = flags & 2, renormalize = flags & 4, check_nan = flags & 8;

    // 1. scores, in place of the logits
    if (check_nan) {
        bool has_nan = false;
#pragma unroll
        for (int r = 0; r < EPL; r++) has_nan |= v3_expert<V>(r, lane) < E && x[r] != x[r];
        if (__any_sync(MOE4J_FULL_MASK, has_nan) && lane == 0) atomicMin(nan_token, t);
    }
    if (softmax) {
        unsigned mk = 0;
#pragma unroll
        for (int r = 0; r < EPL; r++) if (v3_expert<V>(r, lane) < E) mk = max(mk, order_key(x[r]));
        float m = key_value(__reduce_max_sync(MOE4J_FULL_MASK, mk));
        float sum = 0.0f;
#pragma unroll
        for (int r = 0; r < EPL; r++) {
            x[r] = v3_expert<V>(r, lane) < E ? expf(x[r] - m) : 0.0f;
            sum += x[r];
        }
        sum = warp_sum(sum);
#pragma unroll
        for (int r = 0; r < EPL; r++) x[r] = x[r] / sum;
    } else {
#pragma unroll
        for (int r = 0; r < EPL; r++) x[r] = 1.0f / (1.0f + expf(-x[r]));
    }
    if (scores) v3_store<EPL, V>(scores + (size_t)t * E, E, lane, x);

    // 2. selection keys (0: no expert here)
    unsigned key[EPL];
#pragma unroll
    for (int r = 0; r < EPL; r++) {
        int e = v3_expert<V>(r, lane);
        key[r] = e < E ? order_key(x[r] + (bias ? __ldg(bias + e) : 0.0f)) : 0u;
    }

    // 3. group limit
    if (n_group > 1) {
        float my_group_score = 0.0f;
        for (int g = 0; g < n_group; g++) {
            unsigned b1 = 0, b2 = 0;                     // this lane's best two keys in group g
#pragma unroll
            for (int r = 0; r < EPL; r++) {
                if (grp[r] == g) {
                    if (key[r] > b1) { b2 = b1; b1 = key[r]; }
                    else if (key[r] > b2) b2 = key[r];
                }
            }
            unsigned m1 = __reduce_max_sync(MOE4J_FULL_MASK, b1);
            float gsc = key_value(m1);
            if (!group_max) {
                // the runner-up: m1 again when two lanes hold it, else the best of the others' firsts and
                // the holder's second
                unsigned holders = __ballot_sync(MOE4J_FULL_MASK, b1 == m1);
                unsigned m2 = __popc(holders) > 1 ? m1 : __reduce_max_sync(MOE4J_FULL_MASK, b1 == m1 ? b2 : b1);
                gsc = gsc + key_value(m2);
            }
            if (lane == g) my_group_score = gsc;
        }
        unsigned gk = order_key(my_group_score);
        int rank = 0;
        for (int h = 0; h < n_group; h++) {
            unsigned hk = __shfl_sync(MOE4J_FULL_MASK, gk, h);
            rank += hk > gk || (hk == gk && h < lane);
        }
        unsigned kept = __ballot_sync(MOE4J_FULL_MASK, lane < n_group && rank < topk_group);
#pragma unroll
        for (int r = 0; r < EPL; r++) {
            if (grp[r] >= 0 && !((kept >> grp[r]) & 1u)) key[r] = masked_key;
        }
    }

    // 4. top-k: k rounds of (best key, lowest expert holding it); lane j keeps slot j
    unsigned my_id = 0;
    for (int j = 0; j < k; j++) {
        unsigned bk = 0;
        int br = 0;
#pragma unroll
        for (int r = 0; r < EPL; r++) {
            if (key[r] > bk) { bk = key[r]; br = r; }    // registers in rising expert order: ties keep the lower
        }
        unsigned best = __reduce_max_sync(MOE4J_FULL_MASK, bk);
        unsigned w = __reduce_min_sync(MOE4J_FULL_MASK, bk == best ? (unsigned)v3_expert<V>(br, lane) : 0xffffffffu);
        if (lane == j) my_id = w;
        bool mine = v3_lane<V>((int)w) == lane;
        int wr = v3_reg<V>((int)w);
#pragma unroll
        for (int r = 0; r < EPL; r++) if (mine && r == wr) key[r] = 0u;
    }

    // 5. weights: slot j's score from its owner, the denominator in slot order
    int src = v3_lane<V>((int)my_id), sr = v3_reg<V>((int)my_id);
    float p = 0.0f;
#pragma unroll
    for (int r = 0; r < EPL; r++) {
        float v = __shfl_sync(MOE4J_FULL_MASK, x[r], src);
        if (r == sr) p = v;
    }
    float denom = eps;
    for (int j = 0; j < k; j++) denom += __shfl_sync(MOE4J_FULL_MASK, p, j);
    if (lane < k) {
        weights[(size_t)t * k + lane] = (renormalize ? p / denom : p) * scale;
        ids[(size_t)t * k + lane] = (int)my_id;
        atomicAdd(&hist[my_id], 1);
    }
}

// flags: 1 softmax (else sigmoid), 2 group score = max (else sum of the best two), 4 renormalize,
// 8 check for NaN logits. workspace: [0] ticket, [1, 1 + E) accumulator; zero on entry, left zero.
template <int EPL, int V>
__device__ __forceinline__ void gating_forward_v3_body(
        const float *__restrict__ logits, const float *__restrict__ bias, float *__restrict__ scores,
        float *__restrict__ weights, int *__restrict__ ids, int *__restrict__ counts, int *__restrict__ workspace,
        int *__restrict__ nan_token, int T, int E, int k, int flags, int n_group, int topk_group, float masked_score,
        float eps, float scale) {
    extern __shared__ int hist[];                        // [E]
    __shared__ bool last_block;
    const int lane = threadIdx.x & 31;
    for (int e = threadIdx.x; e < E; e += blockDim.x) hist[e] = 0;
    __syncthreads();

    int grp[EPL];                                        // group of each register's expert, -1 past E
    const int gs = E / max(n_group, 1);
#pragma unroll
    for (int r = 0; r < EPL; r++) {
        int e = v3_expert<V>(r, lane);
        grp[r] = e < E ? (n_group > 1 ? e / gs : 0) : -1;
    }
    const unsigned masked_key = order_key(masked_score);

    const int stride = gridDim.x * GATING_V3_WARPS;
    int t = blockIdx.x * GATING_V3_WARPS + (threadIdx.x >> 5);
    float next[EPL];
#pragma unroll
    for (int r = 0; r < EPL; r++) next[r] = 0.0f;
    if (t < T) v3_load<EPL, V>(logits + (size_t)t * E, E, lane, next);
    for (; t < T; t += stride) {                         // t is the same on every lane of a warp
        float x[EPL];
#pragma unroll
        for (int r = 0; r < EPL; r++) x[r] = next[r];
        if (t + stride < T) v3_load<EPL, V>(logits + (size_t)(t + stride) * E, E, lane, next);
        gating_v3_token<EPL, V>(x, bias, scores, weights, ids, nan_token, hist, grp, t, E, k, flags, n_group,
                                topk_group, masked_key, eps, scale);
    }

    // histogram: block -> accumulator; the last block moves the accumulator into counts
    __syncthreads();
    int *ticket = workspace, *acc = workspace + 1;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int h = hist[e];
        if (h) atomicAdd(&acc[e], h);
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last_block = atomicAdd(ticket, 1) == (int)gridDim.x - 1;
    __syncthreads();
    if (last_block) {
        __threadfence();
        for (int e = threadIdx.x; e < E; e += blockDim.x) counts[e] = atomicExch(&acc[e], 0);
        if (threadIdx.x == 0) atomicExch(ticket, 0);
    }
}

// The v3 arguments in one struct passed by value: a launch marshals one parameter instead of 17, which
// takes microseconds of host time off every call (the kernel itself runs for a few microseconds).
struct GatingV3Args {
    const float *logits;      // [T, E]
    const float *bias;        // [E] or null
    float *scores;            // [T, E] or null
    float *weights;           // [T, k]
    int *ids;                 // [T, k]
    int *counts;              // [E]
    int *workspace;           // [1 + E], zero between launches
    int *nan_token;           // [1] or null
    int T, E, k, flags, n_group, topk_group;
    float masked_score, eps, scale;
    int unused;               // pads the struct to a multiple of 8 bytes
};

#define GATING_FORWARD_V3(EPL, V)                                                                            \
    extern "C" __global__ void __launch_bounds__(GATING_V3_WARPS * 32, GATING_V3_MIN_BLOCKS) moe_gating_forward_v3_e##EPL##_v##V(  \
            const GatingV3Args a) {                                                                            \
        gating_forward_v3_body<EPL, V>(a.logits, a.bias, a.scores, a.weights, a.ids, a.counts, a.workspace,    \
                                       a.nan_token, a.T, a.E, a.k, a.flags, a.n_group, a.topk_group,           \
                                       a.masked_score, a.eps, a.scale);                                        \
    }

// One entry point per (registers per lane, vector width): E <= 32 * EPL, V <= EPL.
GATING_FORWARD_V3(1, 1)
GATING_FORWARD_V3(2, 1)
GATING_FORWARD_V3(2, 2)
GATING_FORWARD_V3(4, 1)
GATING_FORWARD_V3(4, 2)
GATING_FORWARD_V3(4, 4)
GATING_FORWARD_V3(8, 1)
GATING_FORWARD_V3(8, 2)
GATING_FORWARD_V3(8, 4)
GATING_FORWARD_V3(16, 1)
GATING_FORWARD_V3(16, 2)
GATING_FORWARD_V3(16, 4)
