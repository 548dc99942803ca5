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
