package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Top-k of each row: the k largest (or smallest) values and their positions, sorted.
 *
 * <p>Shapes: {@code x} is [rows, n] (contiguous from {@code xOff}); {@code values} and
 * {@code indices} receive [rows, k] (contiguous from 0), 0 &lt;= k &lt;= n. Row r of the output
 * is the first k entries of the stable argsort of row r in {@link SortKernels}' order:
 * descending for {@code largest} (NaN first, as the largest value), ascending otherwise (NaN last),
 * equal values by position ascending. Since that order is total, the answer is unique.
 *
 * <p>Algorithms.
 * <ol>
 *   <li>Reference: a full stable argsort of the row ({@link SortKernels#argsortReference}), keep k.</li>
 *   <li>Fast, small k (k &lt;= {@link #SELECT_MAX_K}, the MoE gating case: a few experts out of
 *       tens or hundreds): one pass over the row keeping the best k seen so far in a sorted buffer.
 *       A new element enters only when it beats the buffer's worst entry strictly (a tie loses,
 *       since it has the higher position), by insertion. Once the buffer is full, the row is read
 *       a vector at a time and compared with the worst entry in all lanes at once; the usual vector
 *       has no lane that beats it and is skipped without any scalar work. O(n) for random rows,
 *       O(n k) at worst (an ascending row for largest).</li>
 *   <li>Fast, larger k: the fast full argsort ({@link SortKernels#argsort}), keep k.</li>
 * </ol>
 */
public final class TopKKernels {
    private TopKKernels() {}

    /** Largest k for which the fast version selects with a sorted buffer instead of sorting the whole row. */
    public static final int SELECT_MAX_K = 32;

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

    // ------------------------------------------------------------------ scalar reference

    /** Reference top-k of [rows, n] floats: values [rows, k], indices [rows, k]. */
    public static void topkReference(float[] x, int xOff, int rows, int n, int k, boolean largest, float[] values, long[] indices) {
        checkK(n, k);
        long[] perm = new long[n];
        for (int r = 0; r < rows; r++) {
            SortKernels.argsortReference(x, xOff + r * n, 1, n, largest, perm, 0);
            for (int j = 0; j < k; j++) {
                indices[r * k + j] = perm[j];
                values[r * k + j] = x[xOff + r * n + (int) perm[j]];
            }
        }
    }

    /** Reference top-k of [rows, n] doubles. */
    public static void topkReference(double[] x, int xOff, int rows, int n, int k, boolean largest, double[] values, long[] indices) {
        checkK(n, k);
        long[] perm = new long[n];
        for (int r = 0; r < rows; r++) {
            SortKernels.argsortReference(x, xOff + r * n, 1, n, largest, perm, 0);
            for (int j = 0; j < k; j++) {
                indices[r * k + j] = perm[j];
                values[r * k + j] = x[xOff + r * n + (int) perm[j]];
            }
        }
    }

    /** Reference top-k of [rows, n] longs. */
    public static void topkReference(long[] x, int xOff, int rows, int n, int k, boolean largest, long[] values, long[] indices) {
        checkK(n, k);
        long[] perm = new long[n];
        for (int r = 0; r < rows; r++) {
            SortKernels.argsortReference(x, xOff + r * n, 1, n, largest, perm, 0);
            for (int j = 0; j < k; j++) {
                indices[r * k + j] = perm[j];
                values[r * k + j] = x[xOff + r * n + (int) perm[j]];
            }
        }
    }

    // ------------------------------------------------------------------ fast: float

    /** Top-k of [rows, n] floats: values [rows, k], indices [rows, k]. */
    public static void topk(float[] x, int xOff, int rows, int n, int k, boolean largest, float[] values, long[] indices) {
        checkK(n, k);
        if (k == 0 || rows == 0) return;
        if (k > SELECT_MAX_K) {
            long[] perm = new long[rows * n];
            SortKernels.argsort(x, xOff, rows, n, largest, perm, 0);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    int p = (int) perm[r * n + j];
                    indices[r * k + j] = p;
                    values[r * k + j] = x[xOff + r * n + p];
                }
            }
            return;
        }
        float[] bestValue = new float[k];
        int[] bestIndex = new int[k];
        for (int r = 0; r < rows; r++) {
            selectRow(x, xOff + r * n, n, k, largest, bestValue, bestIndex);
            for (int j = 0; j < k; j++) {
                values[r * k + j] = bestValue[j];
                indices[r * k + j] = bestIndex[j];
            }
        }
    }

    /** True when (v, later position) must come before w in the output order. */
    private static boolean beats(float v, float w, boolean largest) {
        return largest ? SortKernels.greater(v, w) : SortKernels.greater(w, v);
    }

    /** Inserts (v, i) into the sorted buffer of {@code count} entries (capacity k), dropping the worst when full. */
    private static int insert(float v, int i, int count, int k, boolean largest, float[] bv, int[] bi) {
        int p = count < k ? count : k - 1;
        while (p > 0 && beats(v, bv[p - 1], largest)) {
            bv[p] = bv[p - 1];
            bi[p] = bi[p - 1];
            p--;
        }
        bv[p] = v;
        bi[p] = i;
        return count < k ? count + 1 : count;
    }

    private static void selectRow(float[] x, int base, int n, int k, boolean largest, float[] bv, int[] bi) {
        int count = 0, i = 0;
        for (; i < n && count < k; i++) count = insert(x[base + i], i, count, k, largest, bv, bi);
        int lanes = FLOATS.length();
        for (; i + lanes <= n; i += lanes) {
            float worst = bv[k - 1];
            FloatVector v = FloatVector.fromArray(FLOATS, x, base + i);
            VectorMask<Float> better;
            if (largest) {
                if (worst != worst) return;                // k NaNs held: nothing later can beat them
                better = v.compare(VectorOperators.GT, worst).or(v.test(VectorOperators.IS_NAN));
            } else {
                better = worst != worst ? v.test(VectorOperators.IS_NAN).not() : v.compare(VectorOperators.LT, worst);
            }
            if (!better.anyTrue()) continue;
            for (int l = 0; l < lanes; l++) {
                float y = x[base + i + l];
                if (beats(y, bv[k - 1], largest)) insert(y, i + l, k, k, largest, bv, bi);
            }
        }
        for (; i < n; i++) {
            float y = x[base + i];
            if (beats(y, bv[k - 1], largest)) insert(y, i, k, k, largest, bv, bi);
        }
    }

    // ------------------------------------------------------------------ fast: double

    /** Top-k of [rows, n] doubles: values [rows, k], indices [rows, k]. */
    public static void topk(double[] x, int xOff, int rows, int n, int k, boolean largest, double[] values, long[] indices) {
        checkK(n, k);
        if (k == 0 || rows == 0) return;
        if (k > SELECT_MAX_K) {
            long[] perm = new long[rows * n];
            SortKernels.argsort(x, xOff, rows, n, largest, perm, 0);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    int p = (int) perm[r * n + j];
                    indices[r * k + j] = p;
                    values[r * k + j] = x[xOff + r * n + p];
                }
            }
            return;
        }
        double[] bestValue = new double[k];
        int[] bestIndex = new int[k];
        for (int r = 0; r < rows; r++) {
            selectRow(x, xOff + r * n, n, k, largest, bestValue, bestIndex);
            for (int j = 0; j < k; j++) {
                values[r * k + j] = bestValue[j];
                indices[r * k + j] = bestIndex[j];
            }
        }
    }

    private static boolean beats(double v, double w, boolean largest) {
        return largest ? SortKernels.greater(v, w) : SortKernels.greater(w, v);
    }

    private static int insert(double v, int i, int count, int k, boolean largest, double[] bv, int[] bi) {
        int p = count < k ? count : k - 1;
        while (p > 0 && beats(v, bv[p - 1], largest)) {
            bv[p] = bv[p - 1];
            bi[p] = bi[p - 1];
            p--;
        }
        bv[p] = v;
        bi[p] = i;
        return count < k ? count + 1 : count;
    }

    private static void selectRow(double[] x, int base, int n, int k, boolean largest, double[] bv, int[] bi) {
        int count = 0, i = 0;
        for (; i < n && count < k; i++) count = insert(x[base + i], i, count, k, largest, bv, bi);
        int lanes = DOUBLES.length();
        for (; i + lanes <= n; i += lanes) {
            double worst = bv[k - 1];
            DoubleVector v = DoubleVector.fromArray(DOUBLES, x, base + i);
            VectorMask<Double> better;
            if (largest) {
                if (worst != worst) return;
                better = v.compare(VectorOperators.GT, worst).or(v.test(VectorOperators.IS_NAN));
            } else {
                better = worst != worst ? v.test(VectorOperators.IS_NAN).not() : v.compare(VectorOperators.LT, worst);
            }
            if (!better.anyTrue()) continue;
            for (int l = 0; l < lanes; l++) {
                double y = x[base + i + l];
                if (beats(y, bv[k - 1], largest)) insert(y, i + l, k, k, largest, bv, bi);
            }
        }
        for (; i < n; i++) {
            double y = x[base + i];
            if (beats(y, bv[k - 1], largest)) insert(y, i, k, k, largest, bv, bi);
        }
    }

    // ------------------------------------------------------------------ fast: long

    /** Top-k of [rows, n] longs: values [rows, k], indices [rows, k]. */
    public static void topk(long[] x, int xOff, int rows, int n, int k, boolean largest, long[] values, long[] indices) {
        checkK(n, k);
        if (k == 0 || rows == 0) return;
        if (k > SELECT_MAX_K) {
            long[] perm = new long[rows * n];
            SortKernels.argsort(x, xOff, rows, n, largest, perm, 0);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    int p = (int) perm[r * n + j];
                    indices[r * k + j] = p;
                    values[r * k + j] = x[xOff + r * n + p];
                }
            }
            return;
        }
        long[] bestValue = new long[k];
        int[] bestIndex = new int[k];
        for (int r = 0; r < rows; r++) {
            selectRow(x, xOff + r * n, n, k, largest, bestValue, bestIndex);
            for (int j = 0; j < k; j++) {
                values[r * k + j] = bestValue[j];
                indices[r * k + j] = bestIndex[j];
            }
        }
    }

    private static boolean beats(long v, long w, boolean largest) { return largest ? v > w : v < w; }

    private static int insert(long v, int i, int count, int k, boolean largest, long[] bv, int[] bi) {
        int p = count < k ? count : k - 1;
        while (p > 0 && beats(v, bv[p - 1], largest)) {
            bv[p] = bv[p - 1];
            bi[p] = bi[p - 1];
            p--;
        }
        bv[p] = v;
        bi[p] = i;
        return count < k ? count + 1 : count;
    }

    private static void selectRow(long[] x, int base, int n, int k, boolean largest, long[] bv, int[] bi) {
        int count = 0, i = 0;
        for (; i < n && count < k; i++) count = insert(x[base + i], i, count, k, largest, bv, bi);
        int lanes = LONGS.length();
        for (; i + lanes <= n; i += lanes) {
            LongVector v = LongVector.fromArray(LONGS, x, base + i);
            VectorMask<Long> better = v.compare(largest ? VectorOperators.GT : VectorOperators.LT, bv[k - 1]);
            if (!better.anyTrue()) continue;
            for (int l = 0; l < lanes; l++) {
                long y = x[base + i + l];
                if (beats(y, bv[k - 1], largest)) insert(y, i + l, k, k, largest, bv, bi);
            }
        }
        for (; i < n; i++) {
            long y = x[base + i];
            if (beats(y, bv[k - 1], largest)) insert(y, i, k, k, largest, bv, bi);
        }
    }

    private static void checkK(int n, int k) {
        if (k < 0 || k > n) throw new IllegalArgumentException("top-k needs 0 <= k <= n, got k = " + k + " for rows of " + n);
    }
}
