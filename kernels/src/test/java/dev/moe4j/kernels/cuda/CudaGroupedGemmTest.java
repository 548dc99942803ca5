package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.kernels.cpu.GroupedGemm;
import dev.moe4j.kernels.cpu.GroupedGemm.Layout;

import java.util.Random;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Device grouped GEMM, every version and both layouts, against the CPU's double reference
 * ({@link GroupedGemm}): forward, input gradient and weight gradient on random ragged groups with empty
 * groups, a skewed split, rows outside the groups (which must stay untouched), beta 0 and beta != 0.
 * The weight gradient is checked group by group (each against its own scale; an empty group must hold
 * exactly beta times its old values). v4 (Hopper only) runs all three products, the weight gradient
 * ({@code gg_v4_reduce_bf16}) only when asked for by name; its tests are skipped, with the reason, on
 * other devices, where the refusal of v4 is tested instead.
 */
@Tag("gpu")
class CudaGroupedGemmTest {

    /** Offsets [E + 1] starting at {@code first}: sizes random, a quarter empty, or (skewed) most rows in one group. */
    static int[] offsets(Random rnd, int E, int first, int maxRows, boolean skewed) {
        int[] off = new int[E + 1];
        off[0] = first;
        int hot = rnd.nextInt(E);
        for (int g = 0; g < E; g++) {
            int rows = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(maxRows + 1);
            if (skewed) rows = g == hot ? maxRows * 3 : rnd.nextInt(3) == 0 ? rnd.nextInt(5) : 0;
            off[g + 1] = off[g] + rows;
        }
        return off;
    }

    record Case(int E, int K, int N, int maxRows, boolean skewed) {}

    static final Case[] CASES = {
            new Case(1, 8, 8, 5, false), new Case(4, 16, 24, 40, false), new Case(5, 72, 136, 300, false),
            new Case(8, 64, 40, 200, true), new Case(3, 264, 128, 129, false), new Case(16, 128, 256, 90, true)};
    static final Case[] ODD = {new Case(3, 7, 5, 20, false), new Case(4, 33, 65, 70, true)};

