package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TopKKernelsTest {
    private static final int[] SIZES = {0, 1, 2, 5, 16, 17, 31, 40, 65, 130};

    private static int[] ks(int n) {
        int s = TopKKernels.SELECT_MAX_K;
        return Arrays.stream(new int[] {0, 1, 2, 3, 8, s - 1, s, s + 1, n - 1, n}).filter(k -> k >= 0 && k <= n).distinct().toArray();
    }

    /** Rows that stress the selection: random with ties and NaN, ascending, descending, constant, all NaN. */
    private static float[] rowsOfFloats(SplittableRandom rnd, int rows, int n, int kind) {
        float[] x = SortKernelsTest.floats(rnd, rows * n);
        for (int i = 0; i < x.length; i++) {
            int j = i % Math.max(n, 1);
            switch (kind) {
                case 1 -> x[i] = j;
                case 2 -> x[i] = -j;
                case 3 -> x[i] = 7;
                case 4 -> x[i] = Float.NaN;
                default -> { }
            }
        }
        return x;
    }

    @Test
    void floatFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int n : SIZES) {
            for (int kind = 0; kind < 5; kind++) {
                int rows = 3;
                float[] x = rowsOfFloats(rnd, rows, n, kind);
                for (int k : ks(n)) {
                    for (boolean largest : new boolean[] {true, false}) {
                        float[] rv = new float[rows * k], fv = new float[rows * k];
                        long[] ri = new long[rows * k], fi = new long[rows * k];
                        TopKKernels.topkReference(x, 0, rows, n, k, largest, rv, ri);
                        TopKKernels.topk(x, 0, rows, n, k, largest, fv, fi);
                        String what = "n=" + n + " kind=" + kind + " k=" + k + " largest=" + largest;
                        assertThat(fi).as(what).isEqualTo(ri);
                        assertThat(fv).as(what).isEqualTo(rv);
                        for (int r = 0; r < rows; r++) {
                            for (int j = 0; j < k; j++) {
                                assertThat(Float.compare(fv[r * k + j], x[r * n + (int) fi[r * k + j]])).as(what).isZero();
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void referenceIsTheHeadOfTheStableArgsort() {
        SplittableRandom rnd = new SplittableRandom(12);
        int rows = 2, n = 37;
        float[] x = rowsOfFloats(rnd, rows, n, 0);
        for (boolean largest : new boolean[] {true, false}) {
            long[] perm = new long[rows * n];
            SortKernels.argsortReference(x, 0, rows, n, largest, perm, 0);
            int k = 5;
            float[] v = new float[rows * k];
            long[] idx = new long[rows * k];
            TopKKernels.topkReference(x, 0, rows, n, k, largest, v, idx);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) assertThat(idx[r * k + j]).isEqualTo(perm[r * n + j]);
            }
        }
    }

    @Test
    void nanIsTheLargestValue() {
        float[] x = {1f, Float.NaN, 3f, Float.NaN, -2f};
        float[] v = new float[2];
        long[] i = new long[2];
        TopKKernels.topk(x, 0, 1, 5, 2, true, v, i);
        assertThat(i).containsExactly(1, 3);
        TopKKernels.topk(x, 0, 1, 5, 2, false, v, i);
        assertThat(i).containsExactly(4, 0);
        float[] v4 = new float[4];
        long[] i4 = new long[4];
        TopKKernels.topk(x, 0, 1, 5, 4, false, v4, i4);
        assertThat(i4).containsExactly(4, 0, 2, 1);
    }

    @Test
    void doubleFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(13);
        for (int n : SIZES) {
            int rows = 2, off = 3;
            double[] x = new double[off + rows * n];
            System.arraycopy(SortKernelsTest.doubles(rnd, rows * n), 0, x, off, rows * n);
            for (int k : ks(n)) {
                for (boolean largest : new boolean[] {true, false}) {
                    double[] rv = new double[rows * k], fv = new double[rows * k];
                    long[] ri = new long[rows * k], fi = new long[rows * k];
                    TopKKernels.topkReference(x, off, rows, n, k, largest, rv, ri);
                    TopKKernels.topk(x, off, rows, n, k, largest, fv, fi);
                    assertThat(fi).as("n=%d k=%d largest=%s", n, k, largest).isEqualTo(ri);
                    assertThat(fv).isEqualTo(rv);
                }
            }
        }
    }

    @Test
    void longFastMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(14);
        for (int n : SIZES) {
            int rows = 3;
            long[] x = SortKernelsTest.longs(rnd, rows * n);
            for (int k : ks(n)) {
                for (boolean largest : new boolean[] {true, false}) {
                    long[] rv = new long[rows * k], fv = new long[rows * k];
                    long[] ri = new long[rows * k], fi = new long[rows * k];
                    TopKKernels.topkReference(x, 0, rows, n, k, largest, rv, ri);
                    TopKKernels.topk(x, 0, rows, n, k, largest, fv, fi);
                    assertThat(fi).as("n=%d k=%d largest=%s", n, k, largest).isEqualTo(ri);
                    assertThat(fv).isEqualTo(rv);
                }
            }
        }
    }

    @Test
    void rejectsKLargerThanTheRow() {
        assertThatThrownBy(() -> TopKKernels.topk(new float[3], 0, 1, 3, 4, true, new float[4], new long[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 4");
    }
}
