package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.fail;

/**
 * Tolerances and comparisons shared by the GEMM tests. A fast GEMM sums over k in another order
 * than the reference, so each element is compared with a bound relative to the magnitude of what
 * was summed: {@code |got - want| <= tol * (1 + |alpha| * sum_p |A[i,p]| |B[p,j]| + |beta| |C0[i,j]|)}.
 */
final class GemmChecks {
    private GemmChecks() {}

    /** Relative tolerance for float results. */
    static final double FLOAT_TOL = 1e-4;
    /** Relative tolerance for double results. */
    static final double DOUBLE_TOL = 1e-12;
    /** Scale marking an element that must equal the expected value exactly. */
    static final double EXACT = -1;

    /**
     * Checks {@code got} against {@code want} element by element; {@code scale[i]} is the
     * magnitude bound of element {@code i} (see the class comment), or {@link #EXACT} for an
     * element outside the output view, which must be left bit-identical.
     */
    static void assertClose(String what, float[] got, float[] want, double[] scale) {
        for (int i = 0; i < want.length; i++) {
            if (scale[i] == EXACT) {
                if (Float.compare(got[i], want[i]) != 0) fail(what + ": element " + i + " outside the output was changed to " + got[i]);
                continue;
            }
            double bound = FLOAT_TOL * (1 + scale[i]);
            if (!(Math.abs(got[i] - want[i]) <= bound)) {
                fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i] + " (bound " + bound + ")");
            }
        }
    }

    /** Double version of {@link #assertClose(String, float[], float[], double[])}. */
    static void assertClose(String what, double[] got, double[] want, double[] scale) {
        for (int i = 0; i < want.length; i++) {
            if (scale[i] == EXACT) {
                if (Double.compare(got[i], want[i]) != 0) fail(what + ": element " + i + " outside the output was changed to " + got[i]);
                continue;
            }
            double bound = DOUBLE_TOL * (1 + scale[i]);
            if (!(Math.abs(got[i] - want[i]) <= bound)) {
                fail(what + ": element " + i + " is " + got[i] + ", expected " + want[i] + " (bound " + bound + ")");
            }
        }
    }

    /** Fills {@code x} with uniform values in [-1, 1). */
    static float[] randomFloats(java.util.Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = 2 * r.nextFloat() - 1;
        return x;
    }

    /** Fills {@code x} with uniform values in [-1, 1). */
    static double[] randomDoubles(java.util.Random r, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = 2 * r.nextDouble() - 1;
        return x;
    }
}
