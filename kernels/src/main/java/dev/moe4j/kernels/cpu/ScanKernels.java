package dev.moe4j.kernels.cpu;

import java.util.Arrays;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Inclusive prefix sums (cumulative sums) along one dim.
 *
 * <p>Shapes: {@code x} [outer, n, inner] (contiguous from {@code xOff}) &rarr; {@code out}
 * [outer, n, inner] (contiguous from 0), {@code out[o, j, i] = x[o, 0, i] + ... + x[o, j, i]},
 * summed left to right.
 *
 * <p>Accumulators: {@code float} inputs are summed in a {@code double} and each output rounded once
 * to float (as PyTorch's CPU cumsum does), so long scans do not drift; {@code double} sums in
 * double; {@code long} sums wrap around on overflow.
 *
 * <p>Algorithms. The reference walks each line (o, ., i) with one scalar accumulator. The fast
 * version walks the same sums in a memory-friendly order: when inner &gt; 1, it keeps a row of
 * {@code inner} running sums and adds the rows x[o, j, :] to it with vector adds (for float, the
 * loaded lanes are widened to double, {@code F2D}, and narrowed back on the store, {@code D2F}).
 * Every output is the same sequence of additions as in the reference, so the two agree bit for
 * bit. Along the last dim (inner == 1) the recurrence is serial and both run the scalar loop.
 */
public final class ScanKernels {
    private ScanKernels() {}

    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED.vectorBitSize() >= 128
            ? DoubleVector.SPECIES_PREFERRED : DoubleVector.SPECIES_128;
    /** Floats with as many lanes as {@link #DOUBLES}: the source of an F2D widening. */
    private static final VectorSpecies<Float> FLOATS_FOR_DOUBLES =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DOUBLES.vectorBitSize() / 2));
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

    // ------------------------------------------------------------------ scalar reference

    /** Reference cumsum of floats (double accumulator): x [outer, n, inner] &rarr; out [outer, n, inner]. */
    public static void cumsumReference(float[] x, int xOff, int outer, int n, int inner, float[] out) {
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                double acc = 0;
                for (int j = 0; j < n; j++) {
                    int e = (o * n + j) * inner + i;
                    acc += x[xOff + e];
                    out[e] = (float) acc;
                }
            }
        }
    }

    /** Reference cumsum of doubles. */
    public static void cumsumReference(double[] x, int xOff, int outer, int n, int inner, double[] out) {
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                double acc = 0;
                for (int j = 0; j < n; j++) {
                    int e = (o * n + j) * inner + i;
                    acc += x[xOff + e];
                    out[e] = acc;
                }
            }
        }
    }

    /** Reference cumsum of longs. */
    public static void cumsumReference(long[] x, int xOff, int outer, int n, int inner, long[] out) {
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                long acc = 0;
                for (int j = 0; j < n; j++) {
                    int e = (o * n + j) * inner + i;
                    acc += x[xOff + e];
                    out[e] = acc;
                }
            }
        }
    }

    // ------------------------------------------------------------------ fast

    /** Cumsum of floats (same contract as the reference): a row of double running sums, vector adds. */
    public static void cumsum(float[] x, int xOff, int outer, int n, int inner, float[] out) {
        if (inner == 1) {
            cumsumReference(x, xOff, outer, n, 1, out);
            return;
        }
        double[] acc = new double[inner];
        int step = DOUBLES.length();
        for (int o = 0; o < outer; o++) {
            Arrays.fill(acc, 0);
            for (int j = 0; j < n; j++) {
                int row = (o * n + j) * inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    DoubleVector wide = (DoubleVector) FloatVector.fromArray(FLOATS_FOR_DOUBLES, x, xOff + row + i)
                            .convertShape(VectorOperators.F2D, DOUBLES, 0);
                    DoubleVector sum = DoubleVector.fromArray(DOUBLES, acc, i).add(wide);
                    sum.intoArray(acc, i);
                    ((FloatVector) sum.convertShape(VectorOperators.D2F, FLOATS_FOR_DOUBLES, 0)).intoArray(out, row + i);
                }
                for (; i < inner; i++) {
                    acc[i] += x[xOff + row + i];
                    out[row + i] = (float) acc[i];
                }
            }
        }
    }

    /** Cumsum of doubles: out row j = out row j-1 + x row j, vector adds. */
    public static void cumsum(double[] x, int xOff, int outer, int n, int inner, double[] out) {
        if (inner == 1) {
            cumsumReference(x, xOff, outer, n, 1, out);
            return;
        }
        int step = DOUBLES.length();
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < n; j++) {
                int row = (o * n + j) * inner;
                if (j == 0) {                           // 0.0 + x, as the reference's first step (turns -0.0 into 0.0)
                    for (int i = 0; i < inner; i++) out[row + i] = 0.0 + x[xOff + row + i];
                    continue;
                }
                int prev = row - inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    DoubleVector.fromArray(DOUBLES, out, prev + i).add(DoubleVector.fromArray(DOUBLES, x, xOff + row + i)).intoArray(out, row + i);
                }
                for (; i < inner; i++) out[row + i] = out[prev + i] + x[xOff + row + i];
            }
        }
    }

    /** Cumsum of longs: out row j = out row j-1 + x row j, vector adds. */
    public static void cumsum(long[] x, int xOff, int outer, int n, int inner, long[] out) {
        if (inner == 1) {
            cumsumReference(x, xOff, outer, n, 1, out);
            return;
        }
        int step = LONGS.length();
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < n; j++) {
                int row = (o * n + j) * inner;
                if (j == 0) {
                    System.arraycopy(x, xOff + row, out, row, inner);
                    continue;
                }
                int prev = row - inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    LongVector.fromArray(LONGS, out, prev + i).add(LongVector.fromArray(LONGS, x, xOff + row + i)).intoArray(out, row + i);
                }
                for (; i < inner; i++) out[row + i] = out[prev + i] + x[xOff + row + i];
            }
        }
    }
}