    @Test
    void floatVersionsMatchTheReference() {
        CudaDevice dev = device();
        Random rnd = new Random(17);
        for (Case c : concat(CASES, ODD)) {
            for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2}) {
                for (Layout layout : Layout.values()) run(dev, rnd, c, CudaDType.F32, v, layout);
            }
        }
    }

    @Test
    void bf16VersionsMatchTheReference() {
        CudaDevice dev = device();
        Random rnd = new Random(18);
        for (Case c : CASES) {
            for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V3}) {
                for (Layout layout : Layout.values()) run(dev, rnd, c, CudaDType.BF16, v, layout);
            }
        }
        for (Case c : ODD) {
            for (Layout layout : Layout.values()) run(dev, rnd, c, CudaDType.BF16, KernelVersion.AUTO, layout);
        }
    }

    /**
     * Shapes for v4 (tile 128 x 256, k step 64, 4-stage ring): reductions of one to many k steps with a
     * remainder (8, 72, 200, 520), outputs narrower than a tile and with a partial last tile (8, 40, 264,
     * 392), groups of at most 64 rows (the second consumer warpgroup idles), of 65 to 128, and skewed hot
     * groups of more than 2048 rows (two panels of the work order), empty groups, and enough tiles per
     * block that the ring wraps across tiles.
     */
    static final Case[] V4_CASES = {
            new Case(1, 8, 8, 1, false), new Case(2, 64, 256, 64, false), new Case(3, 72, 40, 65, false),
            new Case(6, 200, 264, 300, false), new Case(8, 520, 392, 700, true), new Case(4, 136, 520, 150, true),
            new Case(64, 200, 520, 60, false)};

    @Test
    void v4MatchesTheReferenceOnHopper() {
        CudaDevice dev = device();
        Assumptions.assumeTrue(dev.info().major() == 9,
                () -> "grouped GEMM v4 is sm_90a machine code for compute capability 9.x (Hopper); this device is " + dev.info());
        Random rnd = new Random(19);
        for (Case c : concat(CASES, V4_CASES)) {
            for (Layout layout : Layout.values()) run(dev, rnd, c, CudaDType.BF16, KernelVersion.V4, layout);
        }
        // AUTO picks v4 on this device for these shapes (unless turned off by moe4j.cuda.gg.v4=false)
        for (Layout layout : Layout.values()) run(dev, rnd, V4_CASES[4], CudaDType.BF16, KernelVersion.AUTO, layout);
    }

    /** v4 twice on the same inputs gives the same bits (a race would show as a moving result), and agrees with v3. */
    @Test
    void v4IsDeterministicAndAgreesWithV3() {
        CudaDevice dev = device();
        Assumptions.assumeTrue(dev.info().major() == 9,
                () -> "grouped GEMM v4 is sm_90a machine code for compute capability 9.x (Hopper); this device is " + dev.info());
        Random rnd = new Random(20);
        int E = 8, K = 1024, N = 768;
        int[] off = offsets(rnd, E, 1, 600, true);
        int M = off[E] + 1;
        float[] a = roundBf16(gaussian(rnd, M * K)), b = roundBf16(gaussian(rnd, E * K * N));
        for (Layout layout : Layout.values()) {
            try (DeviceBuffer go = upload(dev, off); DeviceBuffer ga = put(dev, a, true); DeviceBuffer gb = put(dev, b, true);
                 DeviceBuffer c1 = poisoned16(dev, (long) M * N); DeviceBuffer c2 = poisoned16(dev, (long) M * N);
                 DeviceBuffer c3 = poisoned16(dev, (long) M * N)) {
                CudaGroupedGemm.forward(CudaDType.BF16, go, E, M, K, N, 1f, ga, gb, layout, 0f, c1, KernelVersion.V4);
                CudaGroupedGemm.forward(CudaDType.BF16, go, E, M, K, N, 1f, ga, gb, layout, 0f, c2, KernelVersion.V4);
                CudaGroupedGemm.forward(CudaDType.BF16, go, E, M, K, N, 1f, ga, gb, layout, 0f, c3, KernelVersion.V3);
                float[] r1 = get(c1, M * N, true), r2 = get(c2, M * N, true), r3 = get(c3, M * N, true);
                String what = "v4 " + layout + " E=" + E + " K=" + K + " N=" + N + " rows=" + off[E];
                int lo = off[0] * N, hi = off[E] * N;
                assertSameFloats(what + " run 1 vs run 2", java.util.Arrays.copyOfRange(r1, lo, hi), java.util.Arrays.copyOfRange(r2, lo, hi));
                assertCloseToScale(what + " vs v3", widen(java.util.Arrays.copyOfRange(r3, lo, hi)), java.util.Arrays.copyOfRange(r1, lo, hi), BF16_TOL, 1e-3);
            }
        }
    }

    /**
     * Group sizes around the weight gradient's 64-row k step (1, 63, 64, 65, 128, 129, 200 rows), empty
     * groups first, in between and last, every group empty, and one hot group of 1500 rows (24 k steps:
     * the 4-stage ring wraps inside a tile).
     */
    static final int[][] DW_GROUP_SIZES = {
            {1, 63, 0, 65, 129}, {0, 64, 128, 1, 0, 200, 63, 0}, {0, 0, 0}, {1500, 3, 0, 1, 70}};
    /** (K, N) pairs: multiples of 8, below, between and above the 128 x 256 output tile (both orientations). */
    static final int[][] DW_WIDTHS = {{8, 8}, {72, 40}, {264, 392}, {136, 520}, {520, 200}};

    /**
     * The v4 weight gradient against the double reference on the group sizes above: the last k step of a
     * group reads rows of the next group (or of the rows after the last group), which must not count, so
     * the rows before the first group and after the last one hold NaN in both A and dC (any of them
     * reaching a sum would make it NaN). Output NaN-poisoned for beta 0, random for beta 0.5.
     */
    @Test
    void v4WeightGradientMatchesTheReferenceOnHopper() {
        CudaDevice dev = device();
        Assumptions.assumeTrue(dev.info().major() == 9,
                () -> "grouped GEMM v4 is sm_90a machine code for compute capability 9.x (Hopper); this device is " + dev.info());
        Random rnd = new Random(21);
        int run = 0;
        for (int[] sizes : DW_GROUP_SIZES) {
            for (int[] kn : DW_WIDTHS) {
                for (Layout layout : Layout.values()) {
                    float alpha = run % 3 == 0 ? 1f : 0.75f, beta = run % 2 == 0 ? 0f : 0.5f;
                    weightGradientV4(dev, rnd, sizes, kn[0], kn[1], layout, alpha, beta);
                    run++;
                }
            }
        }
    }

    private static void weightGradientV4(CudaDevice dev, Random rnd, int[] sizes, int K, int N, Layout layout, float alpha, float beta) {
        int E = sizes.length, head = 3, tail = 5;
        int[] off = new int[E + 1];
        off[0] = head;
        for (int g = 0; g < E; g++) off[g + 1] = off[g] + sizes[g];
        int M = off[E] + tail;
        float[] a = roundBf16(gaussian(rnd, M * K)), dc = roundBf16(gaussian(rnd, M * N)), db0 = roundBf16(gaussian(rnd, E * K * N));
        for (int i = 0; i < M; i++) {
            if (i >= off[0] && i < off[E]) continue;
            java.util.Arrays.fill(a, i * K, (i + 1) * K, Float.NaN);
            java.util.Arrays.fill(dc, i * N, (i + 1) * N, Float.NaN);
        }
        double[] want = widen(db0);
        GroupedGemm.backwardWeightReference(off, K, N, alpha, widen(a), 0, widen(dc), 0, beta, want, 0, layout);
        String what = "dW v4 " + layout + " sizes=" + java.util.Arrays.toString(sizes) + " K=" + K + " N=" + N + " alpha=" + alpha + " beta=" + beta;
        try (DeviceBuffer go = upload(dev, off); DeviceBuffer ga = put(dev, a, true); DeviceBuffer gdc = put(dev, dc, true);
             DeviceBuffer gdb = beta == 0 ? poisoned16(dev, (long) E * K * N) : put(dev, db0, true)) {
            CudaGroupedGemm.backwardWeight(CudaDType.BF16, go, E, M, K, N, alpha, ga, gdc, beta, gdb, layout, KernelVersion.V4);
            compareGroups(what, want, get(gdb, E * K * N, true), off, K * N, BF16_TOL);
        }
    }

    /** The v4 weight gradient twice on the same inputs gives the same bits, and agrees with v3, group by group. */
    @Test
    void v4WeightGradientIsDeterministicAndAgreesWithV3() {
        CudaDevice dev = device();
        Assumptions.assumeTrue(dev.info().major() == 9,
                () -> "grouped GEMM v4 is sm_90a machine code for compute capability 9.x (Hopper); this device is " + dev.info());
        Random rnd = new Random(22);
        int E = 8, K = 1024, N = 776;
        int[] off = offsets(rnd, E, 1, 600, true);
        int M = off[E] + 1;
        float[] a = roundBf16(gaussian(rnd, M * K)), dc = roundBf16(gaussian(rnd, M * N));
        for (Layout layout : Layout.values()) {
            try (DeviceBuffer go = upload(dev, off); DeviceBuffer ga = put(dev, a, true); DeviceBuffer gdc = put(dev, dc, true);
                 DeviceBuffer d1 = poisoned16(dev, (long) E * K * N); DeviceBuffer d2 = poisoned16(dev, (long) E * K * N);
                 DeviceBuffer d3 = poisoned16(dev, (long) E * K * N)) {
                CudaGroupedGemm.backwardWeight(CudaDType.BF16, go, E, M, K, N, 1f, ga, gdc, 0f, d1, layout, KernelVersion.V4);
                CudaGroupedGemm.backwardWeight(CudaDType.BF16, go, E, M, K, N, 1f, ga, gdc, 0f, d2, layout, KernelVersion.V4);
                CudaGroupedGemm.backwardWeight(CudaDType.BF16, go, E, M, K, N, 1f, ga, gdc, 0f, d3, layout, KernelVersion.V3);
                float[] r1 = get(d1, E * K * N, true), r2 = get(d2, E * K * N, true), r3 = get(d3, E * K * N, true);
                String what = "dW v4 " + layout + " E=" + E + " K=" + K + " N=" + N + " offsets=" + java.util.Arrays.toString(off);
                assertSameFloats(what + " run 1 vs run 2", r1, r2);
                compareGroups(what + " vs v3", widen(r3), r1, off, K * N, BF16_TOL);
            }
        }
    }

    /** On a device that is not compute capability 9.x, asking for v4 is refused with the reason. */
    @Test
    void v4IsRefusedOffHopper() {
        CudaDevice dev = device();
        Assumptions.assumeTrue(dev.info().major() != 9, () -> "this device is compute capability 9.x, where v4 runs: " + dev.info());
        int[] off = {0, 3, 5};
        try (DeviceBuffer go = upload(dev, off); DeviceBuffer ga = dev.allocate(2L * 5 * 64); DeviceBuffer gb = dev.allocate(2L * 2 * 64 * 64);
             DeviceBuffer gc = dev.allocate(2L * 5 * 64)) {
            assertThatThrownBy(() -> CudaGroupedGemm.forward(CudaDType.BF16, go, 2, 5, 64, 64, 1f, ga, gb, Layout.NK, 0f, gc, KernelVersion.V4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("compute capability 9.x");
            assertThatThrownBy(() -> CudaGroupedGemm.backwardWeight(CudaDType.BF16, go, 2, 5, 64, 64, 1f, ga, gc, 0f, gb, Layout.NK, KernelVersion.V4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("compute capability 9.x");
        }
    }

    private static Case[] concat(Case[] a, Case[] b) {
        Case[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void run(CudaDevice dev, Random rnd, Case c, CudaDType type, KernelVersion v, Layout layout) {
        int first = rnd.nextInt(3);
        int[] off = offsets(rnd, c.E, first, c.maxRows, c.skewed);
        int tail = rnd.nextInt(3);
        int M = off[c.E] + tail, K = c.K, N = c.N, E = c.E;
        boolean bf = type == CudaDType.BF16;
        float alpha = rnd.nextBoolean() ? 1f : 0.75f, beta = rnd.nextBoolean() ? 0f : 0.5f;
        String what = type + " " + v + " " + layout + " E=" + E + " K=" + K + " N=" + N + " rows=" + off[E] + " alpha=" + alpha + " beta=" + beta;
        float[] a = gaussian(rnd, M * K), b = gaussian(rnd, E * K * N), dc = gaussian(rnd, M * N);
        float[] c0 = gaussian(rnd, M * N), da0 = gaussian(rnd, M * K), db0 = gaussian(rnd, E * K * N);
        if (bf) { a = roundBf16(a); b = roundBf16(b); dc = roundBf16(dc); c0 = roundBf16(c0); da0 = roundBf16(da0); db0 = roundBf16(db0); }

        double[] cWant = widen(c0), daWant = widen(da0), dbWant = widen(db0);
        GroupedGemm.forwardReference(off, K, N, alpha, widen(a), 0, widen(b), 0, layout, beta, cWant, 0);
        GroupedGemm.backwardInputReference(off, K, N, alpha, widen(dc), 0, widen(b), 0, layout, beta, daWant, 0);
        GroupedGemm.backwardWeightReference(off, K, N, alpha, widen(a), 0, widen(dc), 0, beta, dbWant, 0, layout);

        try (DeviceBuffer go = upload(dev, off); DeviceBuffer ga = put(dev, a, bf); DeviceBuffer gb = put(dev, b, bf); DeviceBuffer gdc = put(dev, dc, bf);
             DeviceBuffer gc = output(dev, c0, beta, bf, off, N); DeviceBuffer gda = output(dev, da0, beta, bf, off, K);
             DeviceBuffer gdb = beta == 0 ? poisoned(dev, E * K * N, bf) : put(dev, db0, bf)) {
            CudaGroupedGemm.forward(type, go, E, M, K, N, alpha, ga, gb, layout, beta, gc, v);
            CudaGroupedGemm.backwardInput(type, go, E, M, K, N, alpha, gdc, gb, layout, beta, gda, v);
            CudaGroupedGemm.backwardWeight(type, go, E, M, K, N, alpha, ga, gdc, beta, gdb, layout, v);
            double tol = bf ? BF16_TOL : F32_TOL;
            compareRows(what + " forward", cWant, get(gc, M * N, bf), off, N, beta, tol);
            compareRows(what + " dA", daWant, get(gda, M * K, bf), off, K, beta, tol);
            compareGroups(what + " dB", dbWant, get(gdb, E * K * N, bf), off, K * N, tol);
        }
    }

    /**
     * A stacked weight gradient [E, K, N] or [E, N, K], group by group: a non-empty group close to the
     * reference at its own scale; an empty one exactly the reference (beta times the old values, zero for
     * beta 0), which NaN poisoning or a stray sum would break.
     */
    private static void compareGroups(String what, double[] want, float[] got, int[] off, int perGroup, double tol) {
        for (int g = 0; g + 1 < off.length; g++) {
            int lo = g * perGroup, hi = lo + perGroup;
            String w = what + " group " + g + " (" + (off[g + 1] - off[g]) + " rows)";
            if (off[g + 1] == off[g]) {
                for (int i = lo; i < hi; i++) {
                    assertTrue(got[i] == (float) want[i], w + ": empty group at " + (i - lo) + ": want " + want[i] + ", got " + got[i]);
                }
            } else {
                assertCloseToScale(w, java.util.Arrays.copyOfRange(want, lo, hi), java.util.Arrays.copyOfRange(got, lo, hi), tol, 1e-3);
            }
        }
    }

    /** Inside the groups: close to the reference; outside: untouched (NaN for beta 0, the initial values otherwise). */
    private static void compareRows(String what, double[] want, float[] got, int[] off, int cols, float beta, double tol) {
        int lo = off[0] * cols, hi = off[off.length - 1] * cols;
        double[] inWant = java.util.Arrays.copyOfRange(want, lo, hi);
        float[] inGot = java.util.Arrays.copyOfRange(got, lo, hi);
        assertCloseToScale(what, inWant, inGot, tol, 1e-3);
        for (int i = 0; i < got.length; i++) {
            if (i >= lo && i < hi) continue;
            boolean untouched = beta == 0 ? Float.isNaN(got[i]) : got[i] == (float) want[i];
            assertTrue(untouched, what + ": element " + i + " outside the groups was written: " + got[i]);
        }
    }

    private static DeviceBuffer put(CudaDevice dev, float[] a, boolean bf) {
        return bf ? upload(dev, toBf16(a)) : upload(dev, a);
    }

    private static DeviceBuffer poisoned(CudaDevice dev, long n, boolean bf) {
        return bf ? poisoned16(dev, n) : poisoned32(dev, n);
    }

    /** The output: NaN everywhere for beta 0 (never read), else the initial values. */
    private static DeviceBuffer output(CudaDevice dev, float[] init, float beta, boolean bf, int[] off, int cols) {
        return beta == 0 ? poisoned(dev, init.length, bf) : put(dev, init, bf);
    }

    private static float[] get(DeviceBuffer b, int n, boolean bf) {
        return bf ? fromBf16(b.readShorts(n)) : b.readFloats(n);
    }
}
