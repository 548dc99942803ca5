// grouped_gemm.cu: one matrix product per expert over ragged groups of rows, and the two products of
// its backward pass. The executable specification is the CPU's dev.moe4j.kernels.cpu.GroupedGemm.
//
// Groups are given by offsets [E + 1] (non-decreasing, on the device): group g is rows
// [offsets[g], offsets[g+1]); empty groups are legal everywhere; rows outside [offsets[0], offsets[E])
// are not touched. All matrices are row-major.
//
// Two kinds of launch cover the three products:
//
//   "rows" (ragged output rows), forward and input gradient:
//      C[i, :] = alpha * A[i, :] * Bop_g + beta * C[i, :]      for every row i of group g
//      A [M, Kd], C [M, Nd]; Bop_g [Kd, Nd] is stored either
//        b_kmajor = 0: as [E, Kd, Nd]  (element (kk, n) at g*Kd*Nd + kk*Nd + n)
//        b_kmajor = 1: as [E, Nd, Kd]  (element (kk, n) at g*Nd*Kd + n*Kd + kk)
//      forward, B [E, K, N]:  Kd = K, Nd = N, b_kmajor = 0      (C = A * B_e)
//      forward, B [E, N, K]:  Kd = K, Nd = N, b_kmajor = 1      (C = A * B_e^T, nn.Linear weights)
//      dA, B [E, K, N]:       A := dC, Kd = N, Nd = K, b_kmajor = 1      (dA = dC * B_e^T)
//      dA, B [E, N, K]:       A := dC, Kd = N, Nd = K, b_kmajor = 0
//
//   "reduce" (ragged reduction), weight gradient:
//      D_g = alpha * X_g^T * Y_g + beta * D_g,   X [M, P], Y [M, Q], D [E, P, Q], the sum over the rows of g
//      B [E, K, N]: X := A (P = K), Y := dC (Q = N);   B [E, N, K]: X := dC (P = N), Y := A (Q = K)
//      An empty group gives D_g = beta * D_g (zero for beta = 0).
//
// beta = 0 never reads the output (it may hold NaN). Every kernel accumulates in float.
//
// Versions (numbered as llm.c's dev/cuda does; the launcher can run any of them):
//   v1  naive: one thread per output element, a dot product from global memory; the group of a row is a
//       binary search over offsets. float and bf16, any sizes.
//   v2  float, SIMT tiled: 64x64 output tiles, 16-deep k slices staged in shared memory, 256 threads each
//       computing a 4x4 micro-tile from registers. Any sizes and layouts (element-wise bounds-checked
//       loads, coalesced along whichever dim of the operand is contiguous).
//   v3  bf16 on the tensor cores (sm_80+), mma.sync.m16n8k16 with float accumulators: 128x128 output
//       tiles, 32-deep k slices, a 4-stage cp.async pipeline (16-byte copies, zero-filled out of range),
//       ldmatrix (.trans for operands whose contiguous dim is not k) from padded shared-memory rows (16
//       bytes of padding per row: conflict-free ldmatrix), 8 warps as 2 x 4, each owning 64x32 of the
//       tile (4 x 4 mma tiles). Needs the contiguous dims (Kd and Nd; P and Q) to be multiples of 8 and
//       16-byte aligned bases.
//   v2 and v3 run a persistent grid: each block walks the tile list with a stride of gridDim.x. For
//   "rows" launches the tile list is group-major (group, m-tile, n-tile): the block first builds
//   tile_start[g] (tiles before group g) in shared memory with a warp scan over the groups, then finds
//   each tile's group by binary search, so the grid size needs no knowledge of the routing on the host.
#include "common.cuh"

// ------------------------------------------------------------------------------------------------
// tile schedule of "rows" launches
// ------------------------------------------------------------------------------------------------

