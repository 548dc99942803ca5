package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.GroupedGemm.Layout;

/**
 * Launchers of {@code cuda-src/grouped_gemm.cu}: the device versions of the CPU's
 * {@link dev.moe4j.kernels.cpu.GroupedGemm}, one product per expert over ragged groups of rows.
 *
 * <h2>Shapes (device buffers, row-major; {@code type} F32 or BF16)</h2>
 * <pre>
 *   offsets [E + 1] int   non-decreasing row offsets in [0, M]: group e is rows offsets[e] .. offsets[e+1]-1
 *   A, dA   [M, K]        C, dC [M, N]
 *   B, dB   [E, K, N] (Layout.KN) or [E, N, K] (Layout.NK)
 *
 *   forward         C[rows_e]  = alpha * A[rows_e] * B_e          + beta * C[rows_e]
 *   backwardInput   dA[rows_e] = alpha * dC[rows_e] * B_e^T       + beta * dA[rows_e]
 *   backwardWeight  dB_e       = alpha * A[rows_e]^T * dC[rows_e] + beta * dB_e   (layout of B)
 * </pre>
 * The offsets stay on the device (a routing plan's), so the host never waits for them; M, the row
 * extent of A and C, bounds them, and the caller guarantees {@code 0 <= offsets[0] <= ... <=
 * offsets[E] <= M} (as every {@link DeviceRoutingPlan} does). Rows outside
 * {@code [offsets[0], offsets[E])} are not touched; {@code beta = 0} never reads the output.
 *
 * <p>Versions: v1 naive (any sizes, both types), v2 float SIMT tiled (any sizes), v3 bf16 tensor cores
 * (contiguous dims K and N multiples of 8, 16-byte aligned buffers, E &lt;= 4096), v4 bf16 on Hopper
 * ({@code cuda-src/grouped_gemm_sm90.cu}: warpgroup MMA fed by bulk tensor copies; compute capability 9.x
 * only, same size and alignment rules as v3). AUTO runs v2 for F32; for BF16 the forward and the input
 * gradient run v4 on a 9.x device when they can (unless the system property {@code moe4j.cuda.gg.v4} is
 * {@code false}), else v3 when they can, else v1. The weight gradient runs v4 ({@code gg_v4_reduce_bf16})
 * under the same conditions when its groups average at least {@link #V4_REDUCE_MIN_ROWS_PER_GROUP} rows,
 * where it is faster than v3.
 */
public final class CudaGroupedGemm {
    private CudaGroupedGemm() {}

    private static final String MODULE = "grouped_gemm";
    private static final String MODULE_V4 = "grouped_gemm_sm90";
    private static final int MAX_GROUPS_V3 = 4096;
    /** Whether AUTO may choose v4 on a Hopper device (system property {@code moe4j.cuda.gg.v4}, default true). */
    private static final boolean V4_BY_DEFAULT = !"false".equalsIgnoreCase(System.getProperty("moe4j.cuda.gg.v4", "true"));
    /**
     * The fewest rows per group, on average, for which AUTO runs the weight gradient on v4. Each
     * 128 x 256 tile of dW_e reduces over its group's rows in steps of 64, and its epilogue (a 64 KiB
     * tile written from registers) is not overlapped with the next tile, so short groups pay mostly
     * epilogue. Measured on an H200 (GpuMoeBenchmark, bf16): v4 ran 619 against v3's 291 TFLOP/s at
     * 2048 rows a group (E = 8), 360 against 230 at 512 (E = 64), but 108 against 126 at 128 (E = 128).
     */
    static final int V4_REDUCE_MIN_ROWS_PER_GROUP = 256;

    /** Forward with the fastest version. */
    public static void forward(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                               DeviceBuffer a, DeviceBuffer b, Layout layout, float beta, DeviceBuffer c) {
        forward(type, offsets, numGroups, m, k, n, alpha, a, b, layout, beta, c, KernelVersion.AUTO);
    }

    /** Forward, {@code C[rows_e] = alpha * A[rows_e] * B_e + beta * C[rows_e]}, with a chosen version. */
    public static void forward(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                               DeviceBuffer a, DeviceBuffer b, Layout layout, float beta, DeviceBuffer c, KernelVersion version) {
        check(type, offsets, numGroups, m, k, n, layout);
        Checks.buffer("A", a, (long) m * k, type.bytes(), "[M, K] = [" + m + ", " + k + "]");
        Checks.buffer("B", b, (long) numGroups * k * n, type.bytes(), stacked(numGroups, k, n, layout));
        Checks.buffer("C", c, (long) m * n, type.bytes(), "[M, N] = [" + m + ", " + n + "]");
        rows(type, offsets, numGroups, m, k, n, layout == Layout.NK, alpha, a, b, beta, c, version);
    }

