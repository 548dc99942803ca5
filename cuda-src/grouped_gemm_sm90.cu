// grouped_gemm_sm90.cu: grouped GEMM v4, the "rows" launches of grouped_gemm.cu (forward and input gradient)
// and its "reduce" launch (weight gradient) on Hopper's own matrix and copy engines: warpgroup MMA (wgmma,
// sm_90a) fed by bulk tensor copies (TMA).
// The executable specification is the CPU's dev.moe4j.kernels.cpu.GroupedGemm; grouped_gemm.cu's header
// defines the launches, and v4 computes the same function as its v1 to v3.
//
// ------------------------------------------------------------------------------------------------
// Shapes and layouts (bf16 operands, float accumulation, bf16 output; all row-major)
// ------------------------------------------------------------------------------------------------
//
//   offsets [E + 1] int (device), non-decreasing: group g is rows [offsets[g], offsets[g+1]) of A and C
//   A [M, Kd]                                   the rows (x permuted by expert, or dC for dA)
//   C [M, Nd]                                   C[i, :] = alpha * A[i, :] * Bop_g + beta * C[i, :]
//   B, two kernels by the layout of Bop_g [Kd, Nd]:
//     gg_v4_rows_nk_bf16:  B [E, Nd, Kd] (element (kk, n) at g*Nd*Kd + n*Kd + kk; "k-major", nn.Linear's
//                          layout: forward with W [E, N, K], and dA with W [E, K, N])
//     gg_v4_rows_kn_bf16:  B [E, Kd, Nd] (element (kk, n) at g*Kd*Nd + kk*Nd + n; "n-major": forward with
//                          W [E, K, N], and dA = dC W_e with the MoE layout W [E, N, K])
//   Requirements (checked by the launcher): Kd and Nd multiples of 8 (16-byte rows for the copy engine and
//   4-byte bf16 pairs in the epilogue), Kd >= 1, 16-byte aligned buffers, E <= 4096 (tile_start in shared
//   memory), compute capability 9.0 (the sm_90a machine code; other targets compile to a trap).
//   Rows outside [offsets[0], offsets[E]) are never written; beta = 0 never reads C.
//
// ------------------------------------------------------------------------------------------------
// Tiles and work order
// ------------------------------------------------------------------------------------------------
//
//   Output tile 128 x 256 (BM x BN), reduction step 64 (BK): one stage holds A [128 rows][64 k] (16 KiB) and
//   B [256 n][64 k] (32 KiB) for nk, or B as 4 blocks [64 k][64 n] (4 x 8 KiB) for kn. 4 stages: 192 KiB.
//   Work items are (group, m-tile, n-tile) in a fixed order: group-major; inside a group, panels of 16
//   m-tiles (2048 rows), and inside a panel the m-tile fastest, then the n-tile. A wave of 132 blocks then
//   covers about 16 m-tiles x 8 n-tiles of one group: its A rows (16 MiB at K = 4096) and its B rows stay in
//   L2, and each weight matrix is streamed from memory about once per panel, not once per m-tile.
//   tile_start[g] (tiles before group g, from a warp scan over the group sizes) lives in shared memory;
//   each role finds its tile's group by binary search, so the host needs no knowledge of the routing.
//   The grid is persistent: one block per SM (192 KiB of stages), block b takes tiles b, b + grid, ...
//
//   Ragged M: a tile's rows start at offsets[g] + 128 * m-tile; the A box of 128 rows may run into the
//   next group's rows (or past M, which the copy engine fills with zeros). Those rows only reach
//   accumulator rows that the epilogue never stores (row < rows of the tile), so they cost bandwidth,
//   never correctness. Columns past Nd and the reduction past Kd are zero-filled by the copy engine (and
//   zero times anything finite is zero; a B box wholly past Nd is not loaded at all, see the producer).
//
// ------------------------------------------------------------------------------------------------
// Block: 384 threads = 3 warpgroups, warp-specialised, a 4-stage ring with full/empty mbarriers
// ------------------------------------------------------------------------------------------------
//
//   warpgroup 0 (producer): setmaxnreg.dec to 40 registers; thread 0 alone walks the tile list and the
//     k steps: wait empty[s] (consumers done with the stage), arrive.expect_tx(full[s], stage bytes), then
//     issue the bulk tensor copies of A and B into stage s, completing on full[s]. The other 127 threads
//     of the warpgroup exit.
//   warpgroups 1 and 2 (consumers): setmaxnreg.inc to 232; consumer c owns rows 64c .. 64c+63 of the tile,
//     all 256 columns: 128 float accumulators per thread (wgmma m64n256k16 layout: thread t of warp w holds
//     rows 16w + t/4 and +8, columns 8i + 2(t%4) + {0, 1}, i < 32). Per k step: wait full[s],
//     wgmma.fence, 4 x wgmma.mma_async m64n256k16 (A and B from shared memory through descriptors, the
//     first of a tile with scale-d = 0, which clears the accumulators), wgmma.commit_group, then
//     wgmma.wait_group 1: the previous step's group is done, so every consumer thread arrives on the
//     previous stage's empty barrier (count 256). After the last step: wait_group 0, release the stage,
//     and the epilogue: alpha * acc (+ beta * C), rounded to bf16 pairs and stored straight from
//     registers, masked to the tile's rows of its group and to n < Nd. A consumer whose 64 rows are all
//     past the group's end (groups of <= 64 rows) skips the MMAs but still waits and releases.
//   While the consumers run an epilogue, the producer is already filling stages for the next tile.
//
//   Phases: stage s and a phase bit advance together in every role (the bit flips when s wraps). A
//   consumer waits full[s] for parity `phase`; the producer waits empty[s] for parity `phase ^ 1`, which a
//   fresh barrier satisfies at once (its "previous" phase counts as complete), so the first round of
//   stages needs no priming.
//
// ------------------------------------------------------------------------------------------------
// Shared-memory layouts (128-byte swizzle, every stage 1024-byte aligned)
// ------------------------------------------------------------------------------------------------
//
//   The tensor maps use CU_TENSOR_MAP_SWIZZLE_128B with 64-element (128-byte) inner boxes: row r of a box
//   lands at r * 128 bytes with its 16-byte chunks permuted by chunk ^= (r % 8); 8 rows (1024 bytes) form
//   the swizzle atom. wgmma reads these layouts through its matrix descriptors (swizzle mode 1 = 128B):
//     k-major operand (A always, B for nk), rows of 64 k: LBO unused (1), SBO = 1024 bytes (next group of 8
//       rows); the k16 slice kk of the 64-wide stage starts 32 * kk bytes into the atom (the hardware
//       applies the swizzle to the full address, which is why stages must be 1024-byte aligned).
//     n-major B (kn): blocks of [64 k rows][64 n] (8 KiB); SBO = 1024 bytes (next 8 k rows), LBO = 8192
//       bytes (next 64 columns of n: the next block), transpose-b = 1; the k16 slice kk starts at
//       kk * 16 * 128 = 2048 * kk bytes.
//
// Dynamic shared memory: 1024 bytes of alignment slack, 4 stages (A then B), 8 mbarriers, tile_start
// [E + 1]: V4_SMEM_FIXED + 4 (E + 1) bytes (LaunchGeometry.groupedV4SharedBytes).
//
// ------------------------------------------------------------------------------------------------
// The weight gradient, gg_v4_reduce_bf16: a ragged reduction
// ------------------------------------------------------------------------------------------------
//
//   D_g = alpha * X_g^T * Y_g + beta * D_g for every group g, the sum over the group's rows:
//     X [M, P], Y [M, Q] (row-major), D [E, P, Q]; B [E, K, N]: X = A, Y = dC; B [E, N, K]: X = dC, Y = A
//     (so dW_e = dY_e^T X_e of the MoE layout is X := dY, Y := x). An empty group gives beta * D_g (zeros
//     for beta = 0, which never reads D). Requirements: P and Q multiples of 8, M >= 1, 16-byte aligned.
//   Work items: (group, p-tile, q-tile), 128 x 256 tiles of D_g, group-major, the q-tile fastest; their
//   number E * ceil(P / 128) * ceil(Q / 256) is known on the host (no tile_start). One block computes a
//   whole tile, k steps in order: no split of the reduction, so the result is the same bits on every run.
//   Same block, roles, ring, phases and accumulator layout as the rows kernels; what differs:
//   - Operands. The reduction runs along the rows of X and Y, which are not the contiguous dims, so both
//     wgmma operands are "mn-major" (transpose bits a = 1, b = 1): A = X_g^T is [64 rows][P] with P
//     contiguous, B = Y_g is [64 rows][Q] with Q contiguous. A stage holds X as 2 blocks [64 rows][64 p]
//     (consumer c reads block c: exactly its 64 output rows) and Y as 4 blocks [64 rows][64 q], each block
//     one box {64, 64} of a 2-D tensor map, 128-byte swizzled: 16 + 32 KiB a stage, as for the rows kernels.
//     Descriptors are those of the n-major B of gg_v4_rows_kn_bf16 (verified on hardware): SBO = 1024 (8
//     rows of the reduction), LBO = 8192 (the next 64-column block; unused for A, whose m64 is one
//     block), the k16 slice kk at +2048 * kk bytes.
//   - The ragged reduction. Step kb loads rows r0 + 64 kb .. + 63 of the group starting at r0; in the last
//     step of a group of `rows` rows, rows valid = rows - 64 kb .. 63 of the box belong to the next group
//     (or lie past M, where the copy engine already wrote zeros). The consumers clear them after full[s]
//     completes, in X and in Y (so that not even a NaN or infinity there reaches the sum): consumer c its
//     X block c and Y blocks 2c, 2c + 1, whole 128-byte rows (the swizzle only permutes 16-byte chunks
//     inside a row); then each writer's fence.proxy.async.shared::cta (generic-proxy writes ordered before
//     the async proxy's reads, wgmma's now and the next copy's later) and a named barrier of the 256
//     consumer threads (bar.sync 1, 256: every clear done before either warpgroup's wgmma reads the
//     stage). Every other step has no clearing and no barrier.
//   - Empty groups have no k steps: nothing is loaded, the ring does not move, and the consumers write
//     beta * D_g (or zeros) without touching the accumulators (writing them outside wgmma makes ptxas
//     serialise the MMAs, C7515).
//   Blocks of 64 columns wholly past P or Q are not loaded (and not counted in the expected bytes); they
//   only reach accumulators that are never stored. Dynamic shared memory: V4_SMEM_FIXED bytes
//   (LaunchGeometry.groupedV4ReduceSharedBytes).
#include "common.cuh"
#include <cuda.h>   // CUtensorMap (the 128-byte tensor map, encoded on the host by cuTensorMapEncodeTiled)