// tile_start[g] = sum over groups h < g of ceil(rows_h / bm) * tiles_n, for g in [0, E]; warp 0 computes
// it 32 groups at a time with a shuffle scan. Ends with a block barrier.
__device__ __forceinline__ void build_tile_starts(const int *__restrict__ offsets, int E, int bm, int tiles_n,
                                                  int *tile_start) {
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        int run = 0;
        for (int base = 0; base < E; base += 32) {
            int g = base + lane;
            int cnt = g < E ? ceil_div(offsets[g + 1] - offsets[g], bm) * tiles_n : 0;
            int incl = cnt;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                int v = __shfl_up_sync(MOE4J_FULL_MASK, incl, o);
                if (lane >= o) incl += v;
            }
            if (g < E) tile_start[g] = run + incl - cnt;
            run += __shfl_sync(MOE4J_FULL_MASK, incl, 31);
        }
        if (lane == 0) tile_start[E] = run;
    }
    __syncthreads();
}

// The group holding tile `tile` (< tile_start[E]): the last g with tile_start[g] <= tile, which skips
// empty groups (their start equals the next group's).
__device__ __forceinline__ int find_group(const int *tile_start, int E, int tile) {
    int lo = 0, hi = E - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (tile_start[mid] <= tile) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// The group of row i (offsets[0] <= i < offsets[E]): the last g with offsets[g] <= i.
__device__ __forceinline__ int group_of_row(const int *__restrict__ offsets, int E, int i) {
    int lo = 0, hi = E - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (offsets[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// ------------------------------------------------------------------------------------------------
// v1: naive
// ------------------------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ void gg_v1_rows(const T *__restrict__ A, const T *__restrict__ B, T *__restrict__ C,
                                           const int *__restrict__ offsets, int E, int M, int Kd, int Nd,
                                           int b_kmajor, float alpha, float beta) {
    int first = offsets[0], last = offsets[E];
    size_t n = (size_t)M * Nd;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(idx / Nd), j = (int)(idx % Nd);
        if (i < first || i >= last) continue;
        int g = group_of_row(offsets, E, i);
        const T *b = B + (size_t)g * Kd * Nd;
        float dot = 0.0f;
        for (int kk = 0; kk < Kd; kk++) {
            float bv = b_kmajor ? load_f(b + (size_t)j * Kd + kk) : load_f(b + (size_t)kk * Nd + j);
            dot = fmaf(load_f(A + (size_t)i * Kd + kk), bv, dot);
        }
        T *c = C + (size_t)i * Nd + j;
        store_f(c, beta == 0.0f ? alpha * dot : alpha * dot + beta * load_f(c));
    }
}

template <typename T>
__device__ __forceinline__ void gg_v1_reduce(const T *__restrict__ X, const T *__restrict__ Y, T *__restrict__ D,
                                             const int *__restrict__ offsets, int E, int P, int Q,
                                             float alpha, float beta) {
    size_t n = (size_t)E * P * Q;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        int g = (int)(idx / ((size_t)P * Q));
        int rem = (int)(idx % ((size_t)P * Q));
        int p = rem / Q, q = rem % Q;
        float dot = 0.0f;
        for (int m = offsets[g]; m < offsets[g + 1]; m++) {
            dot = fmaf(load_f(X + (size_t)m * P + p), load_f(Y + (size_t)m * Q + q), dot);
        }
        T *d = D + idx;
        store_f(d, beta == 0.0f ? alpha * dot : alpha * dot + beta * load_f(d));
    }
}

#define GG_ROWS_ARGS(T) const T *__restrict__ A, const T *__restrict__ B, T *__restrict__ C, const int *__restrict__ offsets, int E, int M, int Kd, int Nd, int b_kmajor, float alpha, float beta
#define GG_REDUCE_ARGS(T) const T *__restrict__ X, const T *__restrict__ Y, T *__restrict__ D, const int *__restrict__ offsets, int E, int P, int Q, float alpha, float beta
extern "C" __global__ void gg_v1_rows_f32(GG_ROWS_ARGS(float)) { gg_v1_rows(A, B, C, offsets, E, M, Kd, Nd, b_kmajor, alpha, beta); }
extern "C" __global__ void gg_v1_rows_bf16(GG_ROWS_ARGS(bf16)) { gg_v1_rows(A, B, C, offsets, E, M, Kd, Nd, b_kmajor, alpha, beta); }
extern "C" __global__ void gg_v1_reduce_f32(GG_REDUCE_ARGS(float)) { gg_v1_reduce(X, Y, D, offsets, E, P, Q, alpha, beta); }
extern "C" __global__ void gg_v1_reduce_bf16(GG_REDUCE_ARGS(bf16)) { gg_v1_reduce(X, Y, D, offsets, E, P, Q, alpha, beta); }

// ------------------------------------------------------------------------------------------------
// v2: float, SIMT tiled, persistent
// ------------------------------------------------------------------------------------------------

#define V2_BM 64
#define V2_BN 64
#define V2_BK 16
#define V2_THREADS 256

// One output tile of a group: out(m, n) = alpha * sum_kk Aop(m, kk) * Bop(kk, n) + beta * out(m, n), for
// m < rows, n < cols, kk < klen, where Aop(m, kk) = a[m * a_rs + kk * a_cs] and Bop(kk, n) = b[kk * b_rs +
// n * b_cs] (element strides), out(m, n) = c[m * ldc + n].
__device__ __forceinline__ void v2_tile(const float *__restrict__ a, long a_rs, long a_cs, const float *__restrict__ b,
                                        long b_rs, long b_cs, float *__restrict__ c, long ldc, int rows, int cols,
                                        int klen, float alpha, float beta, float (*As)[V2_BM + 4],
                                        float (*Bs)[V2_BN + 4]) {
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < klen; k0 += V2_BK) {
        // stage Aop[0..64, k0..k0+16) into As[kk][m] and Bop[k0..k0+16, 0..64) into Bs[kk][n]; the thread
        // to element map walks the operand's contiguous dim fastest, so global loads are coalesced
#pragma unroll
        for (int l = 0; l < (V2_BM * V2_BK) / V2_THREADS; l++) {
            int e = tid + l * V2_THREADS, m, kk;
            if (a_cs == 1) { m = e / V2_BK; kk = e % V2_BK; } else { kk = e / V2_BM; m = e % V2_BM; }
            As[kk][m] = (m < rows && k0 + kk < klen) ? a[m * a_rs + (long)(k0 + kk) * a_cs] : 0.0f;
            int n;
            if (b_cs == 1) { kk = e / V2_BN; n = e % V2_BN; } else { n = e / V2_BK; kk = e % V2_BK; }
            Bs[kk][n] = (n < cols && k0 + kk < klen) ? b[(long)(k0 + kk) * b_rs + n * b_cs] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < V2_BK; kk++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) av[i] = As[kk][ty * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tx * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int m = ty * 4 + i;
        if (m >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int n = tx * 4 + j;
            if (n >= cols) continue;
            float *o = c + m * ldc + n;
            *o = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *o;
        }
    }
}

extern "C" __global__ void __launch_bounds__(V2_THREADS) gg_v2_rows_f32(GG_ROWS_ARGS(float)) {
    __shared__ float As[V2_BK][V2_BM + 4];
    __shared__ float Bs[V2_BK][V2_BN + 4];
    extern __shared__ int tile_start[];                  // [E + 1]
    const int tiles_n = ceil_div(Nd, V2_BN);
    build_tile_starts(offsets, E, V2_BM, tiles_n, tile_start);
    const int total = tile_start[E];
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int g = find_group(tile_start, E, tile);
        int local = tile - tile_start[g];
        int m0 = offsets[g] + (local / tiles_n) * V2_BM, n0 = (local % tiles_n) * V2_BN;
        int rows = min(V2_BM, offsets[g + 1] - m0), cols = min(V2_BN, Nd - n0);
        const float *b = B + (size_t)g * Kd * Nd;
        long b_rs = b_kmajor ? 1 : Nd, b_cs = b_kmajor ? Kd : 1;
        v2_tile(A + (size_t)m0 * Kd, Kd, 1, b + n0 * b_cs, b_rs, b_cs, C + (size_t)m0 * Nd + n0, Nd, rows, cols, Kd,
                alpha, beta, As, Bs);
    }
}