    /** Input gradient with the fastest version. */
    public static void backwardInput(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                                     DeviceBuffer dc, DeviceBuffer b, Layout layout, float beta, DeviceBuffer da) {
        backwardInput(type, offsets, numGroups, m, k, n, alpha, dc, b, layout, beta, da, KernelVersion.AUTO);
    }

    /**
     * Input gradient, {@code dA[rows_e] = alpha * dC[rows_e] * B_e^T + beta * dA[rows_e]}: a "rows" launch with
     * the reduction over N and B_e read transposed (for [E, K, N] the stored rows are k-contiguous along N).
     */
    public static void backwardInput(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                                     DeviceBuffer dc, DeviceBuffer b, Layout layout, float beta, DeviceBuffer da, KernelVersion version) {
        check(type, offsets, numGroups, m, k, n, layout);
        Checks.buffer("dC", dc, (long) m * n, type.bytes(), "[M, N] = [" + m + ", " + n + "]");
        Checks.buffer("B", b, (long) numGroups * k * n, type.bytes(), stacked(numGroups, k, n, layout));
        Checks.buffer("dA", da, (long) m * k, type.bytes(), "[M, K] = [" + m + ", " + k + "]");
        rows(type, offsets, numGroups, m, n, k, layout == Layout.KN, alpha, dc, b, beta, da, version);
    }

    /** Weight gradient with the fastest version. */
    public static void backwardWeight(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                                      DeviceBuffer a, DeviceBuffer dc, float beta, DeviceBuffer db, Layout layout) {
        backwardWeight(type, offsets, numGroups, m, k, n, alpha, a, dc, beta, db, layout, KernelVersion.AUTO);
    }

    /**
     * Weight gradient, {@code dB_e = alpha * A[rows_e]^T * dC[rows_e] + beta * dB_e} in the layout of B: a
     * "reduce" launch, {@code D_e = X_e^T Y_e} with (X, Y) = (A, dC) for [E, K, N] and (dC, A) for [E, N, K].
     * Empty groups get {@code beta * dB_e}. {@link KernelVersion#V4} runs the Hopper kernel (compute
     * capability 9.x, BF16, K and N multiples of 8, 16-byte aligned buffers, E &lt;= 4096; with M = 0 every
     * group is empty and v3 writes {@code beta * dB}); AUTO picks it for groups of {@link #V4_REDUCE_MIN_ROWS_PER_GROUP}
     * rows or more on average.
     */
    public static void backwardWeight(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, float alpha,
                                      DeviceBuffer a, DeviceBuffer dc, float beta, DeviceBuffer db, Layout layout, KernelVersion version) {
        check(type, offsets, numGroups, m, k, n, layout);
        Checks.buffer("A", a, (long) m * k, type.bytes(), "[M, K] = [" + m + ", " + k + "]");
        Checks.buffer("dC", dc, (long) m * n, type.bytes(), "[M, N] = [" + m + ", " + n + "]");
        Checks.buffer("dB", db, (long) numGroups * k * n, type.bytes(), stacked(numGroups, k, n, layout));
        boolean kn = layout == Layout.KN;
        DeviceBuffer x = kn ? a : dc, y = kn ? dc : a;
        int p = kn ? k : n, q = kn ? n : k;
        CudaDevice dev = Checks.sameDevice(offsets, a, dc, db);
        if ((long) p * q == 0) return;
        DeviceInfo info = dev.info();
        int v = pickReduceVersion(type, version, p, q, numGroups, m, info, V4_BY_DEFAULT, x, y, db);
        if (v == 4) {
            reduceV4(dev, offsets, numGroups, m, p, q, alpha, x, y, beta, db);
            return;
        }
        Object[] args = {x, y, db, offsets, numGroups, p, q, alpha, beta};
        switch (v) {
            case 1 -> dev.launch(MODULE, "gg_v1_reduce_" + type.suffix(), LaunchGeometry.elementwise((long) numGroups * p * q), 0, args);
            case 2 -> dev.launch(MODULE, "gg_v2_reduce_f32",
                    LaunchGeometry.persistent(LaunchGeometry.reduceTiles(numGroups, p, q, LaunchGeometry.GG_V2_TILE), info.multiprocessors(), 4, 256), 0, args);
            default -> dev.launch(MODULE, "gg_v3_reduce_bf16",
                    LaunchGeometry.persistent(LaunchGeometry.reduceTiles(numGroups, p, q, LaunchGeometry.GG_V3_TILE), info.multiprocessors(), 2, 256),
                    LaunchGeometry.groupedV3SharedBytes(false, false, 0), args);
        }
    }

