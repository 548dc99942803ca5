package dev.moe4j.kernels.cuda;

/**
 * Grid and block shapes, shared-memory sizes and version choices of every kernel in {@code cuda-src},
 * computed on the host from the problem sizes alone (no device needed, so they are unit-tested on any
 * machine). The numbers here must agree with the constants of the {@code .cu} files, quoted in each
 * method's comment.
 */
public final class LaunchGeometry {
    private LaunchGeometry() {}

    /**
     * A launch shape: {@code (gx, gy, gz)} blocks of {@code (bx, by, bz)} threads.
     */
    public record Grid(int gx, int gy, int gz, int bx, int by, int bz) {
        public Grid {
            if (gx < 0 || gy < 1 || gz < 1 || bx < 1 || by < 1 || bz < 1 || (long) bx * by * bz > 1024) {
                throw new IllegalArgumentException("invalid launch (" + gx + ", " + gy + ", " + gz + ") x (" + bx + ", " + by + ", " + bz + ")");
            }
        }

        /** A one-dimensional grid of {@code blocks} blocks of {@code threads} threads. */
        public static Grid linear(int blocks, int threads) { return new Grid(blocks, 1, 1, threads, 1, 1); }

        /** Whether the grid has no block (the launch is skipped). */
        public boolean isEmpty() { return gx == 0; }

        /** Threads per block. */
        public int threadsPerBlock() { return bx * by * bz; }

        @Override
        public String toString() { return "grid (" + gx + ", " + gy + ", " + gz + ") x block (" + bx + ", " + by + ", " + bz + ")"; }
    }

    static int ceilDiv(long a, long b) {
        long q = (a + b - 1) / b;
        if (q > Integer.MAX_VALUE) throw new IllegalArgumentException("grid of " + q + " blocks exceeds the launch limit");
        return (int) q;
    }

    private static int roundUp32(int x) { return (x + 31) / 32 * 32; }

    /** 32, 64 or 128: the smallest that reaches {@code threads} (128 when none does), so 256 / it is whole. */
    private static int warpsPow2(int threads) {
        int bx = 32;
        while (bx < 128 && bx < threads) bx <<= 1;
        return bx;
    }

    // ------------------------------------------------------------------ gating (gating.cu)

    /** Tokens per block of the warp-per-token gating kernels ({@code GATING_WARPS}). */
    public static final int GATING_WARPS = 4;
    /** Largest E of the warp-per-token kernels: 32 lanes x 16 registers. */
    public static final int GATING_MAX_E_V2 = 512;
    /** Largest k of the warp-per-token kernels: lane j holds slot j. */
    public static final int GATING_MAX_K_V2 = 32;
    /** Largest group count of the warp-per-token kernels: lane g holds group g's score. */
    public static final int GATING_MAX_GROUPS_V2 = 32;

    /**
     * Experts per lane of gating v2 ({@code moe_gating_*_v2_e<EPL>}): the smallest of 1, 2, 4, 8, 16
     * with {@code 32 * EPL >= E}; 0 when v2 cannot run (E &gt; 512, k &gt; 32 or more than 32 groups).
     */
    public static int gatingExpertsPerLane(int numExperts, int k, int nGroup) {
        if (numExperts > GATING_MAX_E_V2 || k > GATING_MAX_K_V2 || nGroup > GATING_MAX_GROUPS_V2) return 0;
        int epl = 1;
        while (32 * epl < numExperts) epl <<= 1;
        return epl;
    }

    /** Gating v2: one warp per token, 4 tokens (128 threads) per block. */
    public static Grid gatingV2(int numTokens) { return Grid.linear(ceilDiv(numTokens, GATING_WARPS), 32 * GATING_WARPS); }

    /** Gating v1 (and backward v1): one thread per token, 128 per block. */
    public static Grid gatingV1(int numTokens) { return Grid.linear(ceilDiv(numTokens, 128), 128); }

    /** Dynamic shared memory of gating v2 and v3 forward: the per-block histogram, E ints. */
    public static int gatingSharedBytes(int numExperts) { return 4 * numExperts; }

    /** Warps (one token at a time each) per block of gating v3 ({@code GATING_V3_WARPS}). */
    public static final int GATING_V3_WARPS = 8;
    /** Most blocks per SM that gating v3 launches (its warps then loop over the tokens). */
    public static final int GATING_V3_BLOCKS_PER_SM = 4;
    /** Ints of the per-device workspace of gating v3: a ticket and an accumulator of up to 512 experts. */
    public static final int GATING_V3_WORKSPACE_INTS = 1 + GATING_MAX_E_V2;

