package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Scatter-adds: source elements summed into the positions an integer index picks along one dim;
 * the adjoints of {@link GatherKernels}' gathers.
 *
 * <p>Operands are contiguous and viewed as [outer, n, inner] around the indexed dim:
 * <ul>
 *   <li>scatter add: {@code dst} [outer, n, inner], {@code index} and {@code src} [outer, m, inner],
 *       {@code dst[o, index[o, j, i], i] += src[o, j, i]};</li>
 *   <li>index add: {@code dst} [outer, n, inner], {@code index} [m], {@code src} [outer, m, inner],
 *       {@code dst[o, index[j], i] += src[o, j, i]}.</li>
 * </ul>
 * {@code dst} starts at {@code dstOff}, {@code src} at {@code srcOff}, {@code index} at 0; every
 * index lies in [0, n), which the caller checks first. Repeated indices accumulate.
 *
 * <p>Order: the additions into any one element happen in increasing j, one after the other, so
 * floating-point results are the same run to run, and the reference and the fast version agree
 * bit for bit.
 *
 * <p>Algorithms. Scatter add has one, scalar, version: neighbouring lanes may target the same
 * element, so a vector scatter would need conflict detection and would change the order of the
 * sums. Index add moves whole rows: row (o, index[j]) of {@code dst} gets row (o, j) of {@code src}
 * added, a scalar loop in the reference and a vector add over {@code inner} in the fast version.
 */
public final class ScatterKernels {
    private ScatterKernels() {}

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

    // ------------------------------------------------------------------ scatter add (scalar; see the class comment)

    /** dst[o, index[o, j, i], i] += src[o, j, i]; dst [outer, n, inner], index and src [outer, m, inner]. */
    public static void scatterAdd(float[] dst, int dstOff, int outer, int n, int inner, int[] index, int m, float[] src, int srcOff) {
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    int e = (o * m + j) * inner + i;
                    dst[dstOff + (o * n + index[e]) * inner + i] += src[srcOff + e];
                }
            }
        }
    }

    /** Scatter add on doubles (same contract). */
    public static void scatterAdd(double[] dst, int dstOff, int outer, int n, int inner, int[] index, int m, double[] src, int srcOff) {
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    int e = (o * m + j) * inner + i;
                    dst[dstOff + (o * n + index[e]) * inner + i] += src[srcOff + e];
                }
            }
        }
    }

    /** Scatter add on longs (same contract; sums wrap around on overflow). */
    public static void scatterAdd(long[] dst, int dstOff, int outer, int n, int inner, int[] index, int m, long[] src, int srcOff) {
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    int e = (o * m + j) * inner + i;
                    dst[dstOff + (o * n + index[e]) * inner + i] += src[srcOff + e];
                }
            }
        }
    }

    // ------------------------------------------------------------------ index add: scalar reference

    /** Reference index add: dst[o, index[j], i] += src[o, j, i]; dst [outer, n, inner], index [m], src [outer, m, inner]. */
    public static void indexAddReference(float[] dst, int dstOff, int outer, int n, int inner, int[] index, float[] src, int srcOff) {
        int m = index.length;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    dst[dstOff + (o * n + index[j]) * inner + i] += src[srcOff + (o * m + j) * inner + i];
                }
            }
        }
    }

    /** Reference index add on doubles. */
    public static void indexAddReference(double[] dst, int dstOff, int outer, int n, int inner, int[] index, double[] src, int srcOff) {
        int m = index.length;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    dst[dstOff + (o * n + index[j]) * inner + i] += src[srcOff + (o * m + j) * inner + i];
                }
            }
        }
    }

    /** Reference index add on longs. */
    public static void indexAddReference(long[] dst, int dstOff, int outer, int n, int inner, int[] index, long[] src, int srcOff) {
        int m = index.length;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    dst[dstOff + (o * n + index[j]) * inner + i] += src[srcOff + (o * m + j) * inner + i];
                }
            }
        }
    }

    // ------------------------------------------------------------------ index add: vector rows

    /** Index add (same contract as the reference): each (o, j) adds a row of {@code inner} elements with vector adds. */
    public static void indexAdd(float[] dst, int dstOff, int outer, int n, int inner, int[] index, float[] src, int srcOff) {
        int m = index.length;
        int step = FLOATS.length();
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                int d = dstOff + (o * n + index[j]) * inner;
                int s = srcOff + (o * m + j) * inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    FloatVector.fromArray(FLOATS, dst, d + i).add(FloatVector.fromArray(FLOATS, src, s + i)).intoArray(dst, d + i);
                }
                for (; i < inner; i++) dst[d + i] += src[s + i];
            }
        }
    }

    /** Index add on doubles with vector row adds. */
    public static void indexAdd(double[] dst, int dstOff, int outer, int n, int inner, int[] index, double[] src, int srcOff) {
        int m = index.length;
        int step = DOUBLES.length();
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                int d = dstOff + (o * n + index[j]) * inner;
                int s = srcOff + (o * m + j) * inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    DoubleVector.fromArray(DOUBLES, dst, d + i).add(DoubleVector.fromArray(DOUBLES, src, s + i)).intoArray(dst, d + i);
                }
                for (; i < inner; i++) dst[d + i] += src[s + i];
            }
        }
    }

    /** Index add on longs with vector row adds. */
    public static void indexAdd(long[] dst, int dstOff, int outer, int n, int inner, int[] index, long[] src, int srcOff) {
        int m = index.length;
        int step = LONGS.length();
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                int d = dstOff + (o * n + index[j]) * inner;
                int s = srcOff + (o * m + j) * inner;
                int i = 0;
                for (; i + step <= inner; i += step) {
                    LongVector.fromArray(LONGS, dst, d + i).add(LongVector.fromArray(LONGS, src, s + i)).intoArray(dst, d + i);
                }
                for (; i < inner; i++) dst[d + i] += src[s + i];
            }
        }
    }
}