    /** A "rows" launch: {@code C[i] = alpha * A[i] * Bop_g + beta * C[i]}, A [M, kd], C [M, nd]. */
    private static void rows(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int kd, int nd, boolean bKMajor,
                             float alpha, DeviceBuffer a, DeviceBuffer b, float beta, DeviceBuffer c, KernelVersion version) {
        CudaDevice dev = Checks.sameDevice(offsets, a, b, c);
        if ((long) m * nd == 0) return;
        DeviceInfo info = dev.info();
        int v = pickRowsVersion(type, version, kd, nd, numGroups, info, V4_BY_DEFAULT, a, b, c);
        if (v == 4) {
            rowsV4(dev, offsets, numGroups, m, kd, nd, bKMajor, alpha, a, b, beta, c);
            return;
        }
        Object[] args = {a, b, c, offsets, numGroups, m, kd, nd, bKMajor ? 1 : 0, alpha, beta};
        switch (v) {
            case 1 -> dev.launch(MODULE, "gg_v1_rows_" + type.suffix(), LaunchGeometry.elementwise((long) m * nd), 0, args);
            case 2 -> dev.launch(MODULE, "gg_v2_rows_f32",
                    LaunchGeometry.persistent(LaunchGeometry.rowsTiles(m, numGroups, nd, LaunchGeometry.GG_V2_TILE), info.multiprocessors(), 4, 256),
                    LaunchGeometry.groupedV2SharedBytes(numGroups), args);
            default -> dev.launch(MODULE, bKMajor ? "gg_v3_rows_nk_bf16" : "gg_v3_rows_kn_bf16",
                    LaunchGeometry.persistent(LaunchGeometry.rowsTiles(m, numGroups, nd, LaunchGeometry.GG_V3_TILE), info.multiprocessors(), 2, 256),
                    LaunchGeometry.groupedV3SharedBytes(true, bKMajor, numGroups), args);
        }
    }

    /**
     * A v4 "rows" launch: the tensor maps of A [M, kd] (box 64 x 128) and of B (k-major [E, nd, kd], box
     * 64 x 256 x 1; or n-major [E, kd, nd], box 64 x 64 x 1), then one block of 384 threads per SM.
     */
    private static void rowsV4(CudaDevice dev, DeviceBuffer offsets, int numGroups, int m, int kd, int nd, boolean bKMajor,
                               float alpha, DeviceBuffer a, DeviceBuffer b, float beta, DeviceBuffer c) {
        dev.bind();
        byte[] mapA = TensorMaps.tiledBf16(a.address(), new long[] {kd, m}, new long[] {2L * kd},
                new int[] {LaunchGeometry.GG_V4_BK, LaunchGeometry.GG_V4_BM});
        byte[] mapB = bKMajor
                ? TensorMaps.tiledBf16(b.address(), new long[] {kd, nd, numGroups}, new long[] {2L * kd, 2L * kd * nd},
                        new int[] {LaunchGeometry.GG_V4_BK, LaunchGeometry.GG_V4_BN, 1})
                : TensorMaps.tiledBf16(b.address(), new long[] {nd, kd, numGroups}, new long[] {2L * nd, 2L * kd * nd},
                        new int[] {64, LaunchGeometry.GG_V4_BK, 1});
        LaunchGeometry.Grid grid = LaunchGeometry.persistent(
                LaunchGeometry.rowsTiles(m, numGroups, nd, LaunchGeometry.GG_V4_BM, LaunchGeometry.GG_V4_BN),
                dev.info().multiprocessors(), 1, LaunchGeometry.GG_V4_THREADS);
        dev.launch(MODULE_V4, bKMajor ? "gg_v4_rows_nk_bf16" : "gg_v4_rows_kn_bf16", grid,
                LaunchGeometry.groupedV4SharedBytes(numGroups), mapA, mapB, c, offsets, numGroups, kd, nd, alpha, beta);
    }