    /**
     * Gating v3: blocks of 8 warps, one per 8 tokens up to {@value #GATING_V3_BLOCKS_PER_SM} per SM
     * (warps loop over the tokens when there are more).
     */
    public static Grid gatingV3(int numTokens, int multiprocessors) {
        long perSm = (long) GATING_V3_BLOCKS_PER_SM * Math.max(1, multiprocessors);
        return Grid.linear((int) Math.min(ceilDiv(numTokens, GATING_V3_WARPS), perSm), 32 * GATING_V3_WARPS);
    }

    /**
     * Vector width of gating v3's row loads and stores ({@code moe_gating_forward_v3_e<EPL>_v<V>}): the
     * largest of 4, 2, 1 that is at most {@code expertsPerLane}, divides E, and whose 4V-byte alignment
     * every row buffer has ({@code aligned16}, {@code aligned8}: the logits and scores buffers start at a
     * multiple of 16, 8 bytes).
     */
    public static int gatingV3Vector(int numExperts, int expertsPerLane, boolean aligned16, boolean aligned8) {
        if (expertsPerLane >= 4 && numExperts % 4 == 0 && aligned16) return 4;
        if (expertsPerLane >= 2 && numExperts % 2 == 0 && aligned8) return 2;
        return 1;
    }

    // ------------------------------------------------------------------ routing plan (routing.cu)

    /** Pairs per chunk of the plan kernels (one block per chunk). */
    public static final int ROUTING_CHUNK = 4096;
    /** Threads of the scatter and dropped-compaction kernels ({@code SCATTER_THREADS}). */
    public static final int SCATTER_THREADS = 256;

    /** Chunks of {@link #ROUTING_CHUNK} pairs covering {@code pairs} pairs. */
    public static int routingChunks(int pairs) { return ceilDiv(pairs, ROUTING_CHUNK); }

    /** Histogram, scatter and dropped compaction: one block of 256 threads per chunk. */
    public static Grid routingPerChunk(int pairs) { return Grid.linear(routingChunks(pairs), SCATTER_THREADS); }

    /** Selection by score: one block of 256 threads per expert. */
    public static Grid routingPerExpert(int numExperts) { return Grid.linear(numExperts, SCATTER_THREADS); }

    /** The scan: one block, one thread per expert up to 1024, a multiple of 32. */
    public static Grid routingScan(int numExperts) { return Grid.linear(1, Math.min(1024, roundUp32(Math.max(numExperts, 1)))); }

    // ------------------------------------------------------------------ rows (routing.cu)

    /**
     * {@code moe_permute_v2}: rows of {@code rowVecs} 16-byte vectors; blockDim.x threads per row, sized
     * for about four vectors per thread (32, 64 or 128), blockDim.y = 256 / blockDim.x rows
     * per block.
     */
    public static Grid permuteV2(int rows, int rowVecs) {
        int bx = warpsPow2(ceilDiv(rowVecs, 4));
        int by = 256 / bx;
        return new Grid(ceilDiv(rows, by), 1, 1, bx, by, 1);
    }

    /** {@code moe_permute_v1_*}: grid-stride over the elements, 256 threads, at most 65535 blocks. */
    public static Grid elementwise(long elements) {
        return Grid.linear((int) Math.min(65535, (elements + 255) / 256), 256);
    }

    /**
     * Token-row kernels (unpermute-sum, combine): each of blockDim.y rows per block is covered by
     * blockDim.x threads taking {@code perStep} elements (1 for v1, 4 floats or 8 bf16 for v2) per step; blockDim.x is 32, 64 or 128.
     */
    public static Grid tokenRows(int tokens, int d, int perStep) {
        int steps = ceilDiv(Math.max(d, 1), perStep);
        int bx = warpsPow2(steps);
        int by = 256 / bx;
        return new Grid(ceilDiv(tokens, by), 1, 1, bx, by, 1);
    }

    /** Combine backward: one warp per token, 8 tokens per block. */
    public static Grid warpPerToken(int tokens) { return new Grid(ceilDiv(tokens, 8), 1, 1, 32, 8, 1); }

    // ------------------------------------------------------------------ grouped GEMM (grouped_gemm.cu)