extern "C" __global__ void __launch_bounds__(V2_THREADS) gg_v2_reduce_f32(GG_REDUCE_ARGS(float)) {
    __shared__ float As[V2_BK][V2_BM + 4];
    __shared__ float Bs[V2_BK][V2_BN + 4];
    const int tiles_p = ceil_div(P, V2_BM), tiles_q = ceil_div(Q, V2_BN);
    const int total = E * tiles_p * tiles_q;
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int g = tile / (tiles_p * tiles_q), local = tile % (tiles_p * tiles_q);
        int p0 = (local / tiles_q) * V2_BM, q0 = (local % tiles_q) * V2_BN;
        int r0 = offsets[g], len = offsets[g + 1] - r0;
        // Aop(p, kk) = X[r0 + kk, p0 + p], Bop(kk, q) = Y[r0 + kk, q0 + q]
        v2_tile(X + (size_t)r0 * P + p0, 1, P, Y + (size_t)r0 * Q + q0, Q, 1, D + (size_t)g * P * Q + (size_t)p0 * Q + q0,
                Q, min(V2_BM, P - p0), min(V2_BN, Q - q0), len, alpha, beta, As, Bs);
    }
}

// ------------------------------------------------------------------------------------------------
// v3: bf16 tensor cores, mma.sync m16n8k16, cp.async pipeline, persistent
// ------------------------------------------------------------------------------------------------

