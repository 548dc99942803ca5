package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Reductions of a strided 1-D run of elements, and column sums of a 2-D block.
 *
 * <pre>
 *   run:     x[off + i*stride], i &lt; n                      -&gt; one value
 *   columns: x[off + r*ld + j], r &lt; rows, j &lt; cols        -&gt; out[outOff + j] = &Sigma;_r x[r, j]
 * </pre>
 *
 * <table>
 *   <caption>operations</caption>
 *   <tr><td>sum</td><td>pairwise: halves summed recursively, runs of at most 8 summed in order;
 *       the error grows with log n, not n (Higham, "The accuracy of floating point summation", 1993)</td></tr>
 *   <tr><td>max, min</td><td>as {@link Math#max} / {@link Math#min}: NaN propagates; empty run rejected</td></tr>
 *   <tr><td>argmax, argmin</td><td>lowest index of the extreme; a NaN counts as the extreme (first NaN wins), as PyTorch</td></tr>
 *   <tr><td>sumExp</td><td>&Sigma; e<sup>x-shift</sup>, summed pairwise (the softmax denominator)</td></tr>
 *   <tr><td>logSumExp</td><td>m + log &Sigma; e<sup>x-m</sup> with m = max; m is replaced by 0 when
 *       infinite, so an all-(-&infin;) run gives -&infin; and a +&infin; gives +&infin;; empty run gives -&infin;</td></tr>
 *   <tr><td>variance</td><td>corrected two-pass: &mu; = &Sigma;x/n, then
 *       (&Sigma;(x-&mu;)&sup2; - (&Sigma;(x-&mu;))&sup2;/n) / max(0, n - correction)
 *       (Chan, Golub &amp; LeVeque 1983); empty run gives NaN</td></tr>
 * </table>
 *
 * <p>Vector API versions (unit stride): sums (also of exponentials) keep vector accumulators per
 * block of 2048 elements and combine blocks pairwise; max/min reduce lanes; argmax/argmin find the extreme with lanes, then
 * the first lane equal to it; column sums add whole rows lane-wise and use the same pairwise tree
 * over rows as the reference, so they match it exactly. F32 runs accumulate in float lanes.
 */
public final class ReduceKernels {
    private ReduceKernels() {}

    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

    /** Runs up to this length are summed in order (the leaves of the pairwise tree). */
    static final int PAIRWISE_BASE = 8;
    /** Contiguous runs up to this length are summed by lane accumulators (the leaves of the fast tree). */
    static final int LANE_BLOCK = 2048;
    /** Columns handled together by the fast column sum (scratch rows fit in L1). */
    static final int COLUMN_TILE = 1024;

    // =================================================================== sum: scalar reference

    /** Pairwise sum of x[off + i*stride], i &lt; n (0 for n = 0). */
    public static float sumReference(float[] x, int off, int stride, int n) {
        if (n <= PAIRWISE_BASE) {
            float s = 0f;
            for (int i = 0; i < n; i++) s += x[off + i * stride];
            return s;
        }
        int h = n / 2;
        return sumReference(x, off, stride, h) + sumReference(x, off + h * stride, stride, n - h);
    }

    /** Pairwise sum of x[off + i*stride], i &lt; n (0 for n = 0). */
    public static double sumReference(double[] x, int off, int stride, int n) {
        if (n <= PAIRWISE_BASE) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += x[off + i * stride];
            return s;
        }
        int h = n / 2;
        return sumReference(x, off, stride, h) + sumReference(x, off + h * stride, stride, n - h);
    }

    /** Integer sum (wrapping) of x[off + i*stride], i &lt; n. */
    public static long sumReference(long[] x, int off, int stride, int n) {
        long s = 0;
        for (int i = 0; i < n; i++) s += x[off + i * stride];
        return s;
    }

    /** out[outOff + j] = pairwise sum over r &lt; rows of x[off + r*ld + j], for j &lt; cols. */
    public static void sumColumnsReference(float[] x, int off, int rows, int cols, int ld, float[] out, int outOff) {
        for (int j = 0; j < cols; j++) out[outOff + j] = sumReference(x, off + j, ld, rows);
    }

    /** Double form. */
    public static void sumColumnsReference(double[] x, int off, int rows, int cols, int ld, double[] out, int outOff) {
        for (int j = 0; j < cols; j++) out[outOff + j] = sumReference(x, off + j, ld, rows);
    }

    /** Integer form. */
    public static void sumColumnsReference(long[] x, int off, int rows, int cols, int ld, long[] out, int outOff) {
        for (int j = 0; j < cols; j++) out[outOff + j] = sumReference(x, off + j, ld, rows);
    }

    // =================================================================== sum: Vector API

    /** Sum of x[off + i*stride], i &lt; n: lane accumulators for unit stride, else the reference. */
    public static float sum(float[] x, int off, int stride, int n) {
        return stride == 1 ? sumContiguous(x, off, n) : sumReference(x, off, stride, n);
    }

    /** Double form. */
    public static double sum(double[] x, int off, int stride, int n) {
        return stride == 1 ? sumContiguous(x, off, n) : sumReference(x, off, stride, n);
    }

    /** Integer form (scalar). */
    public static long sum(long[] x, int off, int stride, int n) {
        return sumReference(x, off, stride, n);
    }

    private static float sumContiguous(float[] x, int off, int n) {
        if (n > LANE_BLOCK) {
            int h = n / 2;
            return sumContiguous(x, off, h) + sumContiguous(x, off + h, n - h);
        }
        int step = FS.length(), i = 0;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 4 * step <= n; i += 4 * step) {
            a0 = a0.add(FloatVector.fromArray(FS, x, off + i));
            a1 = a1.add(FloatVector.fromArray(FS, x, off + i + step));
            a2 = a2.add(FloatVector.fromArray(FS, x, off + i + 2 * step));
            a3 = a3.add(FloatVector.fromArray(FS, x, off + i + 3 * step));
        }
        for (; i + step <= n; i += step) a0 = a0.add(FloatVector.fromArray(FS, x, off + i));
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[off + i];
        return s;
    }

    private static double sumContiguous(double[] x, int off, int n) {
        if (n > LANE_BLOCK) {
            int h = n / 2;
            return sumContiguous(x, off, h) + sumContiguous(x, off + h, n - h);
        }
        int step = DS.length(), i = 0;
        DoubleVector a0 = DoubleVector.zero(DS), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 4 * step <= n; i += 4 * step) {
            a0 = a0.add(DoubleVector.fromArray(DS, x, off + i));
            a1 = a1.add(DoubleVector.fromArray(DS, x, off + i + step));
            a2 = a2.add(DoubleVector.fromArray(DS, x, off + i + 2 * step));
            a3 = a3.add(DoubleVector.fromArray(DS, x, off + i + 3 * step));
        }
        for (; i + step <= n; i += step) a0 = a0.add(DoubleVector.fromArray(DS, x, off + i));
        double s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[off + i];
        return s;
    }

    /**
     * Column sums with whole-row lane adds. Columns go in tiles of {@value #COLUMN_TILE}; within a
     * tile the rows follow the reference's pairwise tree (halve until at most 8 rows, add those in
     * order, add the two halves), so the result equals {@link #sumColumnsReference} exactly.
     */
    public static void sumColumns(float[] x, int off, int rows, int cols, int ld, float[] out, int outOff) {
        if (rows == 0) {
            Arrays.fill(out, outOff, outOff + cols, 0f);
            return;
        }
        float[][] scratch = new float[depth(rows)][];
        for (int j0 = 0; j0 < cols; j0 += COLUMN_TILE) {
            int w = Math.min(COLUMN_TILE, cols - j0);
            columnsPairwise(x, off + j0, rows, w, ld, out, outOff + j0, scratch, 0);
        }
    }

    /** Double form of {@link #sumColumns(float[], int, int, int, int, float[], int)}. */
    public static void sumColumns(double[] x, int off, int rows, int cols, int ld, double[] out, int outOff) {
        if (rows == 0) {
            Arrays.fill(out, outOff, outOff + cols, 0.0);
            return;
        }
        double[][] scratch = new double[depth(rows)][];
        for (int j0 = 0; j0 < cols; j0 += COLUMN_TILE) {
            int w = Math.min(COLUMN_TILE, cols - j0);
            columnsPairwise(x, off + j0, rows, w, ld, out, outOff + j0, scratch, 0);
        }
    }

    /** Integer form (scalar, row by row). */
    public static void sumColumns(long[] x, int off, int rows, int cols, int ld, long[] out, int outOff) {
        Arrays.fill(out, outOff, outOff + cols, 0L);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) out[outOff + j] += x[off + r * ld + j];
        }
    }

    private static int depth(int rows) {
        int d = 1;
        while (rows > PAIRWISE_BASE) { rows = rows - rows / 2; d++; }
        return d;
    }

    private static void columnsPairwise(float[] x, int off, int rows, int w, int ld, float[] dst, int dOff, float[][] scratch, int level) {
        if (rows <= PAIRWISE_BASE) {
            System.arraycopy(x, off, dst, dOff, w);               // 0 + row 0 is row 0 exactly
            for (int r = 1; r < rows; r++) addRow(x, off + r * ld, dst, dOff, w);
            return;
        }
        int h = rows / 2;
        columnsPairwise(x, off, h, w, ld, dst, dOff, scratch, level + 1);
        if (scratch[level] == null) scratch[level] = new float[COLUMN_TILE];
        float[] tmp = scratch[level];
        columnsPairwise(x, off + h * ld, rows - h, w, ld, tmp, 0, scratch, level + 1);
        addRow(tmp, 0, dst, dOff, w);
    }

    private static void columnsPairwise(double[] x, int off, int rows, int w, int ld, double[] dst, int dOff, double[][] scratch, int level) {
        if (rows <= PAIRWISE_BASE) {
            System.arraycopy(x, off, dst, dOff, w);
            for (int r = 1; r < rows; r++) addRow(x, off + r * ld, dst, dOff, w);
            return;
        }
        int h = rows / 2;
        columnsPairwise(x, off, h, w, ld, dst, dOff, scratch, level + 1);
        if (scratch[level] == null) scratch[level] = new double[COLUMN_TILE];
        double[] tmp = scratch[level];
        columnsPairwise(x, off + h * ld, rows - h, w, ld, tmp, 0, scratch, level + 1);
        addRow(tmp, 0, dst, dOff, w);
    }

    /** dst[dOff + j] += src[sOff + j], j &lt; w. */
    private static void addRow(float[] src, int sOff, float[] dst, int dOff, int w) {
        int j = 0, step = FS.length(), bound = FS.loopBound(w);
        for (; j < bound; j += step) {
            FloatVector.fromArray(FS, dst, dOff + j).add(FloatVector.fromArray(FS, src, sOff + j)).intoArray(dst, dOff + j);
        }
        for (; j < w; j++) dst[dOff + j] += src[sOff + j];
    }

    private static void addRow(double[] src, int sOff, double[] dst, int dOff, int w) {
        int j = 0, step = DS.length(), bound = DS.loopBound(w);
        for (; j < bound; j += step) {
            DoubleVector.fromArray(DS, dst, dOff + j).add(DoubleVector.fromArray(DS, src, sOff + j)).intoArray(dst, dOff + j);
        }
        for (; j < w; j++) dst[dOff + j] += src[sOff + j];
    }

    // =================================================================== max / min: scalar reference

    /** Largest of x[off + i*stride], i &lt; n, as {@link Math#max} (NaN propagates). @throws IllegalArgumentException for n = 0 */
    public static float maxReference(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "max");
        float m = x[off];
        for (int i = 1; i < n; i++) m = Math.max(m, x[off + i * stride]);
        return m;
    }

    /** Double form. */
    public static double maxReference(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "max");
        double m = x[off];
        for (int i = 1; i < n; i++) m = Math.max(m, x[off + i * stride]);
        return m;
    }

    /** Integer form. */
    public static long maxReference(long[] x, int off, int stride, int n) {
        requireNonEmpty(n, "max");
        long m = x[off];
        for (int i = 1; i < n; i++) m = Math.max(m, x[off + i * stride]);
        return m;
    }

    /** Smallest of x[off + i*stride], i &lt; n, as {@link Math#min} (NaN propagates). @throws IllegalArgumentException for n = 0 */
    public static float minReference(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "min");
        float m = x[off];
        for (int i = 1; i < n; i++) m = Math.min(m, x[off + i * stride]);
        return m;
    }

    /** Double form. */
    public static double minReference(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "min");
        double m = x[off];
        for (int i = 1; i < n; i++) m = Math.min(m, x[off + i * stride]);
        return m;
    }

    /** Integer form. */
    public static long minReference(long[] x, int off, int stride, int n) {
        requireNonEmpty(n, "min");
        long m = x[off];
        for (int i = 1; i < n; i++) m = Math.min(m, x[off + i * stride]);
        return m;
    }

    // =================================================================== max / min: Vector API

    /** Max with lane-wise maxima for unit stride. */
    public static float max(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "max");
        int step = FS.length();
        if (stride != 1 || n < step) return maxReference(x, off, stride, n);
        FloatVector m = FloatVector.fromArray(FS, x, off);
        int i = step, bound = FS.loopBound(n);
        for (; i < bound; i += step) m = m.max(FloatVector.fromArray(FS, x, off + i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) r = Math.max(r, x[off + i]);
        return r;
    }

    /** Double form. */
    public static double max(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "max");
        int step = DS.length();
        if (stride != 1 || n < step) return maxReference(x, off, stride, n);
        DoubleVector m = DoubleVector.fromArray(DS, x, off);
        int i = step, bound = DS.loopBound(n);
        for (; i < bound; i += step) m = m.max(DoubleVector.fromArray(DS, x, off + i));
        double r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) r = Math.max(r, x[off + i]);
        return r;
    }

    /** Integer form (scalar). */
    public static long max(long[] x, int off, int stride, int n) { return maxReference(x, off, stride, n); }

    /** Min with lane-wise minima for unit stride. */
    public static float min(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "min");
        int step = FS.length();
        if (stride != 1 || n < step) return minReference(x, off, stride, n);
        FloatVector m = FloatVector.fromArray(FS, x, off);
        int i = step, bound = FS.loopBound(n);
        for (; i < bound; i += step) m = m.min(FloatVector.fromArray(FS, x, off + i));
        float r = m.reduceLanes(VectorOperators.MIN);
        for (; i < n; i++) r = Math.min(r, x[off + i]);
        return r;
    }

    /** Double form. */
    public static double min(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "min");
        int step = DS.length();
        if (stride != 1 || n < step) return minReference(x, off, stride, n);
        DoubleVector m = DoubleVector.fromArray(DS, x, off);
        int i = step, bound = DS.loopBound(n);
        for (; i < bound; i += step) m = m.min(DoubleVector.fromArray(DS, x, off + i));
        double r = m.reduceLanes(VectorOperators.MIN);
        for (; i < n; i++) r = Math.min(r, x[off + i]);
        return r;
    }

    /** Integer form (scalar). */
    public static long min(long[] x, int off, int stride, int n) { return minReference(x, off, stride, n); }

    // =================================================================== argmax / argmin: scalar reference

    /** Lowest i with x[off + i*stride] maximal; the first NaN if any. @throws IllegalArgumentException for n = 0 */
    public static int argmaxReference(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmax");
        float best = x[off];
        if (best != best) return 0;
        int arg = 0;
        for (int i = 1; i < n; i++) {
            float v = x[off + i * stride];
            if (v != v) return i;
            if (v > best) { best = v; arg = i; }
        }
        return arg;
    }

    /** Double form. */
    public static int argmaxReference(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmax");
        double best = x[off];
        if (best != best) return 0;
        int arg = 0;
        for (int i = 1; i < n; i++) {
            double v = x[off + i * stride];
            if (v != v) return i;
            if (v > best) { best = v; arg = i; }
        }
        return arg;
    }

    /** Integer form. */
    public static int argmaxReference(long[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmax");
        long best = x[off];
        int arg = 0;
        for (int i = 1; i < n; i++) {
            long v = x[off + i * stride];
            if (v > best) { best = v; arg = i; }
        }
        return arg;
    }

    /** Lowest i with x[off + i*stride] minimal; the first NaN if any. @throws IllegalArgumentException for n = 0 */
    public static int argminReference(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmin");
        float best = x[off];
        if (best != best) return 0;
        int arg = 0;
        for (int i = 1; i < n; i++) {
            float v = x[off + i * stride];
            if (v != v) return i;
            if (v < best) { best = v; arg = i; }
        }
        return arg;
    }

    /** Double form. */
    public static int argminReference(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmin");
        double best = x[off];
        if (best != best) return 0;
        int arg = 0;
        for (int i = 1; i < n; i++) {
            double v = x[off + i * stride];
            if (v != v) return i;
            if (v < best) { best = v; arg = i; }
        }
        return arg;
    }

    /** Integer form. */
    public static int argminReference(long[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmin");
        long best = x[off];
        int arg = 0;
        for (int i = 1; i < n; i++) {
            long v = x[off + i * stride];
            if (v < best) { best = v; arg = i; }
        }
        return arg;
    }

    // =================================================================== argmax / argmin: Vector API

    /** argmax for unit stride in two lane passes: the maximum m, then the first index holding m (or the first NaN). */
    public static int argmax(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmax");
        if (stride != 1) return argmaxReference(x, off, stride, n);
        return firstIndexOf(x, off, n, max(x, off, stride, n));
    }

    /** Double form. */
    public static int argmax(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmax");
        if (stride != 1) return argmaxReference(x, off, stride, n);
        return firstIndexOf(x, off, n, max(x, off, stride, n));
    }

    /** Integer form (scalar). */
    public static int argmax(long[] x, int off, int stride, int n) { return argmaxReference(x, off, stride, n); }

    /** argmin for unit stride: the minimum, then its first index (or the first NaN). */
    public static int argmin(float[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmin");
        if (stride != 1) return argminReference(x, off, stride, n);
        return firstIndexOf(x, off, n, min(x, off, stride, n));
    }

    /** Double form. */
    public static int argmin(double[] x, int off, int stride, int n) {
        requireNonEmpty(n, "argmin");
        if (stride != 1) return argminReference(x, off, stride, n);
        return firstIndexOf(x, off, n, min(x, off, stride, n));
    }

    /** Integer form (scalar). */
    public static int argmin(long[] x, int off, int stride, int n) { return argminReference(x, off, stride, n); }

    /** First i &lt; n with x[off + i] == v, or with x[off + i] NaN when v is NaN. */
    private static int firstIndexOf(float[] x, int off, int n, float v) {
        boolean nan = v != v;
        FloatVector target = FloatVector.broadcast(FS, v);
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        for (; i < bound; i += step) {
            FloatVector xv = FloatVector.fromArray(FS, x, off + i);
            int lane = (nan ? xv.compare(VectorOperators.NE, xv) : xv.compare(VectorOperators.EQ, target)).firstTrue();
            if (lane < step) return i + lane;
        }
        for (; i < n; i++) {
            float e = x[off + i];
            if (nan ? e != e : e == v) return i;
        }
        throw new IllegalStateException("value " + v + " not found in its own run");
    }

    private static int firstIndexOf(double[] x, int off, int n, double v) {
        boolean nan = v != v;
        DoubleVector target = DoubleVector.broadcast(DS, v);
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        for (; i < bound; i += step) {
            DoubleVector xv = DoubleVector.fromArray(DS, x, off + i);
            int lane = (nan ? xv.compare(VectorOperators.NE, xv) : xv.compare(VectorOperators.EQ, target)).firstTrue();
            if (lane < step) return i + lane;
        }
        for (; i < n; i++) {
            double e = x[off + i];
            if (nan ? e != e : e == v) return i;
        }
        throw new IllegalStateException("value " + v + " not found in its own run");
    }

    // =================================================================== sum of exponentials, logsumexp

    /**
     * &Sigma; e^(x_i - shift) over x[off + i*stride], i &lt; n, pairwise like {@link #sumReference}; each
     * difference x_i - shift is taken in float, its exponential and the sum in double.
     */
    public static double sumExpReference(float[] x, int off, int stride, int n, float shift) {
        if (n <= PAIRWISE_BASE) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += Math.exp(x[off + i * stride] - shift);
            return s;
        }
        int h = n / 2;
        return sumExpReference(x, off, stride, h, shift) + sumExpReference(x, off + h * stride, stride, n - h, shift);
    }

    /** Double form: &Sigma; e^(x_i - shift), pairwise. */
    public static double sumExpReference(double[] x, int off, int stride, int n, double shift) {
        if (n <= PAIRWISE_BASE) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += Math.exp(x[off + i * stride] - shift);
            return s;
        }
        int h = n / 2;
        return sumExpReference(x, off, stride, h, shift) + sumExpReference(x, off + h * stride, stride, n - h, shift);
    }

    /** &Sigma; e^(x_i - shift) with lane exponentials and the blocked pairwise lane sum of {@link #sum} (float lanes). */
    public static float sumExp(float[] x, int off, int stride, int n, float shift) {
        if (stride != 1) return (float) sumExpReference(x, off, stride, n, shift);
        return sumExpContiguous(x, off, n, shift, null, 0);
    }

    /** Double form. */
    public static double sumExp(double[] x, int off, int stride, int n, double shift) {
        if (stride != 1) return sumExpReference(x, off, stride, n, shift);
        return sumExpContiguous(x, off, n, shift, null, 0);
    }

    /** &Sigma; e^(x_i - shift) over a contiguous run; when {@code store} is not null each e^(x_i - shift) is also written to it. */
    static float sumExpContiguous(float[] x, int off, int n, float shift, float[] store, int storeOff) {
        if (n > LANE_BLOCK) {
            int h = n / 2;
            return sumExpContiguous(x, off, h, shift, store, storeOff) + sumExpContiguous(x, off + h, n - h, shift, store, storeOff + h);
        }
        FloatVector vs = FloatVector.broadcast(FS, shift);
        int step = FS.length(), i = 0;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0;
        for (; i + 2 * step <= n; i += 2 * step) {
            FloatVector e0 = FloatVector.fromArray(FS, x, off + i).sub(vs).lanewise(VectorOperators.EXP);
            FloatVector e1 = FloatVector.fromArray(FS, x, off + i + step).sub(vs).lanewise(VectorOperators.EXP);
            if (store != null) {
                e0.intoArray(store, storeOff + i);
                e1.intoArray(store, storeOff + i + step);
            }
            a0 = a0.add(e0);
            a1 = a1.add(e1);
        }
        float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - shift);
            if (store != null) store[storeOff + i] = e;
            s += e;
        }
        return s;
    }

    /** Double form of {@link #sumExpContiguous(float[], int, int, float, float[], int)}. */
    static double sumExpContiguous(double[] x, int off, int n, double shift, double[] store, int storeOff) {
        if (n > LANE_BLOCK) {
            int h = n / 2;
            return sumExpContiguous(x, off, h, shift, store, storeOff) + sumExpContiguous(x, off + h, n - h, shift, store, storeOff + h);
        }
        DoubleVector vs = DoubleVector.broadcast(DS, shift);
        int step = DS.length(), i = 0;
        DoubleVector a0 = DoubleVector.zero(DS), a1 = a0;
        for (; i + 2 * step <= n; i += 2 * step) {
            DoubleVector e0 = DoubleVector.fromArray(DS, x, off + i).sub(vs).lanewise(VectorOperators.EXP);
            DoubleVector e1 = DoubleVector.fromArray(DS, x, off + i + step).sub(vs).lanewise(VectorOperators.EXP);
            if (store != null) {
                e0.intoArray(store, storeOff + i);
                e1.intoArray(store, storeOff + i + step);
            }
            a0 = a0.add(e0);
            a1 = a1.add(e1);
        }
        double s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            double e = Math.exp(x[off + i] - shift);
            if (store != null) store[storeOff + i] = e;
            s += e;
        }
        return s;
    }

    /** log &Sigma; e^x over x[off + i*stride], i &lt; n: shift m = max (0 when infinite), then m + log {@link #sumExpReference}. */
    public static float logSumExpReference(float[] x, int off, int stride, int n) {
        if (n == 0) return Float.NEGATIVE_INFINITY;
        float m = maxReference(x, off, stride, n);
        float shift = Float.isInfinite(m) ? 0f : m;
        return (float) (Math.log(sumExpReference(x, off, stride, n, shift)) + shift);
    }

    /** Double form. */
    public static double logSumExpReference(double[] x, int off, int stride, int n) {
        if (n == 0) return Double.NEGATIVE_INFINITY;
        double m = maxReference(x, off, stride, n);
        double shift = Double.isInfinite(m) ? 0.0 : m;
        return Math.log(sumExpReference(x, off, stride, n, shift)) + shift;
    }

    /** logsumexp with the lane max and {@link #sumExp(float[], int, int, int, float)} for unit stride. */
    public static float logSumExp(float[] x, int off, int stride, int n) {
        if (stride != 1 || n == 0) return logSumExpReference(x, off, stride, n);
        float m = max(x, off, 1, n);
        float shift = Float.isInfinite(m) ? 0f : m;
        return (float) Math.log(sumExp(x, off, 1, n, shift)) + shift;
    }

    /** Double form. */
    public static double logSumExp(double[] x, int off, int stride, int n) {
        if (stride != 1 || n == 0) return logSumExpReference(x, off, stride, n);
        double m = max(x, off, 1, n);
        double shift = Double.isInfinite(m) ? 0.0 : m;
        return Math.log(sumExp(x, off, 1, n, shift)) + shift;
    }

    // =================================================================== variance

    /** Corrected two-pass variance of x[off + i*stride], i &lt; n, divided by max(0, n - correction). */
    public static float varianceReference(float[] x, int off, int stride, int n, double correction) {
        float mean = sumReference(x, off, stride, n) / n;
        float d = 0f, ss = 0f;
        for (int i = 0; i < n; i++) {
            float e = x[off + i * stride] - mean;
            d += e;
            ss += e * e;
        }
        return (float) ((ss - (double) d * d / n) / Math.max(0.0, n - correction));
    }

    /** Double form. */
    public static double varianceReference(double[] x, int off, int stride, int n, double correction) {
        double mean = sumReference(x, off, stride, n) / n;
        double d = 0.0, ss = 0.0;
        for (int i = 0; i < n; i++) {
            double e = x[off + i * stride] - mean;
            d += e;
            ss += e * e;
        }
        return (ss - d * d / n) / Math.max(0.0, n - correction);
    }

    /** Variance with lane sums for unit stride. */
    public static float variance(float[] x, int off, int stride, int n, double correction) {
        if (stride != 1 || n == 0) return varianceReference(x, off, stride, n, correction);
        float mean = sum(x, off, 1, n) / n;
        FloatVector vm = FloatVector.broadcast(FS, mean);
        FloatVector vd = FloatVector.zero(FS), vss = vd;
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        for (; i < bound; i += step) {
            FloatVector e = FloatVector.fromArray(FS, x, off + i).sub(vm);
            vd = vd.add(e);
            vss = e.fma(e, vss);
        }
        float d = vd.reduceLanes(VectorOperators.ADD), ss = vss.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = x[off + i] - mean;
            d += e;
            ss += e * e;
        }
        return (float) ((ss - (double) d * d / n) / Math.max(0.0, n - correction));
    }

    /** Double form. */
    public static double variance(double[] x, int off, int stride, int n, double correction) {
        if (stride != 1 || n == 0) return varianceReference(x, off, stride, n, correction);
        double mean = sum(x, off, 1, n) / n;
        DoubleVector vm = DoubleVector.broadcast(DS, mean);
        DoubleVector vd = DoubleVector.zero(DS), vss = vd;
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        for (; i < bound; i += step) {
            DoubleVector e = DoubleVector.fromArray(DS, x, off + i).sub(vm);
            vd = vd.add(e);
            vss = e.fma(e, vss);
        }
        double d = vd.reduceLanes(VectorOperators.ADD), ss = vss.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            double e = x[off + i] - mean;
            d += e;
            ss += e * e;
        }
        return (ss - d * d / n) / Math.max(0.0, n - correction);
    }

    private static void requireNonEmpty(int n, String what) {
        if (n <= 0) throw new IllegalArgumentException(what + " of an empty run of elements (n = " + n + ") is undefined");
    }
}