#define V4_BM 128
#define V4_BN 256
#define V4_BK 64
#define V4_STAGES 4
#define V4_THREADS 384
#define V4_PANEL 16                                       // m-tiles per panel of the work order
#define V4_A_BYTES (V4_BM * V4_BK * 2)                    // 16 KiB
#define V4_B_BYTES (V4_BN * V4_BK * 2)                    // 32 KiB
#define V4_B_BLOCK (64 * V4_BK * 2)                       // 8 KiB: one [64 k][64 n] block of an n-major B
#define V4_CONSUMER_THREADS 256
#define V4_SMEM_FIXED (1024 + V4_STAGES * (V4_A_BYTES + V4_B_BYTES) + 2 * V4_STAGES * 8)

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MOE4J_SM90A 1
#endif

extern __shared__ __align__(1024) unsigned char v4_smem_raw[];

#ifdef MOE4J_SM90A

// ------------------------------------------------------------------------------------------------
// mbarrier, bulk tensor copy, wgmma
// ------------------------------------------------------------------------------------------------

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// One arrival that also raises the transaction count the current phase waits for by `bytes`.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// Spins until the phase of parity `parity` of the barrier has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile(
            "{\n"
            ".reg .pred p;\n"
            "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            "selp.u32 %0, 1, 0, p;\n"
            "}\n"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
    } while (!done);
}