#define V3_BM 128
#define V3_BN 128
#define V3_BK 32
#define V3_STAGES 4
#define V3_THREADS 256
#define V3_PAD 8                                          // bf16 elements (16 bytes) of padding per smem row

// Shared-memory sizes (bf16 elements) of one stage's tile, for an operand whose contiguous dim is k
// ([128][32 + 8]) or the other one ([32][128 + 8]).
#define V3_TILE_K (V3_BM * (V3_BK + V3_PAD))
#define V3_TILE_MN (V3_BK * (V3_BM + V3_PAD))

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    int n = valid ? 16 : 0;                              // 0 source bytes: the 16 bytes are zero-filled
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void *smem) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void *smem) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
}
__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One operand of a tile, as the v3 main loop sees it: element (mn, kk) of the operand for output row or
// column mn and reduction index kk.
//   KMAJOR: kk is the contiguous dim; row mn at base + mn * ld (+ kk). Staged as [128][32 + 8].
//   else:   mn is the contiguous dim; reduction row kk at base + kk * ld (+ mn). Staged as [32][128 + 8].
// `mn_len` and `k_len` bound the valid region (rows / columns of this tile and the reduction length).
struct Operand {
    const bf16 *base;
    long ld;
    int mn_len, k_len;
};

// Stage the operand's slice k0 .. k0+32 (and its 128 rows or columns) into shared memory: 512 chunks of
// 16 bytes, two per thread.
template <bool KMAJOR>
__device__ __forceinline__ void v3_load(bf16 *smem, const Operand &op, int k0) {
#pragma unroll
    for (int l = 0; l < 2; l++) {
        int c = threadIdx.x + l * V3_THREADS;
        if (KMAJOR) {
            int mn = c >> 2, kc = (c & 3) * 8;
            bool ok = mn < op.mn_len && k0 + kc < op.k_len;
            const bf16 *g = ok ? op.base + (long)mn * op.ld + k0 + kc : op.base;
            cp_async16(smem + mn * (V3_BK + V3_PAD) + kc, g, ok);
        } else {
            int kr = c >> 4, mc = (c & 15) * 8;
            bool ok = k0 + kr < op.k_len && mc < op.mn_len;
            const bf16 *g = ok ? op.base + (long)(k0 + kr) * op.ld + mc : op.base;
            cp_async16(smem + kr * (V3_BM + V3_PAD) + mc, g, ok);
        }
    }
}

