package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class SortKernelsTest {
    private static final int[] SIZES = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100, 257};
    private static final float[] SPECIAL = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0.0f, -0.0f, 1.0f, -1.0f};

    /** Random floats: mostly drawn from a few values (many ties), some NaN, infinities and signed zeros. */
    static float[] floats(SplittableRandom rnd, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            int c = rnd.nextInt(10);
            x[i] = c < 2 ? SPECIAL[rnd.nextInt(SPECIAL.length)] : c < 6 ? rnd.nextInt(5) - 2 : (float) rnd.nextGaussian();
        }
        return x;
    }

    static double[] doubles(SplittableRandom rnd, int len) {
        float[] f = floats(rnd, len);
        double[] x = new double[len];
        for (int i = 0; i < len; i++) x[i] = rnd.nextInt(4) == 0 ? rnd.nextGaussian() : f[i];
        return x;
    }

    static long[] longs(SplittableRandom rnd, int len) {
        long[] x = new long[len];
        for (int i = 0; i < len; i++) {
            int c = rnd.nextInt(10);
            x[i] = c == 0 ? Long.MIN_VALUE : c == 1 ? Long.MAX_VALUE : c < 6 ? rnd.nextInt(4) - 2 : rnd.nextLong();
        }
        return x;
    }

    /** Checks independently of both kernels that each row of perm is a permutation listing the row in the documented order. */
    static void assertSortedRows(double[] x, int rows, int n, boolean descending, long[] perm) {
        for (int r = 0; r < rows; r++) {
            boolean[] seen = new boolean[n];
            for (int j = 0; j < n; j++) {
                int p = (int) perm[r * n + j];
                assertThat(p).isBetween(0, n - 1);
                assertThat(seen[p]).as("position %d repeated", p).isFalse();
                seen[p] = true;
                if (j == 0) continue;
                int q = (int) perm[r * n + j - 1];
                double a = x[r * n + q], b = x[r * n + p];
                int c = SortKernels.compare(a, b);
                if (descending) c = -c;
                assertThat(c).as("row %d, entries %d (%s at %d) and %d (%s at %d)", r, j - 1, a, q, j, b, p).isLessThanOrEqualTo(0);
                if (c == 0) assertThat(q).as("ties keep position order").isLessThan(p);
            }
        }
    }

    @Test
    void orderPutsNanLastAndEqualsSignedZeros() {
        assertThat(SortKernels.compare(Float.NaN, Float.POSITIVE_INFINITY)).isEqualTo(1);
        assertThat(SortKernels.compare(Float.NaN, Float.NaN)).isZero();
        assertThat(SortKernels.compare(-0.0f, 0.0f)).isZero();
        assertThat(SortKernels.compare(-1.0, Double.NaN)).isEqualTo(-1);
    }

    @Test
    void sortableKeysFollowTheOrder() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] f = floats(rnd, 400);
        double[] d = doubles(rnd, 400);
        for (int i = 0; i < f.length; i++) {
            for (int j = 0; j < f.length; j += 7) {
                assertThat(Integer.signum(Integer.compare(SortKernels.sortableKey(f[i]), SortKernels.sortableKey(f[j]))))
                        .as("%s vs %s", f[i], f[j]).isEqualTo(SortKernels.compare(f[i], f[j]));
                assertThat(Integer.signum(Long.compare(SortKernels.sortableKey(d[i]), SortKernels.sortableKey(d[j]))))
                        .as("%s vs %s", d[i], d[j]).isEqualTo(SortKernels.compare(d[i], d[j]));
            }
        }
    }

    @Test
    void floatFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (int n : SIZES) {
            for (int rows : new int[] {0, 1, 3}) {
                for (boolean desc : new boolean[] {false, true}) {
                    int off = rnd.nextInt(3);
                    float[] x = new float[off + rows * n];
                    System.arraycopy(floats(rnd, rows * n), 0, x, off, rows * n);
                    long[] ref = new long[rows * n + 2], fast = new long[rows * n + 2];
                    SortKernels.argsortReference(x, off, rows, n, desc, ref, 1);
                    SortKernels.argsort(x, off, rows, n, desc, fast, 1);
                    assertThat(fast).as("n=%d rows=%d desc=%s", n, rows, desc).isEqualTo(ref);
                    double[] xd = new double[rows * n];
                    for (int i = 0; i < xd.length; i++) xd[i] = x[off + i];
                    long[] p = java.util.Arrays.copyOfRange(ref, 1, 1 + rows * n);
                    assertSortedRows(xd, rows, n, desc, p);
                }
            }
        }
    }

    @Test
    void doubleFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n : SIZES) {
            for (int rows : new int[] {0, 1, 4}) {
                for (boolean desc : new boolean[] {false, true}) {
                    double[] x = doubles(rnd, rows * n);
                    long[] ref = new long[rows * n], fast = new long[rows * n];
                    SortKernels.argsortReference(x, 0, rows, n, desc, ref, 0);
                    SortKernels.argsort(x, 0, rows, n, desc, fast, 0);
                    assertThat(fast).as("n=%d rows=%d desc=%s", n, rows, desc).isEqualTo(ref);
                    assertSortedRows(x, rows, n, desc, ref);
                }
            }
        }
    }

    @Test
    void longFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int n : SIZES) {
            for (int rows : new int[] {0, 1, 3}) {
                for (boolean desc : new boolean[] {false, true}) {
                    long[] x = longs(rnd, rows * n + 1);
                    long[] ref = new long[rows * n], fast = new long[rows * n];
                    SortKernels.argsortReference(x, 1, rows, n, desc, ref, 0);
                    SortKernels.argsort(x, 1, rows, n, desc, fast, 0);
                    assertThat(fast).as("n=%d rows=%d desc=%s", n, rows, desc).isEqualTo(ref);
                    for (int r = 0; r < rows; r++) {
                        for (int j = 1; j < n; j++) {
                            long a = x[1 + r * n + (int) ref[r * n + j - 1]], b = x[1 + r * n + (int) ref[r * n + j]];
                            assertThat(desc ? a >= b : a <= b).isTrue();
                            if (a == b) assertThat(ref[r * n + j - 1]).isLessThan(ref[r * n + j]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void mergeSortHandlesLongRuns() {
        // sizes spanning several merge passes, with a constant row (all ties) and a descending row
        for (int n : new int[] {16, 17, 32, 33, 1000, 1025}) {
            double[] x = new double[2 * n];
            for (int i = 0; i < n; i++) x[n + i] = n - i;
            long[] ref = new long[2 * n], fast = new long[2 * n];
            SortKernels.argsortReference(x, 0, 2, n, false, ref, 0);
            SortKernels.argsort(x, 0, 2, n, false, fast, 0);
            assertThat(fast).isEqualTo(ref);
            for (int i = 0; i < n; i++) {
                assertThat(fast[i]).isEqualTo(i);
                assertThat(fast[n + i]).isEqualTo(n - 1 - i);
            }
        }
    }
}