    /**
     * A v4 "reduce" launch, {@code D_g = alpha X_g^T Y_g + beta D_g}: tensor maps of X [M, p] and Y [M, q]
     * (2-D, {p, M} and {q, M}, boxes of 64 columns x 64 rows), then one block of 384 threads per SM over
     * the E * ceil(p / 128) * ceil(q / 256) output tiles.
     */
    private static void reduceV4(CudaDevice dev, DeviceBuffer offsets, int numGroups, int m, int p, int q, float alpha,
                                 DeviceBuffer x, DeviceBuffer y, float beta, DeviceBuffer d) {
        dev.bind();
        int[] box = {64, LaunchGeometry.GG_V4_BK};
        byte[] mapX = TensorMaps.tiledBf16(x.address(), new long[] {p, m}, new long[] {2L * p}, box);
        byte[] mapY = TensorMaps.tiledBf16(y.address(), new long[] {q, m}, new long[] {2L * q}, box);
        LaunchGeometry.Grid grid = LaunchGeometry.persistent(LaunchGeometry.reduceTiles(numGroups, p, q, LaunchGeometry.GG_V4_BM, LaunchGeometry.GG_V4_BN),
                dev.info().multiprocessors(), 1, LaunchGeometry.GG_V4_THREADS);
        dev.launch(MODULE_V4, "gg_v4_reduce_bf16", grid, LaunchGeometry.groupedV4ReduceSharedBytes(),
                mapX, mapY, d, offsets, numGroups, p, q, alpha, beta);
    }

    /**
     * The version of a "reduce" launch (weight gradient): 1 to 4. {@code p} and {@code q} are the widths of
     * X and Y (the output D_g is [p, q]), {@code m} their row count; v4 needs a compute capability 9.x
     * {@code device} and runs for an explicit V4, or for AUTO when {@code v4InAuto}. An explicit V4 with
     * {@code m = 0} (every group empty: {@code D = beta * D}) runs v3.
     *
     * @throws IllegalArgumentException when the version asked for cannot run the problem, naming why
     */
    static int pickReduceVersion(CudaDType type, KernelVersion version, int p, int q, int numGroups, int m, DeviceInfo device,
                                 boolean v4InAuto, DeviceBuffer... buffers) {
        boolean hopper = device.major() == 9;
        String v4Missing = v4Missing(type, "the widths of X and Y (dB_e = X_e^T Y_e)", "P", p, "Q", q, numGroups, buffers);
        if (version == KernelVersion.V4) {
            if (!hopper) {
                throw new IllegalArgumentException("grouped GEMM v4 (wgmma + bulk tensor copies, sm_90a machine code) runs only on compute capability 9.x"
                        + " (Hopper); " + device + " is compute capability " + device.major() + "." + device.minor());
            }
            if (v4Missing != null) throw new IllegalArgumentException("grouped GEMM v4 needs " + v4Missing);
            return m == 0 ? 3 : 4;
        }
        if (version == KernelVersion.AUTO && v4InAuto && hopper && v4Missing == null && m > 0
                && m >= (long) V4_REDUCE_MIN_ROWS_PER_GROUP * numGroups) return 4;
        return pickVersion(type, version, p, q, numGroups, buffers);
    }

    /**
     * The version of a "rows" launch (forward, input gradient): 1 to 4. {@code kd} is the reduction width
     * (A's row length), {@code nd} the output width; v4 needs a compute capability 9.x {@code device}.
     * {@code v4ByDefault}: whether AUTO may pick v4. An explicit V4 with {@code kd = 0} (nothing to
     * reduce: {@code C = beta * C}) runs v3.
     *
     * @throws IllegalArgumentException when the version asked for cannot run the problem, naming why
     */
    static int pickRowsVersion(CudaDType type, KernelVersion version, int kd, int nd, int numGroups, DeviceInfo device,
                               boolean v4ByDefault, DeviceBuffer... buffers) {
        boolean hopper = device.major() == 9;
        String v4Missing = v4Missing(type, kd, nd, numGroups, buffers);
        if (version == KernelVersion.V4) {
            if (!hopper) {
                throw new IllegalArgumentException("grouped GEMM v4 (wgmma + bulk tensor copies, sm_90a machine code) runs only on compute capability 9.x"
                        + " (Hopper); " + device + " is compute capability " + device.major() + "." + device.minor());
            }
            if (v4Missing != null) throw new IllegalArgumentException("grouped GEMM v4 needs " + v4Missing);
            return kd == 0 ? 3 : 4;
        }
        if (version == KernelVersion.AUTO && v4ByDefault && hopper && v4Missing == null && kd > 0) return 4;
        return pickVersion(type, version, kd, nd, numGroups, buffers);
    }

