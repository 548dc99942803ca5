// common.cuh: small helpers shared by the moe4j CUDA kernels.
//
// Every kernel file includes this header. Nothing here launches work: warp-level reductions,
// the bf16 <-> float conversions, the top-k order used by gating, and the 16-byte vector type
// the row-copy kernels move.
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

#define MOE4J_WARP 32
#define MOE4J_FULL_MASK 0xffffffffu

typedef __nv_bfloat16 bf16;

// Ceiling division for positive ints.
__host__ __device__ __forceinline__ int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Sum over the 32 lanes of a warp; every lane gets the result. The butterfly order is fixed, so the
// result is the same on every run.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(MOE4J_FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(MOE4J_FULL_MASK, v, o));
    return v;
}

__device__ __forceinline__ int warp_sum_int(int v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(MOE4J_FULL_MASK, v, o);
    return v;
}

// The order of top-k (the CPU's GatingReference.ranksBefore): a ranks before b when its value is
// larger, or equal with a lower index; NaN ranks above every number, two NaNs by index. An index of
// -1 means "no candidate" and ranks after everything.
__device__ __forceinline__ bool ranks_before(float a, int ia, float b, int ib) {
    if (ib < 0) return ia >= 0;
    if (ia < 0) return false;
    bool an = a != a, bn = b != b;
    if (an || bn) return an && (!bn || ia < ib);
    return a > b || (a == b && ia < ib);
}

// Warp arg-best under ranks_before: each lane brings (v, i); every lane returns the best pair.
__device__ __forceinline__ void warp_best(float &v, int &i) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(MOE4J_FULL_MASK, v, o);
        int oi = __shfl_xor_sync(MOE4J_FULL_MASK, i, o);
        if (ranks_before(ov, oi, v, i)) { v = ov; i = oi; }
    }
}

__device__ __forceinline__ float bf2f(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ bf16 f2bf(float x) { return __float2bfloat16_rn(x); }

// Element access for the two storage types the kernels take (float and bf16), computing in float.
template <typename T> __device__ __forceinline__ float load_f(const T *p);
template <> __device__ __forceinline__ float load_f<float>(const float *p) { return *p; }
template <> __device__ __forceinline__ float load_f<bf16>(const bf16 *p) { return __bfloat162float(*p); }

template <typename T> __device__ __forceinline__ void store_f(T *p, float v);
template <> __device__ __forceinline__ void store_f<float>(float *p, float v) { *p = v; }
template <> __device__ __forceinline__ void store_f<bf16>(bf16 *p, float v) { *p = __float2bfloat16_rn(v); }
