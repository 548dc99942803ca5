package dev.moe4j.kernels.cpu;

import java.util.Random;

import static org.assertj.core.api.Assertions.fail;

/** Shared sizes, random data and the tolerances of the kernel tests (kept in one place). */
final class KernelTestSupport {
    private KernelTestSupport() {}

    /** Row lengths: empty, single, odd, around vector lengths, and long. */
    static final int[] SIZES = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 1023, 1024, 1025, 4099};

    /** F32 fast vs reference for lane transcendentals: relative and absolute parts. */
    static final double F32_REL = 2e-6, F32_ABS = 1e-30;
    /** F64 fast vs reference for lane transcendentals. */
    static final double F64_REL = 1e-14, F64_ABS = 1e-300;

    static float[] randomFloats(Random rnd, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return a;
    }

    static double[] randomDoubles(Random rnd, int n, double lo, double hi) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd.nextDouble();
        return a;
    }

    /** Equal as values, or both NaN (signed zeros equal). */
    static boolean same(double a, double b) {
        return a == b || (Double.isNaN(a) && Double.isNaN(b));
    }

    /** |got - want| &lt;= rel * |want| + abs, or both NaN, or both the same infinity. */
    static boolean close(double got, double want, double rel, double abs) {
        if (same(got, want)) return true;
        if (Double.isNaN(got) || Double.isNaN(want) || Double.isInfinite(got) || Double.isInfinite(want)) return false;
        return Math.abs(got - want) <= rel * Math.abs(want) + abs;
    }

    static void assertClose(String what, float[] got, float[] want, double rel, double abs) {
        for (int i = 0; i < want.length; i++) {
            if (!close(got[i], want[i], rel, abs)) fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i]);
        }
    }

    static void assertClose(String what, double[] got, double[] want, double rel, double abs) {
        for (int i = 0; i < want.length; i++) {
            if (!close(got[i], want[i], rel, abs)) fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i]);
        }
    }

    static void assertSame(String what, float[] got, float[] want) {
        for (int i = 0; i < want.length; i++) {
            if (!same(got[i], want[i])) fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i]);
        }
    }

    static void assertSame(String what, double[] got, double[] want) {
        for (int i = 0; i < want.length; i++) {
            if (!same(got[i], want[i])) fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i]);
        }
    }
}