// Bulk tensor copies global -> shared through a tensor map (a __grid_constant__ kernel parameter, named
// by its generic address); the bytes are counted on the mbarrier `bar`. Coordinates are elements,
// innermost first.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int c0, int c1) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n"
        ::"r"(dst), "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1)
        : "memory");
}
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int c0, int c1, int c2) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n"
        ::"r"(dst), "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
        : "memory");
}
__device__ __forceinline__ void tma_prefetch_map(const CUtensorMap *map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// wgmma shared-memory matrix descriptor: start address >> 4 in bits 0-13, leading byte offset >> 4 in
// 16-29, stride byte offset >> 4 in 32-45, base offset 0 (bits 49-51: every stage is 1024-byte aligned
// and a k16 step moves the start by less than 128 bytes, or by whole atoms), swizzle mode 1 (128B) in
// bits 62-63.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
           (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// Keeps the compiler from moving reads or writes of an accumulator across the asm statements around it.
__device__ __forceinline__ void acc_fence(float &r) { asm volatile("" : "+f"(r)::"memory"); }

// D[64 x 256] (+)= A[64 x 16] * B[16 x 256]: A k-major (TRANS_A = 0) or m-major (TRANS_A = 1), B k-major
// (TRANS_B = 0) or n-major (TRANS_B = 1); scale_d = 0 ignores the old D.
template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t da, uint64_t db, int scale_d) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95,"
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111,"
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127},"
        " %128, %129, p, 1, 1, %131, %132;\n"
        "}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(scale_d), "n"(TRANS_A), "n"(TRANS_B));
}

