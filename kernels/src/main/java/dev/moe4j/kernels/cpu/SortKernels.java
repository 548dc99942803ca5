package dev.moe4j.kernels.cpu;

import java.util.Arrays;
import java.util.Comparator;

/**
 * Stable argsort of the rows of a matrix: the permutation that sorts each row.
 *
 * <p>Shapes: {@code x} holds {@code rows} contiguous rows of {@code n} values starting at
 * {@code xOff}, i.e. [rows, n]; {@code perm} receives [rows, n] positions (0 .. n-1) starting at
 * {@code permOff}, such that {@code x[r, perm[r, 0]], x[r, perm[r, 1]], ...} is sorted.
 *
 * <p>The order is the same for every element type (and is PyTorch's):
 * <ul>
 *   <li>ascending or descending by value;</li>
 *   <li>NaN is larger than every number (last when ascending, first when descending); all NaNs are equal;</li>
 *   <li>{@code -0.0} equals {@code 0.0};</li>
 *   <li>equal values keep their original order in both directions (the sort is stable), so among
 *       ties the lower position comes first.</li>
 * </ul>
 * Put differently, positions are sorted by the pair (value in the requested direction, position
 * ascending), which is a total order: every correct algorithm gives exactly the same permutation.
 *
 * <p>Algorithms.
 * <ol>
 *   <li>Reference: box the positions and sort them with {@link Arrays#sort(Object[], Comparator)}
 *       (TimSort, a stable merge sort) through {@link #compare(float, float)}.</li>
 *   <li>Fast: map every value to a <em>sortable key</em>, an integer whose signed order is the
 *       value order above (see {@link #sortableKey(float)}); a descending sort uses the bitwise
 *       complement of the key, which reverses the order. For {@code float} the 32-bit key and the
 *       31-bit position fit together in one {@code long}, {@code (key << 32) | position}; all these
 *       longs are distinct, so any sort of them, stable or not, gives the answer, and
 *       {@link Arrays#sort(long[], int, int)} (dual-pivot quicksort, SIMD-accelerated in recent
 *       JDKs) does it. A {@code double} or {@code long} key takes all 64 bits, so the pairs
 *       (key, position) are sorted with a stable bottom-up merge sort on two primitive arrays.</li>
 * </ol>
 */
public final class SortKernels {
    private SortKernels() {}

    // ------------------------------------------------------------------ the order

    /** True when {@code a} comes after {@code b} in ascending order: {@code a > b}, or a is NaN and b is not. */
    public static boolean greater(float a, float b) { return a > b || (a != a && b == b); }

    /** True when {@code a} comes after {@code b} in ascending order: {@code a > b}, or a is NaN and b is not. */
    public static boolean greater(double a, double b) { return a > b || (a != a && b == b); }

    /** Three-way comparison in the order above: -1, 0 (equal, including NaN vs NaN and -0.0 vs 0.0) or 1. */
    public static int compare(float a, float b) { return greater(a, b) ? 1 : greater(b, a) ? -1 : 0; }

    /** Three-way comparison in the order above. */
    public static int compare(double a, double b) { return greater(a, b) ? 1 : greater(b, a) ? -1 : 0; }

    /**
     * An int whose signed order is the order of {@code v} above.
     *
     * <p>For a non-negative float the IEEE bits, read as an int, already grow with the value. A
     * negative float has the sign bit set (a negative int) and its magnitude bits grow as the value
     * falls, so those 31 bits are flipped. Adding {@code 0.0f} first turns {@code -0.0} into
     * {@code 0.0}, and {@link Float#floatToIntBits} maps every NaN to {@code 0x7fc00000}, which lies
     * above +infinity ({@code 0x7f800000}).
     */
    public static int sortableKey(float v) {
        int b = Float.floatToIntBits(v + 0.0f);
        return b ^ ((b >> 31) & 0x7fffffff);
    }

    /** A long whose signed order is the order of {@code v} above (same construction as {@link #sortableKey(float)}). */
    public static long sortableKey(double v) {
        long b = Double.doubleToLongBits(v + 0.0);
        return b ^ ((b >> 63) & 0x7fffffffffffffffL);
    }

    // ------------------------------------------------------------------ scalar reference

    /** Reference argsort of [rows, n] floats into [rows, n] positions. */
    public static void argsortReference(float[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            Comparator<Integer> ascending = (i, j) -> compare(x[base + i], x[base + j]);
            writeOrder(sortedPositions(n, descending ? ascending.reversed() : ascending), perm, permOff + r * n);
        }
    }

    /** Reference argsort of [rows, n] doubles into [rows, n] positions. */
    public static void argsortReference(double[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            Comparator<Integer> ascending = (i, j) -> compare(x[base + i], x[base + j]);
            writeOrder(sortedPositions(n, descending ? ascending.reversed() : ascending), perm, permOff + r * n);
        }
    }

