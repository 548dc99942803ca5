package dev.moe4j.kernels.cpu.moe;

import static dev.moe4j.kernels.cpu.moe.MoeTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class VectorRowsTest {

    private static float exp1(float x) {
        float[] in = new float[VectorRows.F.length()];
        float[] out = new float[in.length];
        java.util.Arrays.fill(in, x);
        VectorRows.exp(FloatVector.fromArray(VectorRows.F, in, 0)).intoArray(out, 0);
        return out[0];
    }

    @Test
    void expIsWithinTwoUlpsOfMathExpOverTheWholeFloatRange() {
        double worstUlps = 0;
        for (float x = -110f; x <= 95f; x += 0.00137f) {
            double want = Math.exp(x);
            float got = exp1(x);
            if (want > Float.MAX_VALUE) {
                assertThat(got).as("exp(%s)", x).isEqualTo(Float.POSITIVE_INFINITY);
                continue;
            }
            double ulp = Math.ulp((float) want);
            double ulps = Math.abs(got - want) / ulp;
            worstUlps = Math.max(worstUlps, ulps);
            assertThat(ulps).as("exp(%s): want %s, got %s", x, want, got).isLessThanOrEqualTo(2.0);
        }
        assertThat(worstUlps).isGreaterThan(0);                                 // the sweep did compare something
        assertThat(exp1(0f)).isEqualTo(1f);
        assertThat(exp1(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(exp1(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(exp1(Float.NaN)).isNaN();
    }

    @Test
    void rowLoopsMatchScalarLoopsOnOddLengths() {
        Random rnd = new Random(3);
        for (int n : new int[] {0, 1, 3, 7, 8, 15, 16, 17, 33, 100, 257}) {
            float[] x = gaussian(rnd, n + 3, 2.0), y = gaussian(rnd, n + 5, 1.0);
            float a = 0.37f;
            float[] want = y.clone(), got = y.clone();
            for (int i = 0; i < n; i++) want[5 + i] += a * x[3 + i];
            VectorRows.axpy(a, x, 3, got, 5, n);
            assertSameFloats("axpy n=" + n, want, got, n + 5);
            want = y.clone();
            got = y.clone();
            for (int i = 0; i < n; i++) want[5 + i] = a * x[3 + i];
            VectorRows.scale(a, x, 3, got, 5, n);
            assertSameFloats("scale n=" + n, want, got, n + 5);
            want = y.clone();
            got = y.clone();
            for (int i = 0; i < n; i++) want[5 + i] += x[3 + i];
            VectorRows.add(x, 3, got, 5, n);
            assertSameFloats("add n=" + n, want, got, n + 5);
            double dot = 0, abs = 0;
            for (int i = 0; i < n; i++) {
                dot += (double) x[3 + i] * y[5 + i];
                abs += Math.abs((double) x[3 + i] * y[5 + i]);
            }
            assertThat(Math.abs(VectorRows.dot(x, 3, y, 5, n) - dot)).isLessThanOrEqualTo(DOT_TOL * abs);
            if (n == 0) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, x[3 + i]);
            assertThat(VectorRows.max(x, 3, n)).isEqualTo((float) max);

            double[] soft = new double[n];
            double sum = 0;
            for (int i = 0; i < n; i++) sum += soft[i] = Math.exp(x[3 + i] - max);
            for (int i = 0; i < n; i++) soft[i] /= sum;
            float[] s = new float[n + 2];
            VectorRows.softmax(x, 3, s, 2, n);
            for (int i = 0; i < n; i++) {
                assertThat(Math.abs(s[2 + i] - soft[i])).as("softmax n=%d i=%d", n, i).isLessThanOrEqualTo(GATING_FORWARD_TOL * Math.max(soft[i], 1e-3));
            }
            VectorRows.sigmoid(x, 3, s, 2, n);
            for (int i = 0; i < n; i++) {
                double want1 = 1 / (1 + Math.exp(-x[3 + i]));
                assertThat(Math.abs(s[2 + i] - want1)).as("sigmoid n=%d i=%d", n, i).isLessThanOrEqualTo(GATING_FORWARD_TOL * want1);
            }
        }
    }

    /** sumRows adds its m source rows left to right, element by element, exactly as the scalar loop does. */
    @Test
    void sumRowsAddsTheRowsInOrder() {
        Random rnd = new Random(4);
        for (int n : new int[] {0, 1, 3, 7, 8, 15, 16, 17, 33, 100, 257}) {
            for (int m = 1; m <= 9; m++) {
                float[] x = gaussian(rnd, 10 * (n + 3), 1.0e3);
                int[] offs = new int[m + 2];
                for (int j = 0; j < m; j++) offs[j] = rnd.nextInt(9 * (n + 3) + 1);  // any start, rows may overlap
                offs[m] = offs[m + 1] = -1;                                          // entries past m are not read
                float[] y = gaussian(rnd, n + 5, 1.0), want = y.clone(), got = y.clone();
                for (int i = 0; i < n; i++) {
                    float acc = x[offs[0] + i];
                    for (int j = 1; j < m; j++) acc += x[offs[j] + i];
                    want[5 + i] = acc;
                }
                VectorRows.sumRows(x, offs, m, got, 5, n);
                assertSameFloats("sumRows n=" + n + " m=" + m, want, got, n + 5);
            }
        }
    }

    /** Each slot gets the bits of a separate scale and dot over its row, for every group size and odd lengths. */
    @Test
    void scaleRowsAndDotsMatchesOneRowAtATime() {
        Random rnd = new Random(11);
        for (int n : new int[] {0, 1, 7, 16, 17, 33, 100, 257}) {
            for (int m = 0; m <= 9; m++) {
                int rows = m + 2;
                float[] g = gaussian(rnd, n + 3, 1.0), v = gaussian(rnd, rows * n + 1, 1.0), a = gaussian(rnd, m, 1.0);
                int[] perm = new int[rows];
                for (int r = 0; r < rows; r++) perm[r] = r;
                for (int r = rows - 1; r > 0; r--) {                           // distinct rows in random order
                    int q = rnd.nextInt(r + 1), tmp = perm[r];
                    perm[r] = perm[q];
                    perm[q] = tmp;
                }
                int[] offs = new int[m];
                for (int j = 0; j < m; j++) offs[j] = 1 + perm[j] * n;
                float[] want = new float[rows * n + 1], got = new float[rows * n + 1];
                java.util.Arrays.fill(want, Float.NaN);
                java.util.Arrays.fill(got, Float.NaN);
                float[] wantDots = new float[m], gotDots = new float[m];
                for (int j = 0; j < m; j++) {
                    VectorRows.scale(a[j], g, 3, want, offs[j], n);
                    wantDots[j] = VectorRows.dot(g, 3, v, offs[j], n);
                }
                VectorRows.scaleRowsAndDots(g, 3, a, offs, m, got, v, gotDots, n);
                assertSameFloats("out n=" + n + " m=" + m, want, got, want.length);
                assertSameFloats("dots n=" + n + " m=" + m, wantDots, gotDots, m);
            }
        }
    }
}
