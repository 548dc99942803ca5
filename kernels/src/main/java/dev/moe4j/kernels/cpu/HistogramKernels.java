package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Histograms of non-negative integers (bincount), and the value range a caller checks first.
 *
 * <p>Shapes: {@code values} [n] (from {@code off}), {@code counts} [bins]; every value lies in
 * [0, bins), and {@code counts[v]} grows by one per occurrence of v. In MoE routing the values
 * are the expert ids of the (token, slot) pairs and the counts the tokens each expert receives:
 * the histogram that, with a prefix sum, gives each expert's offset in the permuted order.
 *
 * <p>Algorithms.
 * <ul>
 *   <li>{@link #bincountReference}: one increment per value.</li>
 *   <li>{@link #bincount}: in a run of equal values (sorted ids, a hot expert) each increment must
 *       wait for the previous one to the same counter to reach memory. The fast version counts
 *       consecutive values into four sub-histograms in turn and sums them at the end, so
 *       neighbouring increments hit different counters and overlap. When the four copies would
 *       cost more than the values themselves (4 * bins &gt; n) it runs the reference.</li>
 *   <li>{@link #rangeReference} / {@link #range}: minimum and maximum, scalar, and with vector
 *       min/max lanes reduced at the end.</li>
 * </ul>
 */
public final class HistogramKernels {
    private HistogramKernels() {}

    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
    private static final int SUB = 4;

    // ------------------------------------------------------------------ scalar reference

    /** counts[values[off + t]] += 1 for t in [0, n); values [n] in [0, counts.length). */
    public static void bincountReference(long[] values, int off, int n, long[] counts) {
        for (int t = 0; t < n; t++) counts[(int) values[off + t]]++;
    }

    /** {min, max} of values [n]; {Long.MAX_VALUE, Long.MIN_VALUE} (an empty range) when n == 0. */
    public static long[] rangeReference(long[] values, int off, int n) {
        long lo = Long.MAX_VALUE, hi = Long.MIN_VALUE;
        for (int t = 0; t < n; t++) {
            lo = Math.min(lo, values[off + t]);
            hi = Math.max(hi, values[off + t]);
        }
        return new long[] {lo, hi};
    }

    // ------------------------------------------------------------------ fast

    /** Bincount (same contract as the reference) with four interleaved sub-histograms. */
    public static void bincount(long[] values, int off, int n, long[] counts) {
        int bins = counts.length;
        if ((long) SUB * bins > n) {
            bincountReference(values, off, n, counts);
            return;
        }
        long[] sub = new long[SUB * bins];                  // sub-histogram s at [s * bins, (s + 1) * bins)
        int t = 0;
        for (; t + SUB <= n; t += SUB) {
            sub[(int) values[off + t]]++;
            sub[bins + (int) values[off + t + 1]]++;
            sub[2 * bins + (int) values[off + t + 2]]++;
            sub[3 * bins + (int) values[off + t + 3]]++;
        }
        for (; t < n; t++) sub[(int) values[off + t]]++;
        for (int v = 0; v < bins; v++) counts[v] += sub[v] + sub[bins + v] + sub[2 * bins + v] + sub[3 * bins + v];
    }

    /** {min, max} of values [n] (same contract as the reference), with vector lanes. */
    public static long[] range(long[] values, int off, int n) {
        int step = LONGS.length();
        int t = 0;
        long lo = Long.MAX_VALUE, hi = Long.MIN_VALUE;
        if (n >= step) {
            LongVector vlo = LongVector.broadcast(LONGS, Long.MAX_VALUE), vhi = LongVector.broadcast(LONGS, Long.MIN_VALUE);
            for (; t + step <= n; t += step) {
                LongVector v = LongVector.fromArray(LONGS, values, off + t);
                vlo = vlo.min(v);
                vhi = vhi.max(v);
            }
            lo = vlo.reduceLanes(VectorOperators.MIN);
            hi = vhi.reduceLanes(VectorOperators.MAX);
        }
        for (; t < n; t++) {
            lo = Math.min(lo, values[off + t]);
            hi = Math.max(hi, values[off + t]);
        }
        return new long[] {lo, hi};
    }
}
