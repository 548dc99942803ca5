package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.kernels.cpu.GroupedGemm;
import dev.moe4j.kernels.cpu.GroupedGemm.Layout;

import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Device grouped GEMM, every version and both layouts, against the CPU's double reference
 * ({@link GroupedGemm}): forward, input gradient and weight gradient on random ragged groups with empty
 * groups, a skewed split, rows outside the groups (which must stay untouched), beta 0 and beta != 0.
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
            assertCloseToScale(what + " dB", dbWant, get(gdb, E * K * N, bf), tol, 1e-3);
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