    /** Reference argsort of [rows, n] longs into [rows, n] positions. */
    public static void argsortReference(long[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            Comparator<Integer> ascending = (i, j) -> Long.compare(x[base + i], x[base + j]);
            writeOrder(sortedPositions(n, descending ? ascending.reversed() : ascending), perm, permOff + r * n);
        }
    }

    private static Integer[] sortedPositions(int n, Comparator<Integer> order) {
        Integer[] p = new Integer[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Arrays.sort(p, order);                           // stable: ties keep position order
        return p;
    }

    private static void writeOrder(Integer[] p, long[] perm, int off) {
        for (int i = 0; i < p.length; i++) perm[off + i] = p[i];
    }

    // ------------------------------------------------------------------ fast

    /** Argsort of [rows, n] floats into [rows, n] positions: packed (key, position) longs, one primitive sort per row. */
    public static void argsort(float[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        long[] packed = new long[n];
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            for (int i = 0; i < n; i++) {
                int key = sortableKey(x[base + i]);
                if (descending) key = ~key;
                packed[i] = ((long) key << 32) | i;
            }
            Arrays.sort(packed, 0, n);
            int out = permOff + r * n;
            for (int i = 0; i < n; i++) perm[out + i] = (int) packed[i];   // the low 32 bits: the position
        }
    }

    /** Argsort of [rows, n] doubles into [rows, n] positions: 64-bit keys, stable merge sort of (key, position). */
    public static void argsort(double[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        PairSorter sorter = new PairSorter(n);
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            for (int i = 0; i < n; i++) {
                long key = sortableKey(x[base + i]);
                sorter.key[i] = descending ? ~key : key;
                sorter.pos[i] = i;
            }
            sorter.sort(n);
            int out = permOff + r * n;
            for (int i = 0; i < n; i++) perm[out + i] = sorter.pos[i];
        }
    }

    /** Argsort of [rows, n] longs into [rows, n] positions: the values are their own keys, stable merge sort. */
    public static void argsort(long[] x, int xOff, int rows, int n, boolean descending, long[] perm, int permOff) {
        PairSorter sorter = new PairSorter(n);
        for (int r = 0; r < rows; r++) {
            int base = xOff + r * n;
            for (int i = 0; i < n; i++) {
                long v = x[base + i];
                sorter.key[i] = descending ? ~v : v;
                sorter.pos[i] = i;
            }
            sorter.sort(n);
            int out = permOff + r * n;
            for (int i = 0; i < n; i++) perm[out + i] = sorter.pos[i];
        }
    }

    /**
     * Stable sort of (key, position) pairs by key: insertion sort on runs of {@link #RUN}, then
     * bottom-up merges of doubling width between two buffers. Ties take the left element first.
     */
    static final class PairSorter {
        static final int RUN = 16;
        final long[] key;
        final int[] pos;
        private final long[] keyTmp;
        private final int[] posTmp;

        PairSorter(int capacity) {
            key = new long[capacity];
            pos = new int[capacity];
            keyTmp = new long[capacity];
            posTmp = new int[capacity];
        }

        void sort(int n) {
            for (int lo = 0; lo < n; lo += RUN) insertionSort(lo, Math.min(lo + RUN, n));
            long[] ka = key, kb = keyTmp;
            int[] pa = pos, pb = posTmp;
            for (int width = RUN; width < n; width *= 2) {
                for (int lo = 0; lo < n; lo += 2 * width) {
                    int mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
                    merge(ka, pa, lo, mid, hi, kb, pb);
                }
                long[] kt = ka; ka = kb; kb = kt;
                int[] pt = pa; pa = pb; pb = pt;
            }
            if (ka != key) {
                System.arraycopy(ka, 0, key, 0, n);
                System.arraycopy(pa, 0, pos, 0, n);
            }
        }

        private void insertionSort(int lo, int hi) {
            for (int i = lo + 1; i < hi; i++) {
                long k = key[i];
                int p = pos[i];
                int j = i;
                while (j > lo && key[j - 1] > k) {          // strict: equal keys stay in order
                    key[j] = key[j - 1];
                    pos[j] = pos[j - 1];
                    j--;
                }
                key[j] = k;
                pos[j] = p;
            }
        }

        private static void merge(long[] k, int[] p, int lo, int mid, int hi, long[] kOut, int[] pOut) {
            int a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                if (k[a] <= k[b]) { kOut[o] = k[a]; pOut[o++] = p[a++]; }
                else { kOut[o] = k[b]; pOut[o++] = p[b++]; }
            }
            while (a < mid) { kOut[o] = k[a]; pOut[o++] = p[a++]; }
            while (b < hi) { kOut[o] = k[b]; pOut[o++] = p[b++]; }
        }
    }
}