    /** v2 tile ({@code V2_BM x V2_BN}). */
    public static final int GG_V2_TILE = 64;
    /** v3 tile ({@code V3_BM x V3_BN}). */
    public static final int GG_V3_TILE = 128;
    /** v3 k depth per stage ({@code V3_BK}), stages ({@code V3_STAGES}) and row padding ({@code V3_PAD}), in bf16 elements. */
    public static final int GG_V3_BK = 32, GG_V3_STAGES = 4, GG_V3_PAD = 8;

    /**
     * Upper bound of the tiles of a "rows" launch over E groups holding M rows in all: sum over groups of
     * ceil(M_g / tile) is at most floor(M / tile) + E.
     */
    public static long rowsTiles(int totalRows, int numGroups, int n, int tile) {
        return ((long) totalRows / tile + numGroups) * ceilDiv(Math.max(n, 1), tile);
    }

    /** Tiles of a "reduce" launch: E * ceil(P / tile) * ceil(Q / tile). */
    public static long reduceTiles(int numGroups, int p, int q, int tile) {
        return (long) numGroups * ceilDiv(Math.max(p, 1), tile) * ceilDiv(Math.max(q, 1), tile);
    }

    /** v4 output tile rows ({@code V4_BM}), columns ({@code V4_BN}), k depth per stage ({@code V4_BK}) and stages ({@code V4_STAGES}). */
    public static final int GG_V4_BM = 128, GG_V4_BN = 256, GG_V4_BK = 64, GG_V4_STAGES = 4;
    /** v4 threads per block: a producer warpgroup and two consumer warpgroups ({@code V4_THREADS}). */
    public static final int GG_V4_THREADS = 384;

    /**
     * Upper bound of the tiles of a "rows" launch with {@code tileM x tileN} tiles: sum over groups of
     * ceil(M_g / tileM) is at most floor(M / tileM) + E, times ceil(n / tileN).
     */
    public static long rowsTiles(int totalRows, int numGroups, int n, int tileM, int tileN) {
        return ((long) totalRows / tileM + numGroups) * ceilDiv(Math.max(n, 1), tileN);
    }

    /**
     * Dynamic shared memory of a v4 launch: 1024 bytes of alignment slack, 4 stages of A [128][64] and
     * B [256][64] bf16 (48 KiB each), 8 mbarriers of 8 bytes, tile_start [E + 1] ({@code V4_SMEM_FIXED + 4 (E + 1)}).
     */
    public static int groupedV4SharedBytes(int numGroups) {
        int stage = 2 * GG_V4_BK * (GG_V4_BM + GG_V4_BN);
        return 1024 + GG_V4_STAGES * stage + 2 * GG_V4_STAGES * 8 + 4 * (numGroups + 1);
    }

    /** Tiles of a v4 "reduce" launch with {@code tileP x tileQ} tiles: E * ceil(P / tileP) * ceil(Q / tileQ). */
    public static long reduceTiles(int numGroups, int p, int q, int tileP, int tileQ) {
        return (long) numGroups * ceilDiv(Math.max(p, 1), tileP) * ceilDiv(Math.max(q, 1), tileQ);
    }

    /**
     * Dynamic shared memory of the v4 "reduce" launch ({@code gg_v4_reduce_bf16}): 1024 bytes of alignment
     * slack, 4 stages of X [64 rows][128] and Y [64 rows][256] bf16 (48 KiB each, the same bytes as a rows
     * stage) and 8 mbarriers; no tile_start ({@code V4_SMEM_FIXED}).
     */
    public static int groupedV4ReduceSharedBytes() {
        int stage = 2 * GG_V4_BK * (GG_V4_BM + GG_V4_BN);
        return 1024 + GG_V4_STAGES * stage + 2 * GG_V4_STAGES * 8;
    }

    /** A persistent grid: {@code blocksPerSm} blocks per multiprocessor, never more than there are tiles. */
    public static Grid persistent(long tiles, int multiprocessors, int blocksPerSm, int threads) {
        long blocks = Math.min(tiles, (long) multiprocessors * blocksPerSm);
        return Grid.linear((int) blocks, threads);
    }

    /** Dynamic shared memory of a v2 "rows" launch: tile_start [E + 1]. */
    public static int groupedV2SharedBytes(int numGroups) { return 4 * (numGroups + 1); }