// One 128x128 output tile: acc = Aop * Bop over the whole reduction, then the epilogue.
template <bool A_K, bool B_K>
__device__ __forceinline__ void v3_tile(const Operand &a, const Operand &b, bf16 *__restrict__ out, long ldo,
                                        float alpha, float beta, bf16 *smem) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp >> 2, wn = warp & 3;             // warp tile: rows wm*64 .. +64, cols wn*32 .. +32
    constexpr int A_STAGE = A_K ? V3_TILE_K : V3_TILE_MN;
    constexpr int B_STAGE = B_K ? V3_TILE_K : V3_TILE_MN;
    bf16 *As = smem, *Bs = smem + V3_STAGES * A_STAGE;

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    const int k_tiles = ceil_div(a.k_len, V3_BK);
#pragma unroll
    for (int s = 0; s < V3_STAGES - 1; s++) {
        if (s < k_tiles) {
            v3_load<A_K>(As + s * A_STAGE, a, s * V3_BK);
            v3_load<B_K>(Bs + s * B_STAGE, b, s * V3_BK);
        }
        cp_async_commit();
    }
    for (int kt = 0; kt < k_tiles; kt++) {
        cp_async_wait<V3_STAGES - 2>();
        __syncthreads();                                 // stage kt landed; stage kt-1 fully read
        int nk = kt + V3_STAGES - 1;
        if (nk < k_tiles) {
            v3_load<A_K>(As + (nk % V3_STAGES) * A_STAGE, a, nk * V3_BK);
            v3_load<B_K>(Bs + (nk % V3_STAGES) * B_STAGE, b, nk * V3_BK);
        }
        cp_async_commit();
        const bf16 *as = As + (kt % V3_STAGES) * A_STAGE, *bs = Bs + (kt % V3_STAGES) * B_STAGE;
#pragma unroll
        for (int ks = 0; ks < V3_BK; ks += 16) {
            unsigned af[4][4], bfr[4][2];
            const int q = lane >> 3, r8 = lane & 7;
#pragma unroll
            for (int mi = 0; mi < 4; mi++) {
                int m = wm * 64 + mi * 16;
                if (A_K) ldmatrix_x4(af[mi], as + (m + (lane & 15)) * (V3_BK + V3_PAD) + ks + (lane >> 4) * 8);
                else ldmatrix_x4_trans(af[mi], as + (ks + r8 + (q >> 1) * 8) * (V3_BM + V3_PAD) + m + (q & 1) * 8);
            }
#pragma unroll
            for (int np = 0; np < 2; np++) {
                int n = wn * 32 + np * 16;
                unsigned r[4];
                if (B_K) ldmatrix_x4(r, bs + (n + r8 + (q >> 1) * 8) * (V3_BK + V3_PAD) + ks + (q & 1) * 8);
                else ldmatrix_x4_trans(r, bs + (ks + r8 + (q & 1) * 8) * (V3_BN + V3_PAD) + n + (q >> 1) * 8);
                bfr[np * 2][0] = r[0]; bfr[np * 2][1] = r[1];
                bfr[np * 2 + 1][0] = r[2]; bfr[np * 2 + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
#pragma unroll
                for (int ni = 0; ni < 4; ni++) mma_bf16_16816(acc[mi][ni], af[mi], bfr[ni][0], bfr[ni][1]);
        }
    }
    cp_async_wait<0>();
    __syncthreads();                                     // shared memory free for the next tile

    // epilogue: accumulator (mi, ni, r) is row wm*64 + mi*16 + lane/4 (+8 for r >= 2), columns
    // wn*32 + ni*8 + (lane%4)*2 + {0, 1}; written as bf16 pairs
#pragma unroll
    for (int mi = 0; mi < 4; mi++) {
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int m = wm * 64 + mi * 16 + (lane >> 2) + half * 8;
            if (m >= a.mn_len) continue;
#pragma unroll
            for (int ni = 0; ni < 4; ni++) {
                int n = wn * 32 + ni * 8 + (lane & 3) * 2;
                if (n >= b.mn_len) continue;
                float v0 = alpha * acc[mi][ni][half * 2], v1 = alpha * acc[mi][ni][half * 2 + 1];
                __nv_bfloat162 *o = reinterpret_cast<__nv_bfloat162 *>(out + (long)m * ldo + n);
                if (beta != 0.0f) {
                    float2 old = __bfloat1622float2(*o);
                    v0 += beta * old.x;
                    v1 += beta * old.y;
                }
                *o = __floats2bfloat162_rn(v0, v1);
            }
        }
    }
}

