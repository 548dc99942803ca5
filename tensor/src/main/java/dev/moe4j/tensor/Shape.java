package dev.moe4j.tensor;

import java.util.Arrays;

/** Helpers on shapes and strides (row-major, strides counted in elements). */
public final class Shape {
    private Shape() {}

    /** Product of the dimensions; 1 for a scalar shape {@code []}. @throws IllegalArgumentException on a negative dim or overflow */
    public static long numel(int... shape) {
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            if (d == 0) return 0;
        }
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Row-major strides for {@code shape}: the last dim has stride 1. */
    public static int[] contiguousStrides(int... shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    /**
     * The broadcast of two shapes (numpy rules: align on the right, a dim of 1 stretches).
     *
     * @throws IllegalArgumentException naming both shapes when they do not broadcast
     */
    public static int[] broadcast(int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int da = i < n - a.length ? 1 : a[i - (n - a.length)];
            int db = i < n - b.length ? 1 : b[i - (n - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast (dim " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /**
     * Normalises a possibly negative dim ({@code -1} is the last) against {@code rank}.
     *
     * @throws IndexOutOfBoundsException naming the dim and the rank
     */
    public static int dim(int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new IndexOutOfBoundsException("dim " + dim + " out of range for a tensor of rank " + rank);
        }
        return d;
    }

    /** "[2, 3]" style text. */
    public static String str(int... shape) { return Arrays.toString(shape); }
}