    /**
     * Dynamic shared memory of a v3 launch: 4 stages of both operand tiles ([128][32 + 8] bf16 for an
     * operand whose contiguous dim is k, [32][128 + 8] for the other), plus tile_start [E + 1] for a
     * "rows" launch.
     */
    public static int groupedV3SharedBytes(boolean aKMajor, boolean bKMajor, int numGroupsForRows) {
        int kTile = GG_V3_TILE * (GG_V3_BK + GG_V3_PAD), mnTile = GG_V3_BK * (GG_V3_TILE + GG_V3_PAD);
        int stage = (aKMajor ? kTile : mnTile) + (bKMajor ? kTile : mnTile);
        return 2 * GG_V3_STAGES * stage + (numGroupsForRows > 0 ? 4 * (numGroupsForRows + 1) : 0);
    }

    // ------------------------------------------------------------------ reductions (reduce.cu)

    /** Threads per block of the reduction, softmax and rank kernels ({@code REDUCE_THREADS}, {@code RANK_THREADS}). */
    public static final int REDUCE_THREADS = 256;
    /** Fewest elements per chunk when a reduction is split into chunks (two passes). */
    public static final int REDUCE_MIN_CHUNK = 4096;
    /** Most chunks of one reduction (the finishing block folds them 256 at a time). */
    public static final int REDUCE_MAX_CHUNKS = 1024;
    /** Blocks a split reduction aims at in all (enough to fill a large GPU). */
    public static final int REDUCE_TARGET_BLOCKS = 1024;

    /**
     * Threads along inner ({@code blockDim.x}) of a reduction over [outer, n, inner]: 1 when inner is 1,
     * else the smallest power of two reaching inner, at most 32; {@code blockDim.y} is 256 / this.
     */
    public static int reduceLanes(int inner) {
        int li = 1;
        while (li < 32 && li < inner) li <<= 1;
        return li;
    }

    /**
     * Chunks the reduced dim n is split into, from the sizes only (so the summation order, and the
     * result, never depends on the device): one when there are at least 256 outputs or n is at most
     * 2 * {@link #REDUCE_MIN_CHUNK}; else enough to give about {@link #REDUCE_TARGET_BLOCKS} blocks,
     * with chunks of at least {@link #REDUCE_MIN_CHUNK} elements and at most {@link #REDUCE_MAX_CHUNKS}.
     */
    public static int reduceChunks(long outputs, int n) {
        if (outputs >= 256 || n <= 2 * REDUCE_MIN_CHUNK) return 1;
        long byBlocks = Math.max(1, REDUCE_TARGET_BLOCKS / Math.max(1, outputs));
        long bySize = n / REDUCE_MIN_CHUNK;                    // floor: every chunk holds at least REDUCE_MIN_CHUNK
        int p = (int) Math.min(REDUCE_MAX_CHUNKS, Math.min(byBlocks, bySize));
        return ceilDiv(n, reduceChunkLength(n, p));
    }

    /** Elements per chunk when n is cut into {@code chunks} chunks: ceil(n / chunks). */
    public static int reduceChunkLength(int n, int chunks) { return Math.max(1, ceilDiv(n, chunks)); }

    /** {@code reduce_*} and softmax: blocks of (lanes, 256 / lanes) threads, outer * ceil(inner / lanes) of them, times {@code chunks}. */
    public static Grid reduce(int outer, int inner, int chunks) {
        int li = reduceLanes(inner);
        long blocks = (long) outer * ceilDiv(inner, li);
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("grid of " + blocks + " blocks exceeds the launch limit");
        return new Grid((int) blocks, chunks, 1, li, REDUCE_THREADS / li, 1);
    }

    /** {@code reduce_finish_*}: one block of (1, 256) threads per output. */
    public static Grid reduceFinish(int outputs) { return new Grid(outputs, 1, 1, 1, REDUCE_THREADS, 1); }

    /** {@code cumsum_cols_*}: one thread per column, 256 per block. */
    public static Grid cumsumColumns(long columns) { return Grid.linear(ceilDiv(columns, 256), 256); }

    /** {@code cumsum_rows_*}: one warp per row, 8 rows per block. */
    public static Grid cumsumRows(int rows) { return new Grid(ceilDiv(rows, 8), 1, 1, 32, 8, 1); }

    // ------------------------------------------------------------------ indexing (indexing.cu)

    /** {@code scatter_add_plan_*}: one thread per target, 256 per block. */
    public static Grid perItem(int items) { return Grid.linear(ceilDiv(items, 256), 256); }

    /** {@code rank_select_*}: ceil(n / 256) blocks of 256 threads per row. */
    public static Grid rankSelect(int rows, int n) {
        long blocks = (long) rows * ceilDiv(n, REDUCE_THREADS);
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("grid of " + blocks + " blocks exceeds the launch limit");
        return Grid.linear((int) blocks, REDUCE_THREADS);
    }
}