    /** Why a v4 "rows" launch cannot run the problem (the first rule broken), or null when it can. */
    private static String v4Missing(CudaDType type, int kd, int nd, int numGroups, DeviceBuffer... buffers) {
        return v4Missing(type, "the reduction and output widths", "Kd", kd, "Nd", nd, numGroups, buffers);
    }

    /**
     * Why v4 cannot run the problem (the first rule broken), or null when it can; {@code w1} and {@code w2}
     * (named {@code n1}, {@code n2}, together {@code what}) are the row widths the copy engine reads.
     */
    private static String v4Missing(CudaDType type, String what, String n1, int w1, String n2, int w2, int numGroups,
                                    DeviceBuffer... buffers) {
        if (type != CudaDType.BF16) return "BF16 operands; got " + type;
        if (w1 % 8 != 0 || w2 % 8 != 0) {
            return what + " to be multiples of 8 (16-byte rows for the copy engine); got " + n1 + " = " + w1 + ", " + n2 + " = " + w2;
        }
        for (DeviceBuffer buf : buffers) {
            if (!buf.isAligned(16)) return "16-byte aligned buffers; one starts at byte offset " + buf.byteOffset();
        }
        if (numGroups > MAX_GROUPS_V3) return "E <= " + MAX_GROUPS_V3 + " groups; got E = " + numGroups;
        return null;
    }

    /**
     * The version to run without v4: 1, 2 or 3 (V4 here asks for v3's rules; the callers decide about v4
     * first, in {@link #pickRowsVersion} and {@link #pickReduceVersion}).
     * {@code contiguous1} and {@code contiguous2} are the two dims the tensor-core loads read 16 bytes at a time.
     */
    static int pickVersion(CudaDType type, KernelVersion version, int contiguous1, int contiguous2, int numGroups,
                           DeviceBuffer... buffers) {
        boolean aligned = true;
        for (DeviceBuffer buf : buffers) aligned &= buf.isAligned(16);
        boolean v3 = type == CudaDType.BF16 && contiguous1 % 8 == 0 && contiguous2 % 8 == 0 && aligned && numGroups <= MAX_GROUPS_V3;
        return switch (version) {
            case AUTO -> type == CudaDType.F32 ? 2 : v3 ? 3 : 1;
            case V1 -> 1;
            case V2 -> {
                if (type != CudaDType.F32) throw new IllegalArgumentException("grouped GEMM v2 is the float SIMT kernel; got " + type);
                yield 2;
            }
            case V3, V4 -> {
                if (!v3) {
                    throw new IllegalArgumentException("grouped GEMM v3 needs BF16, contiguous dims multiples of 8 (got "
                            + contiguous1 + ", " + contiguous2 + "), 16-byte aligned buffers and E <= " + MAX_GROUPS_V3 + "; got " + type + ", E = " + numGroups);
                }
                yield 3;
            }
        };
    }

    /** Checks shared by the three products, without a device. */
    static void check(CudaDType type, DeviceBuffer offsets, int numGroups, int m, int k, int n, Layout layout) {
        if (type == null) throw new IllegalArgumentException("element type is null");
        if (layout == null) throw new IllegalArgumentException("layout of B must be KN or NK, got null");
        if (numGroups < 1) throw new IllegalArgumentException("need E >= 1 groups, got " + numGroups);
        if (m < 0 || k < 0 || n < 0) throw new IllegalArgumentException("negative size M=" + m + ", K=" + k + ", N=" + n);
        Checks.toInt("E * K * N", (long) numGroups * k * n);
        Checks.toInt("M * max(K, N)", (long) m * Math.max(k, n));
        Checks.buffer("offsets", offsets, numGroups + 1L, 4, "[E + 1] = [" + (numGroups + 1) + "]");
    }

    private static String stacked(int e, int k, int n, Layout layout) {
        return layout == Layout.KN ? "[E, K, N] = [" + e + ", " + k + ", " + n + "]" : "[E, N, K] = [" + e + ", " + n + ", " + k + "]";
    }
}
