package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class HistogramKernelsTest {
    @Test
    void fastMatchesReferenceAndDefinition() {
        SplittableRandom rnd = new SplittableRandom(61);
        for (int n : new int[] {0, 1, 3, 4, 5, 17, 100, 1001}) {
            for (int bins : new int[] {1, 2, 8, 33, 500}) {
                int off = rnd.nextInt(3);
                long[] values = new long[off + n];
                for (int t = 0; t < n; t++) values[off + t] = rnd.nextInt(3) == 0 ? bins - 1 : rnd.nextInt(bins);   // a hot bin
                long[] ref = new long[bins], fast = new long[bins], expected = new long[bins];
                for (int v = 0; v < bins; v++) {
                    for (int t = 0; t < n; t++) if (values[off + t] == v) expected[v]++;
                }
                HistogramKernels.bincountReference(values, off, n, ref);
                HistogramKernels.bincount(values, off, n, fast);
                assertThat(ref).as("n=%d bins=%d", n, bins).isEqualTo(expected);
                assertThat(fast).as("n=%d bins=%d", n, bins).isEqualTo(ref);
            }
        }
    }

    @Test
    void rangeMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(62);
        for (int n : new int[] {0, 1, 2, 7, 8, 9, 31, 64, 99}) {
            long[] values = new long[n + 2];
            for (int i = 0; i < values.length; i++) values[i] = rnd.nextInt(5) == 0 ? rnd.nextLong() : rnd.nextInt(100) - 50;
            long[] ref = HistogramKernels.rangeReference(values, 2, n);
            assertThat(HistogramKernels.range(values, 2, n)).as("n=%d", n).isEqualTo(ref);
            long lo = Long.MAX_VALUE, hi = Long.MIN_VALUE;
            for (int i = 2; i < n + 2; i++) {
                if (values[i] < lo) lo = values[i];
                if (values[i] > hi) hi = values[i];
            }
            assertThat(ref).containsExactly(lo, hi);
        }
    }
}
