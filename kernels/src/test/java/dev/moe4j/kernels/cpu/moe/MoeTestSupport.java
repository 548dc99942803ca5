package dev.moe4j.kernels.cpu.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.Random;

/** Random inputs, tolerances and comparisons shared by the MoE kernel tests. */
final class MoeTestSupport {
    private MoeTestSupport() {}

    // ---- tolerances (the one place they live) ----

    /** Fast float gating vs the double reference: scores and weights, relative to max(1, |want|). */
    static final double GATING_FORWARD_TOL = 2e-6;
    /** Fast float gating backward vs the double reference, relative to the largest |dLogit| of the case. */
    static final double GATING_BACKWARD_TOL = 2e-5;
    /** Double reference backward vs central differences in double (absolute + relative). */
    static final double FD_DOUBLE_TOL = 1e-7;
    /** Step of the double central differences. */
    static final double FD_DOUBLE_STEP = 1e-6;
    /** Float backward vs float central differences, relative to the largest |gradient| of the case. */
    static final double FD_FLOAT_TOL = 2e-2;
    /** Step of the float central differences. */
    static final float FD_FLOAT_STEP = 1e-2f;
    /** A float dot product of length d vs another summation order, relative to sum |a_i b_i|. */
    static final double DOT_TOL = 1e-5;
    /** Adjoint identities evaluated in float kernels, relative to the sum of absolute products. */
    static final double ADJOINT_TOL = 1e-5;

    // ---- random data ----

    static float[] gaussian(Random rnd, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * sigma);
        return a;
    }

    static double[] widen(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    /** How expert ids are drawn for routing tests. */
    enum Skew {
        /** uniform over the experts */
        UNIFORM,
        /** heavily skewed toward low ids: e = floor(E * u^4), so many high experts get no token */
        SKEWED,
        /** every pair to expert E - 1 (as far as distinct slots allow) */
        ONE_EXPERT
    }

    /** Expert ids [T, k], distinct within a token (as top-k produces), drawn by {@code skew}. */
    static int[] expertIds(Random rnd, int numTokens, int k, int numExperts, Skew skew) {
        int[] ids = new int[numTokens * k];
        boolean[] used = new boolean[numExperts];
        for (int t = 0; t < numTokens; t++) {
            java.util.Arrays.fill(used, false);
            for (int j = 0; j < k; j++) {
                int e;
                do {
                    e = switch (skew) {
                        case UNIFORM -> rnd.nextInt(numExperts);
                        case SKEWED -> (int) (numExperts * Math.pow(rnd.nextDouble(), 4));
                        case ONE_EXPERT -> used[numExperts - 1] ? rnd.nextInt(numExperts) : numExperts - 1;
                    };
                } while (used[e]);
                used[e] = true;
                ids[t * k + j] = e;
            }
        }
        return ids;
    }

    // ---- comparisons ----

    /** Element-wise equality of the first n floats by {@code ==} (so -0.0 equals 0.0), or both NaN. */
    static void assertSameFloats(String what, float[] want, float[] got, int n) {
        for (int i = 0; i < n; i++) {
            boolean same = want[i] == got[i] || (Float.isNaN(want[i]) && Float.isNaN(got[i]));
            if (!same) fail(what + " differs at " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    /** |got - want| <= tol * max(1, |want|) for the first n elements. */
    static void assertClose(String what, double[] want, float[] got, int n, double tol) {
        for (int i = 0; i < n; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= tol * Math.max(1, Math.abs(want[i])))) {
                fail(what + " at " + i + ": want " + want[i] + ", got " + got[i] + " (error " + err + ")");
            }
        }
    }

    /** |got - want| <= tol * max(floor, max_i |want_i|) for the first n elements. */
    static void assertCloseToScale(String what, double[] want, double[] got, int n, double tol, double floor) {
        double scale = floor;
        for (int i = 0; i < n; i++) scale = Math.max(scale, Math.abs(want[i]));
        for (int i = 0; i < n; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= tol * scale)) {
                fail(what + " at " + i + ": want " + want[i] + ", got " + got[i] + " (error " + err + ", scale " + scale + ")");
            }
        }
    }

    static void assertIntsEqual(String what, int[] want, int[] got, int n) {
        for (int i = 0; i < n; i++) {
            if (want[i] != got[i]) fail(what + " differs at " + i + ": want " + want[i] + ", got " + got[i]);
        }
        assertThat(n).isLessThanOrEqualTo(Math.min(want.length, got.length));
    }
}