// Dynamic shared memory of a v3 launch: the stages, then (rows launches) tile_start [E + 1].
extern __shared__ __align__(16) unsigned char v3_smem_raw[];

template <bool A_K, bool B_K>
__device__ __forceinline__ int *v3_tile_start(bf16 *smem) {
    return reinterpret_cast<int *>(smem + V3_STAGES * ((A_K ? V3_TILE_K : V3_TILE_MN) + (B_K ? V3_TILE_K : V3_TILE_MN)));
}

template <bool B_K>
__device__ __forceinline__ void gg_v3_rows(const bf16 *__restrict__ A, const bf16 *__restrict__ B, bf16 *__restrict__ C,
                                           const int *__restrict__ offsets, int E, int Kd, int Nd, float alpha,
                                           float beta) {
    bf16 *smem = reinterpret_cast<bf16 *>(v3_smem_raw);
    int *tile_start = v3_tile_start<true, B_K>(smem);
    const int tiles_n = ceil_div(Nd, V3_BN);
    build_tile_starts(offsets, E, V3_BM, tiles_n, tile_start);
    const int total = tile_start[E];
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int g = find_group(tile_start, E, tile);
        int local = tile - tile_start[g];
        int m0 = offsets[g] + (local / tiles_n) * V3_BM, n0 = (local % tiles_n) * V3_BN;
        Operand a{A + (long)m0 * Kd, Kd, min(V3_BM, offsets[g + 1] - m0), Kd};
        const bf16 *bg = B + (long)g * Kd * Nd;
        Operand b = B_K ? Operand{bg + (long)n0 * Kd, Kd, min(V3_BN, Nd - n0), Kd}
                        : Operand{bg + n0, Nd, min(V3_BN, Nd - n0), Kd};
        v3_tile<true, B_K>(a, b, C + (long)m0 * Nd + n0, Nd, alpha, beta, smem);
    }
}

extern "C" __global__ void __launch_bounds__(V3_THREADS) gg_v3_rows_kn_bf16(GG_ROWS_ARGS(bf16)) {
    gg_v3_rows<false>(A, B, C, offsets, E, Kd, Nd, alpha, beta);
}
extern "C" __global__ void __launch_bounds__(V3_THREADS) gg_v3_rows_nk_bf16(GG_ROWS_ARGS(bf16)) {
    gg_v3_rows<true>(A, B, C, offsets, E, Kd, Nd, alpha, beta);
}

extern "C" __global__ void __launch_bounds__(V3_THREADS) gg_v3_reduce_bf16(GG_REDUCE_ARGS(bf16)) {
    bf16 *smem = reinterpret_cast<bf16 *>(v3_smem_raw);
    const int tiles_p = ceil_div(P, V3_BM), tiles_q = ceil_div(Q, V3_BN);
    const int total = E * tiles_p * tiles_q;
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int g = tile / (tiles_p * tiles_q), local = tile % (tiles_p * tiles_q);
        int p0 = (local / tiles_q) * V3_BM, q0 = (local % tiles_q) * V3_BN;
        int r0 = offsets[g], len = offsets[g + 1] - r0;
        Operand a{X + (long)r0 * P + p0, P, min(V3_BM, P - p0), len};
        Operand b{Y + (long)r0 * Q + q0, Q, min(V3_BN, Q - q0), len};
        v3_tile<false, false>(a, b, D + (long)g * P * Q + (long)p0 * Q + q0, Q, alpha, beta, smem);
    }
}
