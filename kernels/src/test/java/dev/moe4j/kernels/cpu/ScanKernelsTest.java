package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class ScanKernelsTest {
    private static final int[] OUTER = {0, 1, 3};
    private static final int[] N = {0, 1, 2, 9};
    private static final int[] INNER = {0, 1, 2, 7, 8, 16, 17, 33};

    @Test
    void fastMatchesReferenceBitForBit() {
        SplittableRandom rnd = new SplittableRandom(51);
        for (int outer : OUTER) for (int n : N) for (int inner : INNER) {
            int size = outer * n * inner, off = rnd.nextInt(3);
            float[] x = new float[off + size];
            double[] xd = new double[off + size];
            long[] xl = new long[off + size];
            for (int i = 0; i < x.length; i++) {
                x[i] = rnd.nextInt(8) == 0 ? -0.0f : (float) (rnd.nextGaussian() * 100);
                xd[i] = rnd.nextInt(8) == 0 ? -0.0 : rnd.nextGaussian() * 1e6;
                xl[i] = rnd.nextLong();                                     // sums wrap around
            }
            float[] ref = new float[size], fast = new float[size];
            double[] dref = new double[size], dfast = new double[size];
            long[] lref = new long[size], lfast = new long[size];
            ScanKernels.cumsumReference(x, off, outer, n, inner, ref);
            ScanKernels.cumsum(x, off, outer, n, inner, fast);
            ScanKernels.cumsumReference(xd, off, outer, n, inner, dref);
            ScanKernels.cumsum(xd, off, outer, n, inner, dfast);
            ScanKernels.cumsumReference(xl, off, outer, n, inner, lref);
            ScanKernels.cumsum(xl, off, outer, n, inner, lfast);
            String what = "outer=" + outer + " n=" + n + " inner=" + inner;
            assertThat(fast).as(what).isEqualTo(ref);
            assertThat(dfast).as(what).isEqualTo(dref);
            assertThat(lfast).as(what).isEqualTo(lref);
            // the definition, written with a decoded multi-index: out[o, j, i] = sum over t <= j of x[o, t, i]
            for (int e = 0; e < size; e++) {
                int o = e / (n * inner), j = (e / inner) % n, i = e % inner;
                double s = 0;
                long sl = 0;
                for (int t = 0; t <= j; t++) {
                    s += x[off + (o * n + t) * inner + i];
                    sl += xl[off + (o * n + t) * inner + i];
                }
                assertThat(ref[e]).as(what).isEqualTo((float) s);
                assertThat(lref[e]).as(what).isEqualTo(sl);
            }
        }
    }

    @Test
    void floatSumsAccumulateInDouble() {
        // 2^24 + 1 + 1: a float accumulator would lose both ones, a double one keeps them
        float[] x = {16777216f, 1f, 1f};
        float[] out = new float[3];
        ScanKernels.cumsum(x, 0, 1, 3, 1, out);
        assertThat(out[2]).isEqualTo(16777218f);
        float[] wide = new float[3 * 20];
        for (int i = 0; i < 20; i++) { wide[i] = 16777216f; wide[20 + i] = 1f; wide[40 + i] = 1f; }
        float[] wideOut = new float[60];
        ScanKernels.cumsum(wide, 0, 1, 3, 20, wideOut);
        for (int i = 0; i < 20; i++) assertThat(wideOut[40 + i]).isEqualTo(16777218f);
    }
}
