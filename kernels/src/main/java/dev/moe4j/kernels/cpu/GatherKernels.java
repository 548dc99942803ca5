package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Gathers: copies of elements picked by integer positions along one dim.
 *
 * <p>A tensor op views its operands, made contiguous, as [outer, n, inner] around the indexed dim
 * (outer = product of the dims before it, inner = product of the dims after it):
 * <ul>
 *   <li>index select: {@code src} [outer, n, inner], {@code index} [m] &rarr; {@code dst} [outer, m, inner],
 *       {@code dst[o, j, i] = src[o, index[j], i]};</li>
 *   <li>gather: {@code src} [outer, n, inner], {@code index} [outer, m, inner] &rarr; {@code dst} [outer, m, inner],
 *       {@code dst[o, j, i] = src[o, index[o, j, i], i]}.</li>
 * </ul>
 * {@code src} starts at {@code srcOff}, {@code index} and {@code dst} at 0. {@code src} and
 * {@code dst} are arrays of one primitive type ({@code float[]}, {@code double[]}, {@code int[]},
 * {@code long[]}, {@code short[]} or {@code byte[]}); every index lies in [0, n), which the caller
 * checks first.
 *
 * <p>Algorithms. The reference copies one element at a time with
 * {@code System.arraycopy(src, from, dst, to, 1)}, which works for every array type. The fast
 * versions move runs: index select copies whole rows of {@code inner} elements with one
 * {@link System#arraycopy} each; when rows are single elements (selecting along the last dim), and
 * for gather, each output run is a <em>vector gather load</em> ({@code FloatVector.fromArray(species,
 * a, base, indexMap, mapOffset)}: lane l reads {@code a[base + indexMap[mapOffset + l]]}) for float,
 * double, int and long arrays, and a scalar loop for the 16- and 8-bit types.
 */
public final class GatherKernels {
    private GatherKernels() {}

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

    // ------------------------------------------------------------------ scalar reference

    /** Reference index select: dst[o, j, i] = src[o, index[j], i]; src [outer, n, inner], index [m], dst [outer, m, inner]. */
    public static void indexSelectReference(Object src, int srcOff, int outer, int n, int inner, int[] index, Object dst) {
        sameArrayType(src, dst);
        int m = index.length;
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    System.arraycopy(src, srcOff + (o * n + index[j]) * inner + i, dst, (o * m + j) * inner + i, 1);
                }
            }
        }
    }

    /** Reference gather: dst[o, j, i] = src[o, index[o, j, i], i]; src [outer, n, inner], index and dst [outer, m, inner]. */
    public static void gatherReference(Object src, int srcOff, int outer, int n, int inner, int[] index, int m, Object dst) {
        sameArrayType(src, dst);
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < inner; i++) {
                    int e = (o * m + j) * inner + i;
                    System.arraycopy(src, srcOff + (o * n + index[e]) * inner + i, dst, e, 1);
                }
            }
        }
    }

    // ------------------------------------------------------------------ fast

    /** Index select (same contract as {@link #indexSelectReference}): row copies, or a gather load per row when inner == 1. */
    public static void indexSelect(Object src, int srcOff, int outer, int n, int inner, int[] index, Object dst) {
        sameArrayType(src, dst);
        int m = index.length;
        if (inner == 1) {
            for (int o = 0; o < outer; o++) gatherRun(src, srcOff + o * n, index, 0, dst, o * m, m);
            return;
        }
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                System.arraycopy(src, srcOff + (o * n + index[j]) * inner, dst, (o * m + j) * inner, inner);
            }
        }
    }

    /**
     * Gather (same contract as {@link #gatherReference}). Along the last dim (inner == 1) the index
     * row is the gather map itself; otherwise each output row of {@code inner} elements reads
     * positions {@code index[o, j, i] * inner + i} from the slab {@code src[o]}.
     */
    public static void gather(Object src, int srcOff, int outer, int n, int inner, int[] index, int m, Object dst) {
        sameArrayType(src, dst);
        if (inner == 1) {
            for (int o = 0; o < outer; o++) gatherRun(src, srcOff + o * n, index, o * m, dst, o * m, m);
            return;
        }
        int[] pos = new int[inner];
        for (int o = 0; o < outer; o++) {
            int slab = srcOff + o * n * inner;
            for (int j = 0; j < m; j++) {
                int row = (o * m + j) * inner;
                for (int i = 0; i < inner; i++) pos[i] = index[row + i] * inner + i;
                gatherRun(src, slab, pos, 0, dst, row, inner);
            }
        }
    }

    /**
     * {@code dst[dstOff + l] = src[base + pos[posOff + l]]} for l in [0, len): the building block of
     * both gathers. Vector gather loads for float, double, int and long; a scalar loop otherwise.
     */
    public static void gatherRun(Object src, int base, int[] pos, int posOff, Object dst, int dstOff, int len) {
        sameArrayType(src, dst);
        int l = 0;
        switch (src) {
            case float[] s -> {
                float[] d = (float[]) dst;
                for (int step = FLOATS.length(); l + step <= len; l += step) {
                    FloatVector.fromArray(FLOATS, s, base, pos, posOff + l).intoArray(d, dstOff + l);
                }
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            case double[] s -> {
                double[] d = (double[]) dst;
                for (int step = DOUBLES.length(); l + step <= len; l += step) {
                    DoubleVector.fromArray(DOUBLES, s, base, pos, posOff + l).intoArray(d, dstOff + l);
                }
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            case int[] s -> {
                int[] d = (int[]) dst;
                for (int step = INTS.length(); l + step <= len; l += step) {
                    IntVector.fromArray(INTS, s, base, pos, posOff + l).intoArray(d, dstOff + l);
                }
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            case long[] s -> {
                long[] d = (long[]) dst;
                for (int step = LONGS.length(); l + step <= len; l += step) {
                    LongVector.fromArray(LONGS, s, base, pos, posOff + l).intoArray(d, dstOff + l);
                }
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            case short[] s -> {
                short[] d = (short[]) dst;
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            case byte[] s -> {
                byte[] d = (byte[]) dst;
                for (; l < len; l++) d[dstOff + l] = s[base + pos[posOff + l]];
            }
            default -> throw new IllegalArgumentException("not a primitive array: " + src.getClass());
        }
    }

    private static void sameArrayType(Object src, Object dst) {
        if (src.getClass() != dst.getClass()) {
            throw new IllegalArgumentException("array types differ: " + src.getClass().getSimpleName() + " vs " + dst.getClass().getSimpleName());
        }
    }
}