// ------------------------------------------------------------------------------------------------
// work order
// ------------------------------------------------------------------------------------------------

// tile_start[g] = sum over groups h < g of ceil(rows_h / 128) * tiles_n, g in [0, E]: warp 0, 32 groups at
// a time with a shuffle scan. Ends with a block barrier.
__device__ __forceinline__ void v4_tile_starts(const int *__restrict__ offsets, int E, int tiles_n, int *tile_start) {
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        int run = 0;
        for (int base = 0; base < E; base += 32) {
            int g = base + lane;
            int cnt = g < E ? ceil_div(offsets[g + 1] - offsets[g], V4_BM) * tiles_n : 0;
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

struct V4Tile {
    int g;     // group
    int m0;    // first row (of A and C)
    int rows;  // rows of the group in this tile, 1 .. 128
    int n0;    // first column of C
};

// Work item `tile` (< tile_start[E]): its group is the last g with tile_start[g] <= tile (which skips empty
// groups); inside the group, panels of V4_PANEL m-tiles, the m-tile fastest inside a panel.
__device__ __forceinline__ V4Tile v4_decode(int tile, const int *tile_start, const int *__restrict__ offsets, int E,
                                            int tiles_n) {
    int lo = 0, hi = E - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (tile_start[mid] <= tile) lo = mid; else hi = mid - 1;
    }
    V4Tile t;
    t.g = lo;
    int local = tile - tile_start[lo];
    int r0 = offsets[lo], r1 = offsets[lo + 1];
    int m_tiles = ceil_div(r1 - r0, V4_BM);
    int per_panel = V4_PANEL * tiles_n;
    int panel = local / per_panel;
    int rem = local - panel * per_panel;
    int h = min(V4_PANEL, m_tiles - panel * V4_PANEL);   // m-tiles in this panel
    int mi = panel * V4_PANEL + rem % h, ni = rem / h;
    t.m0 = r0 + mi * V4_BM;
    t.rows = min(V4_BM, r1 - t.m0);
    t.n0 = ni * V4_BN;
    return t;
}

// ------------------------------------------------------------------------------------------------
// the kernel body
// ------------------------------------------------------------------------------------------------

template <bool B_KMAJOR>
__device__ __forceinline__ void gg_v4_rows(const CUtensorMap *tmA, const CUtensorMap *tmB, bf16 *__restrict__ C,
                                           const int *__restrict__ offsets, int E, int Kd, int Nd, float alpha,
                                           float beta) {
    // carve the dynamic shared memory: stages from the first 1024-byte boundary
    const uint32_t raw = smem_addr(v4_smem_raw);
    const uint32_t pad = ((raw + 1023u) & ~1023u) - raw;
    unsigned char *smem = v4_smem_raw + pad;
    const uint32_t sA = raw + pad;                                   // A stages: [4][128 rows][128 bytes]
    const uint32_t sB = sA + V4_STAGES * V4_A_BYTES;                 // B stages: [4][32 KiB]
    uint64_t *bars = reinterpret_cast<uint64_t *>(smem + V4_STAGES * (V4_A_BYTES + V4_B_BYTES));
    int *tile_start = reinterpret_cast<int *>(bars + 2 * V4_STAGES);
    const uint32_t full0 = smem_addr(bars), empty0 = smem_addr(bars + V4_STAGES);   // barrier s at +8 s

    if (threadIdx.x == 0) {
        for (int s = 0; s < V4_STAGES; s++) {
            mbar_init(full0 + 8 * s, 1);                             // the producer's arrive.expect_tx
            mbar_init(empty0 + 8 * s, V4_CONSUMER_THREADS);          // every consumer thread
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");   // visible to the copy engine
    }
    const int tiles_n = ceil_div(Nd, V4_BN);
    v4_tile_starts(offsets, E, tiles_n, tile_start);                 // ends with __syncthreads
    const int total = tile_start[E];
    const int k_steps = ceil_div(Kd, V4_BK);

    if (threadIdx.x < 128) {
        // ---------------------------------------------------------------- producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (threadIdx.x != 0) return;
        tma_prefetch_map(tmA);
        tma_prefetch_map(tmB);
        int s = 0;
        uint32_t phase = 0;
        for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
            const V4Tile t = v4_decode(tile, tile_start, offsets, E, tiles_n);
            // n-major B comes in blocks of 64 columns; blocks wholly past Nd are not loaded (their
            // columns are never stored, so the stale shared memory there is harmless)
            const int blocks = B_KMAJOR ? 0 : min(4, ceil_div(Nd - t.n0, 64));
            const uint32_t bytes = V4_A_BYTES + (B_KMAJOR ? V4_B_BYTES : blocks * V4_B_BLOCK);
            for (int kb = 0; kb < k_steps; kb++) {
                mbar_wait(empty0 + 8 * s, phase ^ 1);
                const uint32_t full = full0 + 8 * s;
                mbar_arrive_expect_tx(full, bytes);
                tma_load_2d(sA + s * V4_A_BYTES, tmA, full, kb * V4_BK, t.m0);
                if (B_KMAJOR) {
                    tma_load_3d(sB + s * V4_B_BYTES, tmB, full, kb * V4_BK, t.n0, t.g);
                } else {
                    for (int j = 0; j < blocks; j++)
                        tma_load_3d(sB + s * V4_B_BYTES + j * V4_B_BLOCK, tmB, full, t.n0 + 64 * j, kb * V4_BK, t.g);
                }
                if (++s == V4_STAGES) { s = 0; phase ^= 1; }
            }
        }
    } else {
        // ---------------------------------------------------------------- consumer warpgroups
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int wg = (threadIdx.x >> 7) - 1;                      // 0 or 1: rows 64 wg .. 64 wg + 63
        const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
        float acc[128];
#pragma unroll
        for (int i = 0; i < 128; i++) acc[i] = 0.0f;
        int s = 0;
        uint32_t phase = 0;
        for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
            const V4Tile t = v4_decode(tile, tile_start, offsets, E, tiles_n);
            // a warpgroup whose 64 rows all lie past the group's end only keeps the ring turning (broadcast
            // from lane 0 so that the compiler sees a warp-uniform branch around the wgmma instructions)
            const bool active = __shfl_sync(MOE4J_FULL_MASK, wg * 64 < t.rows ? 1 : 0, 0) != 0;
            if (!active) {
                for (int kb = 0; kb < k_steps; kb++) {
                    mbar_wait(full0 + 8 * s, phase);
                    mbar_arrive(empty0 + 8 * s);
                    if (++s == V4_STAGES) { s = 0; phase ^= 1; }
                }
                continue;
            }
            int prev = 0;
            for (int kb = 0; kb < k_steps; kb++) {
                mbar_wait(full0 + 8 * s, phase);
                wgmma_fence();
                const uint32_t a = sA + s * V4_A_BYTES + wg * 64 * 128;
                const uint32_t b = sB + s * V4_B_BYTES;
#pragma unroll
                for (int kk = 0; kk < V4_BK / 16; kk++) {
                    const uint64_t da = smem_desc(a + 32 * kk, 16, 1024);
                    const uint64_t db = B_KMAJOR ? smem_desc(b + 32 * kk, 16, 1024)
                                                 : smem_desc(b + 2048 * kk, V4_B_BLOCK, 1024);
                    wgmma_m64n256k16<0, B_KMAJOR ? 0 : 1>(acc, da, db, (kb > 0 || kk > 0) ? 1 : 0);
                }
                wgmma_commit();
                if (kb > 0) {
                    wgmma_wait<1>();                                 // the previous step's MMAs are done
                    mbar_arrive(empty0 + 8 * prev);
                }
                prev = s;
                if (++s == V4_STAGES) { s = 0; phase ^= 1; }
            }
            wgmma_wait<0>();
#pragma unroll
            for (int i = 0; i < 128; i++) acc_fence(acc[i]);
            mbar_arrive(empty0 + 8 * prev);

            // epilogue: accumulator 4i + 2h + {0, 1} is row 64 wg + 16 warp + lane/4 + 8h, columns
            // n0 + 8i + 2 (lane % 4) + {0, 1}; with Nd a multiple of 8 a pair is either wholly inside or
            // wholly past Nd
            const int cols = Nd - t.n0;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = wg * 64 + warp * 16 + (lane >> 2) + 8 * h;
                if (r >= t.rows) continue;
                bf16 *o = C + (long)(t.m0 + r) * Nd + t.n0 + 2 * (lane & 3);
#pragma unroll
                for (int i = 0; i < 32; i++) {
                    if (8 * i >= cols) break;
                    float v0 = alpha * acc[4 * i + 2 * h], v1 = alpha * acc[4 * i + 2 * h + 1];
                    __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(o + 8 * i);
                    if (beta != 0.0f) {
                        float2 old = __bfloat1622float2(*p);
                        v0 += beta * old.x;
                        v1 += beta * old.y;
                    }
                    *p = __floats2bfloat162_rn(v0, v1);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// the weight gradient: a ragged reduction (see the header's last part)
// ------------------------------------------------------------------------------------------------

#define V4R_XBLOCKS 2                                     // [64 rows][64 p] blocks of X a stage (128 p)
#define V4R_YBLOCKS 4                                     // [64 rows][64 q] blocks of Y a stage (256 q)
#define V4R_ZERO_BARRIER 1                                // named barrier of the 256 consumer threads

__device__ __forceinline__ void st_shared_zero16(uint32_t addr) {
    asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(addr), "r"(0) : "memory");
}

// Orders this thread's earlier generic-proxy writes to shared memory before later async-proxy accesses
// (wgmma operand reads, bulk tensor copies) of the same bytes.
__device__ __forceinline__ void fence_proxy_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

__device__ __forceinline__ void consumer_barrier() {
    asm volatile("bar.sync %0, %1;\n" ::"n"(V4R_ZERO_BARRIER), "n"(V4_CONSUMER_THREADS) : "memory");
}

struct V4ReduceTile {
    int g;       // group
    int r0;      // first row of the group (of X and Y)
    int rows;    // rows of the group (the reduction length), 0 for an empty group
    int p0, q0;  // first row and column of the output tile in D_g [P, Q]
};

// Work item `tile` (< E * tiles_p * tiles_q): group-major, then the p-tile, the q-tile fastest.
__device__ __forceinline__ V4ReduceTile v4_reduce_decode(int tile, const int *__restrict__ offsets, int tiles_p,
                                                         int tiles_q) {
    const int per_group = tiles_p * tiles_q;
    V4ReduceTile t;
    t.g = tile / per_group;
    const int local = tile - t.g * per_group;
    t.p0 = (local / tiles_q) * V4_BM;
    t.q0 = (local % tiles_q) * V4_BN;
    t.r0 = offsets[t.g];
    t.rows = offsets[t.g + 1] - t.r0;
    return t;
}

__device__ __forceinline__ void gg_v4_reduce(const CUtensorMap *tmX, const CUtensorMap *tmY, bf16 *__restrict__ D,
                                             const int *__restrict__ offsets, int E, int P, int Q, float alpha,
                                             float beta) {
    const uint32_t raw = smem_addr(v4_smem_raw);
    const uint32_t pad = ((raw + 1023u) & ~1023u) - raw;
    unsigned char *smem = v4_smem_raw + pad;
    const uint32_t sX = raw + pad;                                   // X stages: [4][2 blocks][64 rows][128 bytes]
    const uint32_t sY = sX + V4_STAGES * V4_A_BYTES;                 // Y stages: [4][4 blocks][64 rows][128 bytes]
    uint64_t *bars = reinterpret_cast<uint64_t *>(smem + V4_STAGES * (V4_A_BYTES + V4_B_BYTES));
    const uint32_t full0 = smem_addr(bars), empty0 = smem_addr(bars + V4_STAGES);

    if (threadIdx.x == 0) {
        for (int s = 0; s < V4_STAGES; s++) {
            mbar_init(full0 + 8 * s, 1);
            mbar_init(empty0 + 8 * s, V4_CONSUMER_THREADS);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    const int tiles_p = ceil_div(P, V4_BM), tiles_q = ceil_div(Q, V4_BN);
    const int total = E * tiles_p * tiles_q;

    if (threadIdx.x < 128) {
        // ---------------------------------------------------------------- producer warpgroup
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (threadIdx.x != 0) return;
        tma_prefetch_map(tmX);
        tma_prefetch_map(tmY);
        int s = 0;
        uint32_t phase = 0;
        for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
            const V4ReduceTile t = v4_reduce_decode(tile, offsets, tiles_p, tiles_q);
            // blocks of 64 columns wholly past P or Q are not loaded (they only reach accumulators that
            // are never stored)
            const int xb = min(V4R_XBLOCKS, ceil_div(P - t.p0, 64));
            const int yb = min(V4R_YBLOCKS, ceil_div(Q - t.q0, 64));
            const uint32_t bytes = (uint32_t)(xb + yb) * V4_B_BLOCK;
            const int k_steps = ceil_div(t.rows, V4_BK);
            for (int kb = 0; kb < k_steps; kb++) {
                mbar_wait(empty0 + 8 * s, phase ^ 1);
                const uint32_t full = full0 + 8 * s;
                mbar_arrive_expect_tx(full, bytes);
                const int row = t.r0 + kb * V4_BK;
                for (int j = 0; j < xb; j++)
                    tma_load_2d(sX + s * V4_A_BYTES + j * V4_B_BLOCK, tmX, full, t.p0 + 64 * j, row);
                for (int j = 0; j < yb; j++)
                    tma_load_2d(sY + s * V4_B_BYTES + j * V4_B_BLOCK, tmY, full, t.q0 + 64 * j, row);
                if (++s == V4_STAGES) { s = 0; phase ^= 1; }
            }
        }
    } else {
        // ---------------------------------------------------------------- consumer warpgroups
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int wg = (threadIdx.x >> 7) - 1;                      // 0 or 1: rows p0 + 64 wg .. + 63 of D_g
        const int wtid = threadIdx.x & 127;
        const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
        float acc[128];
#pragma unroll
        for (int i = 0; i < 128; i++) acc[i] = 0.0f;
        int s = 0;
        uint32_t phase = 0;
        for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
            const V4ReduceTile t = v4_reduce_decode(tile, offsets, tiles_p, tiles_q);
            const int k_steps = ceil_div(t.rows, V4_BK);
            const int rows = P - t.p0, cols = Q - t.q0;
            bf16 *Dg = D + (long)t.g * P * Q;
            if (k_steps == 0) {
                // an empty group: D_g = beta * D_g (zero for beta = 0), without touching the accumulators
                // (writing them outside wgmma would make ptxas serialise the MMAs: C7515); the same
                // element-to-thread map as the epilogue below
                for (int h = 0; h < 2; h++) {
                    const int r = wg * 64 + warp * 16 + (lane >> 2) + 8 * h;
                    if (r >= rows) continue;
                    bf16 *o = Dg + (long)(t.p0 + r) * Q + t.q0 + 2 * (lane & 3);
                    for (int i = 0; 8 * i < cols && i < 32; i++) {
                        __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(o + 8 * i);
                        float2 v = make_float2(0.0f, 0.0f);
                        if (beta != 0.0f) {
                            float2 old = __bfloat1622float2(*p);
                            v = make_float2(beta * old.x, beta * old.y);
                        }
                        *p = __floats2bfloat162_rn(v.x, v.y);
                    }
                }
                continue;
            }
            {
                int prev = 0;
                for (int kb = 0; kb < k_steps; kb++) {
                    mbar_wait(full0 + 8 * s, phase);
                    const int valid = t.rows - kb * V4_BK;           // rows of the group in this step
                    if (valid < V4_BK) {
                        // the last step of the group: rows valid .. 63 of the stage belong to the next
                        // group (or lie past M, already zero); clear them in both operands (so that no
                        // value there, NaN or infinity included, reaches the sum). Consumer c clears its
                        // own X block and Y blocks 2c and 2c + 1, 16 bytes a store; then the async-proxy
                        // fence and the barrier of both consumers, before either reads the stage.
                        const int chunks = (V4_BK - valid) * 8;      // 16-byte chunks a block (8 a row)
                        const uint32_t x = sX + s * V4_A_BYTES + wg * V4_B_BLOCK + valid * 128;
                        const uint32_t y = sY + s * V4_B_BYTES + 2 * wg * V4_B_BLOCK + valid * 128;
                        for (int c = wtid; c < chunks; c += 128) {
                            st_shared_zero16(x + 16 * c);
                            st_shared_zero16(y + 16 * c);
                            st_shared_zero16(y + V4_B_BLOCK + 16 * c);
                        }
                        fence_proxy_async_shared();
                        consumer_barrier();
                    }
                    wgmma_fence();
                    const uint32_t a = sX + s * V4_A_BYTES + wg * V4_B_BLOCK;
                    const uint32_t b = sY + s * V4_B_BYTES;
#pragma unroll
                    for (int kk = 0; kk < V4_BK / 16; kk++) {
                        // both operands row-major in the reduction: 16 rows a k16 slice (2048 bytes)
                        const uint64_t da = smem_desc(a + 2048 * kk, V4_B_BLOCK, 1024);
                        const uint64_t db = smem_desc(b + 2048 * kk, V4_B_BLOCK, 1024);
                        wgmma_m64n256k16<1, 1>(acc, da, db, (kb > 0 || kk > 0) ? 1 : 0);
                    }
                    wgmma_commit();
                    if (kb > 0) {
                        wgmma_wait<1>();
                        mbar_arrive(empty0 + 8 * prev);
                    }
                    prev = s;
                    if (++s == V4_STAGES) { s = 0; phase ^= 1; }
                }
                wgmma_wait<0>();
#pragma unroll
                for (int i = 0; i < 128; i++) acc_fence(acc[i]);
                mbar_arrive(empty0 + 8 * prev);
            }

            // epilogue, as in the rows kernel: accumulator 4i + 2h + {0, 1} is row p0 + 64 wg + 16 warp +
            // lane/4 + 8h of D_g, columns q0 + 8i + 2 (lane % 4) + {0, 1}; masked to p < P and q < Q
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = wg * 64 + warp * 16 + (lane >> 2) + 8 * h;
                if (r >= rows) continue;
                bf16 *o = Dg + (long)(t.p0 + r) * Q + t.q0 + 2 * (lane & 3);
#pragma unroll
                for (int i = 0; i < 32; i++) {
                    if (8 * i >= cols) break;
                    float v0 = alpha * acc[4 * i + 2 * h], v1 = alpha * acc[4 * i + 2 * h + 1];
                    __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(o + 8 * i);
                    if (beta != 0.0f) {
                        float2 old = __bfloat1622float2(*p);
                        v0 += beta * old.x;
                        v1 += beta * old.y;
                    }
                    *p = __floats2bfloat162_rn(v0, v1);
                }
            }
        }
    }
}

#endif  // MOE4J_SM90A

#define GG_V4_ARGS                                                                                                \
    const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB, bf16 *__restrict__ C,   \
        const int *__restrict__ offsets, int E, int Kd, int Nd, float alpha, float beta

// B [E, Nd, Kd] (k-major). tmA: A [M, Kd], box {64, 128}; tmB: B as {Kd, Nd, E}, box {64, 256, 1}.
extern "C" __global__ void __launch_bounds__(V4_THREADS, 1) gg_v4_rows_nk_bf16(GG_V4_ARGS) {
#ifdef MOE4J_SM90A
    gg_v4_rows<true>(&tmA, &tmB, C, offsets, E, Kd, Nd, alpha, beta);
#else
    __trap();                                                      // sm_90a only: the launcher never runs this
#endif
}

// B [E, Kd, Nd] (n-major). tmA: A [M, Kd], box {64, 128}; tmB: B as {Nd, Kd, E}, box {64, 64, 1}.
extern "C" __global__ void __launch_bounds__(V4_THREADS, 1) gg_v4_rows_kn_bf16(GG_V4_ARGS) {
#ifdef MOE4J_SM90A
    gg_v4_rows<false>(&tmA, &tmB, C, offsets, E, Kd, Nd, alpha, beta);
#else
    __trap();
#endif
}


// The weight gradient, D_g = alpha X_g^T Y_g + beta D_g for every group g; X [M, P], Y [M, Q], D [E, P, Q].
// tmX: X as {P, M}, box {64, 64}; tmY: Y as {Q, M}, box {64, 64}.
extern "C" __global__ void __launch_bounds__(V4_THREADS, 1)
gg_v4_reduce_bf16(const __grid_constant__ CUtensorMap tmX, const __grid_constant__ CUtensorMap tmY, bf16 *__restrict__ D,
                  const int *__restrict__ offsets, int E, int P, int Q, float alpha, float beta) {
#ifdef MOE4J_SM90A
    gg_v4_reduce(&tmX, &tmY, D, offsets, E, P, Q, alpha, beta);
#else
    __trap();
#endif
}
